"""Dense exact diagonalization of batched single-particle Hamiltonians (float64).

`torch.linalg.eigh` calls LAPACK's divide-and-conquer driver (syevd / heevd) on CPU and runs
with `torch.get_num_threads()` threads (set them with `torch.set_num_threads`).

Memory: a dense M x M Hamiltonian per configuration; `check_memory` refuses a model whose
estimate (`memory_estimate`) exceeds this machine's physical memory before anything is
allocated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import torch

from runtime.electrons.ensembles import Ensemble


@dataclass(frozen=True)
class Spectrum:
    """Solution of a batch of quadratic Hamiltonians in one ensemble.

    eigenvalues  (batch, M), ascending
    occupations  (batch, M)
    energy       (batch,), as defined by the ensemble
    density      (batch, n_sites, d, d), on-site blocks rho_i[a, b] = <c^dag_{i b} c_{i a}>
    """

    eigenvalues: torch.Tensor
    occupations: torch.Tensor
    energy: torch.Tensor
    density: torch.Tensor

    @classmethod
    def concatenate(cls, parts: list[Spectrum]) -> Spectrum:
        """Join spectra of consecutive batch chunks."""
        return cls(*(torch.cat([getattr(p, f.name) for p in parts]) for f in fields(cls)))


# M x M matrices alive at once for one configuration: the hopping matrix, H, its eigenvectors
# and about two more of LAPACK's syevd/heevd workspace (lwork ~ 1 + 6M + 2M^2).
MATRICES = 5


def memory_estimate(states: int, complex_: bool) -> int:
    """Bytes the exact diagonalization of one M = `states` configuration needs (about):
    MATRICES dense M x M matrices of complex128 (16 bytes) or float64 (8 bytes)."""
    return MATRICES * states * states * (16 if complex_ else 8)


def physical_memory() -> int | None:
    """This machine's physical memory in bytes (os.sysconf), None where unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def check_memory(states: int, complex_: bool, what: str) -> None:
    """ValueError naming the estimate if the ED of `what` (M = `states`) cannot fit in the
    machine's physical memory."""
    need, have = memory_estimate(states, complex_), physical_memory()
    if have is not None and need > have:
        raise ValueError(
            f"exact diagonalization of {what} ({states} states) needs about {_size(need)} "
            f"({MATRICES} dense {states} x {states} {'complex' if complex_ else 'real'} "
            f"matrices: H, its eigenvectors and the eigensolver workspace), more than this "
            f"machine's {_size(have)} of memory; use a smaller size")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    raise AssertionError


def diagonalize(hamiltonians: torch.Tensor, ensemble: Ensemble, orbitals: int) -> Spectrum:
    """Diagonalize Hermitian `hamiltonians` (batch, M, M) whose basis is ordered (site, orbital)
    with `orbitals` states per site, occupy the levels in `ensemble`, and return the spectrum
    with the on-site density-matrix blocks sum_n occ_n v_{ia,n} v*_{ib,n} (only the diagonal
    blocks of V occ V^H are formed)."""
    eigenvalues, vectors = torch.linalg.eigh(hamiltonians)
    occupations, energy = ensemble.occupy(eigenvalues)
    batch, m = eigenvalues.shape
    rows = vectors.reshape(batch, m // orbitals, orbitals, m)
    density = (rows * occupations[:, None, None, :].to(rows.dtype)) @ rows.conj().transpose(-1, -2)
    return Spectrum(eigenvalues, occupations, energy, density)
