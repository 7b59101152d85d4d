"""Symmetry-adapted basis of any orthogonal representation T, consistent with the irreps.

For every irrep c and every copy r of c in T, vectors Υ_1..Υ_d with
    T(g) Υ_μ = Σ_ν D_c(g)_{νμ} Υ_ν   for every g,
so that the coefficients f_μ = Υ_μ·U transform with the group's own matrices (eq. 21) and
Clebsch–Gordan coefficients apply across copies. Construction (exact): the matrix-unit
projectors P_j1 = (d/|G|) Σ_g D_c(g)_{j1} T(g) send a first-component vector of any copy to
its j-th component; first components are the images P_11 e_i of the basis vectors e_i in
order, orthogonalised against the copies already found (the deterministic phase convention).
It holds for complex pairs too, whose real matrices commute with a complex structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.polys.matrices import DomainMatrix

from . import exact


@dataclass(frozen=True)
class AdaptedCopy:
    """One copy of `irrep`: unnormalised exact vectors (columns) sharing the squared norm."""

    irrep: object
    vectors: tuple[DomainMatrix, ...]
    norm: object

    def normalized(self) -> list[list[sp.Expr]]:
        """The orthonormal vectors as lists of exact sympy numbers."""
        field = self.vectors[0].domain
        root = exact.sqrt_of(self.norm, field)
        return [[sp.radsimp(field.to_sympy(x) / root) for x in v.to_list_flat()]
                for v in self.vectors]


def character_of(matrices) -> list:
    """Traces of T(g), as sympy numbers."""
    return [m.domain.to_sympy(sum((m.to_list()[i][i] for i in range(m.shape[0])), m.domain.zero))
            for m in matrices]


def adapted_basis(group, matrices: list[DomainMatrix], irreps=None) -> list[AdaptedCopy]:
    """All copies of every irrep in T (`matrices[g]` over a field holding the irreps' entries),
    irreps in table order, copies in order found."""
    field = matrices[0].domain
    dim = matrices[0].shape[0]
    chi = character_of(matrices)
    copies = []
    for c in irreps if irreps is not None else group.irreps:
        own = [c.characters[group.class_index[g]] for g in range(group.order)]
        count = sp.nsimplify(sum(x * y for x, y in zip(chi, own)) / (c.kappa * group.order))
        if count == 0:
            continue
        if not count.is_Integer:
            raise ValueError(f"non-integral multiplicity {count} of {c.name}: T is not a "
                             "representation of the group")
        dc = [exact.domain_matrix(m, field).to_list() for m in c.matrices]
        scale = exact.element(field, sp.Rational(c.dim, group.order))
        units = []
        for j in range(c.dim):
            unit = DomainMatrix.zeros((dim, dim), field)
            for g in range(group.order):
                if dc[g][j][0] != field.zero:
                    unit = unit + matrices[g] * dc[g][j][0]
            units.append(unit * scale)
        found: list = []
        for i in range(dim):
            if len(found) == int(count) * c.dim:
                break
            v = exact.column(units[0], i)
            for f, nf in found:
                v = v - f * (exact.dot(f, v) / nf)
            if v.is_zero_matrix:
                continue
            norm = exact.dot(v, v)
            vectors = [v.to_dense()] + [(units[j] * v).to_dense() for j in range(1, c.dim)]
            found += [(u, norm) for u in vectors]
            copies.append(AdaptedCopy(c, tuple(vectors), norm))
        if len(found) != int(count) * c.dim:
            raise ValueError(f"found {len(found) // c.dim} of {count} copies of {c.name}: "
                             "T is not an orthogonal representation of the group")
    return copies
