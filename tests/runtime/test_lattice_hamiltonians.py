"""The electronic models on every lattice: hoppings from the nearest-neighbour bonds found from
the vectors and basis, on-site energies per sublattice, and the known spectra they must give
(flat bands of kagome and Lieb, bipartite symmetry, the honeycomb Dirac mass)."""

import math

import numpy as np
import pytest
import torch

from runtime.electrons import SD, SSH, Holstein, JahnTeller
from runtime.electrons.kpm import KPMForces
from runtime.lattices import PRESETS, Lattice

# diamond: two fcc sublattices; perovskite: nearest bonds only B–O (the A sites have none)
BIPARTITE = ("square", "honeycomb", "lieb", "cubic", "bcc", "diamond", "perovskite")
SIZE = {2: 4, 3: 3}


def _levels(model, field=None) -> np.ndarray:
    field = torch.zeros(model.field_shape, dtype=torch.float64) if field is None else field
    return np.linalg.eigvalsh(model.hamiltonian(field).numpy())


def _size(name: str) -> int:
    return SIZE[Lattice.preset(name).dimension]


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("model_type", [Holstein, SD, SSH])
def test_hopping_matrix_is_hermitian_with_one_entry_per_bond(name, model_type):
    model = model_type(name, _size(name), onsite=np.arange(Lattice.preset(name).sublattices))
    h = model.hamiltonian(model.random_field(seed=1)).numpy()
    np.testing.assert_allclose(h, h.conj().T, atol=1e-14)
    hopping = model.sparse_hopping().to_dense().numpy()
    off_diagonal = hopping - np.diag(np.diag(hopping))
    # -t on each of the d orbitals of every bond, both directions: 2 d entries per bond
    assert np.count_nonzero(off_diagonal) == 2 * model.orbitals * len(model.bonds)
    np.testing.assert_allclose(off_diagonal[off_diagonal != 0], -model.t)
    cells = model.n_sites // model.lattice.sublattices
    np.testing.assert_allclose(np.diag(hopping),
                               np.repeat(np.tile(model.onsite, cells), model.orbitals))


def test_dense_and_sparse_hamiltonians_agree_on_a_multi_site_cell():
    model = JahnTeller("cubic", 3, onsite=[0.25])
    field = model.random_field(seed=2)
    dense = model.hamiltonian(field).numpy()
    onsite = -model.g * np.einsum("sc,cab->sab", field.reshape(-1, 2).numpy(), model.vertices)
    sparse = model.sparse_hopping().to_dense().numpy()
    for s in range(model.n_sites):
        sparse[2 * s:2 * s + 2, 2 * s:2 * s + 2] += onsite[s]
    np.testing.assert_allclose(dense, sparse, atol=1e-14)


@pytest.mark.parametrize("size", [3, 4, 5])
def test_kagome_flat_band_at_plus_2t(size):
    """H = -t sum_<ij>: a flat band at +2t over the whole zone, touching the dispersive band
    at Gamma (N_cells + 1 states), the bottom of the band at -4t."""
    levels = _levels(Holstein("kagome", size, t=1.0))
    assert np.sum(np.abs(levels - 2.0) < 1e-9) == size**2 + 1
    assert levels.max() == pytest.approx(2.0, abs=1e-12)
    assert levels.min() == pytest.approx(-4.0, abs=1e-12)
    spin = _levels(SD("kagome", size, t=1.0))  # spin-degenerate copy of the same band
    np.testing.assert_allclose(spin, np.repeat(levels, 2), atol=1e-12)


@pytest.mark.parametrize("size", [3, 5])
@pytest.mark.parametrize("corner", [0.0, 0.7, -1.3])
def test_lieb_flat_band_sits_at_the_edge_site_energy(size, corner):
    """The Lieb flat band lives on the two edge sites of a cell: it stays at their on-site
    energy whatever the corner energy (odd sizes miss the M point, where more levels meet)."""
    edge = 0.3
    levels = _levels(Holstein("lieb", size, onsite=[corner, edge, edge]))
    assert np.sum(np.abs(levels - edge) < 1e-9) == size**2


