"""`Lattice`: primitive vectors and a basis of sites, exact; its site-symmetry point group.

Vectors are the rows of a d×d matrix A (d = 2 or 3, Cartesian, exact sympy numbers); basis
sites are given in fractional coordinates f (Cartesian r = f A). A point-group operation
R (Cartesian, acting on column vectors) acts on fractional row vectors as f ↦ f M with the
integer matrix M = A Rᵀ A⁻¹, which preserves the metric G = A Aᵀ (M G Mᵀ = G).
"""

from __future__ import annotations

from fractions import Fraction
from functools import cached_property
from itertools import product
from math import sqrt

import numpy as np
import sympy as sp

from . import exact, numbers, presets
from .errors import GroupTheoryError, LatticeError
from .neighborhood import Neighborhood
from .pointgroup import PointGroup


def _exact(value, what: str) -> sp.Expr:
    """An exact real number; floats are recognised only if they are simple surds."""
    try:
        value = numbers.to_sympy(value)
    except GroupTheoryError as error:
        raise LatticeError(f"{what}: {error}") from None
    if value.is_Float:
        for root in (1, 2, 3, 6):  # q·sqrt(r) with a small denominator q
            q = Fraction(float(value) / sqrt(root)).limit_denominator(1000)
            if abs(float(q) * sqrt(root) - float(value)) < 1e-12:
                value = sp.Rational(q.numerator, q.denominator) * sp.sqrt(root)
                break
        else:
            raise LatticeError(f"{what}: {value} is not exact; pass e.g. sympy.sqrt(3)/2")
    if not value.is_real or value.free_symbols:
        raise LatticeError(f"{what}: {value!r} is not a real number")
    return value


def affine_image(f, m, t=None) -> list:
    """The fractional row f M + t (exact; t = 0 by default)."""
    return [sum(f[i] * m[i][j] for i in range(len(f))) + (t[j] if t else 0)
            for j in range(len(f))]


