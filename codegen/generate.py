"""Render a `DescriptorSpec` into importable modules and write them safely.

`render(spec)` gives the texts (deterministic): `<name>.py` — the spec as JSON with its hash,
the stage-3 invariants (torch, and the Triton forward and dL/dy kernels) — and one
`stencils/<lattice>_<field>_<hash>.py` per stencil part (see `codegen.stencil`), shared by
every descriptor on that part. `write(spec, directory)` checks the name, refuses to replace a
module of another hash unless forced, and writes each file atomically.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import tempfile
from pathlib import Path

import jinja2
import sympy as sp

from grouptheory import numbers
from grouptheory.descriptors.spec import DescriptorSpec, classes, parse_expressions

from .lean import lean_code
from .printers import comment, literal, statements
from .stencil import (
    CHANNEL_MEANING,
    Part,
    lean_taps,
    names,
    parts,
)

GENERATED = Path(__file__).resolve().parent.parent / "generated"
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)

# stage 3 of each family, and the paper's equations for it
FAMILIES = {
    "power": ("power spectrum p_{Γ,r} = Σ_μ (f^{Γ,r}_μ)²", "eqs. 23, 34"),
    "bispectrum": ("bispectrum b = Σ C^{Γ}_{Γ1 Γ2} f^{Γ1} f^{Γ2} f^{Γ}", "eq. 33"),
    "reference": ("reference-IR invariants: power spectra and projections on reference irreps",
                  "eqs. 70–84"),
    "phase": ("reference-IR invariants in phase form: amplitudes and relative phases",
              "Sec. VI"),
    "corrmatrix": ("eigenvalues of the correlation matrix C_jk = W_jk U_j U_k", "eqs. 14, 65"),
    "acsf": ("lattice atom-centred symmetry functions of the spin bonds and chiralities",
             "eqs. 53–57, 95–97"),
    "raw": ("the raw neighborhood in the orthonormal IR basis (not invariant: the baseline)",
            "eqs. 18, 38, 48"),
}


class GenerateError(ValueError):
    """A module that cannot be generated as asked; nothing was written."""


def check_name(name: str) -> str:
    """`name` if it can name a generated module: a Python identifier, not a keyword, not
    private (no leading '_'); else GenerateError."""
    if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)
            and not name.startswith("_")):
        raise GenerateError(f"module name {name!r} must be a Python identifier (letters, "
                            "digits, '_'), not a keyword and not starting with '_'")
    return name


CELLS = ["    cell = (tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)).to(tl.int64)",
         "    mask = cell < total"]


def row(array: str, k: int) -> str:
    """Row k of a (rows, cells) array at this program's cells."""
    return f"{array} + {k} * total + cell" if k else f"{array} + cell"


def load(target: str, array: str, k: int, note: str) -> str:
    return f"    {target} = tl.load({row(array, k)}, mask=mask, other=0.0)  # {note}"


def _targets(used: set[str], count: int) -> str:
    """`(y0, _, y2, …)`: the outputs a kernel reads, `_` for the others."""
    return "(" + names([f"y{k}" if f"y{k}" in used else "_" for k in range(count)]) + ")"


def stencil_module(part: Part) -> str:
    kinds = sorted({c[0] for c in part.channels} - {"field"})
    return _ENV.get_template("stencil.py.jinja").render(
        part=part, lattice=part.data["lattice"]["name"], field=part.data["field"]["name"],
        components=", ".join(part.components), taps=sum(len(t) for t in part.taps),
        channel_notes=[f"Channels: {', '.join(CHANNEL_MEANING[k] for k in kinds)}."] if kinds
        else [], channels=part.channels,
        lean=[{"taps": _items([f"({c},{_tuple(o)})" for c, o in item["taps"]]),
               "rows": [(_items([f"({v},{_list(add)},{_list(sub)})" for v, add, sub in r["groups"]],
                                " " * 9), r["note"]) for r in item["rows"]]}
              for item in lean_taps(part)])


def _list(values) -> str:
    return "[" + ",".join(map(str, values)) + "]"


def _tuple(values) -> str:
    return "(" + ",".join(map(str, values)) + ("," if len(values) == 1 else "") + ")"


def _items(items, indent: str = "     ", width: int = 88) -> str:
    """`a, b, …` wrapped to `width` columns between items (never inside one)."""
    lines, line = [], ""
    for item in items:
        if line and len(line) + len(item) + 2 > width:
            lines.append(line + ",")
            line = item
        else:
            line = f"{line}, {item}" if line else item
    return ("\n" + indent).join([*lines, line])


def summary(spec: DescriptorSpec) -> list[str]:
    """Neighborhood size, smallest lattice and feature count, as sentences (per site class
    when there are several)."""
    if "classes" in spec.data:
        return [f"site class {k} (sites {c.data['centers']}, {c.data['group']}): {line}"
                for k, c in enumerate(classes(spec)) for line in summary(c)]
    data = spec.data
    hood, comps = data["neighborhood"], len(data["field"]["components"])
    size = (f"{hood['shells']} shells" if hood["shells"] is not None
            else f"cutoff {hood['cutoff']}")
    smallest = " × ".join(str(2 * r + 1) for r in data["stencil"]["radius"])
    dim_u = hood["sites"] * comps
    return [f"Neighborhood: {hood['sites']} sites ({size}), dim U = {dim_u}; smallest lattice "
            + f"{smallest} cells.",
            f"{len(data['stencil']['outputs'])} stencil outputs, {spec.n_features} features."]


