"""The kernel polynomial solver against exact diagonalization: accuracy and cost.

    python benchmarks/kpm.py accuracy            # force error vs M and probing distance
    python benchmarks/kpm.py accuracy --sizes 16,30 --moments default --distances default
    python benchmarks/kpm.py cost                # one force evaluation, 30^2 .. 400^2
    python benchmarks/kpm.py scaling --dtype float32 --untiled   # interleaved, per site
    python benchmarks/kpm.py product --dtype float32 # the sparse product alone, per site

Accuracy: the RMS force error relative to the RMS ED force, on the same configurations:
ordered states (Holstein checkerboard CDW, Jahn–Teller staggered orbital order, s-d spin
spiral q = (pi/2, pi/2), each with 0.2 Gaussian noise) and random ones (unit Gaussian; random
unit spins), at half filling (T = 0). Cost: Holstein (g = 1.5) at half filling, one
`evaluate` (forces and energy) with the default parameters, one thread, timed as CPU time of
the process (time.process_time: robust to other jobs sharing the cores, which stretch the wall
time); every KPM size first, then ED up to --ed-max.
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

MODELS = {"holstein": Holstein, "jahn_teller": JahnTeller, "sd": SD}


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


def values(text: str) -> list[int | None]:
    """A comma list of integers; "default" (None) is the model's default."""
    return [None if v == "default" else int(v) for v in text.split(",")]


def accuracy(args):
    distances = values(args.distances)
    header = " | ".join(f"d={d}" if d else "default d" for d in distances)
    print(f"| model | L | state | M | {header} |")
    print(f"| --- | ---: | --- | ---: | {' | '.join('---:' for _ in distances)} |")
    for Model in (MODELS[name] for name in args.models.split(",")):
        for size in [int(s) for s in args.sizes.split(",")]:
            model = Model("square", size)
            for name, field in states(model, size).items():
                ed = ExactForces(model, filling=0.5).evaluate(field).forces
                for moments in values(args.moments):
                    cells = []
                    for d in distances:
                        solver = KPMForces(model, filling=0.5, moments=moments,
                                           probing_distance=d, kernel=args.kernel)
                        error = relative(solver.evaluate(field).forces, ed)
                        used = "" if d else f"d={solver.settings.probing_distance}, "
                        cells.append(f"{100 * error:.2f}% ({used}{solver.n_probes})")
                    print(f"| {Model.__name__} | {size} | {name} | "
                          f"{solver.settings.moments} | "
                          f"{' | '.join(cells)} |", flush=True)


