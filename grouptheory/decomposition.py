"""Decomposition of a neighborhood field into irreps of the site group (eqs. 17–18, 37–38,
47–48): the exact basis vectors Υ^{Γ,r}_μ and the IR coefficients f^{Γ,r}_μ = Υ^{Γ,r}_μ · U.

Each invariant block (an orbit of sites or of building blocks) is decomposed on its own with
`adapted_basis`, so T(g) Υ_μ = Σ_ν D^Γ_{νμ}(g) Υ_ν with the group's own irrep matrices and
Clebsch–Gordan coefficients apply across copies. Copies r = 1, 2, … of each irrep are
numbered through the whole neighborhood in block order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from . import exact
from .adapted_basis import adapted_basis
from .building_blocks import BuildingBlock, invariant_blocks
from .characters import format_sum


@dataclass(frozen=True)
class IRCoefficient:
    """Copy `copy` (1-based) of `irrep`, from invariant block `block`; `vectors[μ]` is the
    sparse orthonormal basis vector Υ_μ as ((entry index in U, exact coefficient), …)."""

    irrep: str
    copy: int
    block: int
    vectors: tuple[tuple[tuple[int, sp.Expr], ...], ...]


@dataclass(frozen=True)
class BlockSummary:
    kind: str
    entries: tuple[int, ...]  # indices into Decomposition.entries
    content: dict  # irrep → multiplicity in this block


class Decomposition:
    """Result of `decompose(neighborhood, field)`."""

    def __init__(self, neighborhood, field):
        self.neighborhood, self.field = neighborhood, field
        group = self.group = neighborhood.group
        mats = [] if field.internal else field.matrices(group)
        number_field = exact.number_field(
            [x for i in group.irreps for m in i.matrices for x in m]
            + [x for m in mats for x in m])
        blocks = invariant_blocks(neighborhood, field, number_field)
        entries: list[BuildingBlock] = []
        summaries, coefficients, counts = [], [], {}
        for b, block in enumerate(blocks):
            start = len(entries)
            entries += block.entries
            content = {}
            for copy in adapted_basis(group, list(block.matrices)):
                name = copy.irrep.name
                counts[name] = counts.get(name, 0) + 1
                content[name] = content.get(name, 0) + 1
                vectors = tuple(tuple((start + i, c) for i, c in enumerate(v) if c != 0)
                                for v in copy.normalized())
                coefficients.append(IRCoefficient(name, counts[name], b, vectors))
            order = [i.name for i in group.irreps]
            summaries.append(BlockSummary(block.kind, tuple(range(start, len(entries))),
                                          dict(sorted(content.items(),
                                                      key=lambda kv: order.index(kv[0])))))
        self.entries = tuple(entries)
        self.blocks = tuple(summaries)
        order = [i.name for i in group.irreps]
        self.coefficients = tuple(sorted(coefficients,
                                         key=lambda c: (order.index(c.irrep), c.copy)))
        self.multiplicities = {name: counts[name] for name in order if name in counts}

    @property
    def dimension(self) -> int:
        """Length of U: L·M for type I, the number of building blocks for type II."""
        return len(self.entries)

    @cached_property
    def component_names(self) -> tuple[str, ...]:
        return self.field.component_names(self.group)

    @cached_property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """One named symbol per entry of U, e.g. Q[1,0] or p[0,0;1,0]."""
        return tuple(e.symbol(self.neighborhood, self.component_names) for e in self.entries)

    def building_block_expressions(self) -> dict:
        """symbol → expression in the field components (type II: S_j·S_k, …)."""
        return {s: e.expression(self.neighborhood, self.component_names)
                for s, e in zip(self.symbols, self.entries)}

    def expressions(self) -> dict[tuple[str, int], list[sp.Expr]]:
        """f^{Γ,r}_μ (eq. 18) as exact expressions in the entry symbols, keyed by (Γ, r)."""
        return {(c.irrep, c.copy): [sp.Add(*[coef * self.symbols[i] for i, coef in v])
                                    for v in c.vectors] for c in self.coefficients}

    def matrix(self) -> sp.Matrix:
        """All Υ as rows (an orthogonal matrix, rows in `coefficients` order)."""
        rows = []
        for c in self.coefficients:
            for v in c.vectors:
                row = [0] * self.dimension
                for i, coef in v:
                    row[i] = coef
                rows.append(row)
        return sp.Matrix(rows)

    def block_description(self, b: int) -> str:
        """E.g. "4 = A1 ⊕ B1 ⊕ E"."""
        block = self.blocks[b]
        return f"{len(block.entries)} = {format_sum(block.content)}"

    def as_dict(self) -> dict:
        hood = self.neighborhood
        return {
            "lattice": hood.lattice.name, "site": hood.site, "group": self.group.name,
            "field": self.field.name, "components": list(self.component_names),
            "sites": [{"label": hood.label(n), "cell": list(s.cell), "sublattice": s.sublattice,
                       "distance2": str(s.distance2), "shell": s.shell}
                      for n, s in enumerate(hood.sites)],
            "entries": [str(s) for s in self.symbols],
            "blocks": [{"kind": b.kind, "size": len(b.entries),
                        "decomposition": self.block_description(n)}
                       for n, b in enumerate(self.blocks)],
            "multiplicities": self.multiplicities,
            "coefficients": [{"irrep": k[0], "copy": k[1], "expressions": [str(e) for e in v]}
                             for k, v in self.expressions().items()],
        }


def decompose(neighborhood, field) -> Decomposition:
    """Decompose `field` on `neighborhood` into irreps of the site group, exactly."""
    return Decomposition(neighborhood, field)
