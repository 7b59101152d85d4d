"""Triton kernels for a descriptor, as source text for the generated module.

Forward (one fused kernel): each program takes BLOCK cells; for every center sublattice it
gathers the channel values at the stencil offsets with periodic wrap (spin channels are
formed from the gathered spins), forms the stencil outputs y as constant-folded sums, and the
invariants in registers. Backward, without atomics (every output element is written by one
program, which gathers what it needs):
  1. dy:    G[x, s, k] = Σ_f ∂L/∂F_f · ∂F_f/∂y_k (y recomputed; derivatives by sympy);
  2. dchan: ∂L/∂channel_c(x) = Σ_taps c · G[x − offset, s, k]   (the transposed stencil);
            for fields (type I) the channels are the field itself;
  3. dspin: for spin channels, ∂L/∂S(x) from the bonds and chiralities that contain x.
First derivatives only: training (force loss) uses the torch path.
"""

from __future__ import annotations

import sympy as sp

from grouptheory.descriptors.spec import DescriptorSpec, parse_expressions

from .printers import TritonPrinter, balanced, grouped_sum, statements, stencil_lines

_P = TritonPrinter()


def _coords(dim: int) -> list[str]:
    if dim == 2:
        return ["    c1 = cell % n1", "    c0 = (cell // n1) % n0", "    bat = cell // (n0 * n1)"]
    return ["    c2 = cell % n2", "    c1 = (cell // n2) % n1", "    c0 = (cell // (n1 * n2)) % n0",
            "    bat = cell // (n0 * n1 * n2)"]


def _cell_at(offset, dim: int) -> str:
    """Flat cell index of (x + offset), periodic."""
    parts = [f"((c{a} + {o} + n{a}) % n{a})" if o else f"c{a}" for a, o in enumerate(offset)]
    index = "bat"
    for a in range(dim):
        index = f"({index} * n{a} + {parts[a]})"
    return index


def _sum(a, b):
    return tuple(x + y for x, y in zip(a, b))


def _neg(a):
    return tuple(-x for x in a)


class _Gather:
    """Emits loads of field components / spins at offsets, each once."""

    def __init__(self, dim, sublattices, components, ptr="X"):
        self.dim, self.S, self.M, self.ptr = dim, sublattices, components, ptr
        self.prefix = ptr.lower() + "_"
        self.lines, self.names = [], {}

    def value(self, offset, sub, comp) -> str:
        key = (tuple(offset), sub, comp)
        if key not in self.names:
            name = f"{self.prefix}{len(self.names)}"
            self.names[key] = name
            address = f"{_cell_at(offset, self.dim)} * {self.S * self.M} + {sub * self.M + comp}"
            self.lines.append(f"    {name} = tl.load({self.ptr} + {address}, mask=mask, "
                              "other=0.0)")
        return self.names[key]

    def spin(self, offset) -> list[str]:
        return [self.value(offset, 0, a) for a in range(self.M)]


def _channel_expr(gather: _Gather, key, offset) -> str:
    kind = key[0]
    if kind == "field":
        return gather.value(offset, key[1], key[2])
    s = gather.spin(offset)
    if kind == "length":
        return "(" + " + ".join(f"{a}*{a}" for a in s) + ")"
    if kind == "dot":
        t = gather.spin(_sum(offset, key[1]))
        return "(" + " + ".join(f"{a}*{b}" for a, b in zip(s, t)) + ")"
    b, c = gather.spin(_sum(offset, key[1])), gather.spin(_sum(offset, key[2]))
    cross = [f"({b[1]}*{c[2]} - {b[2]}*{c[1]})", f"({b[2]}*{c[0]} - {b[0]}*{c[2]})",
             f"({b[0]}*{c[1]} - {b[1]}*{c[0]})"]
    return "(" + " + ".join(f"{a}*{x}" for a, x in zip(s, cross)) + ")"


def _stencil_lines(spec, taps, gather):
    """Lines defining y0… for one center sublattice (channel values gathered)."""
    st = spec.data["stencil"]
    return stencil_lines(taps, st["outputs"],
                         lambda c, o: _channel_expr(gather, _key(st, c), o), _P, "w")


