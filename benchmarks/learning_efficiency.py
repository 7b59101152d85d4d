"""Test error against ED calls: `latticeff learn` against the exact-trajectory protocol
(issue 16, item 5), on the same model, network, training options and exact test trajectory.

    OMP_NUM_THREADS=1 python benchmarks/learning_efficiency.py holstein
    OMP_NUM_THREADS=1 python benchmarks/learning_efficiency.py holstein --stages 1 2 --plot-only

The trajectory protocol: `latticeff run configs/paper/curve_<model>.toml --trajectories k`
for each k of --stages, every stage appending ED trajectories to its train.h5 and
warm-starting the model (resumable: a finished stage is read back, not rerun). Each stage
costs k x `trajectory_ed_calls` ED calls, counted as `learn` counts its seed set. The loop: the
iterations log of `latticeff learn configs/paper/learn_<model>.toml` as far as it has run (run
it separately; it resumes). Prints one table of ED calls and sigma / coupling on the exact test
trajectory (overall and per component) and writes docs/results/<model>-sigma-vs-ed-calls.png;
the stages' test summaries are kept in docs/results/<model>-trajectory-stages.json (their
models in the run directory).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from runtime.app.pipeline import run_job
from runtime.data.config import MODELS, DatasetConfig
from runtime.data.dataset import read_dataset
from runtime.data.learning import read_log, trajectory_ed_calls
from runtime.files import write_json
from runtime.ml.evaluation import force_errors, plot_learning_curve, sigma_curves
from runtime.ml.forcefield import ForceField
from runtime.settings import read_toml

ROOT = Path(__file__).resolve().parents[1]


def trajectory_stages(model: str, stages: list[int], *, run: bool) -> list[dict]:
    """(ED calls, test summary) of every stage of the trajectory protocol; with `run`, the
    stages not yet on disk are run."""
    table = read_toml(ROOT / "configs" / "paper" / f"curve_{model}.toml")
    record_path = ROOT / "docs" / "results" / f"{model}-trajectory-stages.json"  # committed
    done = {r["trajectories"]: r for r in (json.loads(record_path.read_text())
                                           if record_path.is_file() else [])}
    dataset = DatasetConfig.from_dict({**table["dataset"], "output": "unused.h5"})
    per_trajectory = trajectory_ed_calls(dataset.parameters)
    for k in stages:
        if k in done or not run:
            continue
        result = run_job(table, trajectories=k)
        done[k] = {"trajectories": k, "ed_calls": k * per_trajectory,
                   "validation": result["summary"]}
        write_json(record_path, sorted(done.values(), key=lambda r: r["trajectories"]))
    return [done[k] for k in sorted(done) if k in stages]


def first_members(directory: Path, points: list[tuple]) -> list[tuple]:
    """The learn `points` (label, ED calls, ensemble test summary, iteration) with the test
    summary of member 0 alone (a single model, as the trajectory protocol trains), for the
    iterations whose member0.pt is on disk."""
    test = read_dataset(directory / "test.h5")
    model = MODELS[test.parameters["model"]["name"]]
    scale = test.parameters["model"][model.coupling_name]
    members = []
    for label, calls, _, iteration in points:
        path = directory / "iterations" / f"{iteration:03d}" / "member0.pt"
        if path.is_file():
            with torch.no_grad():
                summary = force_errors(ForceField.load(path), test.fields, test.forces,
                                       component_names=model.force_names, scale=scale,
                                       scale_name=model.coupling_name).summary()
            members.append((label, calls, summary, iteration))
    return members


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["holstein", "jahn_teller", "sd"])
    parser.add_argument("--stages", type=int, nargs="+", default=[1, 2, 4, 8],
                        help="training trajectories of each trajectory-protocol stage")
    parser.add_argument("--plot-only", action="store_true",
                        help="run nothing: table and plot of what is on disk")
    args = parser.parse_args()

    stages = trajectory_stages(args.model, args.stages, run=not args.plot_only)
    learn_dir = Path(read_toml(ROOT / "configs" / "paper" / f"learn_{args.model}.toml")[
        "directory"])
    log = read_log(learn_dir)
    # per protocol: (row label, cumulative ED calls, test summary, stage) of every point
    learned = [(f"iteration {r['iteration']}", int(c), r["validation"], r["iteration"])
               for r, c in zip(log, np.cumsum([r["ed_calls"] for r in log]))]
    series = {
        "trajectories": [(f"{r['trajectories']} trajectories", r["ed_calls"],
                          r["validation"], r["trajectories"]) for r in stages],
        "learn (ensemble mean)": learned,
        "learn (member 0)": first_members(learn_dir, learned) if learned else []}
    points = [point for rows in series.values() for point in rows]
    if not points:
        raise SystemExit("nothing on disk yet: run without --plot-only, and `latticeff learn`")
    components = list(points[0][2].get("components", {}))
    print(f"{'':<40} {'ED calls':>9} {'sigma/coupling':>15} " +
          " ".join(f"{name:>10}" for name in components))
    curves, ylabel = {}, ""
    for protocol, rows in series.items():
        for label, c, v, _ in rows:
            scale = v["force_scale"] or 1.0
            print(f"{protocol + ', ' + label:<40} {c:>9} {v['normalized']['sigma']:>15.4g} " +
                  " ".join(f"{v['components'][n]['sigma'] / scale:>10.4g}" for n in components))
        if rows:
            lines, ylabel = sigma_curves([c for _, c, _, _ in rows], [v for _, _, v, _ in rows])
            if len(components) > 2:  # the spin field's three (alike by symmetry): the table
                lines = {"all components": lines["all components"]}
            curves.update({f"{protocol}, {name}" if len(lines) > 1 else protocol: line
                           for name, line in lines.items()})
    path = plot_learning_curve(curves, ROOT / "docs" / "results" /
                               f"{args.model}-sigma-vs-ed-calls.png", ylabel=ylabel,
                               title=f"{args.model}, 30x30: learn vs the trajectory protocol")
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
