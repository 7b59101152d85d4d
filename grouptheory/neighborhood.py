"""The neighborhood C_i of a site: the center plus all sites within n shells or a cutoff.

Sites carry their cell offset (relative to the center's cell), sublattice, exact Cartesian
position relative to the center and exact squared distance. Order (deterministic): the
center first, then by distance, sublattice, and counter-clockwise angle from +x (3D: angle
about z, then height). A site-group element permutes the sites (paper Sec. III, the matrix P
of eq. 13); its orbits are the invariant blocks (sizes 1, 4, 8 on the square lattice).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from itertools import product
from math import atan2, pi

import numpy as np
import sympy as sp

from .errors import LatticeError


@dataclass(frozen=True)
class NeighborSite:
    """A site of the neighborhood; `shell` is 0 for the center, 1 for the nearest, …"""

    cell: tuple[int, ...]
    sublattice: int
    position: sp.ImmutableMatrix
    distance2: sp.Expr
    shell: int

    @property
    def label(self) -> str:
        """"1,0" (or "1,0|s" on lattices with several sites per cell)."""
        return ",".join(str(c) for c in self.cell)


class Neighborhood:
    """Sites within `shells` distinct distances (or `cutoff`) of basis site `site`."""

    def __init__(self, lattice, site: int = 0, shells: int | None = None,
                 cutoff=None):
        if (shells is None) == (cutoff is None):
            raise LatticeError("give exactly one of shells=n or cutoff=r")
        if not 0 <= site < lattice.sublattices:
            raise LatticeError(f"site {site} out of range: {lattice.sublattices} per cell")
        self.lattice, self.site = lattice, site
        if shells is not None:
            if not isinstance(shells, (int, np.integer)) or shells <= 0:
                raise LatticeError(f"shells must be a positive integer, got {shells!r}")
            self.sites, self.shell_distances2 = _collect(lattice, site, shells=int(shells))
        else:
            cutoff = sp.nsimplify(cutoff)
            if not cutoff.is_real or cutoff <= 0:
                raise LatticeError(f"cutoff must be a positive length, got {cutoff!r}")
            self.sites, self.shell_distances2 = _collect(lattice, site, cutoff2=cutoff**2)
            if len(self.sites) == 1:
                nearest = sp.sqrt(_collect(lattice, site, shells=1)[1][0])
                raise LatticeError(f"cutoff {cutoff} includes no neighbor; the nearest one is "
                                   f"at distance {nearest}")
        self.multi = lattice.sublattices > 1
        self._index = {(s.cell, s.sublattice): n for n, s in enumerate(self.sites)}

    def __len__(self) -> int:
        return len(self.sites)

    def __repr__(self) -> str:
        return (f"Neighborhood({self.lattice.name}, site {self.site}, {len(self)} sites, "
                f"{len(self.shell_distances2)} shells)")

    def label(self, n: int) -> str:
        s = self.sites[n]
        return s.label + (f"|{s.sublattice}" if self.multi else "")

    def index(self, cell, sublattice: int = 0) -> int:
        return self._index[tuple(cell), sublattice]

    @cached_property
    def group(self):
        return self.lattice.site_group(self.site)

    @cached_property
    def permutations(self) -> list[list[int]]:
        """permutations[g][r] = index of the image of site r under group element g."""
        lattice = self.lattice
        basis = [[Fraction(int(x.p), int(x.q)) for x in f] for f in lattice.basis]
        origin = basis[self.site]
        result = []
        for element in self.group.elements:
            m = [[int(x) for x in row] for row in lattice.fractional(element).tolist()]
            perm = []
            for s in self.sites:
                rel = [c + b - o for c, b, o in zip(s.cell, basis[s.sublattice], origin)]
                image = [o + sum(rel[i] * m[i][j] for i in range(len(rel)))
                         for j, o in enumerate(origin)]
                for b2, f2 in enumerate(basis):
                    shift = [x - y for x, y in zip(image, f2)]
                    if all(x.denominator == 1 for x in shift):
                        key = (tuple(int(x) for x in shift), b2)
                        break
                if key not in self._index:
                    raise LatticeError("neighborhood not closed under the site group "
                                       "(internal error)")
                perm.append(self._index[key])
            result.append(perm)
        return result

    @cached_property
    def orbits(self) -> list[list[int]]:
        """Orbits of sites under the site group, in site order (the invariant blocks)."""
        seen, orbits = set(), []
        for r in range(len(self)):
            if r not in seen:
                orbit = sorted({perm[r] for perm in self.permutations})
                seen.update(orbit)
                orbits.append(orbit)
        return orbits


def _collect(lattice, site, shells=None, cutoff2=None):
    d = lattice.dimension
    vectors = np.array(lattice.vectors.evalf(), dtype=float)
    inverse = np.linalg.inv(vectors)
    basis = np.array([[float(x) for x in f] for f in lattice.basis])
    origin = basis[site]
    radius = float(np.sqrt(float(cutoff2))) if cutoff2 is not None else \
        float(np.linalg.norm(vectors, axis=1).min())
    while True:
        bound = [int(np.ceil(radius * np.linalg.norm(inverse[:, k]))) + 1 for k in range(d)]
        found = []
        for cell in product(*[range(-b, b + 1) for b in bound]):
            for b, f in enumerate(basis):
                r = (np.array(cell) + f - origin) @ vectors
                dist = float(np.linalg.norm(r))
                if dist <= radius + 1e-9:
                    found.append((round(dist**2, 9), cell, b, r))
        distances = sorted({x[0] for x in found if x[0] > 1e-12})
        if cutoff2 is not None:
            break
        if len(distances) >= shells:
            limit = distances[shells - 1]
            found = [x for x in found if x[0] <= limit + 1e-9]
            distances = distances[:shells]
            break
        radius *= 1.5
    exact_basis = lattice.basis

    def key(item):
        dist2, _, b, r = item
        angle = atan2(r[1], r[0]) % (2 * pi)
        return (dist2, b, round(angle, 9), round(r[2], 9) if d == 3 else 0.0)

    sites = []
    for dist2, cell, b, r in sorted(found, key=key):
        rel = sp.Matrix([[c + x - y for c, x, y in zip(cell, exact_basis[b],
                                                       exact_basis[site])]])
        position = sp.ImmutableMatrix(sp.expand(rel * lattice.vectors))
        exact_d2 = sp.nsimplify(sp.expand((position * position.T)[0]))
        shell = 0 if dist2 < 1e-12 else distances.index(dist2) + 1
        sites.append(NeighborSite(tuple(int(c) for c in cell), b, position, exact_d2, shell))
    shell_d2 = []
    for n in range(1, len(distances) + 1):
        shell_d2.append(next(s.distance2 for s in sites if s.shell == n))
    return tuple(sites), tuple(shell_d2)
