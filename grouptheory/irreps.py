"""Exact real irreducible representations of a point group.

Characters: the real irreducible characters are found by splitting the regular
representation with a random symmetric element of its commutant (numerically, seeded), then
rounded to the integers they are for every crystallographic group and checked exactly
(orthogonality, Σ dim²/κ = |G|). Matrices: each irrep is realised exactly inside the first
polynomial space ε^s ⊗ Sym^k (see `polynomials.SPACES`) that contains it.

Phase convention (deterministic): in that space, the first monomial x^α (in `monomials`
order) whose isotypic projection generates a single copy fixes the copy; its basis is the
Gram–Schmidt orthonormalisation of the projections of the monomials onto the copy, in
monomial order. Hence E of D4 is (x, y), T1u of Oh is (x, y, z), B1 of D4 is x² − y², B2 xy.

Complex pairs (groups C3, C4, C6, S4, S6, C3h, C4h, C6h, T, Th) are combined into physically
irreducible real representations of twice the dimension, flagged `complex_pair`; their
characters are χ + χ̄ and ⟨χ, χ⟩ = 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from . import exact
from .errors import RepresentationError
from .naming import irrep_label, irrep_sort_key
from .polynomials import SPACES, PolynomialSpace, character


@dataclass(frozen=True)
class Irrep:
    """A real orthogonal irrep: `matrices[g]` for element index g, `characters` per class."""

    name: str
    dim: int
    matrices: tuple[sp.ImmutableMatrix, ...] = field(repr=False)
    characters: tuple[int, ...] = field(repr=False)
    complex_pair: bool = False
    basis_functions: tuple[sp.Expr, ...] = field(default=(), repr=False)
    group: object = field(default=None, repr=False, compare=False)

    def _index(self, g) -> int:
        if isinstance(g, (int, np.integer)):
            return int(g)
        target = np.array(sp.Matrix(g).evalf(), dtype=float)
        for i, element in enumerate(self.group.elements):
            if np.allclose(np.array(element.evalf(), dtype=float), target, atol=1e-9):
                return i
        raise RepresentationError(f"{g.tolist()} is not an element of {self.group.name}")

    def matrix(self, g) -> sp.ImmutableMatrix:
        """D(g) for an element index or an element matrix."""
        return self.matrices[self._index(g)]

    def character(self, g) -> int:
        """χ(g) for an element index or an element matrix."""
        return self.characters[int(self.group.class_index[self._index(g)])]

    @property
    def kappa(self) -> int:
        """⟨χ, χ⟩ = 1 for real-type irreps, 2 for complex pairs."""
        return 2 if self.complex_pair else 1


def real_characters(group) -> list[tuple[int, ...]]:
    """Real irreducible characters, one value per class."""
    n, table = group.order, group.table
    rng = np.random.default_rng(12345)
    x = rng.standard_normal((n, n))
    x = x + x.T
    perms = [table[g] for g in range(n)]  # R(g) e_h = e_{gh}
    commutant = np.zeros((n, n))
    for p in perms:
        commutant[np.ix_(p, p)] += x
    values, vectors = np.linalg.eigh(commutant)
    scale = max(1.0, np.abs(values).max())
    found = []
    start = 0
    for end in range(1, n + 1):
        if end == n or values[end] - values[end - 1] > 1e-7 * scale:
            block = vectors[:, start:end]
            projector = block @ block.T
            chi = np.array([projector[p, np.arange(n)].sum() for p in perms])
            per_class = tuple(round(chi[c.representative]) for c in group.classes)
            if not np.allclose(chi, [per_class[group.class_index[g]] for g in range(n)],
                               atol=1e-6):
                raise RepresentationError("non-integral character: not crystallographic")
            if per_class not in found:
                found.append(per_class)
            start = end
    sizes = [c.size for c in group.classes]
    total = 0
    for a in found:
        for b in found:
            inner = sum(s * x * y for s, x, y in zip(sizes, a, b))
            if a != b and inner != 0:
                raise RepresentationError("characters not orthogonal (internal error)")
        kappa = sum(s * x * x for s, x in zip(sizes, a)) // n
        total += a[0] ** 2 // kappa
    if total != n:
        raise RepresentationError("characters incomplete (internal error)")
    return found


def build_irreps(group) -> tuple[Irrep, ...]:
    operations = group.embedded
    field_ = exact.number_field(x for g in operations for x in g)
    traces = [int(sp.nsimplify(g.trace())) for g in operations]
    traces2 = [traces[group.table[g, g]] for g in range(group.order)]
    traces3 = [traces[group.table[group.table[g, g], g]] for g in range(group.order)]
    dets = [t.det for t in group.types]
    spaces: dict = {}
    irreps = []
    for chars in real_characters(group):
        chi = [chars[group.class_index[g]] for g in range(group.order)]
        label = irrep_label(group, chars)
        kappa = sum(c * c for c in chi) // group.order
        matrices, functions = _realise(group, chi, kappa, operations, field_, spaces,
                                       traces, traces2, traces3, dets)
        irreps.append(Irrep(label, chars[0], matrices, chars, kappa == 2, functions, group))
    names = [i.name for i in irreps]
    if len(set(names)) != len(names):
        raise RepresentationError(f"ambiguous irrep labels {names} in {group.name}")
    return tuple(sorted(irreps, key=lambda i: irrep_sort_key(i.name)))


def _realise(group, chi, kappa, operations, field_, spaces, traces, traces2, traces3, dets):
    d, n = chi[0], group.order
    for s, k in SPACES:
        multiplicity = sum(character(traces[g], traces2[g], traces3[g], dets[g], s, k) * chi[g]
                           for g in range(n)) // (kappa * n)
        if multiplicity == 0:
            continue
        if (s, k) not in spaces:
            spaces[s, k] = PolynomialSpace(operations, s, k, field_)
        space = spaces[s, k]
        mats = space.matrices
        projector = mats[0] * field_.zero
        for g in range(n):
            if chi[g]:
                projector = projector + mats[g] * exact.element(field_, chi[g])
        for i in range(space.dim):
            v = exact.column(projector, i)
            if v.is_zero_matrix:
                continue
            orbit = [m * v for m in mats]
            span, _ = exact.orthogonalize(orbit, space.metric)
            if len(span) == d:
                return _orthonormal_realisation(space, span)
    raise RepresentationError("irrep not found in polynomials of degree ≤ 3 (internal error)")


def _orthonormal_realisation(space, span):
    """Matrices and basis functions of the copy spanned by `span` (monomial phase rule)."""
    field_, metric, d = space.field, space.metric, len(span)
    span_norms = [exact.dot(b, b, metric) for b in span]
    projections = []
    for j in range(space.dim):
        e = _unit(space.dim, j, field_)
        proj = e * field_.zero
        for b, nb in zip(span, span_norms):
            proj = proj + b * (exact.dot(b, e, metric) / nb)
        projections.append(proj)
    basis, norms = exact.orthogonalize(projections, metric)
    basis, norms = basis[:d], norms[:d]
    matrices = []
    for m in space.matrices:
        rows = [[sp.radsimp(field_.to_sympy(exact.dot(bi, m * bj, metric))
                            / sp.sqrt(field_.to_sympy(ni * nj)))
                 for bj, nj in zip(basis, norms)] for bi, ni in zip(basis, norms)]
        matrices.append(sp.ImmutableMatrix(rows))
    functions = tuple(sp.radsimp(space.function(b) / sp.sqrt(field_.to_sympy(nb)))
                      for b, nb in zip(basis, norms))
    return tuple(matrices), functions


def _unit(dim, j, field_):
    return DomainMatrix([[field_.one if i == j else field_.zero] for i in range(dim)],
                        (dim, 1), field_)
