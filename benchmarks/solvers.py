"""Seconds per configuration of the exact-diagonalization solvers (issue 5).

    python benchmarks/solvers.py                 # 30 x 30 square lattice, torch's threads
    python benchmarks/solvers.py --threads 1 --size 20 --repeats 3

For each model: the full `solve` at fixed filling 1/2 (T = 0) and in the grand-canonical
ensemble (mu = 0, T = 0.1), and the bare `torch.linalg.eigh` of the same matrix for reference.
Each figure is the best of `--repeats` timed runs, after one warm-up run. The machine load
is printed because other processes on a small machine change the figures a lot.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from runtime.electrons import SD, Holstein, JahnTeller

GOALS = {"Holstein": 0.2, "JahnTeller": None, "SD": 2.0}  # s / configuration, 30 x 30 only


def best_seconds(repeats: int, function, *args, **keywords) -> float:
    """Best wall time of `repeats` calls of function(*args, **keywords), after one warm-up."""
    function(*args, **keywords)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args, **keywords)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=30, help="cells per direction (square)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per figure")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPU(s), "
        f"load average {os.getloadavg()[0]:.2f}; square lattice {args.size} x {args.size}, "
        f"float64, best of {args.repeats}"
    )
    columns = ("model", "matrix", "filling 1/2", "mu, T=0.1", "eigh only", "goal")
    print("{:<11} {:>20} {:>12} {:>10} {:>10} {:>6}".format(*columns))
    for model in (
        Holstein("square", args.size),
        JahnTeller("square", args.size),
        SD("square", args.size),
    ):
        field = model.random_field(seed=0)
        fixed = best_seconds(args.repeats, model.solve, field, filling=0.5)
        grand = best_seconds(args.repeats, model.solve, field, mu=0.0, temperature=0.1)
        eigh = best_seconds(args.repeats, torch.linalg.eigh, model.hamiltonian(field))
        goal = GOALS[type(model).__name__] if args.size == 30 else None
        matrix = f"{model.n_states}^2 {str(model.dtype).removeprefix('torch.')}"
        print(
            f"{type(model).__name__:<11} {matrix:>20} {fixed:>10.3f} s {grand:>8.3f} s "
            f"{eigh:>8.3f} s {'' if goal is None else f'{goal:.1f} s':>6}"
        )


if __name__ == "__main__":
    main()
