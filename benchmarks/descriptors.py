"""Descriptor throughput on a 512×512 square lattice (issue 4).

    python benchmarks/descriptors.py [--size 512] [--dtype float32] [--repeats 3]

The generated torch path of `square_scalar_reference` (L = 89: the stencil tables as
constant-folded ±c sums of shifted views, `generated._support.tap_sums`) against a baseline in the same run that gathers the 89 neighbours
of every site with an index tensor and multiplies by the dense projection matrix, followed
by the same invariants. Prints sites/s for the forward pass and for forward+backward, and
the ratio. Also prints the Jacobian ranks of the catalog (completeness).
"""

from __future__ import annotations

import argparse
import time

import torch

import generated
from grouptheory import numbers


def dense_path(d, cells, device="cpu", dtype=torch.float64):
    """The dense baseline of descriptor d (one field channel, one sublattice): the neighbours
    of every site gathered by an index tensor, one projection matrix W (outputs × neighbours)
    from the embedded spec's exact taps, the generated invariants. Takes (batch, *cells)."""
    st = d.spec["stencil"]
    offsets = sorted({tuple(o) for _, _, o, _ in st["taps"][0]})
    w = torch.zeros(len(st["outputs"]), len(offsets), dtype=torch.float64)
    for k, _, o, v in st["taps"][0]:
        w[k, offsets.index(tuple(o))] += numbers.to_float(v)
    w = w.to(device=device, dtype=dtype)
    grids = torch.meshgrid(*[torch.arange(n, device=device) for n in cells], indexing="ij")
    flat = []
    for offset in offsets:
        index = torch.zeros_like(grids[0])
        for a, n in enumerate(cells):
            index = index * n + (grids[a] + offset[a]) % n
        flat.append(index)
    index = torch.stack(flat, dim=-1)

    def run(field):
        u = field.reshape(field.shape[0], -1)[:, index]   # (batch, *cells, neighbours)
        y = u @ w.T                                       # dense projection
        return d.module.invariants(list(y.unbind(-1)))
    return run


def timed(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    name = "square_scalar_reference"
    d = generated.load(name)
    n = args.size
    x = torch.randn(1, n, n, 1, 1, dtype=dtype)
    dense = dense_path(d, (n, n), dtype=dtype)

    def baseline(field):
        return dense(field[None])[0]

    def ours(field):
        return d(field, backend="torch")

    def compiled(field):
        return d(field, backend="compiled")

    sites = n * n
    print(f"square_scalar_reference (L = 89, {d.n_features} features), {n}x{n}, {args.dtype}, "
          f"{torch.get_num_threads()} threads")
    with torch.no_grad():
        ref = baseline(x[0, ..., 0, 0])
        assert torch.allclose(ref, ours(x)[0, :, :, 0], rtol=1e-3, atol=1e-3)
        t_base = timed(lambda: baseline(x[0, ..., 0, 0]), args.repeats)
        t_ours = timed(lambda: ours(x), args.repeats)
        start = time.perf_counter()
        assert torch.allclose(compiled(x), ours(x), rtol=1e-4, atol=1e-4)
        t_compile = time.perf_counter() - start
        t_comp = timed(lambda: compiled(x), args.repeats)
    xg = x.clone().requires_grad_(True)

    def fb_base():
        baseline(xg[0, ..., 0, 0]).sum().backward()

    def fb_ours():
        ours(xg).sum().backward()

    tb_base, tb_ours = timed(fb_base, args.repeats), timed(fb_ours, args.repeats)
    print(f"{'':<22}{'baseline sites/s':>18}{'generated sites/s':>19}{'ratio':>8}")
    print(f"{'forward':<22}{sites / t_base:>18.3g}{sites / t_ours:>19.3g}{t_base / t_ours:>8.2f}")
    print(f"{'forward, compiled':<22}{sites / t_base:>18.3g}{sites / t_comp:>19.3g}"
          f"{t_base / t_comp:>8.2f}   (first call compiles: {t_compile:.0f} s)")
    print(f"{'forward+backward':<22}{sites / tb_base:>18.3g}{sites / tb_ours:>19.3g}"
          f"{tb_base / tb_ours:>8.2f}")


if __name__ == "__main__":
    main()
