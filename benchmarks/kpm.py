"""The kernel polynomial solver against exact diagonalization: accuracy and cost.

    python benchmarks/kpm.py accuracy            # force error vs M and probing distance
    python benchmarks/kpm.py cost --ed-max 60    # one force evaluation, 30^2 .. 400^2

Accuracy: the RMS force error relative to the RMS ED force, on the same configurations:
ordered states (Holstein checkerboard CDW, Jahn–Teller staggered orbital order, s-d spin
spiral q = (pi/2, pi/2), each with 0.2 Gaussian noise) and random ones (unit Gaussian; random
unit spins), at half filling (T = 0). Cost: Holstein (g = 1.5) at half filling, one
`evaluate` (forces and energy) with the default parameters, one thread; ED up to --ed-max.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import torch

from runtime.electrons import SD, Holstein, JahnTeller
from runtime.electrons.forces import ExactForces
from runtime.electrons.kpm import KPMForces


def relative(a, b) -> float:
    return float((a - b).square().mean().sqrt() / b.square().mean().sqrt())


def states(model, size):
    x, y = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    noise = 0.2 * model.random_field(seed=5).numpy()
    if isinstance(model, Holstein):
        ordered = 0.75 * ((-1.0) ** (x + y))[..., None, None] + noise
    elif isinstance(model, JahnTeller):
        ordered = np.stack([0.6 * (-1.0) ** (x + y), 0.3 * np.ones_like(x)], -1)[:, :, None] \
            + noise
    else:
        phase = np.pi / 2 * (x + y)
        ordered = np.stack([np.cos(phase), np.sin(phase), 0 * phase], -1)[:, :, None] + noise
    return {"ordered": torch.as_tensor(ordered), "random": model.random_field(seed=1)}


def accuracy(args):
    distances = [int(d) for d in args.distances.split(",")]
    print(f"| model | L | state | M | {' | '.join(f'd={d}' for d in distances)} |")
    print(f"| --- | ---: | --- | ---: | {' | '.join('---:' for _ in distances)} |")
    for Model in (Holstein, JahnTeller, SD):
        for size in [int(s) for s in args.sizes.split(",")]:
            model = Model("square", size)
            for name, field in states(model, size).items():
                ed = ExactForces(model, filling=0.5).evaluate(field).forces
                for moments in [int(m) for m in args.moments.split(",")]:
                    cells = []
                    for d in distances:
                        solver = KPMForces(model, filling=0.5, moments=moments,
                                           probing_distance=d)
                        error = relative(solver.evaluate(field).forces, ed)
                        cells.append(f"{100 * error:.2f}% ({solver.n_probes})")
                    print(f"| {Model.__name__} | {size} | {name} | {moments} | "
                          f"{' | '.join(cells)} |", flush=True)


def cost(args):
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("| lattice | sites | probes | KPM s | KPM s/site (us) | ED s | ED/KPM | force error |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in [int(s) for s in args.sizes.split(",")]:
        model = Holstein("square", size)
        field = model.random_field(seed=1)
        solver = KPMForces(model, filling=0.5, dtype=args.dtype)
        start = time.perf_counter()
        kpm = solver.evaluate(field)
        seconds = time.perf_counter() - start
        ed_seconds, ratio, error = "—", "—", "—"
        if size <= args.ed_max:
            start = time.perf_counter()
            ed = ExactForces(model, filling=0.5).evaluate(field)
            ed_time = time.perf_counter() - start
            ed_seconds, ratio = f"{ed_time:.3g}", f"{ed_time / seconds:.1f}"
            error = f"{100 * relative(kpm.forces, ed.forces):.2f}%"
        print(f"| {size}×{size} | {model.n_sites:,} | {solver.n_probes} | {seconds:.3g} | "
              f"{1e6 * seconds / model.n_sites:.0f} | {ed_seconds} | {ratio} | {error} |",
              flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak memory of the process: {peak:.2f} GiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["accuracy", "cost"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default=None)
    parser.add_argument("--moments", default="100,200,400")
    parser.add_argument("--distances", default="4,6,8,10")
    parser.add_argument("--ed-max", type=int, default=60)
    parser.add_argument("--dtype", default="float64")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.what == "accuracy":
        args.sizes = args.sizes or "12,30"
        accuracy(args)
    else:
        args.sizes = args.sizes or "30,60,100,200,400"
        cost(args)


if __name__ == "__main__":
    main()
