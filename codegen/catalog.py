"""The standard descriptors committed in `generated/` (issue 4), and the drift check."""

from __future__ import annotations

from pathlib import Path

from grouptheory import Field, build_descriptor

from .generate import GENERATED, render

# name: (lattice, field, family, shells, options)
CATALOG = {
    "square_scalar_reference": ("square", "scalar", "reference", 14, {}),
    "square_scalar_bispectrum": ("square", "scalar", "bispectrum", 14, {}),
    "square_scalar_power": ("square", "scalar", "power", 14, {}),
    "square_scalar_corrmatrix": ("square", "scalar", "corrmatrix", 14, {}),
    "square_scalar_raw": ("square", "scalar", "raw", 14, {}),  # no symmetry: the baseline
    "square_jahn_teller_reference": ("square", "jahn_teller", "reference", 6, {}),
    "square_spin_phase": ("square", "spin", "phase", 4, {}),
    "square_spin_acsf": ("square", "spin", "acsf", 4, {}),
    "triangular_spin_phase": ("triangular", "spin", "phase", 3, {}),
    "honeycomb_scalar_reference": ("honeycomb", "scalar", "reference", 4, {}),
    "cubic_scalar_reference": ("cubic", "scalar", "reference", 3, {}),
}


def spec(name: str):
    lattice, field, family, shells, options = CATALOG[name]
    field = Field.spin() if field == "spin" else field
    return build_descriptor(lattice, field, family, shells=shells, name=name, **options)


def check(directory: Path = GENERATED) -> list[str]:
    """Names whose committed module differs from a fresh rendering (or is missing)."""
    stale = []
    for name in CATALOG:
        path = Path(directory) / f"{name}.py"
        if not path.exists() or path.read_text() != render(spec(name)):
            stale.append(name)
    return stale
