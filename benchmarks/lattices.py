"""Descriptors on every lattice and field: the table of docs/lattices.md.

    OMP_NUM_THREADS=1 python benchmarks/lattices.py            # every case, markdown table
    python benchmarks/lattices.py --only kagome lieb            # cases whose lattice matches
    python benchmarks/lattices.py --runs runs/examples          # sigma from finished runs

For each lattice × field: the time to build the spec and render its modules (sympy + codegen,
one process, into a temporary directory), the number of features, the Jacobian rank of the
features of one site against the neighborhood dimension L·M (complete when equal; spins are
invariant under global rotations, so at most 3L − 3), the invariance error (largest
|D(g·Φ) − g·D(Φ)| relative to the RMS of D over every site-group operation, one translation
along each lattice vector and, for spins, a global rotation; float64) and the held-out force
σ of the example run (`latticeff run configs/examples/<name>.toml`, read from
`<runs>/<name>/results.json` when that run has finished). A combination the group-theory
stage refuses is listed with its message.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import generated
from codegen.generate import write
from grouptheory import Lattice, build_descriptor
from grouptheory.errors import GroupTheoryError
from runtime.ml.symmetry import lattice_actions, move_sites, transform

RHOMBIC = {"name": "rhombic", "vectors": [[1, 0], ["1/2", "3/4"]]}

# (lattice, field, family, shells, example run in configs/examples/ or None)
CASES = [
    ("square", "scalar", "reference", 14, None),
    ("honeycomb", "scalar", "reference", 4, "honeycomb_holstein"),
    ("triangular", "spin", "phase", 3, "triangular_sd"),
    ("kagome", "scalar", "reference", 3, None),
    ("kagome", "spin", "phase", 2, "kagome_sd"),
    ("cubic", "scalar", "reference", 3, "cubic_holstein"),
    ("lieb", "scalar", "reference", 4, "lieb_holstein"),
    ("square", "jahn_teller", "reference", 6, None),
    ("honeycomb", "jahn_teller", "reference", 3, None),
    ("honeycomb", "vector", "reference", 2, None),
    (RHOMBIC, "scalar", "reference", 6, "custom_holstein"),
]


def invariance_error(descriptor, seed: int = 0) -> float:
    """max over the operations of |D(g·Φ) − g·D(Φ)| / RMS(D), float64, on the smallest
    lattice that holds the stencil (at least 4 cells along each vector)."""
    cells = tuple(max(4, n) for n in descriptor.min_size)
    generator = torch.Generator().manual_seed(seed)
    field = torch.randn((1, *cells, descriptor.sublattices, descriptor.components),
                        generator=generator, dtype=torch.float64)
    base = descriptor.torch_forward(field)
    scale = float(base.square().mean().sqrt())
    errors = []
    for perm, matrix in lattice_actions(descriptor, cells)[1:]:
        moved = descriptor.torch_forward(transform(field, perm, matrix))
        errors.append(float((moved - move_sites(base, perm)).abs().max()))
    for axis in range(descriptor.dimension):
        moved = descriptor.torch_forward(torch.roll(field, 1, dims=1 + axis))
        errors.append(float((moved - torch.roll(base, 1, dims=1 + axis)).abs().max()))
    if descriptor.field == "spin":
        q, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
        errors.append(float((descriptor.torch_forward(field @ q.T) - base).abs().max()))
    return max(errors) / scale


def held_out_sigma(runs: Path, example: str | None) -> str:
    """σ/coupling of the main descriptor of a finished example run, or '—'."""
    path = runs / example / "results.json" if example else None
    if path is None or not path.is_file():
        return "—"
    summary = next(iter(json.loads(path.read_text()).values()))
    return f"{summary['normalized']['sigma']:.3g} ({summary['force_scale_name']})"


def row(case, runs: Path, directory: Path) -> list[str]:
    lattice_data, field, family, shells, example = case
    lattice = Lattice.from_data(lattice_data)
    start = time.perf_counter()
    try:
        spec = build_descriptor(lattice, field, family, shells=shells,
                                name=f"{lattice.name}_{field}_{family}_{shells}")
    except GroupTheoryError as error:
        return [lattice.name, field, family, str(shells), "refused", "", "", "", "",
                str(error).split(";")[0]]
    descriptor = generated.load_file(write(spec, directory))
    seconds = time.perf_counter() - start
    sites = spec.data["neighborhood"]["sites"]
    dim_u = sites * descriptor.components
    rank = descriptor.jacobian_rank()
    return [lattice.name, field, family, str(shells), f"{seconds:.1f}",
            str(descriptor.n_features), f"{rank} / {dim_u}", f"{invariance_error(descriptor):.1e}",
            held_out_sigma(runs, example), f"`{example}`" if example else ""]


HEADER = ["lattice", "field", "family", "shells", "generate (s)", "features",
          "Jacobian rank / L·M", "invariance error", "held-out σ", "example / note"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="lattice names to include")
    parser.add_argument("--runs", default="runs/examples", help="where the example runs are")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [c for c in CASES if not args.only or Lattice.from_data(c[0]).name in args.only]
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    with tempfile.TemporaryDirectory() as directory:
        for case in cases:
            print("| " + " | ".join(row(case, Path(args.runs), Path(directory))) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
