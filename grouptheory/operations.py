"""Geometric type of an orthogonal matrix: proper rotation C_n^k, inversion, mirror, S_n^k.

Classification is by the rotation angle and axis of the proper part P = det(g)·g. For 2D
lattices an operation g2 acts on (x, y) and is embedded as diag(g2, det g2): a 2D mirror line
becomes the two-fold rotation about that line, which is the paper's convention (square → D4,
with C2' and C2'' axes in the plane), and z transforms like the pseudo-scalar (A2 of D4).
`close` generates the finite group of a set of exact operations; `matrix_key` identifies an
operation by its rounded float entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import atan2, pi

import numpy as np
import sympy as sp

from . import exact
from .errors import RepresentationError

_TOL = 1e-9


def embed_3d(matrix: sp.Matrix) -> sp.ImmutableMatrix:
    """A 2×2 operation as diag(g, det g); 3×3 matrices are returned unchanged."""
    matrix = sp.ImmutableMatrix(matrix)
    if matrix.shape == (3, 3):
        return matrix
    if matrix.shape != (2, 2):
        raise ValueError(f"operations are 2×2 or 3×3 matrices, got shape {matrix.shape}")
    det = sp.simplify(matrix.det())
    return sp.ImmutableMatrix(sp.diag(matrix, det))


def canonical_direction(v: np.ndarray) -> np.ndarray:
    """Unit vector with the sign fixed: first non-zero of (z, y, x) positive."""
    v = np.asarray(v, dtype=float)
    v = v / np.linalg.norm(v)
    for c in (2, 1, 0):
        if abs(v[c]) > _TOL:
            return v if v[c] > 0 else -v
    raise ValueError("zero vector has no direction")


@dataclass(frozen=True)
class OperationType:
    """det = ±1; the proper part rotates by 2πk/n about `axis` (canonical sign).

    For improper operations `symbol` follows Schoenflies: i, σ (mirror with normal `axis`),
    S_m^j = σ_h C_m^j.
    """

    det: int
    n: int
    k: int
    axis: tuple[float, float, float]

    @property
    def angle(self) -> float:
        return 2 * pi * self.k / self.n

    @property
    def is_identity(self) -> bool:
        return self.det == 1 and self.n == 1

    @property
    def is_inversion(self) -> bool:
        return self.det == -1 and self.n == 1

    @property
    def is_mirror(self) -> bool:
        return self.det == -1 and self.n == 2

    @property
    def rotoreflection(self) -> tuple[int, int]:
        """(m, j) with g = S_m^j, j odd; only for improper, non-inversion, non-mirror ops."""
        phi = Fraction(self.k, self.n) + Fraction(1, 2)
        phi -= int(phi)
        m, j = phi.denominator, phi.numerator
        if j % 2 == 0:
            j += m
        return m, j

    @property
    def symbol(self) -> str:
        if self.is_identity:
            return "E"
        if self.is_inversion:
            return "i"
        if self.is_mirror:
            return "σ"
        if self.det == 1:
            return f"C{self.n}" if self.k == 1 else f"C{self.n}^{self.k}"
        m, j = self.rotoreflection
        return f"S{m}" if j == 1 else f"S{m}^{j}"

    @property
    def kind(self) -> tuple[int, int]:
        """(det, n): the type counted by `fingerprint` to identify point groups."""
        return (self.det, self.n)


def classify(matrix) -> OperationType:
    """Geometric type of an orthogonal 2×2 or 3×3 matrix (2×2 via `embed_3d`)."""
    g = np.array(embed_3d(matrix).evalf(), dtype=float)
    if not np.allclose(g @ g.T, np.eye(3), atol=1e-9):
        raise ValueError(f"not an orthogonal matrix: {matrix}")
    det = round(np.linalg.det(g))
    p = det * g
    cos = (np.trace(p) - 1) / 2
    w = np.array([p[2, 1] - p[1, 2], p[0, 2] - p[2, 0], p[1, 0] - p[0, 1]])
    sin = np.linalg.norm(w) / 2
    theta = atan2(sin, cos)
    if abs(theta) < 1e-7:
        return OperationType(det, 1, 0, (0.0, 0.0, 0.0))
    if sin > 1e-7:
        axis = w / np.linalg.norm(w)
    else:  # half turn: P = 2 n n^T - 1
        nn = (p + np.eye(3)) / 2
        axis = nn[int(np.argmax(np.diag(nn)))]
    canon = canonical_direction(axis)
    if np.dot(canon, axis) < 0:
        theta = 2 * pi - theta
    frac = Fraction(theta / (2 * pi)).limit_denominator(12)
    if abs(float(frac) * 2 * pi - theta) > 1e-6:
        raise ValueError(f"rotation angle {theta} is not a rational multiple of 2π")
    return OperationType(det, frac.denominator, frac.numerator, tuple(float(x) for x in canon))


def matrix_key(matrix: np.ndarray) -> tuple:
    """A hashable float key of a matrix (rounded to 8 digits, no negative zeros)."""
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
    elements, seen, frontier = [identity], {matrix_key(identity[1])}, [identity]
    while frontier:
        new = []
        for g, gf in frontier:
            for h, hf in gens:
                found = matrix_key(gf @ hf)
                if found not in seen:
                    seen.add(found)
                    new.append((g * h, gf @ hf))
                    if len(seen) > 48:
                        raise RepresentationError(
                            "generators do not close to a crystallographic point group "
                            "(more than 48 elements)")
        elements += new
        frontier = new
    return [exact.to_sympy(g) for g, _ in elements]
