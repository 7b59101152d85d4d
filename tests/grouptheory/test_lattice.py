"""Lattices and their site groups, found from the geometry."""

import itertools

import numpy as np
import pytest
import sympy as sp

from grouptheory import Lattice, LatticeError, point_group

from .conftest import PRESETS

EXPECTED = {"square": "D4", "triangular": "D6", "honeycomb": "D3", "kagome": "D2",
            "lieb": "D4", "cubic": "Oh", "bcc": "Oh", "fcc": "Oh", "diamond": "Td",
            "pyrochlore": "D3d", "perovskite": "Oh"}  # of site 0 (Lieb's edge sites have D2)


def _points(lattice, radius=3):
    """Float Cartesian positions of all sites within `radius` cells, with species."""
    d = lattice.dimension
    vectors = np.array(lattice.vectors.evalf(), dtype=float)
    out = []
    for cell in itertools.product(range(-radius, radius + 1), repeat=d):
        for s, f in enumerate(lattice.basis):
            out.append((np.array([float(c + x) for c, x in zip(cell, f)]) @ vectors,
                        lattice.species[s]))
    return out


def _maps_lattice_onto_itself(lattice, op, site):
    origin = np.array(lattice.position([0] * lattice.dimension, site).evalf(), dtype=float)[0]
    op = np.array(sp.Matrix(op).evalf(), dtype=float)
    points = _points(lattice)
    coords = np.array([p for p, _ in points])
    labels = [s for _, s in points]
    for p, label in points:
        if np.linalg.norm(p - origin) > 1.5:
            continue
        image = origin + op @ (p - origin)
        hits = np.flatnonzero(np.abs(coords - image).max(axis=1) < 1e-9)
        assert len(hits) == 1 and labels[hits[0]] == label


@pytest.mark.parametrize("name", PRESETS)
def test_presets_get_their_group_from_geometry(name):
    lattice = Lattice.preset(name)
    group = lattice.site_group()
    assert group.name == EXPECTED[name]
    for op in group.elements:
        _maps_lattice_onto_itself(lattice, op, 0)


def test_cubic_presets_have_oh_in_the_standard_setting():
    """So the irreps and CG of their site groups are those of point_group("Oh"), tested once
    (conftest.distinct_groups)."""
    oh = set(point_group("Oh").elements)
    for name in ("cubic", "bcc", "fcc"):
        assert set(Lattice.preset(name).site_group().elements) == oh


def test_every_site_of_multi_site_presets():
    assert Lattice.honeycomb().site_group(1).name == "D3"
    assert [Lattice.kagome().site_group(s).name for s in range(3)] == ["D2"] * 3


def test_exact_coordinates():
    tri = Lattice.triangular()
    assert tri.vectors[1, 1] == sp.sqrt(3) / 2
    assert Lattice.honeycomb().position((0, 0), 1) == sp.Matrix([[sp.Rational(1, 2),
                                                                   sp.sqrt(3) / 6]])


def test_custom_lattices_without_special_casing():
    assert Lattice([[1, 0], [0, 2]]).site_group().name == "D2"  # rectangular
    honey = Lattice([[1, 0], ["1/2", "sqrt(3)/2"]], basis=[(0, 0), ("1/3", "1/3")])
    group = honey.site_group()
    assert group.name == "D3" and [i.name for i in group.irreps] == ["A1", "A2", "E"]
    assert Lattice([[1, 0], [1, 1]]).site_group().name == "D4"  # non-reduced square basis
    oblique = Lattice([[1, 0], ["1/3", 2]])
    assert oblique.site_group().name == "C2"
    assert Lattice([[1, 0, 0], [0, 1, 0], [0, 0, 2]]).site_group().name == "D4h"
    hexagonal = Lattice([[1, 0, 0], ["1/2", "sqrt(3)/2", 0], [0, 0, 2]])
    assert hexagonal.site_group().name == "D6h"
    half = sp.Rational(1, 2)
    cscl = Lattice(sp.eye(3).tolist(), [(0, 0, 0), (half, half, half)], species=["Cs", "Cl"])
    assert cscl.site_group().name == "Oh"
    # distinct species lower the symmetry: boron nitride sheet vs graphene (both D3 here),
    # but a centred rectangular cell with a distinct centre keeps only D2
    centred = Lattice([[1, 0], [0, 2]], [(0, 0), (half, half)], species=["A", "B"])
    assert centred.site_group().name == "D2"
    for op in group.elements:
        _maps_lattice_onto_itself(honey, op, 0)


def test_floats_are_recognised_only_when_exact():
    lattice = Lattice([[1.0, 0.0], [0.5, 0.8660254037844386]])
    assert lattice.vectors[1, 1] == sp.sqrt(3) / 2
    assert lattice.site_group().name == "D6"
    with pytest.raises(LatticeError, match="not exact"):
        Lattice([[1.0, 0.0], [0.1234567891234, 1.0]])


def test_bad_lattices_are_rejected_clearly():
    with pytest.raises(LatticeError, match="unknown lattice 'hexagon'"):
        Lattice.preset("hexagon")
    with pytest.raises(LatticeError, match="linearly dependent"):
        Lattice([[1, 0], [2, 0]])
    with pytest.raises(LatticeError, match="2 vectors of length 2 or 3"):
        Lattice([[1, 0, 0], [0, 1, 0]])
    with pytest.raises(LatticeError, match="list of 2 or 3"):
        Lattice(5)
    with pytest.raises(LatticeError, match="coincide"):
        Lattice([[1, 0], [0, 1]], [(0, 0), (1, 0)])
    with pytest.raises(LatticeError, match="expected 2"):
        Lattice([[1, 0], [0, 1]], [(0, 0, 0)])
    with pytest.raises(LatticeError, match="not a real number"):
        Lattice([[1, 0], [0, "a"]])
    with pytest.raises(LatticeError, match="out of range"):
        Lattice.square().site_group(1)
