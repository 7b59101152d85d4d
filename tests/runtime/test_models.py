"""Holstein, Jahn–Teller and s-d models: forces are exact gradients, analytic limits, symmetries."""

import itertools

import numpy as np
import pytest
import torch

from runtime.electrons import SD, Holstein, JahnTeller
from runtime.lattices import Lattice

ENSEMBLES = [
    pytest.param({"filling": 0.5}, id="half-filling"),
    pytest.param({"filling": 0.3}, id="filling-0.3"),
    pytest.param({"mu": 0.2, "temperature": 0.25}, id="mu-T"),
    pytest.param({"mu": -0.3, "temperature": 0.0}, id="mu-T0"),
]

MODELS = [
    pytest.param(lambda: Holstein("square", 6, K0=1.3, K1=0.4), id="holstein-square"),
    pytest.param(lambda: Holstein("kagome", 3), id="holstein-kagome"),
    pytest.param(lambda: Holstein("bcc", 3), id="holstein-bcc"),
    pytest.param(lambda: JahnTeller("square", 6, K0=0.7, K1=-0.2), id="jt-square"),
    pytest.param(lambda: JahnTeller("cubic", 3), id="jt-cubic"),
    pytest.param(lambda: SD("square", 6, J=2.0, K0=0.5, K1=0.3), id="sd-square"),
    pytest.param(lambda: SD("triangular", 4, J=4.0), id="sd-triangular"),
]

