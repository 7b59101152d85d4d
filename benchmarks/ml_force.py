"""The lean ML force path against today's path (the baseline), side by side in one run.

    python benchmarks/ml_force.py --threads 1            # then --threads 2
    python benchmarks/ml_force.py --threads 1 --sizes 30 100 --dynamics-size 1000 --repeats 3

Model: `square_scalar_reference` (L = 89, 92 features) with the paper's network 128-128-64-64-32
silu (untrained: the cost does not depend on the weights). Baseline = today's path, kept in the
same module: `ForceField(..., path="autograd")`, float64, features by the per-tap torch
descriptor and forces by autograd. Lean = the default path: the stencil as im2col + GEMM
(col2im for its transpose), grouped stage 3 with its generated backward, the network's
hand-written backward with the standardizer folded into the first layer, inference mode; in
float64 and float32. Times are CPU seconds of the process (--clock cpu, the default: the
machine is shared) or wall seconds (--clock wall). Printed (Markdown tables):

1. One force evaluation (energy + forces), best of --repeats, interleaved with the baseline:
   ms, ratio baseline/lean, the force error of float32 against float64 (relative, max-norm).
2. Roofline at each size: the network's own GEMMs (forward and input-gradient shapes, CHUNK
   rows at a time like the lean path) timed alone in the same run, a 1024³ GEMM as the peak,
   and the achieved GFLOP/s of the lean path (network + stencil GEMM flops over its time).
3. ML Langevin (BAOAB) step at --dynamics-size² sites (blocks of --dynamics-block-rows
   rows), lean float32 and float64, µs per site per step (baseline: --baseline-dynamics).
4. Training throughput (force loss + energy loss, batch of 8 snapshots of 30×30, Adam
   step): sites × snapshots per second for the baseline (double backward through autograd),
   lean float64 and lean float32 (create_graph through the hand-written backward).
"""

from __future__ import annotations

import argparse
import os
import time
from itertools import pairwise

import torch

import generated
from runtime.allocator import keep_freed_memory
from runtime.dynamics.forces import TotalForce
from runtime.dynamics.integrators import Langevin
from runtime.electrons.elastic import Elastic
from runtime.ml.forcefield import ForceField
from runtime.ml.network import CHUNK, NetworkConfig

WIDTHS = (128, 128, 64, 64, 32)
NAME = "square_scalar_reference"


def model(path="lean", dtype=torch.float64, block_rows=0) -> ForceField:
    torch.manual_seed(0)
    return ForceField(generated.load(NAME), NetworkConfig(WIDTHS, "silu"), path=path,
                      dtype=dtype, block_rows=block_rows)


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = ["cpu"]  # --clock


def clock() -> float:
    """Seconds by --clock: "cpu" (default) = CPU time of this process, all its threads (on a
    shared machine the wall time counts the other jobs' time slices too; with two threads it
    is the sum over both, so it shows the work, not the wall-time gain), or "wall"."""
    return CLOCKS[CLOCK[0]]()


def best(functions: dict, repeats: int) -> dict:
    """{name: best CPU seconds}, the functions called in turn (interleaved) after a
    warm-up."""
    for f in functions.values():
        f()
    times = {k: float("inf") for k in functions}
    for _ in range(repeats):
        for k, f in functions.items():
            start = clock()
            f()
            times[k] = min(times[k], clock() - start)
    return times


def network_flops(n_in: int, sites: int) -> float:
    """Forward and input-gradient GEMM flops of the network for `sites` sites."""
    sizes = (n_in, *WIDTHS)
    per_site = sum(a * b for a, b in pairwise(sizes)) * 2 + WIDTHS[-1]
    return 2.0 * per_site * sites


def stencil_flops(d, sites: int) -> float:
    """Forward and transposed stencil flops (multiply-adds per cell: those of W's blocks on
    the im2col path, outputs × taps on the gather path)."""
    def per_cell(s):
        if s.conv:
            return sum(len(outputs) * len(taps) for blocks in s._shapes
                       for outputs, taps in blocks)
        return s.n_outputs * len(s.taps)
    return 2.0 * sum(2 * per_cell(s) for lean in d._lean_parts() for s in lean) * sites


