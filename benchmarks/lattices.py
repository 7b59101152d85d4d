"""Descriptors on every lattice and field: the table of docs/lattices.md.

    OMP_NUM_THREADS=1 python benchmarks/lattices.py            # every case, markdown table
    python benchmarks/lattices.py --only kagome lieb            # cases whose lattice matches
    python benchmarks/lattices.py --fields spin                 # cases of these fields
    python benchmarks/lattices.py --runs runs/examples          # sigma from finished runs
    python benchmarks/lattices.py --small runs/lattices         # where small runs are kept

For each lattice × field: the time to build the spec and render its modules (sympy + codegen,
one process, into a temporary directory), the number of features, the Jacobian rank of the
features of one site against the neighborhood dimension L·M (complete when equal; spins are
invariant under global rotations, so at most 3L − 3), the invariance error (largest
|D(g·Φ) − g·D(Φ)| relative to the RMS of D over every site-group operation, one translation
along each lattice vector and, for spins, a global rotation; float64) and the held-out force
σ over the coupling. On a lattice with inequivalent sites (Lieb, perovskite) each site class
is a row of its own (its site group, features, rank and invariance error; the generate time
and σ are the module's, on its first row).

σ comes from the example run (`latticeff run configs/examples/<name>.toml`, read from
`<runs>/<name>/results.json` once that run has finished) or else, where a Hamiltonian takes
the field (scalar: Holstein, spin: s-d, the e_g doublet: Jahn–Teller, with dd-pi and
dd-delta hoppings on the <111> bonds of bcc and diamond, the quadrupole doublet: the
(p_x, p_y) Jahn–Teller model, vector: the SSH model), from a small run made
here: exact-force datasets on the smallest cluster that holds the stencil (3 training
trajectories, 1 test), 20 epochs of a small network. The datasets are kept in `<small>/<case>/`
and reused by a rerun (`generate` resumes them), so an interrupted table continues where it
stopped. A combination the group-theory stage refuses is listed with its message.
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
from runtime.app.pipeline import checked_data
from runtime.data.config import MODELS, DatasetConfig
from runtime.data.dataset import read_dataset
from runtime.data.generation import generate
from runtime.ml.evaluation import force_errors
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig
from runtime.ml.symmetry import lattice_actions, move_sites, transform
from runtime.ml.training import TrainingOptions, train

RHOMBIC = {"name": "rhombic", "vectors": [[1, 0], ["1/2", "3/4"]]}

# (lattice, field, family, shells, example run in configs/examples/ or None)
CASES = [
    ("square", "scalar", "reference", 14, None),
    ("square", "jahn_teller", "reference", 6, None),
    ("triangular", "spin", "phase", 3, "triangular_sd"),
    ("triangular", "quadrupole", "reference", 2, None),
    ("honeycomb", "scalar", "reference", 4, "honeycomb_holstein"),
    ("honeycomb", "quadrupole", "reference", 3, None),
    ("honeycomb", "vector", "reference", 2, "honeycomb_ssh"),
    ("honeycomb", "spin", "phase", 3, None),
    ("honeycomb", "jahn_teller", "reference", 3, None),
    ("kagome", "scalar", "reference", 3, None),
    ("kagome", "quadrupole", "power", 2, None),
    ("kagome", "vector", "reference", 2, None),
    ("kagome", "spin", "phase", 2, "kagome_sd"),
    ("lieb", "scalar", "reference", 4, "lieb_holstein"),
    ("lieb", "spin", "phase", 2, None),
    ("cubic", "scalar", "reference", 3, "cubic_holstein"),
    ("diamond", "scalar", "power", 1, None),
    ("diamond", "jahn_teller", "power", 1, None),
    ("diamond", "spin", "phase", 2, None),
    ("bcc", "jahn_teller", "power", 1, None),
    ("fcc", "jahn_teller", "power", 1, None),
    ("pyrochlore", "scalar", "power", 1, None),
    ("pyrochlore", "vector", "power", 1, None),
    ("pyrochlore", "spin", "power", 1, None),
    ("pyrochlore", "jahn_teller", "power", 1, None),
    ("perovskite", "scalar", "power", 1, None),
    ("perovskite", "jahn_teller", "power", 1, None),
    (RHOMBIC, "scalar", "reference", 6, "custom_holstein"),
]

# The Hamiltonian of a small run per field: model table and integrator
SMALL_MODELS = {
    "scalar": ({"name": "holstein", "g": 1.5, "K0": 1.0},
               {"name": "langevin", "dt": 0.05, "mass": 1.0, "damping": 0.5}),
    "jahn_teller": ({"name": "jahn_teller", "g": 1.5, "K0": 1.0},
                    {"name": "langevin", "dt": 0.05, "mass": 1.0, "damping": 0.5}),
    "quadrupole": ({"name": "quadrupole_jahn_teller", "g": 1.5, "K0": 1.0},
                   {"name": "langevin", "dt": 0.05, "mass": 1.0, "damping": 0.5}),
    "spin": ({"name": "sd", "J": 6.0},
             {"name": "llg", "dt": 0.02, "gamma": 1.0, "alpha": 0.1}),
    "vector": ({"name": "ssh", "alpha": 1.0, "K0": 1.0},
               {"name": "langevin", "dt": 0.05, "mass": 1.0, "damping": 0.5}),
}
BODY_DIAGONAL = {"V_pi": -0.3, "V_delta": 0.1}
"""The e_g model's dd-pi and dd-delta hoppings where its bonds are <111> (bcc, diamond)."""


