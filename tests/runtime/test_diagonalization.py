"""The eigensolvers and the vectorised on-site density of `runtime.electrons.diagonalization`."""

import importlib.util

import pytest
import torch

from runtime.electrons import SD, Holstein, JahnTeller
from runtime.electrons.diagonalization import EIGENSOLVERS, diagonalize, eigh, onsite_density
from runtime.electrons.ensembles import FixedFilling, GrandCanonical

SOLVERS = [s for s in EIGENSOLVERS
           if not s.startswith("scipy") or importlib.util.find_spec("scipy") is not None]


def blocks_of_full_density(vectors, occupations, orbitals):
    """Diagonal d x d blocks of the whole V occ V^H (the definition)."""
    full = (vectors * occupations[:, None, :].to(vectors.dtype)) @ vectors.conj().transpose(-1, -2)
    batch, m, _ = full.shape
    sites = m // orbitals
    blocks = full.reshape(batch, sites, orbitals, sites, orbitals)
    return blocks[:, torch.arange(sites), :, torch.arange(sites), :].transpose(0, 1)


@pytest.mark.parametrize("orbitals,dtype", [(1, torch.float64), (2, torch.float64),
                                            (2, torch.complex128), (3, torch.complex128)])
def test_onsite_density_is_the_diagonal_blocks_of_v_occ_vh(orbitals, dtype):
    generator = torch.Generator().manual_seed(1)
    m = 6 * orbitals
    a = torch.randn(2, m, m, dtype=dtype, generator=generator)
    _, vectors = torch.linalg.eigh(a + a.conj().transpose(-1, -2))
    occupations = torch.rand(2, m, dtype=torch.float64, generator=generator)
    density = onsite_density(vectors, occupations, orbitals)
    assert density.shape == (2, 6, orbitals, orbitals) and density.dtype == dtype
    torch.testing.assert_close(density, blocks_of_full_density(vectors, occupations, orbitals),
                               rtol=0, atol=1e-13)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("model", [Holstein("square", 4), JahnTeller("square", 4),
                                   SD("square", 4)], ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("occupation", [FixedFilling(15), GrandCanonical(0.1, 0.2)],
                         ids=["fixed", "grand"])
def test_every_eigensolver_gives_the_same_spectrum_and_density(solver, model, occupation):
    field = model.random_field(2, seed=3)
    hamiltonians = model.hamiltonian(field)
    reference = diagonalize(hamiltonians, occupation, model.orbitals)
    spectrum = diagonalize(hamiltonians, occupation, model.orbitals, solver)
    for name in ("eigenvalues", "occupations", "energy", "density"):
        torch.testing.assert_close(getattr(spectrum, name), getattr(reference, name),
                                   rtol=0, atol=1e-11)


def test_eigenvectors_of_every_solver_diagonalize():
    for solver in SOLVERS:
        a = torch.randn(3, 8, 8, dtype=torch.complex128, generator=torch.Generator().manual_seed(2))
        h = a + a.conj().transpose(-1, -2)
        values, vectors = eigh(h, solver)
        assert values.dtype == torch.float64 and vectors.dtype == torch.complex128
        torch.testing.assert_close(h @ vectors, vectors * values[:, None, :].to(h.dtype),
                                   rtol=0, atol=1e-12)


def test_an_unknown_eigensolver_is_refused():
    with pytest.raises(ValueError, match="unknown eigensolver 'lapack'; choose one of torch"):
        eigh(torch.eye(2, dtype=torch.float64)[None], "lapack")
