"""The Triton path of every generated descriptor (hand-written, never generated).

Stage 2 is one kernel for all modules, `gather_gemm`: out[k, n] = Σ_t SRC[base(n) + OFF[t]]
· M[t, k]. Each program takes BLOCK cells; each tap t is one coalesced load of consecutive
cells from a source padded periodically once, in torch (a halo: no % wraps), and every TB
taps are summed by one tl.dot. The stencil (eqs. 18, 38, 48) is that kernel with the tap
offsets and the weights Wᵀ of the part's stencil matrix (`LeanStencil`); its backward is the
same kernel twice: the matvec ∂L/∂u_t = Σ_k W[k, t] ∂L/∂y_k at each cell first, then the
gathers ∂L/∂channel(x) = Σ_t ∂L/∂u_t(x − offset_t) (a one-hot M sorts the taps into
channels). Stage 3 is the module's `forward_kernel` / `dy_kernel` (generated from sympy):
elementwise over cells, reading and writing rows of (K or F, cells) arrays, so every load
and store is coalesced. Stage 1 of spin fields (bonds, chiralities) and its backward run in
torch. One program has BLOCK = 32 · NUM_WARPS cells: one per thread, none idle.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

NUM_WARPS = 4
BLOCK = 32 * NUM_WARPS  # cells per program, one per thread
TAPS = 16  # taps per tl.dot (its smallest inner size)


@triton.jit
def gather_gemm(SRC, OFF, M, OUT, total, n0, n1, n2, sb, s0, s1, s2, T, K,
                KP: tl.constexpr, TB: tl.constexpr, BLOCK: tl.constexpr):
    """OUT[k, n] = Σ_{t<T} SRC[base(n) + OFF[t]] · M[t, k] for k < K at BLOCK cells n of
    (batch, n0, n1, n2); base(n) = bat·sb + c0·s0 + c1·s1 + c2·s2 in the source."""
    cell = (tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)).to(tl.int64)
    mask = cell < total
    base = (cell // (n0 * n1 * n2) * sb + cell // (n1 * n2) % n0 * s0
            + cell // n2 % n1 * s1 + cell % n2 * s2)
    k = tl.arange(0, KP)
    acc = tl.zeros((BLOCK, KP), dtype=OUT.dtype.element_ty)
    for t0 in range(0, T, TB):
        t = t0 + tl.arange(0, TB)
        off = tl.load(OFF + t, mask=t < T, other=0)
        u = tl.load(SRC + base[:, None] + off[None, :], mask=mask[:, None] & (t[None, :] < T),
                    other=0.0)
        w = tl.load(M + t[:, None] * K + k[None, :], mask=(t[:, None] < T) & (k[None, :] < K),
                    other=0.0)
        acc += tl.dot(u, w, input_precision="ieee")
    tl.store(OUT + k[None, :] * total + cell[:, None], acc, mask=mask[:, None] & (k[None, :] < K))


def grid(total: int) -> tuple[int]:
    return (triton.cdiv(total, BLOCK),)


def halo(x: torch.Tensor, radius) -> torch.Tensor:
    """(rows, batch, *cells) padded periodically by `radius` on the cell axes, contiguous."""
    widths = [w for r in reversed(radius) for w in (r, r)]
    return F.pad(x, widths, mode="circular").contiguous() if any(radius) else x.contiguous()


def run(src: torch.Tensor, offsets, matrix: torch.Tensor, out: torch.Tensor, cells) -> None:
    """`gather_gemm` into `out` (K, batch·cells) from `src` (rows, batch, *padded cells);
    `offsets` (T,) are the taps' flat offsets from a cell's corner in `src`, `matrix` (T, K)."""
    pad = 3 - len(cells)
    total, k = out.shape[1], matrix.shape[1]
    gather_gemm[grid(total)](src, offsets, matrix, out, total, *([1] * pad), *cells,
                             src.stride(1), *([0] * pad), *src.stride()[2:], matrix.shape[0], k,
                             KP=max(16, triton.next_power_of_2(k)), TB=TAPS, BLOCK=BLOCK,
                             num_warps=NUM_WARPS)


def tap_offsets(lean, src: torch.Tensor, radius, sign: int, rows=None) -> torch.Tensor:
    """Flat offsets in `src` (rows, batch, *padded cells) of the taps of `lean` (a
    LeanStencil): row rows[t] (default: the tap's channel) at the cell moved by radius +
    sign·offset_t."""
    strides = src.stride()

    def make():
        values = [(c if rows is None else rows[t]) * strides[0]
                  + sum((r + sign * o) * s for r, o, s in zip(radius, offset, strides[2:]))
                  for t, (c, offset) in enumerate(lean.taps)]
        return torch.tensor(values, dtype=torch.int64, device=src.device)
    return lean._get(("offsets", tuple(src.shape), sign, rows is None, str(src.device)), make)


def forward(d, x: torch.Tensor):
    """(features (batch, *cells, S, F), stencil outputs (S, K, batch·cells)) of a
    contiguous field x (batch, *cells, S, M) for descriptor d."""
    from generated._support import channels

    cells = tuple(x.shape[1:1 + d.dimension])
    total = x.shape[0] * math.prod(cells)
    ys = x.new_empty((len(d.centers), d.n_outputs, total))  # per center sublattice
    start = 0
    for part, lean in zip(d.stencils, d._lean_parts()):
        src = halo(channels(x, part.CHANNELS, d.dimension).movedim(-1, 0), part.RADIUS)
        k = len(part.OUTPUTS)
        for s, stencil_s in enumerate(lean):
            run(src, tap_offsets(stencil_s, src, part.RADIUS, 1),
                stencil_s.weights(x).T.contiguous(), ys[s, start:start + k], cells)
        start += k
    out = x.new_empty((len(d.centers), d.n_features, total))
    for s in range(len(d.centers)):
        d.module.forward_kernel[grid(total)](ys[s], out[s], total, BLOCK=BLOCK,
                                             num_warps=NUM_WARPS)
    return out.permute(2, 0, 1).reshape(*x.shape[:1 + d.dimension], *out.shape[:2]), ys


def backward(d, x: torch.Tensor, ys: torch.Tensor, gout: torch.Tensor) -> torch.Tensor:
    """∂L/∂x from ∂L/∂features gout (batch, *cells, S, F): stage 3 transposed (dy_kernel),
    then per part and sublattice the matvec Wᵀ·∂L/∂y and the gathers at the negated
    offsets; spin channels through stage 1 transposed (torch)."""
    from generated._support import spin_backward

    cells = tuple(x.shape[1:1 + d.dimension])
    batch, total = x.shape[0], ys.shape[-1]
    g = gout.reshape(total, len(d.centers), d.n_features).permute(1, 2, 0).contiguous()
    gys = torch.empty_like(ys)
    for s in range(len(d.centers)):
        d.module.dy_kernel[grid(total)](ys[s], g[s], gys[s], total, BLOCK=BLOCK,
                                        num_warps=NUM_WARPS)
    gx, start = torch.zeros_like(x), 0
    for part, lean in zip(d.stencils, d._lean_parts()):
        k = len(part.OUTPUTS)
        gch = x.new_zeros((len(part.CHANNELS), total))
        for s, stencil_s in enumerate(lean):
            gy = gys[s, start:start + k].reshape(k, batch, *cells)
            gu = x.new_empty((len(stencil_s.taps), total))
            run(gy, torch.arange(k, device=x.device) * total, stencil_s.weights(x), gu, cells)
            src = halo(gu.reshape(-1, batch, *cells), part.RADIUS)
            share = torch.empty_like(gch)
            run(src, tap_offsets(stencil_s, src, part.RADIUS, -1, range(len(stencil_s.taps))),
                stencil_s.onehot(x), share, cells)
            gch += share
        start += k
        grads = gch.T.reshape(batch, *cells, -1)
        for c, key in enumerate(part.CHANNELS):
            if key[0] == "field":
                gx[..., key[1], key[2]] += grads[..., c]
        if any(key[0] != "field" for key in part.CHANNELS):
            gx += spin_backward(x, grads, part.CHANNELS, d.dimension)
    return gx
