"""ML against KPM reference dynamics: Langevin quenches of the Holstein model beyond ED.

    latticeff run configs/run_holstein_30.toml          # the ML model (30 x 30 ED data)
    OMP_NUM_THREADS=1 python benchmarks/ml_vs_kpm_dynamics.py --size 100 --seeds 1,2 \\
        --steps 200 --model runs/holstein-30/model.pt --output runs/ml-vs-kpm
    OMP_NUM_THREADS=1 python benchmarks/ml_vs_kpm_dynamics.py --size 100 --seeds 1,2 \\
        --solvers ml --model ensemble.pt --ml-tags ml-al0     # another ML model, its own file
    python benchmarks/ml_vs_kpm_dynamics.py ... --ml-tags ml-al0,ml \\
        --plot docs/results/ml-vs-kpm-L100.png

For every seed, the ML force field (plus the exact elastic force) and the KPM force
(`runtime.electrons.kpm.KPMForces`, the linear-scaling reference) drive the same Langevin
quench (paper Sec. IV, eq. 63): the same initial Gaussian field, the same initial momenta and
the same noise sequence (one generator seed), so the runs differ only by their forces. The
CDW order parameter and the structure-factor peak S(Q)/N are measured every
`--measure-every` steps. Each run checkpoints its Langevin state (field, momentum, force,
generator) and its measurements atomically at every measurement into
<output>/L<size>/seed<s>/<tag|kpm>.npz (tag: --ml-tags, default "ml"; the model file may
be a ForceField or an Ensemble, which drives with its members' mean force): rerunning the
same command continues every run from its checkpoint (a larger --steps extends finished
runs). --plot only reads the checkpoints; --forces-at kpm compares the ML and KPM forces on
the last KPM field of each seed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from runtime.app.pipeline import dynamics_precision
from runtime.dynamics.forces import TotalForce
from runtime.dynamics.integrators import Langevin, LangevinState
from runtime.dynamics.observables import StructureFactor
from runtime.electrons import Holstein
from runtime.electrons.elastic import Elastic
from runtime.electrons.kpm import KPMForces
from runtime.files import save_npz, write_atomically
from runtime.ml.ensemble import load_model
from runtime.ml.forcefield import precision_dtype

COLUMNS = ("step", "time", "cdw", "peak", "seconds")  # seconds: wall time of the steps so far


PARAMETERS = {"t": 1.0, "g": 1.5, "K0": 1.0, "K1": 0.0}  # Holstein's defaults (paper Sec. IV)


def check_parameters(forcefield) -> None:
    """The ML model must be trained on the Holstein model the KPM runs simulate."""
    table = forcefield.metadata.get("data", {}).get("parameters", {}).get("model", {})
    trained = {k: float(table.get(k, "nan")) for k in PARAMETERS}
    if table.get("name") != "holstein" or trained != PARAMETERS:
        raise SystemExit(f"the ML model was trained on {table!r}, not Holstein {PARAMETERS}")


def forces_of(solver: str, args):
    if solver == "ml":
        forcefield = load_model(args.model)  # a ForceField, or an Ensemble (its mean force)
        check_parameters(forcefield)
        forcefield.dtype = precision_dtype(dynamics_precision("auto", forcefield.descriptor))
        return TotalForce(forcefield, Elastic("square", (args.size, args.size),
                                              PARAMETERS["K0"], PARAMETERS["K1"]))
    options = {k: v for k, v in (("moments", args.moments), ("kernel", args.kernel),
                                 ("probing_distance", args.probing_distance)) if v is not None}
    return KPMForces(Holstein("square", args.size, **PARAMETERS), filling=0.5,
                     dtype=args.dtype, **options)


def measure(field: torch.Tensor) -> tuple[float, float]:
    structure = StructureFactor.of(field[0], "square", centre=Holstein.order_centred)
    order = Holstein.order_parameters(structure)
    return order["cdw"], order["cdw_structure_factor"]


def run(solver: str, seed: int, args) -> None:
    name = args.ml_tags[0] if solver == "ml" else solver
    path = Path(args.output) / f"L{args.size}" / f"seed{seed}" / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    integrator = Langevin(dt=args.dt, mass=1.0, damping=args.damping,
                          temperature=args.temperature)
    forces = forces_of(solver, args)
    with torch.no_grad():
        if path.exists():
            saved = dict(np.load(path))
            rows = [tuple(r) for r in saved.pop("rows")]
            state = LangevinState.from_arrays(saved)
        else:
            generator = torch.Generator().manual_seed(seed)
            field = args.initial_scale * torch.randn((1, args.size, args.size, 1, 1),
                                                     generator=generator, dtype=torch.float64)
            state = integrator.init(field, forces, seed=seed + 1)
            rows = [(0, 0.0, *measure(state.field), 0.0)]
        step, seconds = int(rows[-1][0]), float(rows[-1][4])
        while step < args.steps:
            start = time.perf_counter()
            for _ in range(args.measure_every):
                state = integrator.step(state, forces)
            step += args.measure_every
            seconds += time.perf_counter() - start
            if not bool(torch.isfinite(state.field).all()):
                raise SystemExit(f"{solver} seed {seed}: the field diverged at step {step}")
            rows.append((step, step * args.dt, *measure(state.field), seconds))
            save_npz(path, rows=np.array(rows), **state.arrays())
            print(f"{name} seed {seed} step {step}: cdw {rows[-1][2]:.4f} "
                  f"S(Q)/N {rows[-1][3]:.4f} ({seconds:.0f} s)", flush=True)


def compare_forces(args) -> None:
    """On the last checkpointed field of each seed's `--forces-at` run: the ML force, the
    KPM force of the run's parameters and the KPM force of the solver's defaults, against
    that KPM force, relative to the RMS electronic force and to the RMS total force (once the
    field has relaxed, the electronic and elastic forces nearly cancel and the dynamics is
    driven by the residual), and the net staggered force (the CDW drive)."""
    ml, kpm = forces_of("ml", args), forces_of("kpm", args)
    defaults = KPMForces(kpm.model, filling=0.5, dtype=args.dtype)
    x, y = np.meshgrid(np.arange(args.size), np.arange(args.size), indexing="ij")
    staggered = torch.as_tensor((-1.0) ** (x + y))[None, :, :, None, None]
    print("| seed | state | t | RMS electronic | RMS total | ML − KPM (of electronic, of "
          "total) | KPM defaults − KPM | staggered force KPM, defaults, ML |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for seed in args.seeds:
        saved = np.load(Path(args.output) / f"L{args.size}" / f"seed{seed}" /
                        f"{args.forces_at}.npz")
        field = torch.as_tensor(saved["field"])
        with torch.no_grad():
            reference, default = kpm(field), defaults(field)
            learned = ml.energy_and_forces(field)[1]
        electronic = float(kpm.electronic(field)[1].square().mean().sqrt())
        total = float(reference.square().mean().sqrt())
        rms_ml, rms_default = (float((f - reference).square().mean().sqrt())
                               for f in (learned, default))
        drive = [float((f * staggered).mean()) for f in (reference, default, learned)]
        print(f"| {seed} | {args.forces_at} | {saved['rows'][-1][1]:g} | {electronic:.3f} | "
              f"{total:.3f} | {100 * rms_ml / electronic:.1f} %, {100 * rms_ml / total:.0f} % | "
              f"{100 * rms_default / electronic:.2f} %, {100 * rms_default / total:.1f} % | "
              f"{', '.join(f'{d:.5f}' for d in drive)} |", flush=True)


def plot(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    print("| seed | solver | steps | time | CDW | S(Q)/N | wall s | s/step |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for k, seed in enumerate(args.seeds):
        for name, style in zip(("kpm", *args.ml_tags), ("-", "--", ":", "-.")):
            path = Path(args.output) / f"L{args.size}" / f"seed{seed}" / f"{name}.npz"
            if not path.exists():
                continue
            rows = np.load(path)["rows"]
            for ax, column in zip(axes, (2, 3)):
                ax.plot(rows[:, 1], rows[:, column], style, color=f"C{k}",
                        label=f"{name.upper()} seed {seed}")
            last = rows[-1]
            print(f"| {seed} | {name.upper()} | {int(last[0])} | {last[1]:g} | {last[2]:.4f} "
                  f"| {last[3]:.4f} | {last[4]:.0f} | {last[4] / max(last[0], 1):.3g} |")
    axes[0].set_ylabel("CDW order parameter")
    axes[1].set_ylabel("S(Q)/N, Q = (π, π)")
    axes[1].set_yscale("log")  # from the disordered ~1e-4 to the growing Bragg peak
    for ax in axes:
        ax.set_xlabel("time (1/t)")
        ax.legend(fontsize=7)
    styles = ", ".join(f"{t.upper()} ({s})" for t, s in zip(args.ml_tags, ("dashed", "dotted",
                                                                         "dash-dotted")))
    figure.suptitle(f"Holstein quench on {args.size}×{args.size}: {styles} vs KPM (solid), "
                    f"T = {args.temperature}", fontsize=9)
    figure.tight_layout()
    write_atomically(Path(args.plot), lambda temporary: figure.savefig(temporary, dpi=100,
                                                                        format="png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/holstein-30/model.pt")
    parser.add_argument("--output", default="runs/ml-vs-kpm")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--measure-every", type=int, default=10)
    parser.add_argument("--solvers", default="kpm,ml")
    parser.add_argument("--ml-tags", default="ml",
                        help="checkpoint name of the ML run (<tag>.npz); with --plot, the "
                             "comma-separated ML runs to draw (up to 3)")
    parser.add_argument("--dt", type=float, default=0.05)
    parser.add_argument("--damping", type=float, default=0.5)
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--initial-scale", type=float, default=1.0)
    parser.add_argument("--moments", type=int, default=None)
    parser.add_argument("--probing-distance", type=int, default=None)
    parser.add_argument("--kernel", default=None)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--plot", default=None, help="write this PNG from the checkpoints")
    parser.add_argument("--forces-at", default=None,
                        help="compare the forces on the last field of this run (kpm or a tag)")
    args = parser.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.ml_tags = args.ml_tags.split(",")
    if len(args.ml_tags) > 3 or "kpm" in args.ml_tags:
        raise SystemExit(f"--ml-tags: up to 3 names other than 'kpm', got {args.ml_tags}")
    if args.plot:
        plot(args)
        return
    torch.set_num_threads(1)
    if args.forces_at:
        compare_forces(args)
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    for seed in args.seeds:
        for solver in args.solvers.split(","):
            run(solver, seed, args)


if __name__ == "__main__":
    main()
