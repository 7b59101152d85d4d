"""Seconds per configuration of exact diagonalization, eigensolvers side by side (issue 3).

    python benchmarks/solvers.py                          # 30 x 30, one thread, every solver
    python benchmarks/solvers.py --sizes 30 60 --budget 300
    python benchmarks/solvers.py --threads 2 --sizes 20 --repeats 3

For each model (Holstein: real, one orbital; Jahn–Teller: real symmetric, two orbitals; s-d:
complex Hermitian, two orbitals) and square-lattice size, the eigendecomposition of the same
Hamiltonian with each eigensolver of `runtime.electrons.diagonalization.EIGENSOLVERS`
(torch = MKL dsyevd/zheevd; numpy = OpenBLAS dsyevd/zheevd; scipy driver evd and evr), timed
in interleaved rounds so that a change of machine load hits every solver alike; then the
on-site density from the eigenvectors, the old per-site products (baseline) against
`onsite_density`; then the whole `solve` at filling 1/2 with the default solver. Each figure
is the best of `--repeats` rounds (after a warm-up round below 2000 states). A solver whose
time, extrapolated as M^3 from the previous size, exceeds `--budget` seconds is skipped and
its estimate printed in parentheses. The machine load is printed before and after: other
processes on a small machine change the figures a lot.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from runtime.electrons import SD, Holstein, JahnTeller
from runtime.electrons.diagonalization import (
    DEFAULT_EIGENSOLVER,
    EIGENSOLVERS,
    eigh,
    onsite_density,
)
from runtime.electrons.ensembles import ensemble

MODELS = {"Holstein": Holstein, "JahnTeller": JahnTeller, "SD": SD}


def per_site_density(vectors, occupations, orbitals):
    """The baseline: one (d x M) @ (M x d) product per site (the code before issue 3)."""
    batch, m = occupations.shape
    rows = vectors.reshape(batch, m // orbitals, orbitals, m)
    return (rows * occupations[:, None, None, :].to(rows.dtype)) @ rows.conj().transpose(-1, -2)


def seconds(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def best(rounds: int, warm: bool, functions: dict) -> dict:
    """Best time of each of `functions` (name -> zero-argument callable) over `rounds`
    interleaved rounds, after one warm-up round if `warm`."""
    times = {name: [] for name in functions}
    for r in range(rounds + warm):
        for name, function in functions.items():
            t = seconds(function)
            if r >= warm:
                times[name].append(t)
    return {name: min(t) for name, t in times.items()}


def available(solvers):
    try:
        import scipy.linalg  # noqa: F401
    except ImportError:
        return [s for s in solvers if not s.startswith("scipy")]
    return list(solvers)


def measure(model, solvers, previous, args):
    """(eigh seconds per solver, extrapolated seconds of the skipped ones, density seconds old
    and new, solve seconds) of one model; `previous` (solver -> (M, seconds)) is updated."""
    m = model.n_states
    field = model.random_field(seed=0)
    hamiltonian = model.hamiltonian(field)[None]
    warm = m < 2000
    run, skipped, results = {}, {}, {}
    for solver in solvers:
        if solver in previous:
            m0, t0 = previous[solver]
            estimate = t0 * (m / m0) ** 3
            if estimate > args.budget:
                skipped[solver] = estimate
                continue
        run[solver] = lambda s=solver: results.__setitem__(s, eigh(hamiltonian, s))
    times = best(args.repeats if warm else 1, warm, run)
    for solver, t in times.items():
        previous[solver] = (m, t)
    for solver, estimate in skipped.items():
        previous[solver] = (m, estimate)
    values, vectors = results.get("torch") or eigh(hamiltonian)
    for solver, (other, _) in results.items():  # the same spectrum from every solver
        assert torch.allclose(other, values, atol=1e-9 * values.abs().max()), solver
    results.clear()
    occupations = ensemble(m, 0.5).occupy(values)[0]
    density = best(args.repeats, True, {
        "old": lambda: per_site_density(vectors, occupations, model.orbitals),
        "new": lambda: onsite_density(vectors, occupations, model.orbitals)})
    solve = best(args.repeats if warm else 1, warm,
                 {"solve": lambda: model.solve(field, filling=0.5)})["solve"]
    return times, skipped, density, solve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30],
                        help="cells per direction (square lattice), e.g. 30 60")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--solvers", nargs="+", default=list(EIGENSOLVERS),
                        choices=list(EIGENSOLVERS))
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds per figure")
    parser.add_argument("--threads", type=int, default=1, help="torch (and OpenBLAS) threads")
    parser.add_argument("--budget", type=float, default=float("inf"),
                        help="skip a solver whose extrapolated time exceeds this (seconds)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    solvers = available(args.solvers)

    import numpy
    try:
        import scipy
        scipy_version = scipy.__version__
    except ImportError:
        scipy_version = "not installed"
    print(f"torch {torch.__version__}, numpy {numpy.__version__}, scipy {scipy_version}; "
          f"{torch.get_num_threads()} thread(s), {os.cpu_count()} CPU(s), load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; square lattice, float64/complex128, "
          f"best of {args.repeats}")
    header = ["model", "size", "M", "dtype", *solvers, "fastest", "density old", "new",
              "solve"]
    print(" ".join(f"{h:>11}" for h in header))
    for name in args.models:
        previous: dict[str, tuple[int, float]] = {}
        for size in args.sizes:
            model = MODELS[name]("square", size)
            times, skipped, density, solve = measure(model, solvers, previous, args)
            m = model.n_states
            cells = [f"{times[s]:.3f}" if s in times else f"({skipped[s]:.0f})" for s in solvers]
            fastest = min(times, key=times.get) if times else "-"
            row = [name, f"{size}x{size}", str(m), str(model.dtype).removeprefix("torch."),
                   *cells, fastest, f"{density['old']:.4f}", f"{density['new']:.4f}",
                   f"{solve:.3f}"]
            print(" ".join(f"{c:>11}" for c in row), flush=True)
    print(f"seconds per configuration; solve = eigh ({DEFAULT_EIGENSOLVER}) + occupations + "
          f"density + forces; load average after "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
