"""Jahn–Teller models beyond square and cubic: the E ⊗ e model of (p_x, p_y) orbitals on
hexagonal lattices and the e_g model on <110> bonds (fcc, pyrochlore) and, with its dd-pi
and dd-delta Slater–Koster terms, on <111> bonds (bcc, diamond). Exact forces are
equivariant under the site group acting on the doublet (the matrices of
`grouptheory.Field.quadrupole` and `.jahn_teller` read from a descriptor spec), forces =
−dE/dQ, and the lattices a model cannot take are refused on one line."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from grouptheory import build_descriptor
from runtime.data.config import DatasetConfig
from runtime.electrons import JahnTeller, QuadrupoleJahnTeller
from runtime.electrons.forces import ExactForces
from runtime.electrons.jahn_teller import e_g_hopping
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
    ("quadrupole_jahn_teller", "cubic", [3, 3, 3],
     "needs a two-dimensional lattice.*the e_g pair.*use the model 'jahn_teller'"),
    ("jahn_teller", "honeycomb", [3, 3], "bonds along the Cartesian axes, the <110>"),
    ("jahn_teller", "diamond", [3, 3, 3],
     "dd-sigma hopping vanishes along the <111> bonds.*give V_pi or V_delta"),
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


def _matrices(field, lattice="cubic"):
    """(M(g) of `field`) for every element of the site group, identity where None."""
    symmetry = build_descriptor(lattice, field, "power", shells=1).data["symmetry"]
    size = 3 if field == "vector" else 2
    return [np.eye(size) if e["field"] is None else np.array(e["field"]) for e in symmetry]


def test_e_g_block_is_covariant_under_the_cubic_group():
    """D(R) T(e) D(R)^T = T(R e) for all 48 elements of Oh, any direction and any
    (V_sigma, V_pi, V_delta): the Slater–Koster block is a tensor of the e_g pair."""
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(6, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    v = rng.normal(size=3)
    blocks = e_g_hopping(directions, *v)
    rotations, doublets = _matrices("vector"), _matrices("jahn_teller")
    assert len(rotations) == len(doublets) == 48
    moved = [np.abs(d @ blocks @ d.T - e_g_hopping(directions @ r.T, *v)).max()
             for r, d in zip(rotations, doublets)]
    assert max(moved) < 1e-14
    assert max(np.abs(d @ blocks @ d.T - blocks).max() for d in doublets) > 0.1  # not trivial
    # each term alone is covariant, and the <111> block is (2 V_pi + V_delta)/3 times 1
    for alone in np.eye(3):
        for r, d in zip(rotations, doublets):
            assert np.allclose(d @ e_g_hopping(directions, *alone) @ d.T,
                               e_g_hopping(directions @ r.T, *alone), atol=1e-14)
    body = e_g_hopping(np.full((1, 3), 3 ** -0.5), *v)[0]
    assert np.allclose(body, (2 * v[1] + v[2]) / 3 * np.eye(2), atol=1e-15)


@pytest.mark.parametrize("lattice, size", [("cubic", 3), ("fcc", 3), ("square", 4)])
def test_default_hopping_is_the_dd_sigma_formula_of_eq_85(lattice, size):
    """V_pi = V_delta = 0 gives t^ab = (4t/3) u_a u_b exactly, the hoppings before the
    Slater–Koster generalisation."""
    model = JahnTeller(lattice, size, t=0.7)
    direction = model.bonds.vectors / model.bonds.distance
    x, y, z = np.pad(direction, ((0, 0), (0, 3 - direction.shape[1]))).T
    u = np.stack([np.sqrt(3.0) / 2 * (x**2 - y**2), z**2 - (x**2 + y**2) / 2], axis=1)
    assert np.array_equal(model._hopping_blocks(), -(4 * 0.7 / 3) * u[:, :, None] * u[:, None, :])


@pytest.mark.parametrize("lattice, size", [("bcc", 3), ("diamond", 2)])
def test_e_g_on_body_diagonal_bonds(lattice, size):
    """<111> bonds with dd-pi and dd-delta hoppings: forces = −dE/dQ, equivariant under the
    site group (Oh on bcc, Td on diamond)."""
    model = JahnTeller(lattice, size, g=1.5, K1=0.2, V_pi=-0.5, V_delta=0.1)
    blocks = model._hopping_blocks()
    assert np.allclose(blocks, (2 * -0.5 + 0.1) / 3 * np.eye(2))
    forces = ExactForces(model, mu=0.1, temperature=0.1)
    field, direction = model.random_field(2, seed=5), model.random_field(2, seed=6)
    h = 1e-5
    slope = (forces.energy(field + h * direction) - forces.energy(field - h * direction)) / (2 * h)
    assert torch.allclose(slope, -(forces(field) * direction).sum((1, 2, 3, 4, 5)), atol=1e-7)
    actions = _actions(lattice, field.shape[1:4], field="jahn_teller")
    assert len(actions) >= 24
    assert equivariance_error(forces, field, actions)["max"] < 1e-10


def test_the_slater_koster_terms_are_recorded_only_when_set():
    """A dataset made before V_pi and V_delta existed records neither: the defaults give the
    same parameters (so it still appends), other values are recorded."""
    default = DatasetConfig.from_dict(_config("jahn_teller", "square", [4, 4])).parameters
    assert "V_pi" not in default["model"] and "V_delta" not in default["model"]
    assert default["model"]["t"] == 1.0
    table = _config("jahn_teller", "bcc", [3, 3, 3])
    table["model"]["V_pi"] = -0.3
    model = DatasetConfig.from_dict(table).parameters["model"]
    assert (model["V_pi"], "V_delta" in model) == (-0.3, False)
