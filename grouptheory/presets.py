"""The preset lattices as plain data, shared by `grouptheory.Lattice` (exact) and
`runtime.lattices` (float64): primitive vectors (Cartesian rows) and basis sites
(fractional coordinates), each number written as text for `numbers` ("sqrt(3)/2", "1/3");
and `lattice_data`, the one reader of a lattice given as data (a config table or the
command line), preset or custom."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from numbers import Rational
from typing import NamedTuple

from . import numbers
from .errors import GroupTheoryError, LatticeError


class Preset(NamedTuple):
    vectors: tuple[tuple[str, ...], ...]
    basis: tuple[tuple[str, ...], ...]


_SQUARE = (("1", "0"), ("0", "1"))
_TRIANGULAR = (("1", "0"), ("1/2", "sqrt(3)/2"))
_ORIGIN_2D = (("0", "0"),)
_ORIGIN_3D = (("0", "0", "0"),)
_CUBIC = (("1", "0", "0"), ("0", "1", "0"), ("0", "0", "1"))
_FCC = (("0", "1/2", "1/2"), ("1/2", "0", "1/2"), ("1/2", "1/2", "0"))

PRESETS: dict[str, Preset] = {
    "square": Preset(_SQUARE, _ORIGIN_2D),
    "triangular": Preset(_TRIANGULAR, _ORIGIN_2D),
    "honeycomb": Preset(_TRIANGULAR, (("0", "0"), ("1/3", "1/3"))),
    "kagome": Preset(_TRIANGULAR, (("0", "0"), ("1/2", "0"), ("0", "1/2"))),
    "lieb": Preset(_SQUARE, (("0", "0"), ("1/2", "0"), ("0", "1/2"))),  # inequivalent sites
    "cubic": Preset(_CUBIC, _ORIGIN_3D),
    "bcc": Preset((("-1/2", "1/2", "1/2"), ("1/2", "-1/2", "1/2"), ("1/2", "1/2", "-1/2")),
                  _ORIGIN_3D),
    "fcc": Preset(_FCC, _ORIGIN_3D),
    "diamond": Preset(_FCC, (("0", "0", "0"), ("1/4", "1/4", "1/4"))),
    "pyrochlore": Preset(_FCC, (("0", "0", "0"), ("1/2", "0", "0"), ("0", "1/2", "0"),
                                ("0", "0", "1/2"))),
    # ABO3 with B at the origin, A at the cube centre, O on the faces of B's octahedron
    "perovskite": Preset(_CUBIC, (("0", "0", "0"), ("1/2", "1/2", "1/2"), ("1/2", "0", "0"),
                                  ("0", "1/2", "0"), ("0", "0", "1/2"))),
}


def preset(name: str) -> Preset:
    """The preset called `name`; LatticeError names the known presets otherwise."""
    if name not in PRESETS:
        raise LatticeError(f"unknown lattice {name!r}; known lattices: {', '.join(PRESETS)}")
    return PRESETS[name]


class LatticeData(NamedTuple):
    """A lattice as plain data: its name, primitive vectors (Cartesian rows) and basis sites
    (fractional coordinates), every number as text that `numbers` reads."""

    name: str
    vectors: tuple[tuple[str, ...], ...]
    basis: tuple[tuple[str, ...], ...]

    def as_table(self) -> dict:
        """{"name", "vectors", "basis"}: the table `lattice_data` reads back."""
        return {"name": self.name, "vectors": [list(v) for v in self.vectors],
                "basis": [list(f) for f in self.basis]}


LATTICE_KEYS = ("name", "vectors", "basis")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def lattice_data(value) -> LatticeData:
    """The lattice `value` stands for: a preset name, or a table (a TOML config's
    `lattice = {name = "rhombic", vectors = [[1, 0], ["1/2", "3/4"]], basis = [[0, 0]]}`)
    with `vectors` (2 or 3 rows of as many numbers), `basis` (fractional coordinates,
    default one site at the origin) and `name` (lowercase letters, digits and '_'; default
    "custom"). Numbers are ints, finite floats or text for `numbers` ("sqrt(3)/2"), never
    evaluated as code. A table with a preset's name must have that preset's geometry (it is
    then the preset). LatticeError names the first problem."""
    if isinstance(value, str):
        return LatticeData(value, *preset(value))
    if not isinstance(value, Mapping):
        raise LatticeError(f"a lattice is a preset name ({', '.join(PRESETS)}) or a table "
                           f"with vectors, basis and name, got {value!r}")
    unknown = [key for key in value if key not in LATTICE_KEYS]
    if unknown:
        raise LatticeError(f"unknown lattice key{'s' if len(unknown) > 1 else ''} "
                           f"{', '.join(map(str, unknown))}; allowed: {', '.join(LATTICE_KEYS)}")
    name = value.get("name", "custom")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise LatticeError(f"lattice name must be 1 to 40 lowercase letters, digits or '_', "
                           f"starting with a letter, got {name!r}")
    if "vectors" not in value:
        raise LatticeError(f"lattice {name!r} needs vectors: 2 or 3 primitive vectors "
                           f"(Cartesian rows), e.g. [[1, 0], [0, 2]]")
    vectors = _rows(value["vectors"], f"lattice {name!r} vectors", None)
    d = len(vectors)
    if d not in (2, 3) or any(len(row) != d for row in vectors):
        raise LatticeError(f"lattice {name!r} needs 2 vectors of 2 numbers or 3 vectors of 3 "
                           f"numbers, got rows of lengths {[len(row) for row in vectors]}")
    basis = _rows(value.get("basis", [[0] * d]), f"lattice {name!r} basis", d)
    data = LatticeData(name, vectors, basis)
    if name in PRESETS:
        if not _same_geometry(data, LatticeData(name, *PRESETS[name])):
            raise LatticeError(f"lattice name {name!r} is a preset's, but these vectors and "
                               f"basis are not the preset's; give the lattice another name")
        return LatticeData(name, *PRESETS[name])
    return data


def _rows(rows, what: str, length: int | None) -> tuple[tuple[str, ...], ...]:
    """`rows` (a list of lists of numbers) as text, each number checked by `numbers`."""
    if not isinstance(rows, (list, tuple)) or not rows or not all(
            isinstance(row, (list, tuple)) for row in rows):
        raise LatticeError(f"{what} must be a non-empty list of rows of numbers, got {rows!r}")
    result = []
    for i, row in enumerate(rows):
        if length is not None and len(row) != length:
            raise LatticeError(f"{what}: row {i} has {len(row)} numbers, expected {length} "
                               f"(one per lattice vector)")
        entries = []
        for x in row:
            try:
                ok = math.isfinite(numbers.to_float(x))
            except GroupTheoryError as error:
                raise LatticeError(f"{what}: row {i}: {error}") from None
            if not ok:
                raise LatticeError(f"{what}: row {i}: {x!r} is not a finite number")
            entries.append(_text(x))
        result.append(tuple(entries))
    return tuple(result)


def _text(x) -> str:
    if isinstance(x, str):
        return x.strip()
    if isinstance(x, Rational):  # ints and Fractions exactly
        return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
    return repr(float(x))


def _same_geometry(a: LatticeData, b: LatticeData) -> bool:
    def floats(rows):
        return [[numbers.to_float(x) for x in row] for row in rows]

    return all(len(p) == len(q) and all(
        len(u) == len(v) and all(abs(x - y) < 1e-12 for x, y in zip(u, v))
        for u, v in zip(floats(p), floats(q)))
        for p, q in ((a.vectors, b.vectors), (a.basis, b.basis)))
