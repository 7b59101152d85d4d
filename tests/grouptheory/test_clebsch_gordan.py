"""Clebsch–Gordan coefficients (eqs. 26–27): intertwining and orthogonality, every pair."""

import numpy as np
import pytest
import sympy as sp

from grouptheory import exact

from .conftest import as_domain, distinct_groups, group3, preset_group

ALL = list(distinct_groups())


def generating_set(group):
    """A few elements whose products give the whole group (greedy, from the table)."""
    chosen, reached = [], {0}
    for g in range(group.order):
        if g in reached:
            continue
        chosen.append(g)
        frontier = list(reached)
        while frontier:
            new = {int(group.table[x, h]) for x in frontier for h in chosen} - reached
            reached |= new
            frontier = list(new)
    return chosen


@pytest.mark.parametrize("label", ALL)
def test_cg_intertwine_and_form_an_orthogonal_matrix(label):
    """Exact on a generating set (the irreps are exact homomorphisms, tested elsewhere, so
    this proves it for every g), and in float64 for every element."""
    group = distinct_groups()[label]
    gens = generating_set(group)
    floats = {i.name: [np.array(m.evalf(), dtype=float) for m in i.matrices]
              for i in group.irreps}
    for a in group.irreps:
        for b in group.irreps:
            blocks = group.clebsch_gordan(a, b)
            counts = {}
            for blk in blocks:
                counts[blk.irrep] = counts.get(blk.irrep, 0) + 1
            assert counts == group.product(a, b)
            stacked = sp.Matrix.vstack(*[blk.matrix for blk in blocks])
            for blk in blocks:
                fc = np.array(blk.matrix.evalf(), dtype=float)
                for g in range(group.order):
                    fa, fb = floats[a.name][g], floats[b.name][g]
                    fd = floats[blk.irrep][g]
                    assert np.abs(fc @ np.kron(fa, fb) - fd @ fc).max() < 1e-12
            keep = [stacked] + [blk.matrix for blk in blocks] + \
                [a.matrices[g] for g in gens] + [b.matrices[g] for g in gens] + \
                [group.irrep(blk.irrep).matrices[g] for blk in blocks for g in gens]
            dm, field = as_domain(keep)
            w = dm[0]
            n = a.dim * b.dim
            assert w.shape == (n, n)
            assert w * w.transpose() == exact.domain_matrix(sp.eye(n), field)  # eq. 27
            cg = dm[1:1 + len(blocks)]
            ng = len(gens)
            da = dm[1 + len(blocks):1 + len(blocks) + ng]
            db = dm[1 + len(blocks) + ng:1 + len(blocks) + 2 * ng]
            dc = dm[1 + len(blocks) + 2 * ng:]
            for k, c in enumerate(cg):
                for g in range(ng):
                    assert c * exact.kron(da[g], db[g]) == dc[k * ng + g] * c  # eq. 26


def test_d4_e_times_e_matches_eq_69():
    """E⊗E → A1, A2, B1, B2 with the Pauli structure of eq. (69): 1, -iσ2, σ3, σ1."""
    group = preset_group("square")
    blocks = {blk.irrep: blk.matrix for blk in group.clebsch_gordan("E", "E")}
    r = sp.sqrt(2) / 2
    assert blocks["A1"] == sp.Matrix([[r, 0, 0, r]])
    assert blocks["A2"] in (sp.Matrix([[0, r, -r, 0]]), sp.Matrix([[0, -r, r, 0]]))
    assert blocks["B1"] in (sp.Matrix([[r, 0, 0, -r]]), sp.Matrix([[-r, 0, 0, r]]))
    assert blocks["B2"] in (sp.Matrix([[0, r, r, 0]]), sp.Matrix([[0, -r, -r, 0]]))


def test_swapped_factors_are_column_permutations():
    oh = group3("Oh")
    ab = oh.clebsch_gordan("T1u", "Eg")
    ba = oh.clebsch_gordan("Eg", "T1u")
    perm = [ia * 2 + ib for ib in range(2) for ia in range(3)]
    for x, y in zip(ab, ba):
        assert x.irrep == y.irrep and x.matrix[:, perm] == y.matrix


def test_multiple_copies_are_orthogonal_in_d6():
    d6 = preset_group("triangular")
    blocks = d6.clebsch_gordan("E1", "E1")
    assert [b.irrep for b in blocks] == ["A1", "A2", "E2"]
