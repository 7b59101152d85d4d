"""Real irreps of all 32 point groups and every preset lattice: exact identities."""

import pytest
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from grouptheory import Lattice, RepresentationError, exact

from .conftest import GROUPS_3D, as_domain, distinct_groups, group3

ALL = list(distinct_groups())
COMPLEX_PAIRS = {"C3", "C4", "C6", "S4", "S6", "C3h", "C4h", "C6h", "T", "Th"}


def _domain_irreps(group):
    mats, field = as_domain([m for irrep in group.irreps for m in irrep.matrices])
    out, start = {}, 0
    for irrep in group.irreps:
        out[irrep.name] = mats[start:start + group.order]
        start += group.order
    return out, field


@pytest.mark.parametrize("label", ALL)
def test_homomorphism_and_orthogonality_exact(label):
    group = distinct_groups()[label]
    reps, _ = _domain_irreps(group)
    for irrep in group.irreps:
        d = reps[irrep.name]
        one = d[0]
        assert one == DomainMatrix.eye(irrep.dim, one.domain).to_dense()
        for g in range(group.order):
            assert d[g] * d[g].transpose() == one
            for h in range(group.order):
                assert d[g] * d[h] == d[group.table[g, h]]


@pytest.mark.parametrize("label", ALL)
def test_characters_sum_rules(label):
    group = distinct_groups()[label]
    sizes = [c.size for c in group.classes]
    n = group.order
    irreps = group.irreps
    assert sum(i.dim**2 // i.kappa for i in irreps) == n  # Σ dim² = |G| over complex irreps
    for a in irreps:
        assert a.characters[0] == a.dim
        assert [a.character(g) for g in range(n)] == [sp.Matrix(m).trace() for m in a.matrices]
        for b in irreps:
            inner = sum(s * x * y for s, x, y in zip(sizes, a.characters, b.characters))
            assert inner == (n * a.kappa if a is b else 0)
    inverse_class = [group.class_index[group.inverse[c.representative]] for c in group.classes]
    for c, cc in enumerate(group.classes):
        for d in range(len(group.classes)):
            column = sum(sp.Rational(i.characters[c] * i.characters[d], i.kappa) for i in irreps)
            expected = sp.Rational(n, cc.size) * (int(c == d) + int(inverse_class[c] == d)) / 2
            assert column == expected


@pytest.mark.parametrize("label", ALL)
def test_great_orthogonality(label):
    """Σ_g D_a(g) ⊗ D_b(g) = 0 for a ≠ b; for a = b it is |G|/d times the projector onto the
    commutant: vec(I) vec(I)ᵀ, plus vec(J) vec(J)ᵀ for a complex pair (J a complex structure)."""
    group = distinct_groups()[label]
    reps, field = _domain_irreps(group)
    for a in group.irreps:
        for b in group.irreps:
            total = None
            for g in range(group.order):
                term = exact.kron(reps[a.name][g], reps[b.name][g])
                total = term if total is None else total + term
            if a is not b:
                assert total.is_zero_matrix
                continue
            eye = sp.eye(a.dim).reshape(a.dim**2, 1)
            expected = eye * eye.T
            if a.complex_pair:
                j = sp.Matrix([[0, -1], [1, 0]])
                assert all(j * sp.Matrix(m) == sp.Matrix(m) * j for m in a.matrices)
                vj = j.reshape(4, 1)
                expected += vj * vj.T
            expected = expected * sp.Rational(group.order, a.dim)
            assert total == exact.domain_matrix(expected, field)


@pytest.mark.parametrize("label", ALL)
def test_class_sums_act_as_scalars(label):
    """Σ_{g∈C} D(g) = |C| χ(C)/d · 1 for real-type irreps (Schur), and class sums
    multiply with non-negative integer structure constants."""
    group = distinct_groups()[label]
    for irrep in group.irreps:
        if irrep.complex_pair:
            continue
        for c, cls in enumerate(group.classes):
            total = sum((sp.Matrix(irrep.matrices[g]) for g in cls.elements),
                        sp.zeros(irrep.dim))
            scalar = sp.Rational(cls.size * irrep.characters[c], irrep.dim)
            assert sp.simplify(total - scalar * sp.eye(irrep.dim)) == sp.zeros(irrep.dim)
    for a in group.classes:
        for b in group.classes:
            counts = [0] * group.order
            for x in a.elements:
                for y in b.elements:
                    counts[group.table[x, y]] += 1
            for c in group.classes:  # constant on each class
                assert len({counts[g] for g in c.elements}) == 1


@pytest.mark.parametrize("name", GROUPS_3D)
def test_complex_pairs_flagged_exactly_where_expected(name):
    flagged = {i.name for i in group3(name).irreps if i.complex_pair}
    assert bool(flagged) == (name in COMPLEX_PAIRS)
    for irrep in group3(name).irreps:
        assert irrep.kappa == (2 if irrep.complex_pair else 1)


def test_d4_is_table_one_of_the_paper():
    group = Lattice.square().site_group()
    assert group.name == "D4"
    table = {i.name: list(i.characters) for i in group.irreps}
    assert table == {"A1": [1, 1, 1, 1, 1], "A2": [1, 1, 1, -1, -1], "B1": [1, -1, 1, 1, -1],
                     "B2": [1, -1, 1, -1, 1], "E": [2, 0, -2, 0, 0]}
    x, y, z = sp.symbols("x y z", real=True)
    functions = {i.name: i.basis_functions for i in group.irreps}
    assert functions["E"] == (x, y)
    assert functions["A2"] == (z,)
    assert sp.simplify(functions["B1"][0] / (x**2 - y**2)).is_number
    assert sp.simplify(functions["B2"][0] / (x * y)).is_number
    # E is (x, y) itself: D_E(g) is the 2×2 operation
    e = group.irrep("E")
    assert all(e.matrix(g) == group.elements[g] for g in range(8))


def test_d4_products_are_table_two_of_the_paper():
    group = Lattice.square().site_group()
    names = ["A1", "A2", "B1", "B2"]
    expected = {("A2", "B1"): "B2", ("A2", "B2"): "B1", ("B1", "B2"): "A2"}
    for a in names:
        assert group.product(a, a) == {"A1": 1}
        assert group.product(a, "E") == {"E": 1}
        for b in names:
            if (a, b) in expected:
                assert group.product(a, b) == {expected[a, b]: 1}
    assert group.product("E", "E") == {"A1": 1, "A2": 1, "B1": 1, "B2": 1}


def test_oh_vector_products():
    oh = group3("Oh")
    assert oh.product("T1u", "T1u") == {"A1g": 1, "Eg": 1, "T1g": 1, "T2g": 1}
    assert oh.product("Eg", "Eg") == {"A1g": 1, "A2g": 1, "Eg": 1}
    x, y, z = sp.symbols("x y z", real=True)
    assert oh.irrep("T1u").basis_functions == (x, y, z)


def test_c3_complex_pair_multiplicity():
    c3 = group3("C3")
    assert c3.product("E", "E") == {"A": 2, "E": 1}  # 4 = 1 + 1 + 2


def test_irrep_lookup_by_matrix_and_bad_names():
    group = Lattice.square().site_group()
    e = group.irrep("E")
    c4 = sp.Matrix([[0, -1], [1, 0]])
    assert e.matrix(c4) == c4 and e.character(c4) == 0
    with pytest.raises(RepresentationError, match="has no irrep 'T1'"):
        group.irrep("T1")
    with pytest.raises(RepresentationError, match="not an element"):
        e.matrix(sp.Matrix([[1, 0], [0, 2]]))
