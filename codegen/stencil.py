"""Stage 2 as shared modules: the stencil of a spec, split into parts, one module each.

A spec's outputs split where its IR coefficients f(Γ,r) (eqs. 18, 38, 48) end: every
descriptor on one decomposition (power, bispectrum, reference, raw) shares that part, and
what follows (the reference-IR projections of Sec. VI, the ACSF sums, …) is a part of its
own. Each part keeps only the channels it reads, so it is a self-contained value; its module
`generated/stencils/<lattice>_<field>_<hash>.py` is keyed by the hash of that value and holds
the torch outputs and the stencil as a matrix (LEAN_TAPS, LEAN_WEIGHTS), which the lean torch
path and the Triton path (the gather+GEMM kernel of generated._triton) both use.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from functools import cached_property

from generated._spec import content_hash
from grouptheory import numbers

from .printers import comment, grouped_sum, literal

# what a part computes, by the name of its first output (eq. numbers: the paper)
ALIASES = {"f": "irreps", "ref": "reference", "G2b": "acsf"}  # its name in a descriptor module
MEANING = {
    "f": "IR coefficients f^{Γ,r}_μ = Σ_j Υ*·U_j (eqs. 18, 38, 48)",
    "ref": "reference-IR coefficients, the fixed combinations that give the phase "
           "references of the reference-IR invariants (eqs. 70–84, Sec. VI)",
    "G2b": "lattice ACSF sums of bonds and chiralities (eqs. 53–57, 95–97)",
}
CHANNEL_MEANING = {"dot": "bonds S_j·S_k (eq. 93)", "triple": "chiralities "
                   "S_i·(S_j×S_k) (eq. 94)", "length": "lengths |S_j|²"}


def kind(output: str) -> str:
    return output.split("(")[0].split("[")[0]


def _key(channel) -> tuple:
    return tuple(tuple(x) if isinstance(x, list) else x for x in channel)


def _add(a, b):
    return tuple(x + y for x, y in zip(a, b))


def _at(offset) -> str:
    return "[" + ",".join(str(o) for o in offset) + "]"


@dataclass(frozen=True)
class Part:
    """A block of stencil outputs with the channels it reads (JSON-like `data`)."""

    data: dict

    @cached_property
    def hash(self) -> str:
        return content_hash(self.data)

    @property
    def module(self) -> str:
        d = self.data
        return f"{d['lattice']['name']}_{d['field']['name']}_{self.hash[:12]}"

    @property
    def channels(self) -> list[tuple]:
        return [_key(c) for c in self.data["channels"]]

    @property
    def outputs(self) -> list[str]:
        return self.data["outputs"]

    @property
    def taps(self) -> list[list]:
        return self.data["taps"]

    @property
    def dimension(self) -> int:
        return self.data["lattice"]["dimension"]

    @property
    def sublattices(self) -> int:
        return self.data["lattice"]["sublattices"]

    @property
    def components(self) -> list[str]:
        return self.data["field"]["components"]

    @property
    def radius(self) -> tuple[int, ...]:
        return tuple(max(abs(o[a]) for taps in self.taps for _, _, o, _ in taps)
                     for a in range(self.dimension))

    @property
    def meaning(self) -> str:
        return MEANING.get(kind(self.outputs[0]), "the neighborhood values U_j (eq. 14)")

    @property
    def alias(self) -> str:
        return ALIASES.get(kind(self.outputs[0]), "neighborhood")

    def label(self, channel: int, offset) -> str:
        """A tap named by its offset: Q[-1,0], Q_1[0,1] (sublattice 1), S[0,0]·S[1,0]."""
        key = self.channels[channel]
        if key[0] == "field":
            sub = f"_{key[1]}" if self.sublattices > 1 else ""
            return f"{self.components[key[2]]}{sub}{_at(offset)}"
        if key[0] == "length":
            return f"|S{_at(offset)}|²"
        if key[0] == "dot":
            return f"S{_at(offset)}·S{_at(_add(offset, key[1]))}"
        return f"S{_at(offset)}·(S{_at(_add(offset, key[1]))}×S{_at(_add(offset, key[2]))})"


def parts(spec_data: dict) -> list[Part]:
    """The stencil of a spec as parts: the IR coefficients, then the rest (if any)."""
    st = spec_data["stencil"]
    outputs = st["outputs"]
    split = next((k for k, name in enumerate(outputs) if kind(name) != "f"), len(outputs))
    ranges = [r for r in (range(split), range(split, len(outputs))) if r]
    result = []
    for block in ranges:
        used = sorted({c for taps in st["taps"] for k, c, _, _ in taps if k in block})
        result.append(Part({
            "lattice": spec_data["lattice"], "field": spec_data["field"],
            "channels": [st["channels"][c] for c in used],
            "outputs": outputs[block.start:block.stop],
            "taps": [[[k - block.start, used.index(c), o, v] for k, c, o, v in taps
                      if k in block] for taps in st["taps"]]}))
    return result


def tap_values(taps) -> list[tuple]:
    """The distinct (channel, offset) values the taps read, in order of first use."""
    return list(dict.fromkeys((c, tuple(o)) for _, c, o, _ in taps))


def combine_lines(part: Part, taps) -> list[str]:
    """Body of combine_s(v0, v1, …): y_k = Σ c·v, v the tap values in `tap_values` order."""
    index = {key: n for n, key in enumerate(tap_values(taps))}
    terms: dict = {}
    for k, c, o, v in taps:
        terms.setdefault(k, []).append((v, f"v{index[(c, tuple(o))]}"))
    lines = []
    for k, name in enumerate(part.outputs):
        text, notes = grouped_sum(terms.get(k, []))
        lines.append(f"    y{k} = {text}{comment(name, notes)}")
    return lines


def names(items, indent: str = "        ", width: int = 88) -> str:
    """`a, b, …` wrapped to `width` columns, continuation lines indented by `indent`."""
    return ("\n" + indent).join(textwrap.wrap(", ".join(items), width))


def view(part: Part, channel: int, offset) -> str:
    """The torch value of a tap: a shifted view of the padded channels P."""
    views = ", ".join(f"{r + o}:{r + o}+n{a}" for a, (r, o) in enumerate(zip(part.radius, offset)))
    return f"P[:, {views}, {channel}]"


def _branches(part: Part, body) -> list[str]:
    """`body(s, taps, indent)` for each center sublattice, under `if SUB == s:` when several."""
    if part.sublattices == 1:
        return body(0, part.taps[0], "    ")
    lines = []
    for s, taps in enumerate(part.taps):
        lines.append(f"    {'if' if s == 0 else 'elif'} SUB == {s}:")
        lines += body(s, taps, "        ")
    return lines


def _call(function: str, args, labels, indent: str) -> list[str]:
    return ([f"{indent}return {function}("]
            + [f"{indent}    {a},  # v{n} = {label}" for n, (a, label) in enumerate(zip(args, labels))]
            + [f"{indent})"])


def torch_body(part: Part) -> list[str]:
    def body(s, taps, indent):
        keys = tap_values(taps)
        return _call(f"combine_{s}", [view(part, c, o) for c, o in keys],
                     [part.label(c, o) for c, o in keys], indent)
    return _branches(part, body)


def lean_taps(part: Part) -> list[dict]:
    """Stage 2 as a matrix, per center sublattice: the distinct (channel, offset) taps in
    `tap_values` order and the nonzero coefficients (k, t, value) of y_k = Σ_t W[k, t] v_t,
    exact sums folded to float literals with repr (exact forms in the combine_s comments)."""
    result = []
    for taps in part.taps:
        keys = tap_values(taps)
        index = {key: t for t, key in enumerate(keys)}
        exact: dict = {}
        for k, c, o, v in taps:
            key = (k, index[(c, tuple(o))])
            exact[key] = exact.get(key, 0) + numbers.to_sympy(v)
        result.append({
            "taps": [(c, o) for c, o in keys],
            "weights": [(k, t, literal(value)) for (k, t), value in sorted(exact.items())
                        if value != 0]})
    return result
