"""Dense exact diagonalization of batched single-particle Hamiltonians (float64).

Eigensolvers (`EIGENSOLVERS`, chosen with `diagonalize(..., solver=)`; `benchmarks/solvers.py`
times them side by side on the models' own Hamiltonians):

    torch       `torch.linalg.eigh`: LAPACK divide and conquer (dsyevd / zheevd) of the MKL
                torch is built with, `torch.get_num_threads()` threads (the default: the
                fastest here, see docs/performance.md)
    numpy       `numpy.linalg.eigh`: dsyevd / zheevd of numpy's OpenBLAS
    scipy-evd   `scipy.linalg.eigh(driver="evd")`, scipy's OpenBLAS (scipy is optional)
    scipy-evr   `scipy.linalg.eigh(driver="evr")`: MRRR (dsyevr / zheevr)

numpy and scipy run their OpenBLAS with as many threads as torch (`torch.get_num_threads()`),
so `torch.set_num_threads(1)` in a dataset worker means one thread whichever solver runs.

Memory: a dense M x M Hamiltonian per configuration; `check_memory` refuses a model whose
estimate (`memory_estimate`) exceeds this machine's physical memory before anything is
allocated.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from runtime.electrons.ensembles import Ensemble


@dataclass(frozen=True)
class Spectrum:
    """Solution of a batch of quadratic Hamiltonians in one ensemble.

    eigenvalues  (batch, M), ascending
    occupations  (batch, M)
    energy       (batch,), as defined by the ensemble
    density      (batch, n_sites, d, d), on-site blocks rho_i[a, b] = <c^dag_{i b} c_{i a}>
    bonds        (batch, n_bonds, d, d), the blocks rho_ij[a, b] = <c^dag_{j b} c_{i a}> of the
                 bonds i -> j asked for (`diagonalize(..., bonds=)`; none by default)
    """

    eigenvalues: torch.Tensor
    occupations: torch.Tensor
    energy: torch.Tensor
    density: torch.Tensor
    bonds: torch.Tensor

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


EIGENSOLVERS = ("torch", "numpy", "scipy-evd", "scipy-evr")
DEFAULT_EIGENSOLVER = "torch"


def eigh(hamiltonians: torch.Tensor, solver: str = DEFAULT_EIGENSOLVER
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Ascending eigenvalues `(batch, M)` and eigenvectors (columns) `(batch, M, M)` of the
    Hermitian `hamiltonians` `(batch, M, M)` (lower triangle read), with `solver`, one of
    EIGENSOLVERS."""
    if solver == "torch":
        return torch.linalg.eigh(hamiltonians)
    if solver not in EIGENSOLVERS:
        raise ValueError(f"unknown eigensolver {solver!r}; choose one of {', '.join(EIGENSOLVERS)}")
    import numpy as np

    matrices = hamiltonians.detach().cpu().numpy()
    _openblas_threads(torch.get_num_threads())
    if solver == "numpy":
        values, vectors = np.linalg.eigh(matrices)
    else:
        try:
            from scipy.linalg import eigh as scipy_eigh
        except ImportError:
            raise ValueError(f"eigensolver {solver!r} needs scipy, which is not installed; use "
                             f"'torch' or 'numpy'") from None
        driver = solver.removeprefix("scipy-")
        values = np.empty(matrices.shape[:-1])
        vectors = np.empty_like(matrices)
        for k, matrix in enumerate(matrices):
            values[k], vectors[k] = scipy_eigh(matrix, lower=True, driver=driver,
                                               check_finite=False, overwrite_a=False)
    device = hamiltonians.device
    return torch.from_numpy(values).to(device), torch.from_numpy(vectors).to(device)


_OPENBLAS = {}  # library path -> its set_num_threads function (None: not found)


