"""Stage 3 for the lean torch path: the invariants grouped into a few batched ops.

Features whose expressions are the same function of their (index-sorted) outputs — the power
spectrum of every copy r of an irrep, the reference-IR projections of every E pair, … — form
one group: their outputs are gathered as rows of the (K, N) tensor Y (slot a_j of every
member; a view when the rows are an arithmetic progression), the shared expression is
evaluated once on (members, N) tensors, and its partial derivatives (sympy, at codegen time)
give the backward. A group is a handful of ops whatever its size.

Slots that read fewer distinct outputs than there are members (a reference IR shared by
every copy r) are *narrow*: the group's members fall into D classes on which every narrow
slot is constant, and the expression is split as T = Σ_w W_w(wide slots) · C_w(narrow
slots). The C_w are evaluated once per class on (D, N) rows (one (1, N) row when D = 1,
broadcast) and spread to the members by one index_select; their backward reduces first,
R_w = Σ_{members of a class} g · W_w, and differentiates the C_w in the narrow space,
∂L/∂n = Σ_w R_w ∂C_w/∂n — per-site scalars, not per-member rows. The features are written
into one (F, N) tensor by slices, and the backward's contributions to ∂L/∂Y go into one
zero tensor by one index_add_ (shared outputs accumulate; no in-place ops on views, whose
autograd copies the whole tensor per op when training differentiates through them).
"""

from __future__ import annotations

import re

import sympy as sp

from .printers import LeanPrinter, comment, statements, with_rsqrt


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
        return text if text is not None else f"{tensor}.index_select(0, {self.index(rows)})"

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


def classes(rows: list[list[int]]) -> tuple[set[int], list[int]]:
    """(narrow slots, class of each member): the slots reading fewer distinct outputs than
    there are members, and the coarsest partition of the members on which all of them are
    constant — or only the slots of one output (one class) when that partition separates
    every member."""
    members = len(rows[0]) if rows else 0
    for narrow in ({j for j, r in enumerate(rows) if len(set(r)) < members},
                   {j for j, r in enumerate(rows) if len(set(r)) == 1 < members}):
        keys = [tuple(rows[j][m] for j in sorted(narrow)) for m in range(members)]
        order = list(dict.fromkeys(keys))
        if narrow and len(order) < members:
            return narrow, [order.index(k) for k in keys]
    return set(), list(range(members))


def split(template: sp.Expr, narrow: set) -> dict | None:
    """{W_w: C_w} with template = Σ_w W_w · C_w, W_w a product of factors of the wide
    slots (1 when none) and C_w of the narrow ones (numbers included); None when a factor
    mixes both."""
    parts: dict = {}
    for term in sp.Add.make_args(sp.expand_mul(template)):
        wide, thin = [], []
        for factor in sp.Mul.make_args(term):
            symbols = factor.free_symbols
            if symbols and symbols <= narrow:
                thin.append(factor)
            elif symbols & narrow:
                return None
            else:
                (thin if factor.is_number else wide).append(factor)
        key = sp.Mul(*wide)
        parts[key] = parts.get(key, sp.S.Zero) + sp.Mul(*thin)
    return parts


def _compact(expr: sp.Expr) -> sp.Expr:
    """The form of `expr` with the fewest ops: as it is, its common factors pulled out of
    sums, or over one denominator (rsqrt shared: `with_rsqrt`)."""
    forms = [with_rsqrt(f) for f in (expr, sp.factor_terms(expr), sp.together(expr))]
    return min(forms, key=sp.count_ops)


def _statements(exprs, prefix: str = "t"):
    """`printers.statements` of the `_compact` forms for torch tensors only (`LeanPrinter`)."""
    return statements([_compact(e) for e in exprs], prefix=prefix, printer=LeanPrinter)