def cost(args):
    """KPM at every size first (the peak RSS after each is then the KPM's alone), ED after."""
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    dtypes = args.dtype.split(",")
    kpm = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        model = Holstein("square", size)
        field = model.random_field(seed=1)
        for dtype in dtypes:
            solver = KPMForces(model, filling=0.5, dtype=dtype)
            start, wall = time.process_time(), time.perf_counter()
            forces = solver.evaluate(field).forces
            seconds = time.process_time() - start
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            kpm[size, dtype] = (solver.n_probes, seconds, forces, peak)
            print(f"KPM {size}x{size} {dtype}: {seconds:.3g} s CPU "
                  f"({time.perf_counter() - wall:.3g} s wall), peak RSS {peak:.2f} GiB",
                  flush=True)
    print(f"load average after KPM: {os.getloadavg()[0]:.2f}")
    ed = {}
    for size in sorted({s for s, _ in kpm}):
        if size <= args.ed_max:
            model = Holstein("square", size)
            start, wall = time.process_time(), time.perf_counter()
            forces = ExactForces(model, filling=0.5).evaluate(model.random_field(seed=1)).forces
            ed[size] = (time.process_time() - start, forces)
            print(f"ED {size}x{size}: {ed[size][0]:.3g} s CPU "
                  f"({time.perf_counter() - wall:.3g} s wall)", flush=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print("| lattice | sites | dtype | probes | KPM CPU s | KPM µs/site | peak RSS GiB (KPM so "
          "far) | ED CPU s | ED/KPM | force error |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (size, dtype), (probes, seconds, forces, peak) in kpm.items():
        ed_seconds, ratio, error = "—", "—", "—"
        if size in ed:
            ed_seconds, ratio = f"{ed[size][0]:.3g}", f"{ed[size][0] / seconds:.1f}"
            error = f"{100 * relative(forces, ed[size][1]):.2f}%"
        print(f"| {size}×{size} | {size * size:,} | {dtype} | {probes} | {seconds:.3g} | "
              f"{1e6 * seconds / size**2:.0f} | {peak:.2f} | {ed_seconds} | {ratio} | {error} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS of the process (ED included): {peak:.2f} GiB")


def scaling(args):
    """Per site and probe CPU time of one evaluate at each size, interleaved in one process
    (rounds over the sizes, each a slightly scaled field: evaluate caches its last field), so
    that the load on the machine is the same for every size; --blocks adds runs with that many
    probe columns per block, --untiled the default blocks without tiles (tile = 0)."""
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    sizes = [int(s) for s in args.sizes.split(",")]
    blocks = [None] + ([int(b) for b in args.blocks.split(",")] if args.blocks else [])
    cases = {f"{size}²" + (f", block {block}" if block else ""): (size, block, None)
             for block in blocks for size in sizes}
    if args.untiled:
        cases.update({f"{size}², untiled": (size, None, 0) for size in sizes})
    solvers = {k: KPMForces(Holstein("square", size), filling=0.5, dtype=args.dtype,
                            moments=args.scaling_moments, probe_block=block, tile=tile)
               for k, (size, block, tile) in cases.items()}
    times = {k: [] for k in cases}
    for r in range(args.rounds):
        for k, solver in solvers.items():
            field = solver.model.random_field(seed=1) * (1.0 + 1e-3 * r)
            start = time.process_time()
            solver.evaluate(field)
            times[k].append((time.process_time() - start) / solver.model.n_sites
                            / solver.n_probes)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"| case | probes | tiles (halo) | µs per site and probe (M = "
          f"{args.scaling_moments}), min–max |")
    print("| --- | ---: | ---: | ---: |")
    for k, values in times.items():
        tiling = solvers[k].tiling
        print(f"| {k} | {solvers[k].n_probes} | {len(tiling.domains)} "
              f"(+{100 * tiling.halo_fraction:.0f} %) | "
              f"{1e6 * min(values):.2f}–{1e6 * max(values):.2f} |")


def product(args):
    """The Chebyshev step's sparse product alone, out = 2 H x - previous (torch.addmm of the
    CSR hopping, as in the solver), in ns per site and probe column, and the memory traffic
    it implies: what the scaling of one evaluate comes down to."""
    dtype = getattr(torch, args.dtype.split(",")[0])
    columns = [int(c) for c in (args.blocks or "1,4,8,32").split(",")]
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("| lattice | columns | ns per site and column | GB/s (x, previous, out, matrix) |")
    print("| --- | ---: | ---: | ---: |")
    for size in [int(s) for s in args.sizes.split(",")]:
        hopping = Holstein("square", size).sparse_hopping(dtype)
        n, nnz = hopping.shape[0], hopping.values().numel()
        for cols in columns:
            x, previous = torch.randn(n, cols, dtype=dtype), torch.randn(n, cols, dtype=dtype)
            out = torch.empty_like(x)
            repeats = max(3, int(2e7 // (n * cols)))
            best = float("inf")
            for _ in range(args.rounds):
                start = time.process_time()
                for _ in range(repeats):
                    torch.addmm(previous, hopping, x, beta=-1.0, alpha=2.0, out=out)
                best = min(best, (time.process_time() - start) / repeats)
            moved = 3 * n * cols * x.element_size() + nnz * (8 + x.element_size())
            print(f"| {size}² | {cols} | {1e9 * best / (n * cols):.2f} | {moved / best / 1e9:.1f} |")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["accuracy", "cost", "scaling", "product"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default=None)
    parser.add_argument("--moments", default="250,500,1000", help='"default": the model\'s')
    parser.add_argument("--distances", default="6,10,12,14", help='"default": the model\'s')
    parser.add_argument("--kernel", default="none")
    parser.add_argument("--models", default="holstein,jahn_teller,sd", help="accuracy")
    parser.add_argument("--ed-max", type=int, default=100)
    parser.add_argument("--dtype", default="float64,float32", help="KPM dtypes (cost)")
    parser.add_argument("--rounds", type=int, default=3, help="scaling")
    parser.add_argument("--scaling-moments", type=int, default=200, help="scaling")
    parser.add_argument("--untiled", action="store_true", help="scaling: also tile = 0")
    parser.add_argument("--blocks", default="",
                        help="scaling: probe columns per block; product: columns")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.what == "accuracy":
        args.sizes = args.sizes or "12,30"
        accuracy(args)
    elif args.what == "cost":
        args.sizes = args.sizes or "30,60,100,200,400"
        cost(args)
    else:
        args.sizes = args.sizes or "100,200,400"
        (scaling if args.what == "scaling" else product)(args)


if __name__ == "__main__":
    main()