def _openblas_threads(threads: int) -> None:
    """Set the threads of the OpenBLAS copies bundled with numpy and scipy (wheels:
    numpy.libs/, scipy.libs/) to `threads`; nothing where they are not found."""
    if not _OPENBLAS:
        import importlib.util

        for package in ("numpy", "scipy"):
            spec = importlib.util.find_spec(package)
            if spec is None or spec.origin is None:
                continue
            folder = Path(spec.origin).parent.parent / f"{package}.libs"
            for library in sorted(folder.glob("libscipy_openblas*.so*")):
                try:
                    handle = ctypes.CDLL(str(library))
                except OSError:
                    continue
                for name in ("scipy_openblas_set_num_threads64_",
                             "scipy_openblas_set_num_threads", "openblas_set_num_threads"):
                    if hasattr(handle, name):
                        _OPENBLAS[str(library)] = getattr(handle, name)
                        break
        _OPENBLAS.setdefault("", None)
    for function in _OPENBLAS.values():
        if function is not None:
            function(ctypes.c_int(threads))


def onsite_density(vectors: torch.Tensor, occupations: torch.Tensor, orbitals: int
                   ) -> torch.Tensor:
    """On-site blocks rho_i[a, b] = sum_n V_{ia,n} conj(V_{ib,n}) occ_n `(batch, sites, d, d)`
    of V occ V^H for eigenvectors `vectors` `(batch, M, M)` (columns, basis ordered (site,
    orbital), d = `orbitals`) and `occupations` `(batch, M)`: one matrix-vector product
    (V_a ∘ conj V_b) @ occ per orbital pair (a, b), over all sites at once."""
    batch, m, _ = vectors.shape
    d = orbitals
    rows = vectors.reshape(batch, m // d, d, m)
    occ = occupations.to(vectors.real.dtype).unsqueeze(-1)  # (batch, M, 1), real
    density = torch.empty(batch, m // d, d, d, dtype=vectors.dtype, device=vectors.device)
    for a in range(d):
        va = rows[:, :, a]
        weight = va.real.square() + va.imag.square() if va.is_complex() else va.square()
        density[:, :, a, a] = (weight @ occ).squeeze(-1)
        for b in range(a + 1, d):
            block = ((va * rows[:, :, b].conj()) @ occ.to(va.dtype)).squeeze(-1)
            density[:, :, a, b] = block
            density[:, :, b, a] = block.conj()
    return density


def bond_density(vectors: torch.Tensor, occupations: torch.Tensor, orbitals: int,
                 source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Off-diagonal blocks rho_ij[a, b] = sum_n V_{ia,n} conj(V_{jb,n}) occ_n of V occ V^H for
    the bonds i = `source[k]` -> j = `target[k]`, `(batch, n_bonds, d, d)`: O(bonds x M) per
    configuration, without the M x M density matrix."""
    batch, m, _ = vectors.shape
    rows = vectors.reshape(batch, m // orbitals, orbitals, m)
    occ = occupations.to(vectors.dtype)
    return torch.stack([torch.einsum("kam,kbm,m->kab", r[source], r[target].conj(), o)
                        for r, o in zip(rows, occ)])


def diagonalize(hamiltonians: torch.Tensor, ensemble: Ensemble, orbitals: int,
                solver: str = DEFAULT_EIGENSOLVER, *,
                bonds: tuple[torch.Tensor, torch.Tensor] | None = None) -> Spectrum:
    """Diagonalize Hermitian `hamiltonians` (batch, M, M) whose basis is ordered (site, orbital)
    with `orbitals` states per site (with `solver`, one of EIGENSOLVERS), occupy the levels in
    `ensemble`, and return the spectrum with the on-site density-matrix blocks
    sum_n occ_n v_{ia,n} v*_{ib,n} (`onsite_density`: only the diagonal blocks of V occ V^H)
    and, for `bonds` = (source, target) site indices, those bonds' blocks (`bond_density`)."""
    eigenvalues, vectors = eigh(hamiltonians, solver)
    occupations, energy = ensemble.occupy(eigenvalues)
    if bonds is None:
        pairs = vectors.new_zeros(len(vectors), 0, orbitals, orbitals)
    else:
        pairs = bond_density(vectors, occupations, orbitals, *bonds)
    return Spectrum(eigenvalues, occupations, energy,
                    onsite_density(vectors, occupations, orbitals), pairs)
