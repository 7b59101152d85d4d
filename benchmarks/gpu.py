"""The Triton kernels on a GPU against the torch path and the dense baseline (issue 15).

    python benchmarks/gpu.py [--name square_scalar_reference] [--size 512] [--batch 1]
                             [--dtype float32] [--repeats 20] [--peak-bandwidth GB/s]

For each path, forward and forward+backward on one CUDA device: the time, sites/s, the
effective bandwidth (the compulsory bytes — the field and the features read or written once
each, and for the backward ∂L/∂features read and ∂L/∂field written once — over the time)
and its fraction of the device's peak HBM bandwidth: 2 × memory clock × bus width from the
device properties, or --peak-bandwidth. Paths: `triton` (generated._triton), `torch` (the
reference path: gather + GEMM + the generated invariants), `dense` (every neighbour gathered
by an index tensor, one dense projection, the same invariants: the baseline of
benchmarks/descriptors.py). The dense baseline needs one field channel and one sublattice.

Without a CUDA device (or under TRITON_INTERPRET=1) it says so in one line and exits 0: the
interpreter is not timed.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import torch
from descriptors import dense_path  # benchmarks/descriptors.py: the same baseline

import generated
from runtime.errors import LatticeffError


class BenchmarkError(LatticeffError):
    """Arguments the benchmark cannot run with."""


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="square_scalar_reference")
    parser.add_argument("--size", type=int, default=512, help="cells per axis")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--peak-bandwidth", type=float, default=None,
                        help="device peak bandwidth in GB/s (default: device properties)")
    args = parser.parse_args(argv)
    if args.name not in generated.available():
        raise BenchmarkError(f"--name {args.name!r} is not a generated descriptor; available: "
                             f"{', '.join(generated.available())}")
    if not generated.load(args.name).has_triton:
        raise BenchmarkError(f"--name {args.name}: this descriptor has no Triton kernels")
    for option in ("size", "batch", "repeats"):
        if getattr(args, option) < 1:
            raise BenchmarkError(f"--{option} must be a positive integer")
    if args.peak_bandwidth is not None and not (math.isfinite(args.peak_bandwidth)
                                                and args.peak_bandwidth > 0):
        raise BenchmarkError("--peak-bandwidth must be a positive number of GB/s")
    return args


def peak_bandwidth(device: int = 0) -> float | None:
    """Bytes/s of the device's memory from its properties (None if they do not say)."""
    props = torch.cuda.get_device_properties(device)
    clock, width = (getattr(props, "memory_clock_rate", None),
                    getattr(props, "memory_bus_width", None))
    return 2.0 * clock * 1e3 * width / 8 if clock and width else None


def timed(fn, repeats: int) -> float:
    """Median seconds of fn() by CUDA events, after one warm-up call (Triton compiles)."""
    fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]


def main(argv=None) -> int:
    try:
        args = arguments(argv)
    except LatticeffError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if os.environ.get("TRITON_INTERPRET") == "1" or not torch.cuda.is_available():
        print("gpu benchmark: no CUDA device here (or TRITON_INTERPRET=1): nothing timed")
        return 0
    d = generated.load(args.name)
    dtype, device = getattr(torch, args.dtype), torch.device("cuda")
    cells = (args.size,) * d.dimension
    x = torch.randn((args.batch, *cells, d.sublattices, d.components), device=device,
                    dtype=dtype)
    sites = args.batch * math.prod(cells) * d.sublattices
    item = x.element_size()
    forward_bytes = sites * (d.components + d.n_features) * item
    backward_bytes = forward_bytes + sites * (d.n_features + d.components) * item
    peak = args.peak_bandwidth * 1e9 if args.peak_bandwidth else peak_bandwidth()
    paths = {"triton": lambda z: d(z, backend="triton"), "torch": lambda z: d(z, backend="torch")}
    if d.sublattices == 1 and d.components == 1 and all(
            k[0] == "field" for p in d.stencils for k in p.CHANNELS):
        dense = dense_path(d, cells, device, dtype)
        paths["dense"] = lambda z: dense(z[..., 0, 0])[..., None, :]
    props = torch.cuda.get_device_properties(0)
    print(f"{args.name} ({d.n_features} features), {args.batch} × {'×'.join(map(str, cells))}, "
          f"{args.dtype}, {props.name}; peak bandwidth "
          + (f"{peak / 1e9:.0f} GB/s" if peak else "unknown (give --peak-bandwidth)"))
    reference = paths["torch"](x).detach()
    print(f"{'path':<8}{'pass':<18}{'ms':>9}{'sites/s':>11}{'GB/s':>8}{'of peak':>9}")
    for name, path in paths.items():
        error = (path(x) - reference).abs().max() / reference.abs().max()
        if error > (1e-4 if dtype == torch.float32 else 1e-10):
            raise SystemExit(f"{name} path disagrees with the torch path: {float(error):.2e}")
        xg = x.clone().requires_grad_(True)
        weights = torch.randn_like(reference)

        def both(path=path, xg=xg, weights=weights):
            (path(xg) * weights).sum().backward()
        for label, fn, nbytes in (("forward", lambda path=path: path(x), forward_bytes),
                                  ("forward+backward", both, backward_bytes)):
            with torch.no_grad() if label == "forward" else torch.enable_grad():
                seconds = timed(fn, args.repeats)
            rate = nbytes / seconds
            share = f"{rate / peak:>8.1%}" if peak else f"{'n/a':>8}"
            print(f"{name:<8}{label:<18}{seconds * 1e3:>9.3f}{sites / seconds:>11.3g}"
                  f"{rate / 1e9:>8.1f} {share}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
