"""The 32 crystallographic point groups and the 10 two-dimensional ones, by generators.

Standard setting: principal axis along z, the first two-fold axis perpendicular to it (C2')
along x, vertical mirrors σv containing x. Hexagonal groups carry exact sqrt(3) entries.
`fingerprint` (how many operations of each geometric kind) identifies a group up to
orientation; it is computed from these generators, never typed in by hand.
"""

from __future__ import annotations

from collections import Counter
from functools import cache

import sympy as sp

from .errors import GroupTheoryError
from .operations import classify, close


def rotation_z(n: int) -> sp.ImmutableMatrix:
    """Proper rotation by 2π/n about z."""
    c, s = sp.cos(2 * sp.pi / n), sp.sin(2 * sp.pi / n)
    return sp.ImmutableMatrix([[c, -s, 0], [s, c, 0], [0, 0, 1]])


_E = sp.ImmutableMatrix(sp.eye(3))
_I = -_E
_C2X = sp.ImmutableMatrix(sp.diag(1, -1, -1))
_SIGMA_H = sp.ImmutableMatrix(sp.diag(1, 1, -1))
_SIGMA_V = sp.ImmutableMatrix(sp.diag(1, -1, 1))  # the plane xz
_C3_111 = sp.ImmutableMatrix([[0, 0, 1], [1, 0, 0], [0, 1, 0]])
_C2Z, _C3Z, _C4Z, _C6Z = (rotation_z(n) for n in (2, 3, 4, 6))
_S4Z = _SIGMA_H * _C4Z

GENERATORS_3D: dict[str, tuple[sp.ImmutableMatrix, ...]] = {
    "C1": (),
    "Ci": (_I,),
    "C2": (_C2Z,),
    "Cs": (_SIGMA_H,),
    "C2h": (_C2Z, _I),
    "D2": (_C2Z, _C2X),
    "C2v": (_C2Z, _SIGMA_V),
    "D2h": (_C2Z, _C2X, _I),
    "C4": (_C4Z,),
    "S4": (_S4Z,),
    "C4h": (_C4Z, _I),
    "D4": (_C4Z, _C2X),
    "C4v": (_C4Z, _SIGMA_V),
    "D2d": (_S4Z, _C2X),
    "D4h": (_C4Z, _C2X, _I),
    "C3": (_C3Z,),
    "S6": (_C3Z, _I),
    "D3": (_C3Z, _C2X),
    "C3v": (_C3Z, _SIGMA_V),
    "D3d": (_C3Z, _C2X, _I),
    "C6": (_C6Z,),
    "C3h": (_C3Z, _SIGMA_H),
    "C6h": (_C6Z, _I),
    "D6": (_C6Z, _C2X),
    "C6v": (_C6Z, _SIGMA_V),
    "D3h": (_C3Z, _C2X, _SIGMA_H),
    "D6h": (_C6Z, _C2X, _I),
    "T": (_C2Z, _C2X, _C3_111),
    "Th": (_C2Z, _C2X, _C3_111, _I),
    "Td": (_S4Z, _C3_111),
    "O": (_C4Z, _C3_111),
    "Oh": (_C4Z, _C3_111, _I),
}

ORDERS_3D = {"C1": 1, "Ci": 2, "C2": 2, "Cs": 2, "C2h": 4, "D2": 4, "C2v": 4, "D2h": 8,
             "C4": 4, "S4": 4, "C4h": 8, "D4": 8, "C4v": 8, "D2d": 8, "D4h": 16, "C3": 3,
             "S6": 6, "D3": 6, "C3v": 6, "D3d": 12, "C6": 6, "C3h": 6, "C6h": 12, "D6": 12,
             "C6v": 12, "D3h": 12, "D6h": 24, "T": 12, "Th": 24, "Td": 24, "O": 24, "Oh": 48}

CUBIC = frozenset({"T", "Th", "Td", "O", "Oh"})


def _rotation_2d(n: int) -> sp.ImmutableMatrix:
    c, s = sp.cos(2 * sp.pi / n), sp.sin(2 * sp.pi / n)
    return sp.ImmutableMatrix([[c, -s], [s, c]])


_MIRROR_X = sp.ImmutableMatrix([[1, 0], [0, -1]])  # the mirror line is the x axis

GENERATORS_2D: dict[str, tuple[sp.ImmutableMatrix, ...]] = {
    "C1": (),
    "C2": (_rotation_2d(2),),
    "C3": (_rotation_2d(3),),
    "C4": (_rotation_2d(4),),
    "C6": (_rotation_2d(6),),
    "D1": (_MIRROR_X,),
    "D2": (_rotation_2d(2), _MIRROR_X),
    "D3": (_rotation_2d(3), _MIRROR_X),
    "D4": (_rotation_2d(4), _MIRROR_X),
    "D6": (_rotation_2d(6), _MIRROR_X),
}


def generators(name: str, dimension: int = 3) -> tuple[sp.ImmutableMatrix, ...]:
    """Generators of the named point group in the standard setting."""
    table = GENERATORS_3D if dimension == 3 else GENERATORS_2D
    if dimension not in (2, 3) or name not in table:
        known = ", ".join(table) if dimension in (2, 3) else ""
        raise GroupTheoryError(
            f"unknown {dimension}D point group {name!r}; known: {known}")
    return table[name]


def fingerprint(kinds) -> tuple[tuple[tuple[int, int], int], ...]:
    """Sorted counts of operation kinds (det, rotation order of the proper part)."""
    return tuple(sorted(Counter(kinds).items()))


@cache
def fingerprints_3d() -> dict[tuple, str]:
    """fingerprint → Schoenflies name for the 32 groups (exact closure of the generators)."""
    result = {}
    for name, gens in GENERATORS_3D.items():
        elements = close(gens)
        result[fingerprint(classify(g).kind for g in elements)] = name
    assert len(result) == 32, "fingerprints must tell the 32 point groups apart"
    return result