def gemm_alone(sites: int, dtype, repeats: int) -> float:
    """CPU seconds of the network's own GEMMs at the shapes of the lean path (forward and
    input-gradient, CHUNK sites at a time) timed alone."""
    sizes = (generated.load(NAME).n_features, *WIDTHS)
    rows = [min(CHUNK, sites - start) for start in range(0, sites, CHUNK)]
    xs = [torch.randn(CHUNK, a, dtype=dtype) for a in sizes[:-1]]
    gs = [torch.randn(CHUNK, b, dtype=dtype) for b in sizes[1:]]
    ws = [torch.randn(b, a, dtype=dtype) for a, b in pairwise(sizes)]
    bs = [torch.randn(b, dtype=dtype) for b in sizes[1:]]

    def run():
        for n in rows:
            for x, w, b in zip(xs, ws, bs):
                torch.addmm(b, x[:n], w.T)
            for g, w in zip(gs, ws):
                g[:n] @ w
    return best({"gemm": run}, repeats)["gemm"]


def peak(dtype, repeats: int, n: int = 1024) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2.0 * n ** 3 / best({"peak": lambda: a @ b}, repeats)["peak"] / 1e9


def force_tables(sizes, repeats: int) -> None:
    base = model("autograd")
    lean64, lean32 = model(), model(dtype=torch.float32)
    d = base.descriptor
    peaks = {torch.float64: peak(torch.float64, repeats), torch.float32: peak(torch.float32,
                                                                               repeats)}
    print("\n1. One ML force evaluation (energy + forces); best of", repeats, "interleaved\n")
    print("| lattice | baseline f64 ms | lean f64 ms | ratio | lean f32 ms | ratio | "
          "f32 force error |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    roof = []
    for n in sizes:
        x = torch.randn(1, n, n, 1, 1, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(n))
        t = best({key: (lambda ff=ff, x=x: ff.energy_and_forces(x))
                  for key, ff in (("base", base), ("f64", lean64), ("f32", lean32))}, repeats)
        f64, f32 = lean64.forces(x), lean32.forces(x)
        error = float((f32 - f64).abs().max() / f64.abs().max())
        print(f"| {n}×{n} | {1e3 * t['base']:.3g} | {1e3 * t['f64']:.3g} | "
              f"{t['base'] / t['f64']:.2f} | {1e3 * t['f32']:.3g} | {t['base'] / t['f32']:.2f} | "
              f"{error:.1e} |", flush=True)
        sites = n * n
        flops = network_flops(d.n_features, sites) + stencil_flops(d, sites)
        for dtype, key in ((torch.float64, "f64"), (torch.float32, "f32")):
            g = gemm_alone(sites, dtype, repeats)
            roof.append((n, str(dtype).removeprefix("torch."), flops / t[key] / 1e9,
                         network_flops(d.n_features, sites) / g / 1e9, peaks[dtype],
                         g / t[key]))
    print("\n2. Roofline: GFLOP/s of the lean path (network + stencil GEMM flops / its time), "
          "of the network's GEMMs alone (same shapes), and the peak (1024³ GEMM), this run\n")
    print("| lattice | dtype | lean GFLOP/s | shape-GEMM GFLOP/s | peak GFLOP/s | "
          "lean % of peak | shape-GEMM time / lean time |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for n, dtype, achieved, shape, top, fraction in roof:
        print(f"| {n}×{n} | {dtype} | {achieved:.1f} | {shape:.1f} | {top:.1f} | "
              f"{100 * achieved / top:.0f} % | {100 * fraction:.0f} % |")


def dynamics(size: int, steps: int, baseline: bool, block_rows: int) -> None:
    print(f"\n3. ML Langevin (BAOAB) step, {size}×{size} = {size * size:,} sites, blocks of "
          f"{block_rows} rows; mean of {steps} timed step(s) after one\n")
    print("| path | s/step | µs/site/step |")
    print("| --- | ---: | ---: |")
    runs = [("lean float32", model(dtype=torch.float32, block_rows=block_rows)),
            ("lean float64", model(block_rows=block_rows))]
    if baseline:
        runs.append(("baseline (autograd, float64)", model("autograd", block_rows=block_rows)))
    for label, ff in runs:
        forces = TotalForce(ff, Elastic("square", (size, size), K0=1.0))
        integrator = Langevin(dt=0.05, mass=1.0, damping=0.5, temperature=0.05)
        field = torch.randn(1, size, size, 1, 1, dtype=torch.float64)
        with torch.no_grad():
            state = integrator.step(integrator.init(field, forces, seed=1), forces)
            start = clock()
            for _ in range(steps):
                state = integrator.step(state, forces)
            per_step = (clock() - start) / steps
        print(f"| {label} | {per_step:.3g} | {1e6 * per_step / size ** 2:.3g} |", flush=True)


def training(repeats: int, batch: int = 8, size: int = 30) -> None:
    from runtime.ml.training import TrainingData, _loss_terms

    gen = torch.Generator().manual_seed(0)
    data = TrainingData(torch.randn(batch, size, size, 1, 1, generator=gen,
                                    dtype=torch.float64),
                        torch.randn(batch, size, size, 1, 1, generator=gen,
                                    dtype=torch.float64),
                        torch.randn(batch, generator=gen, dtype=torch.float64),
                        torch.zeros(batch, dtype=torch.int64))
    index = torch.arange(batch)

    def step(ff, dtype):
        optimizer = torch.optim.Adam(ff.parameters(), lr=1e-4)

        def run():
            optimizer.zero_grad()
            ff.dtype = dtype
            force_mse, energy_mse = _loss_terms(ff, data, index, create_graph=True)
            (force_mse + 0.1 * energy_mse).backward(
                inputs=[p for p in ff.parameters() if p.requires_grad])
            optimizer.step()
        return run

    t = best({"base": step(model("autograd"), torch.float64),
              "f64": step(model(), torch.float64),
              "f32": step(model(), torch.float32)}, repeats)
    rate = {k: batch * size * size / v for k, v in t.items()}
    print(f"\n4. Training step (force + energy loss, batch {batch} × {size}×{size}, Adam), "
          f"best of {repeats}\n")
    print("| path | s/batch | sites × snapshots / s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for label, key in (("baseline (autograd double backward, float64)", "base"),
                       ("lean float64 (create_graph)", "f64"),
                       ("lean float32 (create_graph)", "f32")):
        print(f"| {label} | {t[key]:.3g} | {rate[key]:.3g} | {t['base'] / t[key]:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dynamics-size", type=int, default=1000)
    parser.add_argument("--dynamics-steps", type=int, default=1)
    parser.add_argument("--dynamics-block-rows", type=int, default=64,
                        help="rows per force block (64: the simulate default)")
    parser.add_argument("--clock", choices=list(CLOCKS), default="cpu")
    parser.add_argument("--baseline-dynamics", action="store_true")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["forces", "dynamics", "training"])
    args = parser.parse_args()
    keep_freed_memory()  # as the latticeff commands do (runtime/allocator.py)
    torch.set_num_threads(args.threads)
    CLOCK[0] = args.clock
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} "
          f"CPU(s), load average {os.getloadavg()[0]:.2f}; {NAME}, network {list(WIDTHS)}; "
          f"{args.clock} time")
    if "forces" not in args.skip:
        force_tables(args.sizes, args.repeats)
    if "training" not in args.skip:
        training(args.repeats)
    if "dynamics" not in args.skip:
        dynamics(args.dynamics_size, args.dynamics_steps, args.baseline_dynamics,
                 args.dynamics_block_rows)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
