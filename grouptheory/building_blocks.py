"""The entries of the neighborhood vector U and how a site-group operation maps them.

Type I (eq. 12): U_{r,α} = Φ_α(r), one entry per site and component; an operation g sends
the entry (r, α) to Σ_β M_βα(g) (g·r, β) (eq. 13). Type II (eq. 46): SO(3)-invariant
building blocks of spins (Sec. VI): spin lengths |S_j|², center bonds S_0·S_j, off-center
bonds S_j·S_k (eq. 93) and chiralities S_0·(S_j×S_k) (eq. 94); the lattice permutes them,
and a chirality changes sign when the operation swaps the order of its two outer sites
(j < k in neighborhood order is the stored orientation).

The spin blocks are completed (`_completion`) until they determine the neighborhood's spins
up to a global rotation: the Jacobian of the blocks against the 3L spin components reaches
3L − 3. The paper's set can fall short on multi-site cells: on Lieb's edge site the two
corner clusters hinge about S_0 (a rotation about S_0 of one cluster changes no center bond,
no near bond, no chirality with S_0), and lengths |S_j|² are determined only through
bond cycles (kagome, Lieb and the square lattice at 4 shells miss some).

Entries are grouped into invariant blocks: the orbits of the site group (Fig. 5, 6, 11).
"""

from __future__ import annotations

import random
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
        return limit > 0 and _distance2(sites, j, k) <= shells[min(limit, len(shells)) - 1]

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
    entries += _completion(neighborhood, entries)
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


PRIME = 2**31 - 1  # the completion's ranks are taken modulo this prime


def _distance2(sites, j, k) -> sp.Expr:
    d = sites[j].position - sites[k].position
    return sp.nsimplify(sp.expand((d * d.T)[0]))


def _completion(neighborhood, entries) -> list[BuildingBlock]:
    """Orbits of building blocks that bring the rank of ∂(entries)/∂(spins) to 3L − 3, the
    dimension of the spin configurations modulo global rotations. First off-center bonds
    S_j·S_k in order of |r_jk| until the blocks with every |S_j|² have that rank (the
    directions along the spheres |S_j| = const are determined: complete for unit spins),
    then spin lengths |S_j|² (site orbits in order) until the blocks alone have it. An orbit
    is kept only when it raises the rank. The rank is exact, modulo PRIME at a seeded random
    integer configuration: a lower bound of the generic rank, so reaching 3L − 3 proves the
    blocks complete."""
    n, perms, sites = len(neighborhood), neighborhood.permutations, neighborhood.sites
    target = 3 * n - 3
    rng = random.Random(n)
    spins = [[rng.randrange(1, PRIME) for _ in range(3)] for _ in range(n)]
    present = set(entries)

    def orbits(candidates):
        seen, out = set(), []
        for entry in candidates:
            if entry not in seen and entry not in present:
                orbit = sorted({_image(entry, p)[0] for p in perms}, key=lambda e: e.sites)
                seen.update(orbit)
                out.append(orbit)
        return out

    def rows(orbit):
        return [_gradient(e, spins) for e in orbit]

    lengths = orbits(BuildingBlock("length", (j,)) for j in range(n))
    span = _Span().extended(rows(entries))
    full = span.extended([r for orbit in lengths for r in rows(orbit)])
    added = []
    if full.rank < target:
        pairs = sorted(((j, k) for j in range(1, n) for k in range(j + 1, n)),
                       key=lambda jk: (_distance2(sites, *jk), jk))
        for orbit in orbits(BuildingBlock("bond", jk) for jk in pairs):
            trial = full.extended(rows(orbit))
            if trial.rank > full.rank:
                full, span, added = trial, span.extended(rows(orbit)), added + orbit
            if full.rank == target:
                break
    for orbit in lengths:
        if span.rank == target:
            break
        trial = span.extended(rows(orbit))
        if trial.rank > span.rank:
            span, added = trial, added + orbit
    if span.rank != target:
        raise ValueError("spin building blocks cannot be completed (internal error)")
    return added


def _gradient(entry, spins) -> dict:
    """∂(entry)/∂(spin components) modulo PRIME, sparse: {3·site + axis: value}."""
    def cross(a, b):
        return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]

    row: dict = {}

    def put(site, vector):
        for axis, v in enumerate(vector):
            key = 3 * site + axis
            row[key] = (row.get(key, 0) + v) % PRIME

    s = [spins[j] for j in entry.sites]
    if entry.kind == "length":
        put(entry.sites[0], [2 * v for v in s[0]])
    elif entry.kind in ("center_bond", "bond"):
        put(entry.sites[0], s[1])
        put(entry.sites[1], s[0])
    else:
        for i in range(3):
            put(entry.sites[i], cross(s[(i + 1) % 3], s[(i + 2) % 3]))
    return row


class _Span:
    """The row space of sparse rows modulo PRIME, in echelon form {pivot: row}."""

    def __init__(self, pivots=None):
        self.pivots: dict = pivots or {}

    @property
    def rank(self) -> int:
        return len(self.pivots)

    def extended(self, rows) -> _Span:
        """The span of these rows and `rows`."""
        pivots = dict(self.pivots)
        for row in rows:
            row = {k: v for k, v in row.items() if v}
            while row:
                pivot = min(row)
                if pivot not in pivots:
                    inverse = pow(row[pivot], PRIME - 2, PRIME)
                    pivots[pivot] = {k: v * inverse % PRIME for k, v in row.items()}
                    break
                factor = row[pivot]
                for k, v in pivots[pivot].items():
                    row[k] = (row.get(k, 0) - factor * v) % PRIME
                row = {k: v for k, v in row.items() if v}
        return _Span(pivots)
