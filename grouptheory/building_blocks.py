"""The entries of the neighborhood vector U and how a site-group operation maps them.

Type I (eq. 12): U_{r,α} = Φ_α(r), one entry per site and component; an operation g sends
the entry (r, α) to Σ_β M_βα(g) (g·r, β) (eq. 13). Type II (eq. 46): SO(3)-invariant
building blocks of spins (Sec. VI): spin lengths |S_j|², center bonds S_0·S_j, off-center
bonds S_j·S_k (eq. 93) and chiralities S_0·(S_j×S_k) (eq. 94); the lattice permutes them,
and a chirality changes sign when the operation swaps the order of its two outer sites
(j < k in neighborhood order is the stored orientation).

Entries are grouped into invariant blocks: the orbits of the site group (Fig. 5, 6, 11).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.polys.matrices import DomainMatrix

from . import exact

KIND_ORDER = ("field", "length", "center_bond", "bond", "chirality")


@dataclass(frozen=True)
class BuildingBlock:
    """One entry of U: `kind`, the neighborhood `sites` it involves, field `component`."""

    kind: str
    sites: tuple[int, ...]
    component: int = 0

    def symbol(self, neighborhood, names) -> sp.Symbol:
        labels = [neighborhood.label(s) for s in self.sites]
        if self.kind == "field":
            return sp.Symbol(f"{names[self.component]}[{labels[0]}]", real=True)
        prefix = {"length": "l", "center_bond": "p", "bond": "p", "chirality": "b"}[self.kind]
        return sp.Symbol(f"{prefix}[{';'.join(labels)}]", real=True)

    def expression(self, neighborhood, names) -> sp.Expr:
        """In terms of the field components at the sites (spins: S_j·S_k, S_0·(S_j×S_k))."""
        if self.kind == "field":
            return self.symbol(neighborhood, names)
        spins = [sp.Matrix([sp.Symbol(f"{n}[{neighborhood.label(s)}]", real=True)
                            for n in names]) for s in self.sites]
        if self.kind == "length":
            return spins[0].dot(spins[0])
        if self.kind in ("center_bond", "bond"):
            return spins[0].dot(spins[1])
        return spins[0].dot(spins[1].cross(spins[2]))


@dataclass(frozen=True)
class InvariantBlock:
    """An orbit of entries and the exact matrices T(g) of the group acting on it."""

    kind: str
    entries: tuple[BuildingBlock, ...]
    matrices: tuple[DomainMatrix, ...]


def invariant_blocks(neighborhood, field, number_field) -> list[InvariantBlock]:
    """All invariant blocks of U for `field` on `neighborhood`, matrices over `number_field`."""
    group = neighborhood.group
    perms = neighborhood.permutations
    if not field.internal:
        mats = [exact.domain_matrix(m, number_field).to_list() for m in field.matrices(group)]
        m_dim = len(mats[0])
        blocks = []
        for orbit in neighborhood.orbits:
            entries = tuple(BuildingBlock("field", (r,), a) for r in orbit for a in range(m_dim))
            position = {(e.sites[0], e.component): n for n, e in enumerate(entries)}
            matrices = []
            for g in range(group.order):
                rows: dict = {}
                for n, e in enumerate(entries):
                    for b in range(m_dim):
                        value = mats[g][b][e.component]
                        if value != number_field.zero:
                            rows.setdefault(position[perms[g][e.sites[0]], b], {})[n] = value
                matrices.append(DomainMatrix(rows, (len(entries),) * 2, number_field))
            blocks.append(InvariantBlock("field", entries, tuple(matrices)))
        return blocks
    return _spin_blocks(neighborhood, field, number_field)


def _spin_blocks(neighborhood, field, number_field):
    sites, shells = neighborhood.sites, neighborhood.shell_distances2
    n = len(sites)

    def within(j, k, limit):
        if limit == 0:
            return False
        d2 = (sites[j].position - sites[k].position)
        d2 = sp.nsimplify(sp.expand((d2 * d2.T)[0]))
        return d2 <= shells[min(limit, len(shells)) - 1]

    entries = []
    if field.option("spin_length"):
        entries += [BuildingBlock("length", (j,)) for j in range(n)]
    entries += [BuildingBlock("center_bond", (0, j)) for j in range(1, n)]
    bond, chir = field.option("bond_shells"), field.option("chirality_shells")
    for j in range(1, n):
        for k in range(j + 1, n):
            if within(j, k, bond):
                entries.append(BuildingBlock("bond", (j, k)))
            if chir and within(0, j, chir) and within(0, k, chir) and within(j, k, chir):
                entries.append(BuildingBlock("chirality", (0, j, k)))
    return _orbit_blocks(neighborhood, entries, number_field)


def _image(entry, perm):
    """(image entry, sign) of a type-II entry under a site permutation."""
    moved = tuple(perm[s] for s in entry.sites)
    if entry.kind in ("length", "center_bond"):
        return BuildingBlock(entry.kind, moved), 1
    outer = moved[-2:]
    sign = 1 if outer[0] < outer[1] or entry.kind == "bond" else -1
    return BuildingBlock(entry.kind, moved[:-2] + tuple(sorted(outer))), sign


def _orbit_blocks(neighborhood, entries, number_field):
    perms = neighborhood.permutations
    known = set(entries)
    seen, blocks = set(), []
    for kind in KIND_ORDER:
        for entry in [e for e in entries if e.kind == kind]:
            if entry in seen:
                continue
            orbit = sorted({_image(entry, p)[0] for p in perms}, key=lambda e: e.sites)
            if not set(orbit) <= known:
                raise ValueError("building blocks not closed under the site group "
                                 "(internal error)")
            seen.update(orbit)
            position = {e: i for i, e in enumerate(orbit)}
            matrices = []
            for perm in perms:
                rows = {}
                for i, e in enumerate(orbit):
                    image, sign = _image(e, perm)
                    rows[position[image]] = {i: number_field.one if sign > 0 else
                                             -number_field.one}
                matrices.append(DomainMatrix(rows, (len(orbit),) * 2, number_field))
            blocks.append(InvariantBlock(kind, tuple(orbit), tuple(matrices)))
    return blocks
