"""The site group acting on the whole periodic lattice and on the field, as plain data: what
the runtime needs to move configurations (symmetry errors, equivariance tests) without sympy.

For every element g of the site group (about site 0 of the first cell, or the given site): `matrix`, the integer
matrix M(g) acting on fractional rows (f ↦ f M); `sublattices`, for each basis site b the
image sublattice b' and the cell shift t_b, so that the site (cell c, b) goes to
(c M + t_b, b'); `field`, the field's representation matrix M(g) as floats (None for a
scalar, or a type II field that carries the internal SO(3) instead).
"""

from __future__ import annotations

import sympy as sp


def site_group_actions(lattice, group, field, site: int = 0) -> list[dict]:
    """[{"matrix", "sublattices", "field"} per element of `group` (about `site`)], JSON-ready."""
    basis = lattice.basis
    origin = basis[site]
    representation = None if field.internal else field.matrices(group)
    actions = []
    for g, element in enumerate(group.elements):
        m = lattice.fractional(element)
        images = []
        for f in basis:
            image = [origin[j] + sum((f[i] - origin[i]) * m[i, j] for i in range(len(f)))
                     for j in range(len(f))]
            for b, target in enumerate(basis):
                shift = [sp.nsimplify(x - y) for x, y in zip(image, target)]
                if all(s.is_integer for s in shift):
                    images.append([b, [int(s) for s in shift]])
                    break
        matrix = None if representation is None else representation[g]
        if matrix is not None and matrix == sp.eye(matrix.rows):
            matrix = None
        actions.append({
            "matrix": [[int(x) for x in m.row(i)] for i in range(m.rows)],
            "sublattices": images,
            "field": None if matrix is None else [[float(x) for x in matrix.row(i)]
                                                  for i in range(matrix.rows)]})
    return actions
