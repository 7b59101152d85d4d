"""The standard descriptors committed in `generated/` (issue 4), and the drift check."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from grouptheory import Field, build_descriptor

from .generate import GENERATED, check_name, render, write

# name: (lattice, field, family, shells, options); the shells are the paper's
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
    "kagome_spin_phase": ("kagome", "spin", "phase", 2, {}),  # s-d on a three-site cell
    "lieb_scalar_reference": ("lieb", "scalar", "reference", 4, {}),  # two site classes
}


def spec(name: str):
    lattice, field, family, shells, options = CATALOG[name]
    field = Field.spin() if field == "spin" else field
    return build_descriptor(lattice, field, family, shells=shells, name=name, **options)


def default_name(lattice: str, field: str, family: str, shells: int | None = None,
                 cutoff: float | None = None) -> str:
    """lattice_field_family, plus the size (_s2, _r2p5) unless it is the catalog's: a module
    of another neighborhood never takes the name of a committed one."""
    name = f"{lattice}_{field}_{family}"
    entry = CATALOG.get(name)
    if entry is not None and cutoff is None and shells == entry[3]:
        return name
    return f"{name}_r{str(cutoff).replace('.', 'p')}" if cutoff is not None else \
        f"{name}_s{shells}"


def build(lattice: str, field, family: str, shells: int | None = None,
          cutoff: float | None = None, name: str | None = None):
    """The spec of `latticeff generate`: `name` (or the default name) checked before any work."""
    field_name = field if isinstance(field, str) else field.name
    name = check_name(name or default_name(lattice, field_name, family, shells, cutoff))
    return build_descriptor(lattice, field, family, shells=shells, cutoff=cutoff, name=name)


def hint(data: dict) -> str | None:
    """A note when a spec's neighborhood is smaller than the catalog's (the paper's)."""
    name = f"{data['lattice']['name']}_{data['field']['name']}_{data['family']}"
    entry = CATALOG.get(name)
    shells = data["neighborhood"]["shells"]
    if entry is None or shells is None or shells >= entry[3]:
        return None
    return (f"note: {shells} shells is smaller than the paper's {entry[3]} for this descriptor "
            f"(the catalog's {name}); the features may not determine the forces")


def check(directory: Path = GENERATED, report: Callable[[str], None] | None = None) -> list[str]:
    """Names whose committed module (or one of its stencil modules) differs from a fresh
    rendering or is missing; `report` gets one line per module as it is checked."""
    stale = []
    for n, name in enumerate(CATALOG, 1):
        start = time.perf_counter()
        ok = (Path(directory) / f"{name}.py").exists() and all(
            (Path(directory) / path).exists() and (Path(directory) / path).read_text() == text
            for path, text in render(spec(name)).items())
        if not ok:
            stale.append(name)
        if report:
            report(f"[{n}/{len(CATALOG)}] {name}: {'ok' if ok else 'STALE'} "
                   f"({time.perf_counter() - start:.1f} s)")
    return stale


def write_all(directory: Path = GENERATED, report: Callable[[str], None] | None = None):
    """Regenerate every catalog module (replacing modules of older specs)."""
    for name in CATALOG:
        path = write(spec(name), directory, force=True)
        if report:
            report(str(path))
