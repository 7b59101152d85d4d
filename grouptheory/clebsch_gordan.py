"""Exact Clebsch–Gordan coefficients of real irreps (paper eqs. 26–27).

For a⊗b = ⊕_c m_c c, each copy r of c gets a matrix C of shape (dim c, dim a·dim b) with
C (D_a ⊗ D_b)(g) = D_c(g) C for every g (rows index the components of c, columns the pairs
(μ_a, μ_b) with μ_b fastest). The blocks, stacked in table order, form an orthogonal matrix.

Construction: the rows of C are the symmetry-adapted basis of D_a⊗D_b (see `adapted_basis`,
which states the phase convention). For b after a in table order, b⊗a is a⊗b with the two
factors' columns swapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from . import exact
from .adapted_basis import adapted_basis
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


@cache
def _clebsch_gordan(group, a_name: str, b_name: str) -> tuple[ClebschGordanBlock, ...]:
    names = [i.name for i in group.irreps]
    if names.index(a_name) > names.index(b_name):
        a, b = group.irrep(a_name), group.irrep(b_name)
        swap = [ib * a.dim + ia for ia in range(a.dim) for ib in range(b.dim)]
        return tuple(ClebschGordanBlock(blk.irrep, blk.copy, blk.matrix[:, swap])
                     for blk in _clebsch_gordan(group, b_name, a_name))
    a, b = group.irrep(a_name), group.irrep(b_name)
    targets = [group.irrep(name) for name in decompose_product(group, a, b)]
    field = exact.number_field(x for irrep in [a, b, *targets]
                               for m in irrep.matrices for x in m)
    da = [exact.domain_matrix(m, field) for m in a.matrices]
    db = [exact.domain_matrix(m, field) for m in b.matrices]
    product = [exact.kron(x, y) for x, y in zip(da, db)]
    blocks, seen = [], {}
    for copy in adapted_basis(group, product, targets):
        name = copy.irrep.name
        seen[name] = seen.get(name, -1) + 1
        blocks.append(ClebschGordanBlock(name, seen[name], sp.ImmutableMatrix(copy.normalized())))
    return tuple(blocks)
