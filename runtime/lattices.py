"""Numeric geometry of lattices: primitive vectors, basis sites, periodic bonds.

`runtime` may not import the exact (sympy) lattices of `grouptheory`; a lattice here is the
sympy-free plain data of `grouptheory.presets` (a preset, or a custom table read by
`presets.lattice_data`) in float64: primitive vectors are the rows of `vectors`
(Cartesian), basis sites are given in fractional coordinates of those vectors.

A periodic cluster has `size[k]` cells along lattice vector `k`. Its sites are indexed like the
field layout `(*cells, sublattice)` flattened in C order, i.e.
`index = ravel_multi_index((*cell, sublattice), (*size, sublattices))`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from grouptheory import numbers, presets
from grouptheory.errors import LatticeError

PRESETS: tuple[str, ...] = tuple(presets.PRESETS)
"""Names accepted by `Lattice.preset`."""

_TOL = 1e-8  # distances closer than this (in units of the lattice constant) are equal


@dataclass(frozen=True)
class Bonds:
    """Unordered bonds of one neighbour shell on a periodic cluster, each listed once.

    `source[b]`, `target[b]` are site indices; `vectors[b]` is the Cartesian displacement
    r_target - r_source of the bond (before wrapping through the periodic boundary).
    """

    source: np.ndarray
    target: np.ndarray
    vectors: np.ndarray
    distance: float
    shell: int

    def __len__(self) -> int:
        return len(self.source)


@dataclass(frozen=True, eq=False)
class Lattice:
    """A Bravais lattice (`vectors`, rows) with basis sites (`basis`, fractional coordinates)."""

    name: str
    vectors: np.ndarray
    basis: np.ndarray

    def __post_init__(self) -> None:
        vectors = np.array(self.vectors, dtype=np.float64)
        basis = np.array(self.basis, dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != vectors.shape[1] or vectors.shape[0] == 0:
            raise LatticeError(
                f"lattice vectors must be a square (dim, dim) array, got {vectors.shape}"
            )
        if abs(np.linalg.det(vectors)) < _TOL:
            raise LatticeError("lattice vectors are linearly dependent; give dim independent rows")
        if basis.ndim != 2 or basis.shape[1] != vectors.shape[0] or basis.shape[0] == 0:
            raise LatticeError(
                f"basis must be an (sublattices, {vectors.shape[0]}) array of fractional "
                f"coordinates, got shape {basis.shape}"
            )
        basis = basis % 1.0
        basis[np.isclose(basis, 1.0, atol=_TOL)] = 0.0
        if len(np.unique(np.round(basis / _TOL).astype(np.int64), axis=0)) != len(basis):
            raise LatticeError("two basis sites coincide (fractional coordinates modulo 1)")
        for array in (vectors, basis):
            array.setflags(write=False)
        object.__setattr__(self, "vectors", vectors)
        object.__setattr__(self, "basis", basis)

    @classmethod
    def preset(cls, name: str) -> Lattice:
        """The preset lattice called `name` (one of `PRESETS`)."""
        return cls.of(name)

    @classmethod
    def of(cls, value) -> Lattice:
        """`value` as a Lattice: a Lattice as it is, a preset name, or a custom lattice table
        {vectors, basis, name} of plain numbers or text such as "sqrt(3)/2" (read by
        `grouptheory.presets.lattice_data`, never evaluated as code)."""
        if isinstance(value, Lattice):
            return value
        name, vectors, basis = presets.lattice_data(value)
        return cls(name, _floats(vectors), _floats(basis))

    @classmethod
    def of_descriptor(cls, descriptor) -> Lattice:
        """The lattice a generated descriptor was made for (from its spec's plain data)."""
        table = descriptor.spec["lattice"]
        return cls.of({key: table[key] for key in presets.LATTICE_KEYS})

    def record(self) -> str | dict:
        """What a parameter record stores: the name of a preset, else the table {name,
        vectors, basis} (floats) that `Lattice.of` reads back."""
        if self.name in PRESETS and self.same_geometry(Lattice.preset(self.name)):
            return self.name
        return {"name": self.name, "vectors": self.vectors.tolist(),
                "basis": self.basis.tolist()}

    def same_geometry(self, other: Lattice) -> bool:
        """True if `other` has the same vectors and basis (in the same order), to 1e-9: the
        same field layout, whatever the names."""
        return self.vectors.shape == other.vectors.shape and \
            self.basis.shape == other.basis.shape and \
            np.allclose(self.vectors, other.vectors, atol=1e-9, rtol=0) and \
            np.allclose(self.basis, other.basis, atol=1e-9, rtol=0)

    @property
    def dimension(self) -> int:
        return self.vectors.shape[0]

    @property
    def sublattices(self) -> int:
        return self.basis.shape[0]

    def __repr__(self) -> str:
        return (f"Lattice({self.name!r}, dimension={self.dimension}, "
                f"sublattices={self.sublattices})")

    def check_size(self, size: int | tuple[int, ...]) -> tuple[int, ...]:
        """`size` as `dimension` positive cell counts (an int: the same along every vector)."""
        entries = (size,) * self.dimension if isinstance(size, (int, np.integer)) else tuple(size)
        if len(entries) != self.dimension or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in entries
        ):
            raise LatticeError(
                f"size of the periodic {self.name} cluster must be {self.dimension} positive "
                f"integers (cells along each lattice vector), got {size!r}"
            )
        return tuple(int(n) for n in entries)

    def n_sites(self, size: int | tuple[int, ...]) -> int:
        return int(np.prod(self.check_size(size))) * self.sublattices

    def positions(self, size: int | tuple[int, ...]) -> np.ndarray:
        """Cartesian site positions, shape `(*size, sublattices, dim)`."""
        size = self.check_size(size)
        cells = np.stack(np.meshgrid(*map(np.arange, size), indexing="ij"), axis=-1)
        fractional = cells[..., None, :] + self.basis
        return fractional @ self.vectors

    def shell_distances(self, shells: int) -> np.ndarray:
        """Distances of the first `shells` neighbour shells (over all sublattice pairs)."""
        return self._neighbour_table(shells)[3]

    def bonds(self, size: int | tuple[int, ...], shell: int = 1) -> Bonds:
        """The bonds of neighbour shell `shell` (1 = nearest neighbours) on a periodic cluster.

        Raises LatticeError if the cluster is so small that two different neighbour displacements
        of shells <= `shell` reach the same site (or a site itself) through the boundary.
        """
        size = self.check_size(size)
        if not isinstance(shell, (int, np.integer)) or isinstance(shell, bool) or shell < 1:
            raise LatticeError(
                f"shell must be a positive integer (1 = nearest neighbours), got {shell!r}"
            )
        source, target, offsets, radii, shell_of = self._neighbour_table(shell)
        self._check_periodic(size, shell, source, target, offsets)
        first_nonzero = np.take_along_axis(offsets, (offsets != 0).argmax(axis=1)[:, None], 1)[:, 0]
        keep = (shell_of == shell) & (
            (source < target) | ((source == target) & (first_nonzero > 0))
        )
        source, target, offsets = source[keep], target[keep], offsets[keep]

        cells = np.indices(size).reshape(self.dimension, -1).T  # (n_cells, dim), C order
        shape = (*size, self.sublattices)
        i = np.ravel_multi_index((*cells.T[:, None, :], source[:, None]), shape)
        wrapped = (cells[None, :, :] + offsets[:, None, :]) % np.array(size)
        j = np.ravel_multi_index((*np.moveaxis(wrapped, -1, 0), target[:, None]), shape)
        vectors = (offsets + self.basis[target] - self.basis[source]) @ self.vectors
        n_cells = len(cells)
        return Bonds(
            source=i.reshape(-1),
            target=j.reshape(-1),
            vectors=np.repeat(vectors, n_cells, axis=0),
            distance=float(radii[shell - 1]),
            shell=int(shell),
        )

    def _neighbour_table(self, shells: int):
        """All displacements (source sublattice, target sublattice, cell offset R) with distance
        up to that of the `shells`-th shell, their shell numbers and the shell distances."""
        n_sub = self.sublattices
        # every point with |R|_inf > m is farther than m * smallest singular value (basis in [0,1))
        smallest = np.linalg.svd(self.vectors, compute_uv=False).min()
        m = shells
        while True:
            offsets = np.array(list(itertools.product(range(-m, m + 1), repeat=self.dimension)))
            source, target, cell = (
                a.reshape(-1)
                for a in np.meshgrid(*map(np.arange, (n_sub, n_sub, len(offsets))), indexing="ij")
            )
            delta = offsets[cell] + self.basis[target] - self.basis[source]
            distance = np.linalg.norm(delta @ self.vectors, axis=1)
            nonzero = np.sort(distance[distance > _TOL])
            radii = nonzero[np.r_[True, np.diff(nonzero) > _TOL]]
            if len(radii) >= shells and radii[shells - 1] < smallest * m - _TOL:
                break
            m += 1
        radii = radii[:shells]
        shell_of = np.searchsorted(radii - _TOL, distance)  # 1-based shell (0 = the site itself)
        inside = (distance > _TOL) & (distance < radii[-1] + _TOL)
        return source[inside], target[inside], offsets[cell[inside]], radii, shell_of[inside]

    def _check_periodic(self, size, shell, source, target, offsets) -> None:
        wrapped = offsets % np.array(size)
        for s in range(self.sublattices):
            rows = np.flatnonzero(source == s)
            # the site itself is the key (s, 0): a neighbour wrapping onto it clashes with it
            itself = np.zeros((1, 1 + self.dimension), dtype=int)
            itself[0, 0] = s
            keys = np.vstack([itself, np.column_stack([target[rows], wrapped[rows]])])
            _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
            inverse = inverse.reshape(-1)
            clashing = np.flatnonzero(counts[inverse] > 1)
            if len(clashing) == 0:
                continue
            first, second = clashing[inverse[clashing] == inverse[clashing[0]]][:2]
            b = offsets[rows[second - 1]]
            if first == 0:
                a, what = (
                    np.zeros(self.dimension, dtype=int),
                    f"the offset {_fmt(b)} wraps onto the site itself",
                )
            else:
                a = offsets[rows[first - 1]]
                what = f"the offsets {_fmt(a)} and {_fmt(b)} reach the same site"
            directions = ", ".join(f"a{k + 1}" for k in np.flatnonzero(a != b))
            raise LatticeError(
                f"periodic size {size} is too small for shell-{shell} bonds on the {self.name} "
                f"lattice: from sublattice {s}, {what} through the boundary; use more cells "
                f"along {directions} (e.g. at least 3 for nearest neighbours on square or cubic)"
            )


def _floats(rows) -> np.ndarray:
    return np.array([[numbers.to_float(x) for x in row] for row in rows])


def _fmt(offset: np.ndarray) -> tuple[int, ...]:
    return tuple(int(x) for x in offset)