def _key(st, c):
    return tuple(tuple(x) if isinstance(x, list) else x for x in st["channels"][c])


def triton_source(spec: DescriptorSpec) -> str:
    if spec.data["special"]:
        return ("\n# The correlation-matrix eigenvalues have no closed form: no Triton kernels;\n"
                "# the torch path (torch.linalg.eigvalsh) serves every device.\n"
                "triton_forward = None\n")
    data = spec.data
    st = data["stencil"]
    dim, S = data["lattice"]["dimension"], data["lattice"]["sublattices"]
    M = len(data["field"]["components"])
    K, F = len(st["outputs"]), spec.n_features
    exprs = parse_expressions(spec)
    ys = [sp.Symbol(f"y{k}", real=True) for k in range(K)]
    sizes = ", ".join(f"n{a}" for a in range(dim))
    head = ["    pid = tl.program_id(0)", "    cell = pid * BLOCK + tl.arange(0, BLOCK)",
            "    mask = cell < total"] + _coords(dim)
    # forward
    fwd = list(head)
    inv_lines, inv_results = statements(exprs, _P, prefix="t")
    for s in range(S):
        gather = _Gather(dim, S, M)
        body = _stencil_lines(spec, st["taps"][s], gather)
        fwd += [f"    # center sublattice {s}"] + gather.lines + body + inv_lines
        fwd += [f"    tl.store(OUT + (cell * {S} + {s}) * {F} + {f}, {r}, mask=mask)"
                for f, r in enumerate(inv_results)]
    # backward 1: dL/dy
    gs = [sp.Symbol(f"g{f}", real=True) for f in range(F)]
    dy = [sp.Add(*[g * sp.diff(e, y) for g, e in zip(gs, exprs)]) for y in ys]
    dy_lines, dy_results = statements(dy, _P, prefix="t")
    bwd1 = list(head)
    for s in range(S):
        gather = _Gather(dim, S, M)
        body = _stencil_lines(spec, st["taps"][s], gather)
        loads = [f"    g{f} = tl.load(GOUT + (cell * {S} + {s}) * {F} + {f}, mask=mask, "
                 "other=0.0)" for f in range(F)]
        bwd1 += [f"    # center sublattice {s}"] + gather.lines + body + loads + dy_lines
        bwd1 += [f"    tl.store(GY + (cell * {S} + {s}) * {K} + {k}, {r}, mask=mask)"
                 for k, r in enumerate(dy_results)]
    # backward 2: transposed stencil → channel gradients
    channels = [_key(st, c) for c in range(len(st["channels"]))]
    gathered: dict = {}
    for s in range(S):
        for k, c, o, v in st["taps"][s]:
            gathered.setdefault(c, []).append((v, s, k, tuple(o)))
    bwd2 = list(head)
    gy = _Gather(dim, S, K, ptr="GY")
    for c, key in enumerate(channels):
        terms = [(v, gy.value(_neg(o), s, k)) for v, s, k, o in gathered.get(c, [])]
        total = grouped_sum(terms, _P)
        if key[0] == "field":
            target = f"GX + cell * {S * M} + {key[1] * M + key[2]}"
        else:
            target = f"GC + cell * {len(channels)} + {c}"
        bwd2.append(f"    acc{c} = {total}")
        bwd2.append(f"    tl.store({target}, acc{c}, mask=mask)")
    bwd2 = bwd2[:len(head)] + gy.lines + bwd2[len(head):]
    spin = data["field"]["internal"] or any(k[0] != "field" for k in channels)
    bwd3 = _spin_backward(channels, dim, M, head) if spin else None
    return _module_text(spec, sizes, fwd, bwd1, bwd2, bwd3, S, M, K, F, len(channels), dim)


