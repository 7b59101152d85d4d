"""Render a `DescriptorSpec` into an importable module `generated/<name>.py`.

The module holds the spec metadata and hash, a torch implementation (stencil as constant-
folded ±c sums of shifted views of the periodically padded channels, then the invariants
after common-subexpression elimination), and Triton forward/backward kernels (see
`triton_kernels`). `generated/_support.py` turns it into a callable descriptor.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from grouptheory import numbers
from grouptheory.descriptors.spec import DescriptorSpec, parse_expressions

from .printers import TorchPrinter, statements, stencil_lines
from .triton_kernels import triton_source

GENERATED = Path(__file__).resolve().parent.parent / "generated"
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def _view(channel: int, offset, radius, dim) -> str:
    slices = ", ".join(f"{r + o}:{r + o}+n{a}" for a, (r, o) in enumerate(zip(radius, offset)))
    return f"P[:, {slices}, {channel}]"


def torch_stencil(spec: DescriptorSpec) -> list[list[str]]:
    """Lines computing y0… for each center sublattice from the padded channels P."""
    st = spec.data["stencil"]
    radius, dim = st["radius"], spec.data["lattice"]["dimension"]
    return [stencil_lines(taps, st["outputs"], lambda c, o: _view(c, o, radius, dim),
                          TorchPrinter(), "v", comments=True) for taps in st["taps"]]


def torch_invariants(spec: DescriptorSpec) -> tuple[list[str], list[str]]:
    if spec.data["special"]:
        return [], []
    return statements(parse_expressions(spec), TorchPrinter())


def render(spec: DescriptorSpec) -> str:
    st = spec.data["stencil"]
    inv_lines, inv_results = torch_invariants(spec)
    special = spec.data["special"]
    weights = None
    if special:
        weights = [[repr(float(numbers.to_sympy(w))) for w in row]
                   for row in special["weights"]]
    return _ENV.get_template("descriptor.py.jinja").render(
        spec=spec.data, hash=spec.hash, name=spec.name, n_features=spec.n_features,
        n_outputs=len(st["outputs"]), channels=[tuple(_tuple(x) for x in c)
                                               for c in st["channels"]],
        radius=tuple(st["radius"]), dims=list(range(spec.data["lattice"]["dimension"])),
        stencil=torch_stencil(spec), invariant_lines=inv_lines, invariant_results=inv_results,
        weights=weights, triton=triton_source(spec))


def _tuple(x):
    return tuple(x) if isinstance(x, list) else x


def write(spec: DescriptorSpec, directory: Path = GENERATED) -> Path:
    """Write generated/<name>.py atomically (temporary file, then rename)."""
    directory = Path(directory)
    target = directory / f"{spec.name}.py"
    tmp = target.with_suffix(".py.tmp")
    tmp.write_text(render(spec))
    tmp.replace(target)
    return target
