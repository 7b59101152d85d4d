"""Exact Clebsch–Gordan coefficients of real irreps (paper eqs. 26–27).

For a⊗b = ⊕_c m_c c, each copy r of c gets a matrix C of shape (dim c, dim a·dim b) with
C (D_a ⊗ D_b)(g) = D_c(g) C for every g (rows index the components of c, columns the pairs
(μ_a, μ_b) with μ_b fastest). The blocks, stacked in table order, form an orthogonal matrix.

Construction: the matrix-unit projectors P_j1 = (dim c/|G|) Σ_g D_c(g)_{j1} (D_a⊗D_b)(g) map a
first-component vector of any copy to its j-th component. Copies are taken from the images
P_11 e_i of the product basis vectors e_i in order, orthogonalised against earlier copies
(deterministic phase convention). This also holds for complex pairs, whose real matrices
are rotations commuting with a complex structure. For b after a in table order, b⊗a is a⊗b
with the two factors' columns swapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from . import exact
from .characters import decompose_product


@dataclass(frozen=True)
class ClebschGordanBlock:
    """Copy `copy` (0-based) of irrep `irrep` in a⊗b, with its exact CG `matrix`."""

    irrep: str
    copy: int
    matrix: sp.ImmutableMatrix


def clebsch_gordan(group, a, b) -> tuple[ClebschGordanBlock, ...]:
    """All CG blocks of a⊗b, in table order of the irreps and then by copy."""
    return _clebsch_gordan(group, a.name, b.name)


@lru_cache(maxsize=None)
def _clebsch_gordan(group, a_name: str, b_name: str) -> tuple[ClebschGordanBlock, ...]:
    names = [i.name for i in group.irreps]
    if names.index(a_name) > names.index(b_name):
        a, b = group.irrep(a_name), group.irrep(b_name)
        swap = [ib * a.dim + ia for ia in range(a.dim) for ib in range(b.dim)]
        return tuple(ClebschGordanBlock(blk.irrep, blk.copy, blk.matrix[:, swap])
                     for blk in _clebsch_gordan(group, b_name, a_name))
    a, b = group.irrep(a_name), group.irrep(b_name)
    products = decompose_product(group, a, b)
    targets = [group.irrep(name) for name in products]
    field = exact.number_field(x for irrep in [a, b, *targets]
                               for m in irrep.matrices for x in m)
    da = [exact.domain_matrix(m, field) for m in a.matrices]
    db = [exact.domain_matrix(m, field) for m in b.matrices]
    product = [exact.kron(x, y) for x, y in zip(da, db)]
    dim = a.dim * b.dim
    blocks = []
    for c in targets:
        dc = [exact.domain_matrix(m, field).to_list() for m in c.matrices]
        scale = exact.element(field, sp.Rational(c.dim, group.order))
        units = []
        for j in range(c.dim):
            unit = product[0] * field.zero
            for g in range(group.order):
                coefficient = dc[g][j][0]
                if coefficient != field.zero:
                    unit = unit + product[g] * coefficient
            units.append(unit * scale)
        found: list = []
        for i in range(dim):
            if len(found) == products[c.name] * c.dim:
                break
            v = exact.column(units[0], i)
            for f, nf in found:
                v = v - f * (exact.dot(f, v) / nf)
            if v.is_zero_matrix:
                continue
            norm = exact.dot(v, v)
            components = [v] + [units[j] * v for j in range(1, c.dim)]
            found += [(comp, norm) for comp in components]
            root = exact.sqrt_of(norm, field)
            rows = [[sp.radsimp(field.to_sympy(x) / root) for x in comp.to_list_flat()]
                    for comp in components]
            blocks.append(ClebschGordanBlock(c.name, len(found) // c.dim - 1,
                                             sp.ImmutableMatrix(rows)))
    return tuple(blocks)
