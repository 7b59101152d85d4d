"""ML force field against exact diagonalization for the Holstein model, in one run.

    python benchmarks/ml_vs_ed.py                       # ED vs ML at 30², 60², 100²; steps at
                                                        # 10⁴, 10⁵, 10⁶ sites
    python benchmarks/ml_vs_ed.py --sizes 12 16 --steps-sizes 16 24 --repeats 1 --threads 1

Holstein on the square lattice (g = 1.5, K0 = 1, half filling) against the ML force field
(`square_scalar_reference`, L = 89, network 128-128-64-64-32 silu, backend "torch", the lean
path, forces in blocks of --block-rows rows on lattices wider than that). The network is
untrained: its cost does not depend on the weights. Printed as Markdown tables:

1. One force evaluation (electronic energy + forces) of the same random field: `model.solve`
   (dense eigh of the N × N Hamiltonian) against `ForceField.energy_and_forces` in float64
   and float32, CPU seconds and the ratios ED/ML, with the size of the ED matrix (MiB). Best
   of --repeats after a warm-up on a small lattice; a size whose first run takes over a
   minute is run once.
2. One Langevin (BAOAB) step with ML forces, `benchmarks/ml_dynamics.py`'s `measure`: the
   warm-up (model, init and one step), then the mean of the timed steps (--steps at 10⁶ sites,
   proportionally more on smaller lattices, at most 100) in s/step and µs per site per step.

The first line names the machine (CPU, cores, torch and its threads, load average).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import torch
from ml_dynamics import measure  # benchmarks/ml_dynamics.py: this folder is on sys.path

import generated
from runtime.allocator import keep_freed_memory
from runtime.electrons import Holstein
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig

WIDTHS = (128, 128, 64, 64, 32)
LONG = 60.0  # s: a size whose first run takes longer is timed once


def machine() -> str:
    """CPU model, cores, torch version and threads, load average."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"machine: {cpu}, {os.cpu_count()} CPU(s); torch {torch.__version__}, "
            f"{torch.get_num_threads()} thread(s); load average {os.getloadavg()[0]:.2f}")


def timed(function, repeats: int) -> tuple[float, int]:
    """(best CPU time of the process, runs) of up to `repeats` calls; one call if the first
    exceeds LONG. CPU time, not wall time: on a shared machine the wall time counts the
    other jobs' time slices too (with one thread the two agree on an idle machine)."""
    times = []
    while len(times) < max(repeats, 1) and not (times and times[0] > LONG):
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return min(times), len(times)


def forcefield(block_rows: int, dtype=torch.float64) -> ForceField:
    """The untrained ML force field of the benchmark (its cost does not depend on weights),
    on the lean path in `dtype`."""
    torch.manual_seed(0)
    return ForceField(generated.load("square_scalar_reference"), NetworkConfig(WIDTHS, "silu"),
                      backend="torch", block_rows=block_rows, dtype=dtype)


def holstein(size: int) -> tuple[Holstein, torch.Tensor]:
    """The Holstein model on a size × size square lattice and a random field (batch 1)."""
    model = Holstein("square", (size, size), g=1.5, K0=1.0)
    return model, model.random_field(batch=1, seed=0)


def blocks(size: int, block_rows: int) -> str:
    """How the ML forces of a size × size lattice are evaluated."""
    return f"{block_rows} rows" if 0 < block_rows < size else "whole"


def ed_against_ml(size: int, ml: ForceField, ml32: ForceField, repeats: int) -> str:
    """Table row: one force evaluation by ED and by the ML model (float64, float32) of the
    same field."""
    model, field = holstein(size)
    ed, ed_runs = timed(lambda: model.solve(field, filling=0.5), repeats)
    fast, ml_runs = timed(lambda: ml.energy_and_forces(field), repeats)
    fast32, _ = timed(lambda: ml32.energy_and_forces(field), repeats)
    matrix = model.n_states ** 2 * model.dtype.itemsize

    def ratio(t):
        return f"{ed / t:.0f}" if ed / t >= 100 else f"{ed / t:.3g}"
    return (f"| {size}×{size} | {model.n_sites:,} | {model.n_states}² | {matrix / 2**20:.1f} | "
            f"{ed:.3g} | {fast:.3g} | {ratio(fast)} | {fast32:.3g} | {ratio(fast32)} | "
            f"{blocks(size, ml.block_rows)} | {ed_runs} / {ml_runs} |")


def step_row(size: int, block_rows: int, steps: int) -> str:
    """Table row: ML Langevin steps on a size × size lattice (`ml_dynamics.measure`)."""
    sites = size * size
    steps = min(100, max(steps, round(steps * 10**6 / sites)))
    first, per_step = measure(size, "torch", block_rows, steps, WIDTHS)
    return (f"| {size}×{size} | {sites:,} | {blocks(size, block_rows)} | {first:.3g} | {steps} | "
            f"{per_step:.3g} | {1e6 * per_step / sites:.3g} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 60, 100],
                        help="lattice sizes L (L x L) of the ED against ML comparison")
    parser.add_argument("--steps-sizes", type=int, nargs="+", default=[100, 316, 1000],
                        help="lattice sizes L of the ML time per Langevin step")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per figure (best)")
    parser.add_argument("--steps", type=int, default=2,
                        help="timed steps at 10^6 sites (more on smaller lattices)")
    parser.add_argument("--block-rows", type=int, default=64, help="rows per ML force block")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's)")
    parser.add_argument("--skip-ed", action="store_true", help="skip the ED comparison")
    parser.add_argument("--skip-steps", action="store_true", help="skip the dynamics steps")
    args = parser.parse_args()
    keep_freed_memory()  # as the latticeff commands do (runtime/allocator.py)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(machine(), flush=True)

    if not args.skip_ed:
        ml, ml32 = forcefield(args.block_rows), forcefield(args.block_rows, torch.float32)
        model, field = holstein(12)  # warm-up (library, threads): the smallest stencil fit
        model.solve(field, filling=0.5)
        ml.energy_and_forces(field)
        ml32.energy_and_forces(field)
        print(f"\nOne force evaluation (energy + forces), Holstein g = 1.5, half filling, "
              f"ED in float64, ML (lean path) in float64 and float32; best CPU time of "
              f"{args.repeats} (runs ED / ML)\n")
        print("| lattice | sites | ED matrix | ED MiB | ED s | ML f64 s | ED/ML f64 | ML f32 s | "
              "ED/ML f32 | ML forces | runs |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
              flush=True)
        for size in args.sizes:
            print(ed_against_ml(size, ml, ml32, args.repeats), flush=True)

    if not args.skip_steps:
        print("\nML Langevin (BAOAB) step, backend torch, float64; warm-up = model, init and "
              "one step; then the mean of the timed steps\n")
        print("| lattice | sites | ML forces | warm-up s | timed steps | s/step | µs/site/step |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: |", flush=True)
        for size in args.steps_sizes:
            print(step_row(size, args.block_rows, args.steps), flush=True)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(f"\npeak resident memory of the process: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