class _Group:
    """The generated lines of one group: loads, forward, backward contributions."""

    def __init__(self, n, template, features, rows, names, constants: _Constants):
        self.n, self.template, self.features, self.rows = n, template, features, rows
        self.constants = constants
        self.slots = [sp.Symbol(f"a{j}", real=True) for j in range(len(rows))]
        label = ", ".join(names[f] for f in features[:3]) + (", …" if len(features) > 3 else "")
        self.head = f"    # group {n}: {len(features)} feature(s) {label}"
        narrow, self.classes = classes(rows)
        self.parts = split(template, {self.slots[j] for j in narrow}) if narrow else None
        self.narrow = narrow if self.parts is not None else set()
        if self.parts is None:
            self.classes = list(range(len(features)))
        self.d = max(self.classes, default=0) + 1  # classes
        first = [self.classes.index(c) for c in range(self.d)]
        self.coarse = {j: [rows[j][m] for m in first] for j in self.narrow}  # rows per class
        # the C_w that are not numbers get symbols b_k, the template becomes Σ W_w · b_w
        self.coeffs, terms = [], []
        for w, c in (self.parts or {}).items():
            if c.is_number:
                terms.append(w * c)
            else:
                self.coeffs.append((w, c))
                terms.append(w * sp.Symbol(f"b{len(self.coeffs) - 1}", real=True))
        self.b = [sp.Symbol(f"b{k}", real=True) for k in range(len(self.coeffs))]
        self.reduced = self.template if self.parts is None else sp.Add(*terms)

    def loads(self, used: str) -> list[str]:
        """The loads of the slots named in `used` (wide: every member's rows; narrow: the
        rows of the classes)."""
        return [f"    a{j} = {self.constants.rows('Y', self.coarse.get(j, r), broadcast=True)}"
                for j, r in enumerate(self.rows) if re.search(rf"\ba{j}\b", used)]

    def coefficients(self, extra=()) -> tuple[list[str], list[str]]:
        """(u statements and b_k = C_k (per class, spread to the members when D > 1), the
        texts of the `extra` narrow expressions, CSE'd with them)."""
        if not self.coeffs:
            return [], []
        lines, results = _statements([c for _, c in self.coeffs] + list(extra), "u")
        for b, (text, note) in zip(self.b, results):
            if self.d > 1:
                text = f"({text}).index_select(0, {self.constants.index(self.classes)})"
            lines.append(f"    {b} = {text}{comment(note)}")
        return lines, [text for text, _ in results[len(self.b):]]

    def forward(self) -> tuple[list[str], str]:
        """(lines, the text of the (members, N) result)."""
        if not self.slots:  # a constant feature
            value = _statements([self.template])[1][0][0]
            return [], f"Y[:1].expand({len(self.features)}, -1) * 0.0 + {value}"
        lines, results = _statements([self.reduced], "t")
        result = results[0][0]
        if not (self.reduced.free_symbols - set(self.b)) and len(self.features) > 1 and \
                self.d == 1:
            result = f"({result}).expand({len(self.features)}, -1)"
        body = self.coefficients()[0] + lines
        return self.loads(" ".join(body + [result])) + body, result

    def backward(self) -> tuple[list[str], list[tuple[list[int], str]]]:
        """(lines, [(rows of ∂L/∂Y, text of the contribution)])."""
        if not self.slots:
            return [], []
        g = sp.Symbol("g", real=True)
        wide = [j for j in range(len(self.slots)) if j not in self.narrow]
        exprs = [g * sp.diff(self.reduced, self.slots[j]) for j in wide]
        reductions = []  # (R symbol, per-member expression) of each C_w
        if self.narrow:
            for k, (w, _) in enumerate(self.coeffs):
                reductions.append((sp.Symbol(f"R{k}", real=True), g * w))
        lines, results = _statements(exprs + [e for _, e in reductions], "t")
        out = [(self.rows[j], text) for j, (text, _) in zip(wide, results)]
        for (symbol, _), (text, _) in zip(reductions, results[len(exprs):]):
            if self.d == 1:
                text = f"({text}).sum(0, keepdim=True)"
            else:
                text = (f"Y.new_zeros(({self.d}, Y.shape[1])).index_add_(0, "
                        f"{self.constants.index(self.classes)}, {text})")
            lines.append(f"    {symbol} = {text}")
        # ∂L/∂n_j = Σ_k R_k ∂C_k/∂n_j, the ∂C_k/∂n_j CSE'd with the C_k
        narrow = sorted(self.narrow) if reductions else []
        partials = [(k, j, sp.diff(c, self.slots[j])) for j in narrow
                    for k, (_, c) in enumerate(self.coeffs)]
        partials = [(k, j, p) for k, j, p in partials if p != 0]
        head, texts = self.coefficients([p for _, _, p in partials if not p.is_number])
        texts = iter(texts)
        for j in narrow:
            terms = []
            for k, jj, p in partials:
                if jj == j:
                    factor = f"({next(texts)})" if not p.is_number else _statements([p])[1][0][0]
                    terms.append(f"R{k}*{factor}")
            if terms:
                out.append((self.coarse[j], " + ".join(terms)))
        body = head + [f"    g = {self.constants.rows('G', self.features)}"] + lines
        used = " ".join(body + [text for _, text in out])
        return [self.head] + self.loads(used) + body, out


def lean_code(exprs, names: list[str]) -> dict:
    """Template variables: index constants and the bodies of lean_features(Y) -> (F, N) and
    lean_dfeatures(Y, G) -> (K, N)."""
    constants = _Constants()
    forward = [f"    out = Y.new_empty(({len(exprs)}, Y.shape[1]))"]
    backward, contributions = [], []
    for n, (template, features, rows) in enumerate(groups(exprs)):
        group = _Group(n, template, features, rows, names, constants)
        lines, result = group.forward()
        target = _index("out", features)
        store = (f"    out[{target.removeprefix('out[')} = {result}" if target else
                 f"    out.index_copy_(0, {constants.index(features)}, {result})")
        forward += [group.head] + lines + [store]
        lines, parts = group.backward()
        backward += lines
        for r, text in parts:
            backward.append(f"    d{len(contributions)} = {text}")
            contributions.append((r, f"d{len(contributions)}"))
    index = constants.index([row for r, _ in contributions for row in r])
    backward += ["    dY = torch.zeros_like(Y)",
                 f"    dY.index_add_(0, {index}, torch.cat(({''.join(t + ', ' for _, t in contributions)})))"
                 if contributions else "", "    return dY"]
    return {"lean_constants": constants.lines(), "lean_forward": [*forward, "    return out"],
            "lean_backward": [line for line in backward if line]}
