"""The preset lattices as plain data, shared by `grouptheory.Lattice` (exact) and
`runtime.lattices` (float64): primitive vectors (Cartesian rows) and basis sites
(fractional coordinates), each number written as text for `numbers` ("sqrt(3)/2", "1/3")."""

from __future__ import annotations

from typing import NamedTuple

from .errors import LatticeError


class Preset(NamedTuple):
    vectors: tuple[tuple[str, ...], ...]
    basis: tuple[tuple[str, ...], ...]


_SQUARE = (("1", "0"), ("0", "1"))
_TRIANGULAR = (("1", "0"), ("1/2", "sqrt(3)/2"))
_ORIGIN_2D = (("0", "0"),)
_ORIGIN_3D = (("0", "0", "0"),)

PRESETS: dict[str, Preset] = {
    "square": Preset(_SQUARE, _ORIGIN_2D),
    "triangular": Preset(_TRIANGULAR, _ORIGIN_2D),
    "honeycomb": Preset(_TRIANGULAR, (("0", "0"), ("1/3", "1/3"))),
    "kagome": Preset(_TRIANGULAR, (("0", "0"), ("1/2", "0"), ("0", "1/2"))),
    "cubic": Preset((("1", "0", "0"), ("0", "1", "0"), ("0", "0", "1")), _ORIGIN_3D),
    "bcc": Preset((("-1/2", "1/2", "1/2"), ("1/2", "-1/2", "1/2"), ("1/2", "1/2", "-1/2")),
                  _ORIGIN_3D),
    "fcc": Preset((("0", "1/2", "1/2"), ("1/2", "0", "1/2"), ("1/2", "1/2", "0")), _ORIGIN_3D),
}


def preset(name: str) -> Preset:
    """The preset called `name`; LatticeError names the known presets otherwise."""
    if name not in PRESETS:
        raise LatticeError(f"unknown lattice {name!r}; known lattices: {', '.join(PRESETS)}")
    return PRESETS[name]
