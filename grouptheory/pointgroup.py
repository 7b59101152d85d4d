"""`PointGroup`: a finite group of exact orthogonal matrices, its table, classes and name."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

from . import exact
from .errors import RepresentationError
from .operations import OperationType, classify, embed_3d


def _key(matrix: np.ndarray) -> tuple:
    return tuple(np.round(np.asarray(matrix, dtype=float).ravel(), 8) + 0.0)


def close(generators, dimension: int | None = None) -> list[sp.ImmutableMatrix]:
    """All products of `generators` (exact), identity first, then in breadth-first order."""
    generators = [sp.ImmutableMatrix(g) for g in generators]
    if dimension is None:
        dimension = generators[0].shape[0] if generators else 3
    field = exact.number_field(x for g in generators for x in g)
    gens = [(exact.domain_matrix(g, field), np.array(g.evalf(), dtype=float))
            for g in generators]
    identity = (exact.domain_matrix(sp.eye(dimension), field), np.eye(dimension))
    elements, seen, frontier = [identity], {_key(identity[1])}, [identity]
    while frontier:
        new = []
        for g, gf in frontier:
            for h, hf in gens:
                key = _key(gf @ hf)
                if key not in seen:
                    seen.add(key)
                    new.append((g * h, gf @ hf))
                    if len(seen) > 48:
                        raise RepresentationError(
                            "generators do not close to a crystallographic point group "
                            "(more than 48 elements)")
        elements += new
        frontier = new
    return [exact.to_sympy(g) for g, _ in elements]


@dataclass(frozen=True)
class ConjugacyClass:
    """A conjugacy class: its standard name (e.g. "2C4"), symbol ("C4") and element indices."""

    name: str
    symbol: str
    elements: tuple[int, ...]
    role: str | None = None

    @property
    def size(self) -> int:
        return len(self.elements)

    @property
    def representative(self) -> int:
        return self.elements[0]


class PointGroup:
    """A crystallographic point group as exact matrices acting on 2D or 3D space.

    Elements are ordered class by class, in the order of `classes`; element 0 is the
    identity. `table[a, b]` is the index of elements[a]·elements[b]. For 2D groups the
    elements are 2×2; naming and irreps use the embedding diag(g, det g) (see `operations`).
    `reference` is the in-plane direction that decides primed classes (C2' ∋ the axis
    closest to it; σv contains it): x by default, the first lattice vector for lattices.
    """

    def __init__(self, elements, dimension: int, reference=(1.0, 0.0, 0.0)):
        from . import naming

        elements = sorted((sp.ImmutableMatrix(g) for g in elements),
                          key=lambda g: g != sp.eye(dimension))  # identity first
        if not elements or elements[0] != sp.eye(dimension):
            raise RepresentationError("a point group must contain the identity")
        self.dimension = dimension
        self.reference = tuple(float(x) for x in reference)
        types = [classify(g) for g in elements]
        floats = np.array([np.array(g.evalf(), dtype=float) for g in elements])
        index = {_key(g): i for i, g in enumerate(floats)}
        if len(index) != len(elements):
            raise RepresentationError("repeated elements in a point group")
        table = np.empty((len(elements),) * 2, dtype=np.int64)
        for a, ga in enumerate(floats):
            for b, gb in enumerate(floats):
                try:
                    table[a, b] = index[_key(ga @ gb)]
                except KeyError:
                    raise RepresentationError("the matrices are not closed under products")
        self.name = naming.identify([t.kind for t in types], dimension, floats)
        raw_classes = _conjugacy_classes(table)
        named = naming.name_classes(self.name, types, raw_classes, self.reference)
        # reorder elements class by class
        order = [i for members, _, _, _ in named for i in members]
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        self.elements: tuple[sp.ImmutableMatrix, ...] = tuple(elements[i] for i in order)
        self.types: tuple[OperationType, ...] = tuple(types[i] for i in order)
        self.table = position[table[np.ix_(order, order)]]
        self.table.setflags(write=False)
        self.inverse = tuple(int(np.flatnonzero(row == 0)[0]) for row in self.table)
        self.classes = tuple(
            ConjugacyClass(name, symbol, tuple(int(position[i]) for i in members), role)
            for members, name, symbol, role in named)
        self.class_index = np.empty(len(order), dtype=np.int64)
        for c, cls in enumerate(self.classes):
            self.class_index[list(cls.elements)] = c
        self.roles = naming.class_roles(self)

    @classmethod
    def from_generators(cls, generators, dimension: int | None = None,
                        reference=(1.0, 0.0, 0.0)) -> PointGroup:
        """The group generated by exact orthogonal matrices (2×2 or 3×3)."""
        generators = [sp.ImmutableMatrix(g) for g in generators]
        if dimension is None:
            dimension = generators[0].shape[0] if generators else 3
        for g in generators:
            if g.shape != (dimension, dimension):
                raise RepresentationError(
                    f"generator of shape {g.shape} in a {dimension}D point group")
            if sp.simplify(g * g.T - sp.eye(dimension)) != sp.zeros(dimension):
                raise RepresentationError(f"generator {g.tolist()} is not orthogonal")
            order = classify(g).n
            if order not in (1, 2, 3, 4, 6):
                raise RepresentationError(
                    f"generator {g.tolist()} has a rotation of order {order}: "
                    "not a crystallographic point group (orders 1, 2, 3, 4, 6 only)")
        return cls(close(generators, dimension), dimension, reference)

    # -- basic data ---------------------------------------------------------------------
    @property
    def order(self) -> int:
        return len(self.elements)

    @cached_property
    def embedded(self) -> tuple[sp.ImmutableMatrix, ...]:
        """Elements as 3×3 matrices (2D groups via diag(g, det g))."""
        return tuple(embed_3d(g) for g in self.elements)

    def multiply(self, a: int, b: int) -> int:
        return int(self.table[a, b])

    def __repr__(self) -> str:
        classes = ", ".join(c.name for c in self.classes)
        return f"PointGroup({self.name}, order {self.order}, {self.dimension}D: {classes})"

    # -- representations (see irreps, characters, clebsch_gordan) ----------------------
    @cached_property
    def irreps(self):
        """Real (physically) irreducible representations, in standard table order."""
        from .irreps import build_irreps

        return build_irreps(self)

    def irrep(self, name):
        """The irrep called `name` (or the irrep itself)."""
        from .irreps import Irrep

        if isinstance(name, Irrep):
            return name
        for irrep in self.irreps:
            if irrep.name == name:
                return irrep
        known = ", ".join(i.name for i in self.irreps)
        raise RepresentationError(f"{self.name} has no irrep {name!r}; its irreps: {known}")

    def character_table(self):
        from .characters import CharacterTable

        return CharacterTable(self)

    def product(self, a, b):
        """Decomposition of a⊗b: {irrep name: multiplicity}, in table order."""
        from .characters import decompose_product

        return decompose_product(self, self.irrep(a), self.irrep(b))

    def clebsch_gordan(self, a, b):
        """Exact CG blocks of a⊗b (see `clebsch_gordan.clebsch_gordan`)."""
        from .clebsch_gordan import clebsch_gordan

        return clebsch_gordan(self, self.irrep(a), self.irrep(b))


def _conjugacy_classes(table: np.ndarray) -> list[list[int]]:
    n = len(table)
    inverse = [int(np.flatnonzero(row == 0)[0]) for row in table]
    assigned, classes = set(), []
    for a in range(n):
        if a in assigned:
            continue
        members = sorted({int(table[table[g, a], inverse[g]]) for g in range(n)})
        assigned.update(members)
        classes.append(members)
    return classes
