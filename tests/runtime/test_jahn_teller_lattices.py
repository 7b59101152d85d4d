"""Jahn–Teller models beyond square and cubic: the E ⊗ e model of (p_x, p_y) orbitals on
hexagonal lattices and the e_g model on <110> bonds (fcc, pyrochlore). Exact forces are
equivariant under the site group acting on the doublet (the matrices of
`grouptheory.Field.quadrupole` and `.jahn_teller` read from a descriptor spec), forces =
−dE/dQ, and the lattices a model cannot take are refused on one line."""

from types import SimpleNamespace

import pytest
import torch

from grouptheory import build_descriptor
from runtime.data.config import DatasetConfig
from runtime.electrons import JahnTeller, QuadrupoleJahnTeller
from runtime.electrons.forces import ExactForces
from runtime.errors import ConfigError
from runtime.ml.symmetry import equivariance_error, lattice_actions, transform


def _actions(lattice, cells, field="quadrupole"):
    spec = build_descriptor(lattice, field, "power", shells=1).data
    return lattice_actions(SimpleNamespace(spec=spec), cells)


@pytest.mark.parametrize("lattice, size", [("honeycomb", 3), ("kagome", 3),
                                           ("triangular", 4)])
def test_exact_forces_are_equivariant_under_the_site_group(lattice, size):
    model = QuadrupoleJahnTeller(lattice, size, g=1.5, K0=1.0, K1=0.3)
    forces = ExactForces(model, mu=0.2, temperature=0.1)  # smooth: no degenerate Fermi level
    fields = model.random_field(2, seed=4)
    actions = _actions(lattice, fields.shape[1:3])
    assert len(actions) >= 4  # D2 on kagome, D3 on honeycomb, D6 on triangular
    error = equivariance_error(forces, fields, actions)
    assert error["max"] < 1e-10
    # the e_g pair does not carry the quadrupole matrices: the test can fail
    levels = torch.linalg.eigvalsh(model.hamiltonian(fields[:1]))
    perm, matrix = actions[1]
    moved = torch.linalg.eigvalsh(model.hamiltonian(transform(fields[:1], perm, matrix)))
    assert torch.allclose(levels, moved, atol=1e-10)
    swapped = QuadrupoleJahnTeller(lattice, size)
    swapped.vertices = swapped.vertices[::-1].copy()
    swapped._vertices = torch.as_tensor(swapped.vertices, dtype=torch.float64)
    assert equivariance_error(ExactForces(swapped, mu=0.2, temperature=0.1), fields,
                              actions)["max"] > 1e-3


@pytest.mark.parametrize("lattice", ["fcc", "pyrochlore"])
def test_e_g_forces_are_equivariant_on_face_diagonal_bonds(lattice):
    """<110> bonds: t^ab = (4t/3) u_a u_b of eq. 85 is covariant under Oh, which the e_g pair
    represents; the site groups of fcc (Oh) and pyrochlore (D3d) are in it."""
    model = JahnTeller(lattice, 2 if lattice == "pyrochlore" else 3, g=1.5, K1=0.2)
    forces = ExactForces(model, mu=0.1, temperature=0.1)
    fields = model.random_field(1, seed=5)
    actions = _actions(lattice, fields.shape[1:4], field="jahn_teller")
    assert len(actions) >= 12
    assert equivariance_error(forces, fields, actions)["max"] < 1e-10


def test_forces_are_minus_the_energy_gradient():
    model = QuadrupoleJahnTeller("honeycomb", 3, g=1.2, K0=1.0, onsite=[0.3, -0.3])
    forces = ExactForces(model, mu=0.0, temperature=0.2)
    field, direction = model.random_field(1, seed=1), model.random_field(1, seed=2)
    h = 1e-5
    slope = (forces.energy(field + h * direction) - forces.energy(field - h * direction)) / (2 * h)
    assert torch.allclose(slope, -(forces(field) * direction).sum(), atol=1e-7, rtol=1e-7)


def test_hopping_is_pp_sigma_along_each_bond():
    """On the square lattice the x bonds hop p_x only, the y bonds p_y only."""
    model = QuadrupoleJahnTeller("square", 4, t=1.0)
    hopping = model.sparse_hopping().to_dense()
    x_bond = hopping[0:2, 2 * 4:2 * 4 + 2]  # site (0, 0) -> (1, 0)
    y_bond = hopping[0:2, 2:4]  # site (0, 0) -> (0, 1)
    assert torch.allclose(x_bond, torch.tensor([[-1.0, 0.0], [0.0, 0.0]], dtype=torch.float64))
    assert torch.allclose(y_bond, torch.tensor([[0.0, 0.0], [0.0, -1.0]], dtype=torch.float64))


def _config(name, lattice, size):
    return {"output": "unused.h5", "seed": 0, "trajectories": 1,
            "model": {"name": name, "lattice": lattice, "size": size},
            "integrator": {"name": "langevin", "dt": 0.05},
            "protocol": {"kind": "quench", "temperature": 0.05, "snapshots": 2,
                         "sample_every": 1}}


@pytest.mark.parametrize("name, lattice, size, message", [
    ("quadrupole_jahn_teller", "cubic", [3, 3, 3], "needs a two-dimensional lattice"),
    ("jahn_teller", "honeycomb", [3, 3], "bonds along the Cartesian axes or the <110>"),
    ("jahn_teller", "diamond", [3, 3, 3], "dd-sigma hopping vanishes along the <111> bonds"),
    ("jahn_teller", "bcc", [3, 3, 3], "dd-sigma hopping vanishes along the <111> bonds"),
])
def test_lattices_a_model_cannot_take_are_refused_on_one_line(name, lattice, size, message):
    with pytest.raises(ConfigError, match=message) as error:
        DatasetConfig.from_dict(_config(name, lattice, size))
    assert "\n" not in str(error.value)


def test_the_config_builds_it_on_honeycomb():
    config = DatasetConfig.from_dict(_config("quadrupole_jahn_teller", "honeycomb", [3, 3]))
    assert config.parameters["model"]["name"] == "quadrupole_jahn_teller"
    assert not issubclass(JahnTeller, QuadrupoleJahnTeller)
