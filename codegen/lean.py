"""Stage 3 for the lean torch path: the invariants grouped into a few batched ops.

Features whose expressions are the same function of their (index-sorted) outputs — the power
spectrum of every copy r of an irrep, the reference-IR projections of every E pair, … — form
one group: their outputs are gathered as rows of the (K, N) tensor Y (slot a_j of every
member; a view when the rows are an arithmetic progression, one (1, N) row broadcast when a
slot reads the same output for every member), the shared expression is evaluated once on
(members, N) tensors, and its partial derivatives (sympy, at codegen time) give the backward:
∂L/∂Y[rows of slot j] += g · ∂T/∂a_j (index_add_ into one zero tensor, so shared outputs
accumulate, a broadcast row's members summed first; not in place on views, whose autograd
copies the whole tensor per op when training differentiates through it). A group is
a handful of ops whatever its size, so stage 3 costs a few dozen ops per call, not one per
term.
"""

from __future__ import annotations

import re

import sympy as sp

from .printers import comment, statements


def _index(name: str, rows: list[int], broadcast: bool = False) -> str | None:
    """The rows of a tensor `name` as a view when they are an arithmetic progression (a
    slice, with a step when it is not 1), with `broadcast` one row repeated as that row
    (1, N) (broadcasting in the expressions), else None."""
    if len(set(rows)) == 1 and len(rows) > 1:
        return f"{name}[{rows[0]}:{rows[0] + 1}]" if broadcast else None
    step = rows[1] - rows[0] if len(rows) > 1 else 1
    if step > 0 and rows == list(range(rows[0], rows[0] + step * len(rows), step)):
        stop = rows[-1] + 1
        return f"{name}[{rows[0]}:{stop}]" if step == 1 else f"{name}[{rows[0]}:{stop}:{step}]"
    return None


class _Constants:
    """Module-level index tensors, one per distinct row list."""

    def __init__(self):
        self.names: dict[tuple, str] = {}

    def rows(self, tensor: str, rows: list[int], broadcast: bool = False) -> str:
        text = _index(tensor, rows, broadcast)
        return text if text is not None else f"{tensor}[{self.index(rows)}]"

    def index(self, rows: list[int]) -> str:
        """The name of the index tensor of `rows`."""
        key = tuple(rows)
        if key not in self.names:
            self.names[key] = f"_I{len(self.names)}"
        return self.names[key]

    def lines(self) -> list[str]:
        return [f"{name} = torch.tensor({list(key)})" for key, name in self.names.items()]


def groups(exprs) -> list[tuple[sp.Expr, list[int], list[list[int]]]]:
    """[(template in a0, a1, …, features, slot rows: slots × members)] in order of first
    appearance."""
    found: dict = {}
    for f, e in enumerate(exprs):
        syms = sorted(e.free_symbols, key=lambda s: int(s.name[1:]))
        slots = [sp.Symbol(f"a{j}", real=True) for j in range(len(syms))]
        template = e.xreplace(dict(zip(syms, slots)))
        entry = found.setdefault(template, ([], [[] for _ in syms]))
        entry[0].append(f)
        for j, s in enumerate(syms):
            entry[1][j].append(int(s.name[1:]))
    return [(t, fs, rows) for t, (fs, rows) in found.items()]


def _hoisted(exprs, narrow: set) -> tuple[list, list]:
    """([(symbol b_k, product)], exprs with the factors of each product that depend only on
    the `narrow` slots (broadcast (1, N) rows) replaced by one b_k): a narrow product costs
    one (1, N) op per factor, not one (members, N) op."""
    found: dict = {}

    def walk(e):
        if e.is_Atom:
            return e
        args = [walk(a) for a in e.args]
        if e.is_Mul:
            thin = [a for a in args if a.free_symbols <= narrow]
            wide = [a for a in args if not a.free_symbols <= narrow]
            if wide and len(thin) > 1:
                product = sp.Mul(*thin)
                symbol = found.setdefault(product, sp.Symbol(f"b{len(found)}", real=True))
                return sp.Mul(*wide, symbol)
        return e.func(*args)

    new = [walk(e) for e in exprs]
    return [(symbol, product) for product, symbol in found.items()], new


def _statements(exprs, narrow: set) -> tuple[list[str], list]:
    """`printers.statements` of exprs with their narrow products hoisted (`_hoisted`)."""
    products, exprs = _hoisted(exprs, narrow)
    lines = []
    if products:
        plines, presults = statements([p for _, p in products], prefix="u")
        lines = plines + [f"    {symbol} = {text}{comment(note)}"
                          for (symbol, _), (text, note) in zip(products, presults)]
    more, results = statements(exprs, prefix="t")
    return lines + more, results


def lean_code(exprs, names: list[str]) -> dict:
    """Template variables: index constants and the bodies of lean_features(Y) -> (F, N) and
    lean_dfeatures(Y, G) -> (K, N)."""
    constants = _Constants()
    forward, backward, order = [], ["    dY = torch.zeros_like(Y)"], []
    for n, (template, features, rows) in enumerate(groups(exprs)):
        order += features
        label = ", ".join(names[f] for f in features[:3]) + (", …" if len(features) > 3 else "")
        head = [f"    # group {n}: {len(features)} feature(s) {label}"]
        slots = [sp.Symbol(f"a{j}", real=True) for j in range(len(rows))]
        loads = [f"    a{j} = {constants.rows('Y', r, broadcast=True)}"
                 for j, r in enumerate(rows)]
        if not slots:  # a constant feature
            value = statements([template])[1][0][0]
            forward += head + [f"    r{n} = Y[:1].expand({len(features)}, -1) * 0.0 + {value}"]
            continue
        narrow = {a for a, r in zip(slots, rows) if len(set(r)) == 1 < len(r)}
        lines, results = _statements([template], narrow)
        result = results[0][0]
        if len(features) > 1 and all(len(set(r)) == 1 for r in rows):  # every slot broadcast
            result = f"({result}).expand({len(features)}, -1)"
        forward += head + loads + lines + [f"    r{n} = {result}"]
        g = sp.Symbol("g", real=True)
        dlines, dresults = _statements([g * sp.diff(template, a) for a in slots], narrow)
        used = " ".join(dlines + [text for text, _ in dresults])
        backward += head + [line for j, line in enumerate(loads)
                            if re.search(rf"\ba{j}\b", used)]
        backward += [f"    g = {constants.rows('G', features)}"] + dlines
        for j, (text, _) in enumerate(dresults):
            if len(set(rows[j])) == 1 < len(rows[j]):  # a broadcast row: members summed
                index, text = constants.index(rows[j][:1]), f"({text}).sum(0, keepdim=True)"
            else:
                index = constants.index(rows[j])
            backward.append(f"    dY.index_add_(0, {index}, {text})")
    count = len(groups(exprs))
    cat = (f"torch.cat(({''.join(f'r{n}, ' for n in range(count))}))" if count > 1
           else "r0")
    perm = [order.index(f) for f in range(len(order))]
    forward.append(f"    return {cat}" if perm == list(range(len(perm))) else
                   f"    return {cat}[{constants.rows('X', perm).removeprefix('X[')}")
    return {"lean_constants": constants.lines(), "lean_forward": forward,
            "lean_backward": [*backward, "    return dY"]}