@pytest.mark.parametrize("name", BIPARTITE)
def test_bipartite_spectrum_is_symmetric(name):
    """Nearest-neighbour hopping on a bipartite lattice anticommutes with the sublattice sign
    (-1)^A, so spec H(Q) = -spec H(-Q) for any on-site field; at Q = 0 it is symmetric."""
    model = Holstein(name, 4)  # even sizes: the periodic cluster stays bipartite
    levels = _levels(model)
    np.testing.assert_allclose(levels, -levels[::-1], atol=1e-12)
    field = model.random_field(seed=3)
    np.testing.assert_allclose(_levels(model, field), -_levels(model, -field)[::-1], atol=1e-12)


@pytest.mark.parametrize("name", sorted(set(PRESETS) - set(BIPARTITE)))
def test_frustrated_lattices_are_not_bipartite(name):
    levels = _levels(Holstein(name, _size(name) if name != "fcc" else 4))
    assert not np.allclose(levels, -levels[::-1], atol=1e-6)


def test_staggered_onsite_opens_the_honeycomb_dirac_gap():
    """+-Delta on the A and B sites: a Dirac mass, the smallest |E| is Delta at K (6 x 6
    holds K)."""
    delta = 0.4
    assert np.abs(_levels(Holstein("honeycomb", 6))).min() < 1e-12
    assert np.abs(_levels(Holstein("honeycomb", 6, onsite=[delta, -delta]))).min() == \
        pytest.approx(delta, abs=1e-12)


def test_lieb_holstein_forces_are_the_gradient_with_onsite_energies():
    model = Holstein("lieb", 3, onsite=[0.5, -0.2, -0.2], g=1.2)
    field = 0.5 * model.random_field(seed=4)
    result = model.solve(field, mu=0.1, temperature=0.2)
    direction = torch.randn(field.shape, generator=torch.Generator().manual_seed(5),
                            dtype=torch.float64)
    h = 1e-5
    slope = (model.solve(field + h * direction, mu=0.1, temperature=0.2).energy
             - model.solve(field - h * direction, mu=0.1, temperature=0.2).energy) / (2 * h)
    assert float((result.forces * direction).sum()) == pytest.approx(-float(slope), rel=1e-7)


def test_kpm_sees_the_onsite_energies():
    """The KPM solver takes the field-independent part from the shared model interface
    (`sparse_hopping`), on-site energies included: its forces follow ED's."""
    model = SD("kagome", 4, J=2.0, onsite=[0.4, -0.3, 0.1])
    field = model.random_field(seed=6)
    exact = model.solve(field, mu=0.0, temperature=0.3)
    options = {"mu": 0.0, "temperature": 0.3, "moments": 300, "probing_distance": 100}
    energy, forces = KPMForces(model, **options).electronic(field)  # exact trace
    assert float(energy) == pytest.approx(float(exact.energy), rel=5e-4)  # 300 moments
    error = float((forces - exact.forces).norm() / exact.forces.norm())
    assert error < 2e-3
    without = KPMForces(SD("kagome", 4, J=2.0), **options).electronic(field)[1]
    assert float((without - exact.forces).norm() / exact.forces.norm()) > 10 * error


@pytest.mark.parametrize(("onsite", "error", "match"), [
    ([0.0, 1.0], ValueError, "one energy per sublattice .3 on the lieb"),
    ([0.0, math.nan, 0.0], ValueError, r"onsite\[1\] must be finite"),
    ([0.0, "1", 0.0], TypeError, r"onsite\[1\] must be a real number"),
    ("012", ValueError, "one energy per sublattice"),
    (1.0, ValueError, "one energy per sublattice"),
])
def test_bad_onsite_energies_are_refused(onsite, error, match):
    with pytest.raises(error, match=match):
        Holstein("lieb", 3, onsite=onsite)


def test_unknown_parameters_name_the_allowed_ones():
    with pytest.raises(TypeError, match="Holstein got unknown parameter J; its parameters: "
                                        "t, g, K0, K1, onsite"):
        Holstein("square", 4, J=1.0)
    assert SD("square", 4).J == SD.parameters["J"]
    assert Holstein("square", 4).g == Holstein.parameters["g"]
