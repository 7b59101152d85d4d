"""Dense exact diagonalization of batched single-particle Hamiltonians (float64).

`torch.linalg.eigh` calls LAPACK's divide-and-conquer driver (syevd / heevd) on CPU and runs
with `torch.get_num_threads()` threads (set them with `torch.set_num_threads`).
"""

from __future__ import annotations

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
