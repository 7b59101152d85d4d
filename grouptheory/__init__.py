"""Exact group theory for lattices and classical fields (sympy only, never torch).

    >>> from grouptheory import Lattice
    >>> group = Lattice.square().site_group()
    >>> group.name, [c.name for c in group.classes]
    ('D4', ['E', '2C4', 'C2', "2C2'", "2C2''"])
    >>> group.product("E", "E")
    {'A1': 1, 'A2': 1, 'B1': 1, 'B2': 1}

The public names load their module on first use (PEP 562), so the sympy-free modules
(`errors`, `numbers`, `presets`) can be imported without importing sympy.
"""

from importlib import import_module

LAZY = {
    "CharacterTable": "characters",
    "ClebschGordanBlock": "clebsch_gordan",
    "ConjugacyClass": "pointgroup",
    "Decomposition": "decomposition",
    "DescriptorSpec": "descriptors.spec",
    "Field": "fields",
    "GroupTheoryError": "errors",
    "Irrep": "irreps",
    "Lattice": "lattice",
    "LatticeError": "errors",
    "Neighborhood": "neighborhood",
    "PointGroup": "pointgroup",
    "RepresentationError": "errors",
    "build_descriptor": "descriptors.spec",
    "decompose": "decomposition",
    "point_group": "pointgroup",
}
"""Public name → the submodule that defines it."""

__all__ = sorted(LAZY)  # noqa: PLE0605 (the public names are the keys of LAZY)


def __getattr__(name: str):
    if name not in LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *LAZY})