class Lattice:
    """A crystal lattice: `Lattice(vectors, basis=None, species=None, name=None)`.

    `species` labels the basis sites (default: all alike); symmetry operations map sites
    onto sites of the same species only.
    """

    def __init__(self, vectors, basis=None, species=None, name: str | None = None):
        try:
            rows = [list(v) for v in vectors]
        except TypeError:
            raise LatticeError("vectors must be a list of 2 or 3 primitive vectors (rows)")
        d = len(rows)
        if d not in (2, 3) or any(len(r) != d for r in rows):
            raise LatticeError(
                f"a lattice needs 2 vectors of length 2 or 3 vectors of length 3, "
                f"got {[len(r) for r in rows]}")
        self.vectors = sp.ImmutableMatrix(
            [[_exact(x, f"vector {i}") for x in r] for i, r in enumerate(rows)])
        if sp.simplify(self.vectors.det()) == 0:
            raise LatticeError("degenerate lattice: the primitive vectors are linearly dependent")
        basis = [(0,) * d] if basis is None else basis
        sites = []
        for i, f in enumerate(basis):
            f = list(f)
            if len(f) != d:
                raise LatticeError(f"basis site {i} has {len(f)} coordinates, expected {d}")
            f = [_exact(x, f"basis site {i}") for x in f]
            if any(not x.is_Rational for x in f):
                raise LatticeError(
                    f"basis site {i}: fractional coordinates must be rational, got {f}")
            sites.append(tuple(x - sp.floor(x) for x in f))
        if len(set(sites)) != len(sites):
            raise LatticeError("two basis sites coincide (modulo a lattice vector)")
        self.basis = tuple(sites)
        species = list(species) if species is not None else [0] * len(sites)
        if len(species) != len(sites):
            raise LatticeError(f"{len(species)} species labels for {len(sites)} basis sites")
        self.species = tuple(species)
        self.name = name or "custom"

    # -- presets (the table is `presets.PRESETS`) ---------------------------------------
    PRESETS = tuple(presets.PRESETS)

    @classmethod
    def preset(cls, name: str) -> Lattice:
        """A preset by name: square, triangular, honeycomb, kagome, lieb, cubic, bcc, fcc,
        diamond, pyrochlore, perovskite (`presets.PRESETS`)."""
        vectors, basis = presets.preset(name)
        return cls(vectors, basis, name=name)

    @classmethod
    def from_data(cls, value) -> Lattice:
        """A preset name or a table {vectors, basis, name} of plain numbers or text
        (`presets.lattice_data`: a config's or the command line's lattice)."""
        name, vectors, basis = presets.lattice_data(value)
        return cls(vectors, basis, name=name)

    @classmethod
    def square(cls) -> Lattice:
        return cls.preset("square")

    @classmethod
    def triangular(cls) -> Lattice:
        return cls.preset("triangular")

    @classmethod
    def honeycomb(cls) -> Lattice:
        return cls.preset("honeycomb")

    @classmethod
    def kagome(cls) -> Lattice:
        return cls.preset("kagome")

    @classmethod
    def cubic(cls) -> Lattice:
        return cls.preset("cubic")

    @classmethod
    def bcc(cls) -> Lattice:
        return cls.preset("bcc")

    @classmethod
    def fcc(cls) -> Lattice:
        return cls.preset("fcc")

    # -- geometry ------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        return self.vectors.shape[0]

    @property
    def sublattices(self) -> int:
        return len(self.basis)

    @cached_property
    def metric(self) -> sp.ImmutableMatrix:
        """G = A Aᵀ."""
        return sp.ImmutableMatrix(sp.simplify(self.vectors * self.vectors.T))

    def position(self, cell, site: int = 0) -> sp.ImmutableMatrix:
        """Cartesian position (row) of `site` in the cell with integer offset `cell`."""
        f = sp.Matrix([[c + b for c, b in zip(cell, self.basis[site])]])
        return sp.ImmutableMatrix(sp.expand(f * self.vectors))

    def __repr__(self) -> str:
        return f"Lattice({self.name}, {self.dimension}D, {self.sublattices} site(s) per cell)"

    # -- symmetry ------------------------------------------------------------------------
    @cached_property
    def _lattice_automorphisms(self) -> list[sp.ImmutableMatrix]:
        """Integer M with M G Mᵀ = G: the point-group operations of the Bravais lattice."""
        d = self.dimension
        gram = np.array(self.metric.evalf(), dtype=float)
        inverse = np.linalg.inv(np.array(self.vectors.evalf(), dtype=float))
        candidates = []
        for i in range(d):
            length = np.sqrt(gram[i, i])
            bound = [int(np.ceil(length * np.linalg.norm(inverse[:, k]) + 1e-9))
                     for k in range(d)]
            rows = [np.array(n) for n in product(*[range(-b, b + 1) for b in bound])
                    if abs(np.array(n) @ gram @ np.array(n) - gram[i, i]) < 1e-9]
            candidates.append(rows)
        result = []
        for rows in product(*candidates):
            m = np.array(rows)
            if np.allclose(m @ gram @ m.T, gram, atol=1e-9):
                exact_m = sp.ImmutableMatrix(m.tolist())
                if exact_m * self.metric * exact_m.T == self.metric:
                    result.append(exact_m)
        return result

    def fractional(self, operation) -> sp.ImmutableMatrix:
        """Integer matrix M = A Rᵀ A⁻¹ of a Cartesian operation R (f ↦ f M)."""
        m = sp.simplify(self.vectors * sp.Matrix(operation).T * self.vectors.inv())
        return sp.ImmutableMatrix(m)

    def cartesian(self, m) -> sp.ImmutableMatrix:
        """Cartesian operation R = Aᵀ Mᵀ A⁻ᵀ of an integer matrix M."""
        field = exact.number_field(self.vectors)
        a = exact.domain_matrix(self.vectors, field)
        at = a.transpose()
        r = at * exact.domain_matrix(sp.Matrix(m).T, field) * at.inv()
        return exact.to_sympy(r)

    def site_map(self, m, site: int = 0) -> list[tuple[int, tuple[int, ...]]] | None:
        """Where operation M about `site` sends each basis site b: (b', cell offset), or
        None if some site lands on no site of its species."""
        m = sp.Matrix(m)
        origin = sp.Matrix([self.basis[site]])
        images = []
        for b, f in enumerate(self.basis):
            image = origin + (sp.Matrix([f]) - origin) * m
            for b2, f2 in enumerate(self.basis):
                shift = image - sp.Matrix([f2])
                if all(x.is_integer for x in shift) and self.species[b2] == self.species[b]:
                    images.append((b2, tuple(int(x) for x in shift)))
                    break
            else:
                return None
        return images

    def site_group(self, site: int = 0) -> PointGroup:
        """The site-symmetry point group: operations fixing `site` and mapping the lattice
        (every sublattice, species-aware) onto itself, found from the geometry."""
        if not 0 <= site < self.sublattices:
            raise LatticeError(f"site {site} out of range: the lattice has "
                               f"{self.sublattices} site(s) per cell")
        if site not in self._site_groups:
            ops = [self.cartesian(m) for m in self._lattice_automorphisms
                   if self.site_map(m, site) is not None]
            a1 = [float(x) for x in self.vectors.row(0)] + [0.0] * (3 - self.dimension)
            self._site_groups[site] = PointGroup(ops, self.dimension, reference=a1)
        return self._site_groups[site]

    @cached_property
    def _site_groups(self) -> dict:
        return {}

    @cached_property
    def fractional_basis(self) -> list[list[Fraction]]:
        """The basis sites as exact Fraction rows."""
        return [[Fraction(int(x.p), int(x.q)) for x in f] for f in self.basis]

    def operations_from(self, site: int) -> list[tuple[tuple, tuple, int]]:
        """Space-group operations f ↦ f M + t mapping the lattice onto itself (species kept)
        and `site` to some basis site s, as [(M, t, s)] with t = f_s − f_site M (exact:
        integer rows of M, Fraction t)."""
        if site not in self._operations:
            basis = self.fractional_basis
            found = []
            for matrix in self._lattice_automorphisms:
                m = tuple(tuple(int(x) for x in row) for row in matrix.tolist())
                for s, target in enumerate(basis):
                    t = tuple(x - y for x, y in zip(target, affine_image(basis[site], m)))
                    if all(self.site_at(affine_image(f, m, t), self.species[b]) is not None
                           for b, f in enumerate(basis)):
                        found.append((m, t, s))
            self._operations[site] = found
        return self._operations[site]

    @cached_property
    def _operations(self) -> dict:
        return {}

    def site_at(self, f, species) -> int | None:
        """The basis site at fractional position `f` (modulo a lattice vector) of `species`."""
        for b, target in enumerate(self.fractional_basis):
            if self.species[b] == species and all((x - y).denominator == 1
                                                  for x, y in zip(f, target)):
                return b
        return None

    @cached_property
    def site_classes(self) -> tuple[tuple[int, ...], ...]:
        """The orbits of the basis sites under the space group (Wyckoff classes of the
        cell), each in site order, ordered by their first site: ((0, 1), ) on honeycomb,
        ((0,), (1, 2)) on the Lieb lattice."""
        classes, seen = [], set()
        for site in range(self.sublattices):
            if site not in seen:
                orbit = tuple(sorted({s for _, _, s in self.operations_from(site)}))
                seen.update(orbit)
                classes.append(orbit)
        return tuple(classes)

    @cached_property
    def point_group(self) -> PointGroup:
        """The point group of the space group: the rotation parts R of all operations
        (R, t) (D6 on honeycomb and kagome, where the site groups are D3 and D2)."""
        ops = {m for m, _, _ in self.operations_from(0)}
        a1 = [float(x) for x in self.vectors.row(0)] + [0.0] * (3 - self.dimension)
        return PointGroup([self.cartesian(m) for m in sorted(ops)], self.dimension,
                          reference=a1)

    def neighborhood(self, shells: int | None = None, cutoff=None, site: int = 0):
        """The center `site` and all sites of the first `shells` distances (or within
        `cutoff`): see `neighborhood.Neighborhood`."""
        return Neighborhood(self, site, shells=shells, cutoff=cutoff)
