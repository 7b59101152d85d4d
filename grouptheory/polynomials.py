"""Polynomial representations ε^s ⊗ Sym^k(R³): where the irreps are found.

A polynomial p transforms as (g·p)(r) = ε(g)^s p(gᵀ r), with ε = det the pseudo-scalar. In
the monomial basis x^α (|α| = k, lexicographic with x > y > z) the matrices are exact and the
Bombieri product ⟨x^α, x^β⟩ = δ_αβ α!/k! is O(3)-invariant, so projections stay orthogonal.
Every irrep of a crystallographic point group occurs for k ≤ 3, s ∈ {0, 1}.
"""

from __future__ import annotations

from functools import cached_property
from itertools import combinations_with_replacement
from math import factorial

import sympy as sp
from sympy.polys.matrices import DomainMatrix

from . import exact

X, Y, Z = sp.symbols("x y z", real=True)
EPSILON = sp.Symbol("ε")  # the pseudo-scalar det(g), printed in basis functions

# (s, k) in the order searched: lowest degree first, polar before axial.
SPACES = [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2), (0, 3), (1, 3)]


def monomials(k: int) -> list[tuple[int, int, int]]:
    """Exponent triples of degree k, x-heavy first (x², xy, xz, y², yz, z²)."""
    result = []
    for combo in combinations_with_replacement(range(3), k):
        result.append(tuple(combo.count(i) for i in range(3)))
    return result


def character(trace: int, trace2: int, trace3: int, det: int, s: int, k: int) -> int:
    """Character of ε^s ⊗ Sym^k from traces of g, g², g³ (exact integers)."""
    sym = {0: 1, 1: trace, 2: (trace**2 + trace2) // 2,
           3: (trace**3 + 3 * trace * trace2 + 2 * trace3) // 6}[k]
    return det**s * sym


class PolynomialSpace:
    """ε^s ⊗ Sym^k for a list of exact 3×3 operations."""

    def __init__(self, operations, s: int, k: int, field):
        self.operations, self.s, self.k, self.field = operations, s, k, field
        self.exponents = monomials(k)

    @property
    def dim(self) -> int:
        return len(self.exponents)

    @cached_property
    def metric(self) -> DomainMatrix:
        k, field = self.k, self.field
        weights = [sp.Rational(
            factorial(a) * factorial(b) * factorial(c), factorial(k)) for a, b, c in
            self.exponents]
        return DomainMatrix.diag([exact.element(field, w) for w in weights], field).to_dense()

    @cached_property
    def matrices(self) -> list[DomainMatrix]:
        return [self._matrix(g) for g in self.operations]

    def _matrix(self, g) -> DomainMatrix:
        field = self.field
        dm = exact.domain_matrix(g, field)
        sign = dm.det() ** self.s
        g = dm.to_list()
        # (gᵀ r)_i = Σ_j g[j][i] r_j : linear forms as coefficient lists over (x, y, z)
        forms = [[g[j][i] for j in range(3)] for i in range(3)]
        index = {e: n for n, e in enumerate(self.exponents)}
        columns = []
        for exponent in self.exponents:
            poly = {(0, 0, 0): field.one}
            for i, power in enumerate(exponent):
                for _ in range(power):
                    poly = _multiply_linear(poly, forms[i], field)
            col = [field.zero] * self.dim
            for e, c in poly.items():
                col[index[e]] += c * sign
            columns.append(col)
        rows = [[columns[j][i] for j in range(self.dim)] for i in range(self.dim)]
        return DomainMatrix(rows, (self.dim, self.dim), field)

    def function(self, vector: DomainMatrix) -> sp.Expr:
        """The polynomial (times ε^s) with coefficient `vector`."""
        coeffs = [self.field.to_sympy(c) for c in vector.to_list_flat()]
        poly = sum(c * X**a * Y**b * Z**cz for c, (a, b, cz) in zip(coeffs, self.exponents))
        return EPSILON**self.s * sp.expand(poly)


def _multiply_linear(poly: dict, form: list, field) -> dict:
    result: dict = {}
    for exponent, c in poly.items():
        for i, a in enumerate(form):
            if a == field.zero:
                continue
            e = list(exponent)
            e[i] += 1
            e = tuple(e)
            result[e] = result.get(e, field.zero) + c * a
    return result
