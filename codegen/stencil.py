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

from .printers import comment, weight_groups

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


def names(items, indent: str = "        ", width: int = 88) -> str:
    """`a, b, …` wrapped to `width` columns, continuation lines indented by `indent`."""
    return ("\n" + indent).join(textwrap.wrap(", ".join(items), width))


def lean_taps(part: Part) -> list[dict]:
    """Stage 2 as a matrix, per center sublattice: the distinct (channel, offset) taps in
    `tap_values` order and, per output k, the groups (|c|, taps added, taps subtracted) of
    y_k = Σ_t W[k, t] v_t (`printers.weight_groups`: exact sums folded to float literals,
    their exact forms in the row's comment)."""
    result = []
    for taps in part.taps:
        keys = tap_values(taps)
        index = {key: t for t, key in enumerate(keys)}
        exact: dict = {}
        for k, c, o, v in taps:
            key = (k, index[(c, tuple(o))])
            exact[key] = exact.get(key, 0) + numbers.to_sympy(v)
        rows = []
        for k, name in enumerate(part.outputs):
            groups, notes = weight_groups([(v, t) for (j, t), v in exact.items() if j == k])
            rows.append({"groups": groups, "note": comment(f"y{k} = {name}", notes)})
        result.append({"taps": keys, "rows": rows})
    return result
