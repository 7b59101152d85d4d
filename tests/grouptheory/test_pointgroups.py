"""The 32 crystallographic point groups (and the 10 in 2D): closure, tables, classes, names."""

import numpy as np
import pytest
import sympy as sp

from grouptheory import GroupTheoryError, PointGroup, RepresentationError, point_group
from grouptheory.catalog import ORDERS_3D

from .conftest import GROUPS_2D, GROUPS_3D, as_domain, group2, group3


@pytest.mark.parametrize("name", GROUPS_3D)
def test_identified_from_generators_with_standard_order(name):
    group = group3(name)
    assert group.name == name
    assert group.order == ORDERS_3D[name]


@pytest.mark.parametrize("name", GROUPS_3D + [f"2D:{n}" for n in GROUPS_2D])
def test_multiplication_table_is_exact(name):
    group = group2(name[3:]) if name.startswith("2D:") else group3(name)
    mats, _ = as_domain(group.elements)
    identity = mats[0]
    assert identity == identity * identity and all(identity * m == m for m in mats)
    for a, ma in enumerate(mats):
        for b, mb in enumerate(mats):
            assert ma * mb == mats[group.table[a, b]]
        assert ma * mats[group.inverse[a]] == identity
        assert ma * ma.transpose() == identity  # orthogonal, exactly


@pytest.mark.parametrize("name", GROUPS_3D)
def test_classes_partition_and_are_conjugation_closed(name):
    group = group3(name)
    seen = sorted(i for c in group.classes for i in c.elements)
    assert seen == list(range(group.order))
    for cls in group.classes:
        for g in range(group.order):
            for x in cls.elements:
                conj = group.table[group.table[g, x], group.inverse[g]]
                assert conj in cls.elements
    assert group.classes[0].name == "E"
    names = [c.name for c in group.classes]
    assert len(set(names)) == len(names)


STANDARD_CLASSES = {
    "D4": ["E", "2C4", "C2", "2C2'", "2C2''"],
    "D6": ["E", "2C6", "2C3", "C2", "3C2'", "3C2''"],
    "D3": ["E", "2C3", "3C2"],
    "D2": ["E", "C2(z)", "C2(y)", "C2(x)"],
    "C2v": ["E", "C2(z)", "σv(xz)", "σv(yz)"],
    "C3v": ["E", "2C3", "3σv"],
    "C4v": ["E", "2C4", "C2", "2σv", "2σd"],
    "D2d": ["E", "C2", "2C2'", "2S4", "2σd"],
    "D3d": ["E", "2C3", "3C2", "i", "2S6", "3σd"],
    "D4h": ["E", "2C4", "C2", "2C2'", "2C2''", "i", "2S4", "σh", "2σv", "2σd"],
    "C3": ["E", "C3", "C3^2"],
    "C6": ["E", "C6", "C3", "C2", "C3^2", "C6^5"],
    "T": ["E", "4C3", "4C3^2", "3C2"],
    "Td": ["E", "8C3", "3C2", "6S4", "6σd"],
    "O": ["E", "8C3", "3C2", "6C4", "6C2'"],
    "Oh": ["E", "8C3", "3C2", "6C4", "6C2'", "i", "6S4", "8S6", "3σh", "6σd"],
}


@pytest.mark.parametrize("name", list(STANDARD_CLASSES))
def test_standard_class_names(name):
    assert [c.name for c in group3(name).classes] == STANDARD_CLASSES[name]


def test_class_names_do_not_depend_on_the_element_order_given():
    gens = point_group("D4h").elements
    shuffled = PointGroup(list(reversed(gens)), 3)
    assert [c.name for c in shuffled.classes] == STANDARD_CLASSES["D4h"]


@pytest.mark.parametrize("name", GROUPS_2D)
def test_two_dimensional_groups(name):
    group = group2(name)
    assert group.name == name and group.dimension == 2
    assert all(g.shape == (2, 2) for g in group.elements)
    rotations = sum(1 for g in group.elements if g.det() == 1)
    assert group.order == rotations * (2 if name.startswith("D") else 1)


def test_rotated_setting_gets_the_same_name():
    """Identification uses geometry only: D4 conjugated by a 30° rotation is still D4."""
    c, s = sp.cos(sp.pi / 6), sp.sin(sp.pi / 6)
    q = sp.Matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    rotated = [sp.simplify(q * g * q.T) for g in point_group("D4").elements]
    assert PointGroup(rotated, 3).name == "D4"


def test_generators_that_are_not_a_point_group():
    bad = sp.Matrix([[sp.cos(sp.pi / 5), -sp.sin(sp.pi / 5), 0],
                     [sp.sin(sp.pi / 5), sp.cos(sp.pi / 5), 0], [0, 0, 1]])
    with pytest.raises(GroupTheoryError):
        PointGroup.from_generators([bad])
    with pytest.raises(RepresentationError, match="not orthogonal"):
        PointGroup.from_generators([sp.Matrix([[1, 1], [0, 1]])])
    with pytest.raises(GroupTheoryError, match="unknown 3D point group"):
        point_group("D5h")


def test_table_is_a_latin_square():
    table = group3("Oh").table
    for row in table:
        assert sorted(row) == list(range(48))
    assert np.array_equal(np.sort(table, axis=0), np.tile(np.arange(48)[:, None], 48))
