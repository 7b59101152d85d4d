"""The SSH (Peierls) model of displacement vectors: forces = −dE/du from the bond density
matrix on every kind of cell, equivariance under the site group (the vector field's
Cartesian matrices) and translations, the α = 0 and dimerized-chain limits, and the KPM
solver's refusal."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from grouptheory import build_descriptor
from runtime.data.config import DatasetConfig
from runtime.electrons import SSH
from runtime.electrons.forces import ExactForces
from runtime.electrons.kpm import KPMError, KPMForces
from runtime.errors import ConfigError
from runtime.ml.symmetry import equivariance_error, lattice_actions

CASES = [("square", 4), ("honeycomb", 3), ("kagome", 3), ("lieb", 3), ("cubic", 3),
         ("diamond", 2), ("pyrochlore", 2), ("perovskite", 2)]


@pytest.mark.parametrize("lattice, size", CASES)
def test_forces_are_minus_the_energy_gradient(lattice, size):
    model = SSH(lattice, size, alpha=0.8, K0=1.0, K1=0.2)
    assert model.field_shape[-1] == model.lattice.dimension
    forces = ExactForces(model, mu=0.1, temperature=0.1)
    field = 0.3 * model.random_field(1, seed=1)
    direction = model.random_field(1, seed=2)
    h = 1e-5
    slope = (forces.energy(field + h * direction) - forces.energy(field - h * direction)) / (2 * h)
    assert torch.allclose(slope, -(forces(field) * direction).sum(), atol=1e-7, rtol=1e-7)
    assert forces.evaluate(field).forces.abs().max() > 0.05  # the electronic part is there


def test_forces_at_fixed_filling_are_minus_the_band_energy_gradient():
    model = SSH("honeycomb", 3, alpha=0.6, onsite=[0.4, -0.4])  # gapped: a unique ground state
    forces = ExactForces(model, filling=0.5)
    field, direction = 0.2 * model.random_field(1, seed=3), model.random_field(1, seed=4)
    h = 1e-5
    slope = (forces.energy(field + h * direction) - forces.energy(field - h * direction)) / (2 * h)
    assert torch.allclose(slope, -(forces(field) * direction).sum(), atol=1e-7, rtol=1e-7)


@pytest.mark.parametrize("lattice, size", [("honeycomb", 3), ("kagome", 3), ("lieb", 3),
                                           ("diamond", 2)])
def test_forces_are_equivariant_under_the_site_group_and_translations(lattice, size):
    model = SSH(lattice, size, alpha=0.8, K1=0.1)
    forces = ExactForces(model, mu=0.1, temperature=0.1)
    fields = 0.3 * model.random_field(2, seed=5)
    cells = fields.shape[1:1 + model.lattice.dimension]
    spec = build_descriptor(lattice, "vector", "power", shells=1).data
    actions = lattice_actions(SimpleNamespace(spec=spec), cells)
    assert len(actions) >= 4  # D3, D2, D4 (the Lieb corner's), Td
    assert equivariance_error(forces, fields, actions)["max"] < 1e-10
    # a field rotated without its components is not a symmetry: the test can fail
    assert equivariance_error(forces, fields, [(perm, None) for perm, _ in actions])["max"] > 1e-3
    base = forces(fields)
    for axis in range(1, 1 + model.lattice.dimension):
        shifted = forces(torch.roll(fields, 1, dims=axis))
        assert torch.allclose(shifted, torch.roll(base, 1, dims=axis), atol=1e-12)


@pytest.mark.parametrize("lattice, size", [("kagome", 3), ("cubic", 3)])
def test_no_coupling_gives_the_bare_band_and_no_electronic_force(lattice, size):
    model = SSH(lattice, size, alpha=0.0, K0=1.0)
    field = model.random_field(1, seed=6)
    solution = model.solve(field, filling=0.5)
    bare = torch.linalg.eigvalsh(model.sparse_hopping().to_dense())
    electrons = solution.occupations.sum().round().int()
    assert torch.allclose(solution.energy, bare[:electrons].sum(), atol=1e-12)
    assert torch.equal(solution.forces, torch.zeros_like(solution.forces))
    coupled = SSH(lattice, size, alpha=0.5).solve(field, filling=0.5)
    assert not torch.allclose(coupled.energy, solution.energy)


def test_dimerized_chains_give_the_ssh_bands_and_the_peierls_force():
    """u_x = (−1)^x δ/2 on the square lattice: the x bonds alternate t ± αδ, the y bonds keep
    t, so the levels are ±|t1 + t2 e^{ik}| − 2t cos k_y and dΩ/dδ = Σ f(ε) dε/dδ with
    d|z|/dδ = 2α²δ (1 − cos k)/|z| (the SSH dimerization force)."""
    nx, ny, t, alpha, delta, mu, temperature = 8, 3, 1.0, 0.7, 0.15, 0.2, 0.1
    model = SSH("square", (nx, ny), t=t, alpha=alpha, K0=0.0)
    field = torch.zeros(model.field_shape, dtype=torch.float64)
    sign = torch.tensor([(-1.0) ** x for x in range(nx)], dtype=torch.float64)
    field[..., 0, 0] = (sign * delta / 2)[:, None]
    k = 2 * np.pi * np.arange(nx // 2) / (nx // 2)
    ky = 2 * np.pi * np.arange(ny) / ny
    t1, t2 = t + alpha * delta, t - alpha * delta
    z = np.abs(t1 + t2 * np.exp(1j * k))
    levels = (np.concatenate([-z, z])[:, None] - 2 * t * np.cos(ky)[None, :]).ravel()
    dz = 2 * alpha**2 * delta * (1 - np.cos(k)) / z
    slopes = np.repeat(np.concatenate([-dz, dz]), ny)
    solution = model.solve(field, mu=mu, temperature=temperature)
    assert np.allclose(np.sort(levels), solution.eigenvalues.numpy(), atol=1e-12)
    occupation = 1 / (1 + np.exp((levels - mu) / temperature))
    force = (solution.forces[..., 0, 0] * sign[:, None] / 2).sum()
    assert np.isclose(float(force), -(occupation * slopes).sum(), atol=1e-12)
    assert float(force) > 0  # the Peierls force drives the dimerization further
    assert solution.forces[..., 1].abs().max() < 1e-13  # the y bonds pull alike both ways


def test_kpm_is_refused_with_the_reason():
    with pytest.raises(KPMError, match="modulates the hoppings.*exact solver"):
        KPMForces(SSH("square", 4), filling=0.5)
    config = {"output": "unused.h5", "seed": 0, "trajectories": 1,
              "model": {"name": "ssh", "lattice": "honeycomb", "size": [4, 4]},
              "integrator": {"name": "langevin", "dt": 0.05},
              "protocol": {"kind": "quench", "temperature": 0.05, "snapshots": 2,
                           "sample_every": 1}}
    parameters = DatasetConfig.from_dict(config).parameters
    assert parameters["model"]["alpha"] == SSH.parameters["alpha"]
    with pytest.raises(ConfigError, match="solver: the KPM solver differentiates on-site"):
        DatasetConfig.from_dict({**config, "solver": {"name": "kpm"}})