def _spin_backward(channels, dim, M, head):
    """∂L/∂S(x) from the channel gradients GC (bonds, chiralities, lengths through x)."""
    gather = _Gather(dim, 1, M)
    grads = _Gather(dim, 1, len(channels), ptr="GC")
    acc = [[] for _ in range(M)]
    for c, key in enumerate(channels):
        zero = (0,) * dim
        if key[0] == "length":
            g, s = grads.value(zero, 0, c), gather.spin(zero)
            for a in range(M):
                acc[a].append(f"2.0*{g}*{s[a]}")
        elif key[0] == "dot":
            d = key[1]
            for shift, partner in ((zero, d), (_neg(d), _neg(d))):
                g, s = grads.value(shift, 0, c), gather.spin(partner)
                for a in range(M):
                    acc[a].append(f"{g}*{s[a]}")
        elif key[0] == "triple":
            d1, d2 = key[1], key[2]
            # t(z) = S(z)·(S(z+d1)×S(z+d2)); x plays z, z+d1 or z+d2
            for z, (b_off, c_off) in ((zero, (d1, d2)), (_neg(d1), (_sum(_neg(d1), d2), _neg(d1))),
                                      (_neg(d2), (_neg(d2), _sum(_neg(d2), d1)))):
                g, b, c_ = grads.value(z, 0, c), gather.spin(b_off), gather.spin(c_off)
                cross = [f"({b[1]}*{c_[2]} - {b[2]}*{c_[1]})", f"({b[2]}*{c_[0]} - {b[0]}*{c_[2]})",
                         f"({b[0]}*{c_[1]} - {b[1]}*{c_[0]})"]
                for a in range(M):
                    acc[a].append(f"{g}*{cross[a]}")
    lines = list(head) + gather.lines + grads.lines
    for a in range(M):
        lines.append(f"    tl.store(GX + cell * {M} + {a}, {balanced(acc[a]) or '0.0'}, "
                     "mask=mask)")
    return lines


def _module_text(spec, sizes, fwd, bwd1, bwd2, bwd3, S, M, K, F, C, dim):
    def kernel(name, args, body):
        return (f"\n\n@triton.jit\ndef {name}({args}, {sizes}, total, BLOCK: tl.constexpr):\n"
                + "\n".join(body) + "\n")

    text = ["\n\nimport triton  # noqa: E402", "import triton.language as tl  # noqa: E402",
            "\nBLOCK = 64"]
    text.append(kernel("_forward_kernel", "X, OUT", fwd))
    text.append(kernel("_dy_kernel", "X, GOUT, GY", bwd1))
    text.append(kernel("_dchannel_kernel", "GY, GX, GC", bwd2))
    if bwd3:
        text.append(kernel("_dspin_kernel", "X, GC, GX", bwd3))
    cells = f"x.shape[1:{1 + dim}]"
    text.append(f'''

def triton_forward(x):
    """Features of a contiguous (batch, *cells, {S}, {M}) field with the Triton kernels."""
    cells = {cells}
    total = x.shape[0] * int(torch.tensor(cells).prod())
    out = torch.empty((*x.shape[:{1 + dim}], {S}, {F}), dtype=x.dtype, device=x.device)
    grid = (triton.cdiv(total, BLOCK),)
    _forward_kernel[grid](x, out, *cells, total, BLOCK=BLOCK)
    return out


def triton_backward(x, gout):
    """∂L/∂x from ∂L/∂features, gathered (no atomics)."""
    cells = {cells}
    total = x.shape[0] * int(torch.tensor(cells).prod())
    grid = (triton.cdiv(total, BLOCK),)
    gy = torch.empty((*x.shape[:{1 + dim}], {S}, {K}), dtype=x.dtype, device=x.device)
    _dy_kernel[grid](x, gout, gy, *cells, total, BLOCK=BLOCK)
    gx = torch.zeros_like(x)
    gc = torch.empty((*x.shape[:{1 + dim}], {C}), dtype=x.dtype, device=x.device)
    _dchannel_kernel[grid](gy, gx, gc, *cells, total, BLOCK=BLOCK)
''' + ('''    _dspin_kernel[grid](x, gc, gx, *cells, total, BLOCK=BLOCK)
''' if bwd3 else "") + '''    return gx
''')
    return "\n".join(text)