def _invariant_code(spec: DescriptorSpec):
    """Template variables of stage 3: the features function (torch and Triton alike), the
    bodies of the forward and dL/dy kernels and the lean torch path's."""
    exprs = parse_expressions(spec)
    outputs = spec.data["stencil"]["outputs"]
    K, F = len(outputs), spec.n_features
    lines, results = statements(exprs)
    ys = [sp.Symbol(f"y{k}", real=True) for k in range(K)]
    gs = [sp.Symbol(f"g{f}", real=True) for f in range(F)]
    used = {s.name for e in exprs for s in e.free_symbols}
    dy = [sp.Add(*[g * sp.diff(e, y) for g, e in zip(gs, exprs)]) for y in ys]
    dy_free = {s.name for e in dy for s in e.free_symbols}
    dy_lines, dy_results = statements(dy)
    return {
        "ys": names([f"y{k}" for k in range(K)], " " * 13),
        "fs": "(" + names([f"f{f}" for f in range(F)]) + ")",
        "feature_lines": lines,
        "feature_results": [f"        {t},{comment(n, c)}"
                            for (t, c), n in zip(results, spec.feature_names)],
        "cells": CELLS,
        "output_loads": [f"        tl.load({row('Y', k)}, mask=mask, other=0.0),  # y{k} = {name}"
                         for k, name in enumerate(outputs)],
        "forward_targets": _targets(used, K),
        "forward_args": names([f"y{k}" if f"y{k}" in used else "0.0" for k in range(K)],
                              " " * 8),
        "forward_stores": [f"    tl.store({row('OUT', f)}, f{f}, mask=mask)  # {n}"
                           for f, n in enumerate(spec.feature_names)],
        "dy_targets": _targets(dy_free, K) if any(f"y{k}" in dy_free for k in range(K)) else "",
        "dy_loads": [load(f"g{f}", "G", f, f"∂L/∂{n}") for f, n in enumerate(spec.feature_names)
                     if f"g{f}" in dy_free],
        "dy_lines": dy_lines,
        "dy_stores": [f"    tl.store({row('GY', k)}, {t}, mask=mask){comment(c)}"
                      for k, (t, c) in enumerate(dy_results)],
        **lean_code(exprs, spec.feature_names),
    }


def render(spec: DescriptorSpec) -> dict[str, str]:
    """{relative path: module text} for the descriptor module and its stencil parts; a spec
    with several site classes gets a module per class in classes/ and one that joins them."""
    check_name(spec.name)
    if "classes" not in spec.data:
        return _render_one(spec)
    data, files = spec.data, {}
    for part in classes(spec):
        for path, text in _render_one(part).items():
            files[path if path.startswith("stencils/") else f"classes/{path}"] = text
    files[f"{spec.name}.py"] = _ENV.get_template("classes.py.jinja").render(
        name=spec.name, meaning=FAMILIES[spec.family][0], family=spec.family,
        lattice=data["lattice"]["name"], field=data["field"]["name"],
        components=", ".join(data["field"]["components"]), hash=spec.hash,
        spec_json=repr(json.dumps(data, sort_keys=True, ensure_ascii=False)),
        classes=[{"name": c["name"], "centers": c["centers"], "group": c["group"],
                  "n_features": len(c["features"])} for c in data["classes"]])
    return files


def _render_one(spec: DescriptorSpec) -> dict[str, str]:
    """The module of a descriptor on one site class (or on every sublattice) and its parts."""
    data = spec.data
    part_list = parts(data)
    kernels = not data["special"]
    variables = _invariant_code(spec) if kernels else {}
    weights = None
    if data["special"]:
        weights = [[literal(numbers.to_sympy(w)) for w in row]
                   for row in data["special"]["weights"]]
    text = _ENV.get_template("descriptor.py.jinja").render(
        name=spec.name, meaning="{} ({})".format(*FAMILIES[spec.family]), family=spec.family,
        lattice=data["lattice"]["name"], group=data["group"], field=data["field"]["name"],
        components=", ".join(data["field"]["components"]), summary=summary(spec),
        parts=part_list,
        hash=spec.hash, spec_json=repr(json.dumps(data, sort_keys=True, ensure_ascii=False)),
        weights=weights, n_features=spec.n_features,
        n_outputs=len(data["stencil"]["outputs"]), equations=FAMILIES[spec.family][1],
        kernels=kernels, sublattices=data["lattice"]["sublattices"],
        no_kernels="the correlation-matrix eigenvalues have no closed form: no Triton "
                   "kernels; the torch path (torch.linalg.eigvalsh) serves every device",
        **variables)
    files = {f"{spec.name}.py": text}
    for p in part_list:
        files[f"stencils/{p.module}.py"] = stencil_module(p)
    return files


def module_hash(path: Path) -> str | None:
    """The SPEC_HASH stamped in an existing generated module (None if absent)."""
    match = re.search(r'^SPEC_HASH = "([0-9a-f]+)"$', path.read_text(), re.MULTILINE)
    return match.group(1) if match else None


def write(spec: DescriptorSpec, directory: Path = GENERATED, force: bool = False) -> Path:
    """Write `<name>.py` and its stencil parts into `directory`; returns the module's path.

    Refuses (GenerateError) to replace a module stamped with another spec hash unless
    `force`; each file is written atomically (temporary in the same folder, fsync, rename;
    the temporary is removed on any failure)."""
    directory = Path(directory)
    files = render(spec)  # checks the name first
    target = directory / f"{spec.name}.py"
    if target.exists() and not force and module_hash(target) != spec.hash:
        raise GenerateError(
            f"{target} exists and was generated from another spec (hash "
            f"{module_hash(target) or 'none'}, not {spec.hash[:12]}); choose another --name or "
            "replace it with --force")
    for relative in sorted(files, key=lambda r: r == target.name):  # the module last
        write_atomically(directory / relative, files[relative])
    return target


def write_atomically(path: Path, text: str) -> None:
    """`path` holds `text` afterwards, or is unchanged: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