def parts(descriptor) -> tuple:
    """The per-class descriptors (the descriptor itself when all sites are equivalent)."""
    return getattr(descriptor, "classes", (descriptor,))


def invariance_error(part, seed: int = 0) -> float:
    """max over the operations of |D(g·Φ) − g·D(Φ)| / RMS(D) for one (class) descriptor,
    float64, on the smallest lattice that holds the stencil (at least 4 cells per vector);
    D is compared on the class's sites (`centers`), the others being zero."""
    cells = tuple(max(4, n) for n in part.min_size)
    generator = torch.Generator().manual_seed(seed)
    field = torch.randn((1, *cells, part.sublattices, part.components),
                        generator=generator, dtype=torch.float64)
    centers = list(getattr(part, "centers", range(part.sublattices)))

    def features(x):
        values = part(x, backend="torch")
        full = values.new_zeros((*values.shape[:-2], part.sublattices, values.shape[-1]))
        full[..., centers, :] = values
        return full

    base = features(field)
    scale = float(base[..., centers, :].square().mean().sqrt())
    errors = []
    for perm, matrix in lattice_actions(part, cells)[1:]:
        moved = features(transform(field, perm, matrix))
        errors.append(float((moved - move_sites(base, perm)).abs().max()))
    for axis in range(part.dimension):
        moved = features(torch.roll(field, 1, dims=1 + axis))
        errors.append(float((moved - torch.roll(base, 1, dims=1 + axis)).abs().max()))
    if part.field == "spin":
        q, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
        errors.append(float((features(field @ q.T) - base).abs().max()))
    return max(errors) / scale


def example_sigma(runs: Path, example: str | None) -> str | None:
    """σ/coupling of the main descriptor of a finished example run, or None."""
    path = runs / example / "results.json" if example else None
    if path is None or not path.is_file():
        return None
    summary = next(iter(json.loads(path.read_text()).values()))
    return f"{summary['normalized']['sigma']:.3g} ({summary['force_scale_name']})"


