"""Numeric preset lattices: conventions, neighbour shells, periodic bonds, errors."""

import numpy as np
import pytest

from runtime.lattices import PRESETS, Lattice

S3 = np.sqrt(3.0)

# the conventions shared with the exact grouptheory presets
EXPECTED = {
    "square": ([[1, 0], [0, 1]], [[0, 0]]),
    "triangular": ([[1, 0], [0.5, S3 / 2]], [[0, 0]]),
    "honeycomb": ([[1, 0], [0.5, S3 / 2]], [[0, 0], [1 / 3, 1 / 3]]),
    "kagome": ([[1, 0], [0.5, S3 / 2]], [[0, 0], [0.5, 0], [0, 0.5]]),
    "lieb": (np.eye(2), [[0, 0], [0.5, 0], [0, 0.5]]),
    "cubic": (np.eye(3), [[0, 0, 0]]),
    "bcc": (np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1]]) / 2, [[0, 0, 0]]),
    "fcc": (np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]) / 2, [[0, 0, 0]]),
    "diamond": (np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]) / 2, [[0, 0, 0], [0.25] * 3]),
    "pyrochlore": (np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]) / 2,
                   [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]]),
    "perovskite": (np.eye(3), [[0, 0, 0], [0.5] * 3, [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]]),
}

# (coordination number, or one per sublattice; nearest-neighbour distance)
NEAREST = {
    "lieb": ((4, 2, 2), 0.5),
    "square": (4, 1.0),
    "triangular": (6, 1.0),
    "honeycomb": (3, 1 / S3),
    "kagome": (4, 0.5),
    "cubic": (6, 1.0),
    "bcc": (8, S3 / 2),
    "fcc": (12, 1 / np.sqrt(2)),
    "diamond": (4, S3 / 4),
    "pyrochlore": (6, np.sqrt(2) / 4),
    "perovskite": ((6, 0, 2, 2, 2), 0.5),  # B–O bonds; A has none at this distance
}


def test_presets_follow_the_shared_conventions():
    assert set(PRESETS) == set(EXPECTED)
    for name, (vectors, basis) in EXPECTED.items():
        lattice = Lattice.preset(name)
        np.testing.assert_allclose(lattice.vectors, vectors, atol=1e-15)
        np.testing.assert_allclose(lattice.basis, basis, atol=1e-15)


@pytest.mark.parametrize("name", PRESETS)
def test_nearest_neighbour_bonds(name):
    lattice = Lattice.preset(name)
    size = (4,) * lattice.dimension
    bonds = lattice.bonds(size)
    z, distance = NEAREST[name]
    z = np.broadcast_to(z, lattice.sublattices)
    n_sites = lattice.n_sites(size)
    assert bonds.distance == pytest.approx(distance)
    assert len(bonds) == n_sites // lattice.sublattices * z.sum() // 2
    # every site has z neighbours, every unordered pair appears once, no self bonds
    degree = np.bincount(np.r_[bonds.source, bonds.target], minlength=n_sites)
    assert (degree.reshape(-1, lattice.sublattices) == z).all()
    pairs = np.sort(np.c_[bonds.source, bonds.target], axis=1)
    assert len(np.unique(pairs, axis=0)) == len(bonds)
    assert (bonds.source != bonds.target).all()
    np.testing.assert_allclose(np.linalg.norm(bonds.vectors, axis=1), distance)


@pytest.mark.parametrize("name", PRESETS)
def test_site_index_follows_the_field_layout(name):
    """r_source + bond vector = r_target up to a translation of the periodic supercell."""
    lattice = Lattice.preset(name)
    size = (3, 4, 5)[: lattice.dimension]
    positions = lattice.positions(size)
    assert positions.shape == (*size, lattice.sublattices, lattice.dimension)
    np.testing.assert_allclose(positions[(1,) * lattice.dimension + (0,)], lattice.vectors.sum(0))
    flat = positions.reshape(-1, lattice.dimension)
    bonds = lattice.bonds(size)
    mismatch = flat[bonds.source] + bonds.vectors - flat[bonds.target]
    in_supercell_units = mismatch @ np.linalg.inv(lattice.vectors) / np.array(size)
    np.testing.assert_allclose(in_supercell_units, np.round(in_supercell_units), atol=1e-12)


@pytest.mark.parametrize(
    ("name", "distances", "counts"),
    [
        ("square", [1, np.sqrt(2), 2], [4, 4, 4]),
        ("triangular", [1, S3, 2], [6, 6, 6]),
        ("honeycomb", [1 / S3, 1, 2 / S3], [3, 6, 3]),
        ("cubic", [1, np.sqrt(2), S3], [6, 12, 8]),
    ],
)
def test_further_shells(name, distances, counts):
    lattice = Lattice.preset(name)
    np.testing.assert_allclose(lattice.shell_distances(3), distances)
    size = (6,) * lattice.dimension
    for shell, (distance, z) in enumerate(zip(distances, counts, strict=True), start=1):
        bonds = lattice.bonds(size, shell=shell)
        assert bonds.shell == shell
        assert bonds.distance == pytest.approx(distance)
        assert len(bonds) == lattice.n_sites(size) * z // 2


def test_unknown_lattice_lists_the_presets():
    with pytest.raises(ValueError, match="unknown lattice 'hexagonal'.*square.*kagome.*fcc"):
        Lattice.preset("hexagonal")


@pytest.mark.parametrize(
    ("name", "size", "shell", "direction"),
    [
        ("square", (2, 4), 1, "a1"),
        ("square", (3, 1), 1, "a2"),
        ("cubic", (4, 4, 2), 1, "a3"),
        ("honeycomb", (1, 3), 1, "a1"),
        ("square", (4, 4), 3, "a1"),
    ],
)
def test_too_small_periodic_size_is_rejected(name, size, shell, direction):
    with pytest.raises(ValueError, match=rf"too small for shell-{shell} bonds.*along {direction}"):
        Lattice.preset(name).bonds(size, shell=shell)


def test_smallest_valid_sizes():
    assert len(Lattice.preset("square").bonds((3, 3))) == 18
    assert len(Lattice.preset("honeycomb").bonds((2, 2))) == 12


@pytest.mark.parametrize("size", [(4,), 0, (4, 4.5), (4, -1), True, (4, True)])
def test_bad_size_is_rejected(size):
    with pytest.raises(ValueError, match="2 positive integers"):
        Lattice.preset("square").check_size(size)


def test_integer_size_means_every_direction():
    assert Lattice.preset("cubic").check_size(5) == (5, 5, 5)


def test_custom_lattice_is_validated():
    chain = Lattice("chain", [[1.0]], [[0.0]])
    assert len(chain.bonds(5)) == 5
    with pytest.raises(ValueError, match="linearly dependent"):
        Lattice("bad", [[1, 0], [2, 0]], [[0, 0]])
    with pytest.raises(ValueError, match="coincide"):
        Lattice("bad", np.eye(2), [[0, 0], [1, 0]])
    with pytest.raises(ValueError, match="shell must be a positive integer"):
        chain.bonds(5, shell=0)
