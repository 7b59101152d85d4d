"""Generated descriptor modules (one per descriptor, written by `codegen`, never by hand).

    import generated
    generated.available()                     # ['square_scalar_reference', ...]
    descriptor = generated.load("square_scalar_reference")
    features = descriptor(field)              # (batch, *cells, sublattice, n_features)
"""

from __future__ import annotations

import importlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    """Names of the generated descriptors in this package."""
    return sorted(p.stem for p in _HERE.glob("*.py") if not p.stem.startswith("_"))


def load(name: str):
    """The descriptor called `name` (a `GeneratedDescriptor`)."""
    if name not in available():
        raise KeyError(f"no generated descriptor {name!r}; available: "
                       f"{', '.join(available()) or 'none'} — create it with "
                       "`latticeff generate`")
    return importlib.import_module(f"{__name__}.{name}").DESCRIPTOR


def load_file(path) -> object:
    """The descriptor of a generated module file anywhere (e.g. `latticeff generate
    --output DIR`), with its stencils/ next to it."""
    from generated._support import load_path

    return load_path(Path(path)).DESCRIPTOR