def small_run_sigma(descriptor, lattice_data, directory: Path) -> str:
    """σ/coupling on a held-out trajectory after a small run (module doc), or why none."""
    if descriptor.field not in SMALL_MODELS:
        return "no Hamiltonian"
    model, integrator = SMALL_MODELS[descriptor.field]
    if model["name"] == "jahn_teller" and descriptor.lattice in ("bcc", "diamond"):
        model = {**model, **BODY_DIAGONAL}
    size = [max(m, 4 if descriptor.dimension == 2 else 3) for m in descriptor.min_size]
    paths = {}
    for name, seed, trajectories in (("train", 7, 3), ("test", 8, 1)):
        paths[name] = directory / f"{name}.h5"
        try:
            config = DatasetConfig.from_dict({
                "output": str(paths[name]), "seed": seed, "trajectories": trajectories,
                "model": {**model, "lattice": lattice_data, "size": size},
                "electrons": {"filling": 0.45}, "integrator": integrator,
                "protocol": {"kind": "quench", "temperature": 0.05, "snapshots": 10,
                             "sample_every": 5, "burn_in": 10}})
        except ValueError as error:  # ConfigError: the Hamiltonian refuses this lattice
            return f"refused: {str(error).split(' (')[0]}"
        generate(config, progress=False)
    data = {name: checked_data(read_dataset(path), path, descriptor)
            for name, path in paths.items()}
    network = ForceField(descriptor, NetworkConfig(widths=(32, 32, 16)))
    options = TrainingOptions(epochs=20, learning_rate=2e-3, energy_weight=0.1,
                              validation_fraction=0.25)
    train(network, data["train"], options, progress=False)
    coupling = MODELS[model["name"]].coupling_name
    errors = force_errors(network, data["test"].fields, data["test"].forces,
                          scale=model[coupling]).summary()
    return f"{errors['normalized']['sigma']:.3g} ({coupling}, small run {'×'.join(map(str, size))})"


def rows(case, runs: Path, small: Path, directory: Path) -> list[list[str]]:
    """The table rows of one case: one per site class."""
    lattice_data, field, family, shells, example = case
    lattice = Lattice.from_data(lattice_data)
    name = f"{lattice.name}_{field}_{family}_{shells}"
    start = time.perf_counter()
    try:
        spec = build_descriptor(lattice, field, family, shells=shells, name=name)
    except GroupTheoryError as error:
        return [[lattice.name, field, family, str(shells), "refused", "", "", "", "",
                 str(error).split(";")[0]]]
    descriptor = generated.load_file(write(spec, directory))
    seconds = f"{time.perf_counter() - start:.1f}"
    sigma = example_sigma(runs, example) or small_run_sigma(descriptor, lattice_data,
                                                            small / name)
    classes = parts(descriptor)
    out = []
    for k, (part, data) in enumerate(zip(classes, spec.data.get("classes", [spec.data]))):
        label = f"{lattice.name} (custom)" if isinstance(lattice_data, dict) else lattice.name
        if len(classes) > 1:
            label += f" class {list(part.centers)} ({part.group})"
        dim_u = data["neighborhood"]["sites"] * part.components
        bound = f" (max {dim_u - 3})" if field == "spin" else ""  # global rotations
        out.append([label, field, family, str(shells), seconds if k == 0 else "",
                    str(part.n_features), f"{part.jacobian_rank()} / {dim_u}{bound}",
                    f"{invariance_error(part):.1e}", sigma if k == 0 else "",
                    f"`{example}`" if example and k == 0 else ""])
    return out


HEADER = ["lattice", "field", "family", "shells", "generate (s)", "features",
          "Jacobian rank / L·M", "invariance error", "held-out σ", "example / note"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="lattice names to include")
    parser.add_argument("--fields", nargs="*", help="field names to include")
    parser.add_argument("--runs", default="runs/examples", help="where the example runs are")
    parser.add_argument("--small", default="runs/lattices", help="where the small runs are")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [c for c in CASES if (not args.only or Lattice.from_data(c[0]).name in args.only)
             and (not args.fields or c[1] in args.fields)]
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    with tempfile.TemporaryDirectory() as directory:
        for case in cases:
            for line in rows(case, Path(args.runs), Path(args.small), Path(directory)):
                print("| " + " | ".join(line) + " |", flush=True)


if __name__ == "__main__":
    main()