PAULI = torch.tensor(
    [[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=torch.complex128
)


def gaussian(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def central_derivatives(energy, field, n_components, seed, h=1e-4):
    """dE/df at `n_components` random entries of `field` (5-point stencil, error O(h^4)),
    evaluating `energy` on one batch of displaced fields."""
    flat = np.random.default_rng(seed).choice(field.numel(), n_components, replace=False)
    steps = torch.tensor([2.0, 1.0, -1.0, -2.0], dtype=torch.float64) * h
    displaced = field.reshape(1, 1, -1).repeat(n_components, 4, 1)
    displaced[np.arange(n_components), :, flat] += steps
    values = energy(displaced.reshape(-1, *field.shape)).reshape(n_components, 4)
    weights = torch.tensor([-1.0, 8.0, -8.0, 1.0], dtype=torch.float64) / (12 * h)
    return (values * weights).sum(1), flat


def fermi_gap(result, keywords):
    eps = result.eigenvalues
    if "filling" in keywords:
        n = round(result.n_electrons.item())
        return (eps[n] - eps[n - 1]).item()
    return (eps - keywords["mu"]).abs().min().item()


@pytest.mark.parametrize("keywords", ENSEMBLES)
@pytest.mark.parametrize("make", MODELS)
def test_forces_are_minus_the_energy_gradient(make, keywords):
    model = make()
    field = gaussian(model.field_shape, seed=7)  # spins of random length for SD
    result = model.solve(field, **keywords)
    h = 1e-4
    # displacements of +-2h move each level by at most 2h|coupling|: no level crosses E_F or mu
    assert fermi_gap(result, keywords) > 4 * h * abs(model.coupling)
    derivative, flat = central_derivatives(
        lambda f: model.solve(f, **keywords).energy, field, n_components=6, seed=1, h=h
    )
    np.testing.assert_allclose(-derivative, result.forces.reshape(-1)[flat], rtol=0, atol=1e-6)


@pytest.mark.parametrize("make", MODELS)
def test_elastic_forces_are_minus_the_elastic_gradient(make):
    model = make()
    field = gaussian(model.field_shape, seed=3)
    derivative, flat = central_derivatives(model.elastic_energy, field, n_components=8, seed=2)
    forces = model.elastic_forces(field)
    np.testing.assert_allclose(-derivative, forces.reshape(-1)[flat], rtol=0, atol=1e-8)


def test_elastic_energy_of_eq_61():
    model = Holstein("square", (3, 4), K0=2.0, K1=0.5)
    q = gaussian(model.field_shape, seed=0)
    grid = q[:, :, 0, 0].numpy()
    bonds = (grid * np.roll(grid, 1, 0)).sum() + (grid * np.roll(grid, 1, 1)).sum()
    expected = 2.0 / 2 * (grid**2).sum() + 0.5 * bonds
    assert model.elastic_energy(q).item() == pytest.approx(expected)


# ----------------------------------------------------------------- uniform-field limits


def k_points(lattice, size):
    """Cartesian Bloch vectors k with k . a_i = 2 pi n_i / L_i, and those phases."""
    phases = 2 * np.pi * np.array(list(itertools.product(*map(range, size)))) / np.array(size)
    return np.linalg.solve(lattice.vectors, phases.T).T, phases


def _bravais(vectors):
    vectors = np.array(vectors, dtype=float)
    return np.concatenate([vectors, -vectors])


NEIGHBOURS = {  # Cartesian nearest-neighbour vectors of the Bravais presets
    "square": _bravais([[1, 0], [0, 1]]),
    "triangular": _bravais([[1, 0], [0.5, np.sqrt(3) / 2], [-0.5, np.sqrt(3) / 2]]),
    "cubic": _bravais(np.eye(3)),
    "bcc": _bravais([[0.5, s, u] for s in (0.5, -0.5) for u in (0.5, -0.5)]),
    "fcc": _bravais(
        [
            [0.5, 0.5, 0],
            [0.5, -0.5, 0],
            [0.5, 0, 0.5],
            [0.5, 0, -0.5],
            [0, 0.5, 0.5],
            [0, 0.5, -0.5],
        ]
    ),
}


def tight_binding_levels(name, size, t=1.0):
    """Analytic single-particle levels of -t sum_<ij> (c^dag_i c_j + h.c.)."""
    lattice = Lattice.preset(name)
    k, phases = k_points(lattice, size)
    if name in NEIGHBOURS:
        return -t * np.cos(k @ NEIGHBOURS[name].T).sum(1)
    p1, p2 = phases.T
    if name == "honeycomb":
        f = np.abs(1 + np.exp(1j * p1) + np.exp(1j * p2))
        return np.concatenate([-t * f, t * f])
    ab, ac, bc = -2 * t * np.cos(p1 / 2), -2 * t * np.cos(p2 / 2), -2 * t * np.cos((p2 - p1) / 2)
    zero = np.zeros_like(ab)
    bloch = np.stack(
        [np.stack(r, -1) for r in [(zero, ab, ac), (ab, zero, bc), (ac, bc, zero)]], -2
    )
    return np.linalg.eigvalsh(bloch).reshape(-1)  # kagome


def ensemble_energy(levels, keywords):
    levels = np.sort(levels)
    if "filling" in keywords:
        return levels[: int(np.floor(keywords["filling"] * len(levels) + 0.5))].sum()
    x = (levels - keywords["mu"]) / keywords["temperature"]
    return -keywords["temperature"] * np.logaddexp(0, -x).sum()


UNIFORM = [
    pytest.param({"filling": 0.5}, id="half"),
    pytest.param({"filling": 0.3}, id="0.3"),
    pytest.param({"mu": 0.4, "temperature": 0.3}, id="mu-T"),
]


@pytest.mark.parametrize("keywords", UNIFORM)
@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("square", (6, 6)),
        ("triangular", (6, 6)),
        ("honeycomb", (4, 4)),
        ("kagome", (4, 4)),
        ("cubic", (4, 4, 4)),
        ("bcc", (4, 4, 4)),
        ("fcc", (4, 4, 4)),
    ],
)
def test_holstein_uniform_field_gives_the_tight_binding_bands(name, size, keywords):
    model = Holstein(name, size, t=0.8, g=1.5)
    q0 = 0.3
    result = model.solve(torch.full(model.field_shape, q0, dtype=torch.float64), **keywords)
    levels = tight_binding_levels(name, size, t=0.8) - 1.5 * q0
    np.testing.assert_allclose(result.eigenvalues, np.sort(levels), atol=1e-12)
    assert result.energy.item() == pytest.approx(ensemble_energy(levels, keywords), abs=1e-10)
    # translation invariance: the same density on every site of a sublattice
    density = result.density[..., 0, 0].reshape(-1, model.lattice.sublattices)
    np.testing.assert_allclose(density, density[:1].expand_as(density), atol=1e-10)


JT_HOPPING = {  # under eq. 85: t^aa = -sqrt(3) t^ab = 3 t^bb = t along x, +t^ab along y
    "x": np.array([[1, -1 / np.sqrt(3)], [-1 / np.sqrt(3), 1 / 3]]),
    "y": np.array([[1, 1 / np.sqrt(3)], [1 / np.sqrt(3), 1 / 3]]),
    "z": np.array([[0, 0], [0, 4 / 3]]),
}


@pytest.mark.parametrize("keywords", UNIFORM)
@pytest.mark.parametrize("name", ["square", "cubic"])
def test_jahn_teller_uniform_field_gives_the_eg_bands(name, keywords):
    size = (6, 6) if name == "square" else (4, 4, 4)
    t, g, q = 0.9, 1.2, np.array([0.3, -0.2])
    model = JahnTeller(name, size, t=t, g=g)
    result = model.solve(torch.tensor(q).expand(model.field_shape).clone(), **keywords)
    k, _ = k_points(model.lattice, size)
    onsite = -g * np.array([[q[1], q[0]], [q[0], -q[1]]])
    bloch = onsite - 2 * t * sum(
        np.cos(k[:, a, None, None]) * JT_HOPPING[axis] for a, axis in enumerate("xyz"[: k.shape[1]])
    )
    levels = np.linalg.eigvalsh(bloch).reshape(-1)
    np.testing.assert_allclose(result.eigenvalues, np.sort(levels), atol=1e-12)
    assert result.energy.item() == pytest.approx(ensemble_energy(levels, keywords), abs=1e-10)


@pytest.mark.parametrize("keywords", UNIFORM)
def test_sd_uniform_spins_split_the_band_by_2J(keywords):
    model = SD("triangular", 6, J=1.7)
    spin = np.array([0.3, -0.4, 1.2])
    result = model.solve(torch.tensor(spin).expand(model.field_shape).clone(), **keywords)
    band = tight_binding_levels("triangular", (6, 6))
    split = 1.7 * np.linalg.norm(spin)
    levels = np.concatenate([band - split, band + split])
    np.testing.assert_allclose(result.eigenvalues, np.sort(levels), atol=1e-12)
    assert result.energy.item() == pytest.approx(ensemble_energy(levels, keywords), abs=1e-10)


# --------------------------------------------------------- half filling, degenerate shells


def test_holstein_half_filling_density_with_a_degenerate_fermi_shell():
    """6x6 square, Q = 0: 10 degenerate levels at eps = 0 share 5 electrons, n_i = 1/2 exactly."""
    model = Holstein("square", 6)
    result = model.solve(torch.zeros(model.field_shape, dtype=torch.float64), filling=0.5)
    assert (result.eigenvalues.abs() < 1e-12).sum() == 10
    np.testing.assert_allclose(result.density[..., 0, 0], 0.5, atol=1e-12)
    np.testing.assert_allclose(result.forces, 0.5 * model.g, atol=1e-12)


def test_jahn_teller_cubic_half_filling_density_is_orbitally_isotropic():
    """O_h makes the e_g doublet irreducible, so at Q = 0 each site holds rho = 1/2 (in a
    degenerate Fermi shell whose eigenbasis LAPACK picks arbitrarily)."""
    model = JahnTeller("cubic", 4)
    result = model.solve(torch.zeros(model.field_shape, dtype=torch.float64), filling=0.5)
    isotropic = np.broadcast_to(0.5 * np.eye(2), result.density.shape)
    np.testing.assert_allclose(result.density, isotropic, atol=1e-10)
    np.testing.assert_allclose(result.forces, 0.0, atol=1e-10)


def test_sd_unpolarized_half_filling():
    model = SD("square", 6)
    result = model.solve(torch.zeros(model.field_shape, dtype=torch.float64), filling=0.5)
    unpolarized = np.broadcast_to(0.5 * np.eye(2), result.density.shape)
    np.testing.assert_allclose(result.density, unpolarized, atol=1e-12)


def test_sd_strong_coupling_half_filling_is_fully_polarized():
    """J|S| = 5 > 4t: the lower spin band is full, rho_i = (1 + n.sigma)/2, force J n."""
    model = SD("square", 6, J=5.0)
    n = torch.tensor([2.0, -1.0, 2.0], dtype=torch.float64) / 3
    result = model.solve(n.expand(model.field_shape).clone(), filling=0.5)
    expected = 0.5 * (torch.eye(2) + torch.einsum("c,cab->ab", n.to(torch.complex128), PAULI))
    np.testing.assert_allclose(result.density, expected.expand_as(result.density), atol=1e-12)
    np.testing.assert_allclose(result.forces, (5.0 * n).expand_as(result.forces), atol=1e-12)


# -------------------------------------------------------------------------- symmetries


@pytest.mark.parametrize("keywords", [{"filling": 0.5}, {"mu": 0.0, "temperature": 0.3}])
@pytest.mark.parametrize(
    ("name", "size"), [("square", (6, 6)), ("honeycomb", (4, 4)), ("cubic", (4, 4, 4))]
)
def test_holstein_particle_hole_symmetry_at_half_filling(name, size, keywords):
    """Bipartite lattice: H(-Q) = -P H(Q) P with P the sublattice sign, so n_i(Q) + n_i(-Q) = 1
    and E(-Q) = E(Q) + g sum_i Q_i in both ensembles (mu = 0)."""
    model = Holstein(name, size)
    q = gaussian((3, *model.field_shape), seed=11)
    plus, minus = model.solve(q, **keywords), model.solve(-q, **keywords)
    np.testing.assert_allclose(plus.density + minus.density, 1.0, atol=1e-10)
    shift = model.g * q.reshape(len(q), -1).sum(1)
    np.testing.assert_allclose(minus.energy, plus.energy + shift, rtol=0, atol=1e-10)


def random_rotation(seed):
    q, r = torch.linalg.qr(gaussian((3, 3), seed))
    q = q * torch.sign(torch.diagonal(r))
    return q if torch.det(q) > 0 else -q


@pytest.mark.parametrize("keywords", [{"filling": 0.4}, {"mu": 0.3, "temperature": 0.2}])
def test_sd_energy_is_invariant_and_forces_rotate_under_global_spin_rotations(keywords):
    model = SD("triangular", 4, J=2.5)
    spins = gaussian((2, *model.field_shape), seed=5)
    reference = model.solve(spins, **keywords)
    for seed in range(3):
        rotation = random_rotation(seed)
        rotated = model.solve(spins @ rotation.T, **keywords)
        np.testing.assert_allclose(rotated.energy, reference.energy, rtol=0, atol=1e-10)
        np.testing.assert_allclose(
            rotated.forces, reference.forces @ rotation.T, rtol=0, atol=1e-10
        )
        np.testing.assert_allclose(rotated.eigenvalues, reference.eigenvalues, rtol=0, atol=1e-10)


def test_jahn_teller_square_is_symmetric_under_c4():
    """C4 about z maps the cell (x, y) to (-y, x), d_{x^2-y^2} to minus itself and hence
    (Q^x, Q^z) to (-Q^x, Q^z); this holds only with the opposite signs of t^ab along x and y."""
    model = JahnTeller("square", 6)
    q = gaussian((2, *model.field_shape), seed=9)

    def c4(f):
        turned = f[:, :, (-torch.arange(6)) % 6].transpose(1, 2)
        return turned * torch.tensor([-1.0, 1.0], dtype=torch.float64)

    for keywords in ({"filling": 0.5}, {"mu": 0.1, "temperature": 0.2}):
        before, after = model.solve(q, **keywords), model.solve(c4(q), **keywords)
        np.testing.assert_allclose(after.energy, before.energy, rtol=0, atol=1e-10)
        np.testing.assert_allclose(after.forces, c4(before.forces), rtol=0, atol=1e-10)
    # rotating the lattice without the orbital sign is not a symmetry
    flip = torch.tensor([-1.0, 1.0], dtype=torch.float64)
    lattice_only = model.solve(c4(q) * flip).energy
    assert not torch.allclose(lattice_only, model.solve(q).energy, atol=1e-3)


def test_transverse_forces_are_the_gradient_on_the_sphere():
    """For unit spins, rotating S_i by a small angle about an axis w changes E by
    -F_perp . (w x S_i) * angle; the transverse force is orthogonal to S_i."""
    model = SD("square", 4, J=3.0)
    spins = model.random_field(seed=4)
    assert torch.allclose(spins.norm(dim=-1), torch.ones(()).double())
    result = model.solve(spins, filling=0.5)
    transverse = model.transverse(spins, result.forces)
    np.testing.assert_allclose((transverse * spins).sum(-1), 0.0, atol=1e-12)
    site = (1, 2, 0)
    axis = torch.tensor([0.3, -0.8, 0.5], dtype=torch.float64)
    axis = axis / axis.norm()
    generator = torch.linalg.cross(axis.expand(3, 3), torch.eye(3, dtype=torch.float64)).T  # w x .
    h = 1e-4
    energies = []
    for angle in (h, -h):
        rotated = spins.clone()
        rotated[site] = torch.linalg.matrix_exp(angle * generator) @ spins[site]
        energies.append(model.solve(rotated, filling=0.5).energy.item())
    derivative = (energies[0] - energies[1]) / (2 * h)
    tangent = torch.linalg.cross(axis, spins[site])
    assert derivative == pytest.approx(-(transverse[site] @ tangent).item(), abs=1e-6)
