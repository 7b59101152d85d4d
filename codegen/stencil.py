"""Stage 2 as shared modules: the stencil of a spec, split into parts, one module each.

A spec's outputs split where its IR coefficients f(Γ,r) (eqs. 18, 38, 48) end: every
descriptor on one decomposition (power, bispectrum, reference, raw) shares that part, and
what follows (the reference-IR projections of Sec. VI, the ACSF sums, …) is a part of its
own. Each part keeps only the channels it reads, so it is a self-contained value; its module
`generated/stencils/<lattice>_<field>_<hash>.py` is keyed by the hash of that value and holds
the torch outputs, the Triton gather+stencil helper shared by the forward and dL/dy kernels,
and the transposed-stencil (and spin) backward kernels.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from functools import cached_property

from generated._spec import content_hash, spin_sites
from grouptheory import numbers

from .printers import balanced, comment, grouped_sum, literal

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


def _neg(a):
    return tuple(-x for x in a)


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
    def centers(self) -> list[int]:
        """The center sublattice of each taps list: every basis site, or one site class."""
        return self.data.get("centers", list(range(self.sublattices)))

    @property
    def components(self) -> list[str]:
        return self.data["field"]["components"]

    @property
    def radius(self) -> tuple[int, ...]:
        return tuple(max(abs(o[a]) for taps in self.taps for _, _, o, _ in taps)
                     for a in range(self.dimension))

    @property
    def spin(self) -> bool:
        """Channels built from spins (bonds, chiralities, lengths): a spin backward pass."""
        return any(c[0] != "field" for c in self.channels)

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
            return f"{self.components[key[2]]}{self.sub(key[1])}{_at(offset)}"
        s = [f"S{self.sub(b)}{_at(_add(offset, o))}" for o, b in self.spins(key)]
        if key[0] == "length":
            return f"|{s[0]}|²"
        if key[0] == "dot":
            return f"{s[0]}·{s[1]}"
        return f"{s[0]}·({s[1]}×{s[2]})"

    def sub(self, b: int) -> str:
        """The sublattice suffix of a label ("_1"), empty with one site per cell."""
        return f"_{b}" if self.sublattices > 1 else ""

    def spins(self, key) -> list[tuple[tuple[int, ...], int]]:
        """(offset, sublattice) of the spins of a bond, chirality or length channel."""
        return spin_sites(key, self.dimension)


def parts(spec_data: dict) -> list[Part]:
    """The stencil of a spec as parts: the IR coefficients, then the rest (if any)."""
    st = spec_data["stencil"]
    outputs = st["outputs"]
    split = next((k for k, name in enumerate(outputs) if kind(name) != "f"), len(outputs))
    ranges = [r for r in (range(split), range(split, len(outputs))) if r]
    result = []
    for block in ranges:
        used = sorted({c for taps in st["taps"] for k, c, _, _ in taps if k in block})
        centers = {"centers": spec_data["centers"]} if "centers" in spec_data else {}
        result.append(Part({**centers,
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


class Coordinates:
    """Wrapped cell coordinates (c0m1 = (c0 - 1) % n0, …), each defined once, and flat
    addresses of (cell + offset, slot) in arrays of `stride` values per cell."""

    def __init__(self, dim: int, indent: str):
        self.dim, self.indent, self.lines, self.defined = dim, indent, [], set()

    def axis(self, a: int, o: int) -> str:
        if not o:
            return f"c{a}"
        name = f"c{a}{'p' if o > 0 else 'm'}{abs(o)}"
        if name not in self.defined:
            self.defined.add(name)
            wrapped = f"c{a} + {o}" if o > 0 else f"c{a} + n{a} - {-o}"
            self.lines.append(f"{self.indent}{name} = ({wrapped}) % n{a}")
        return name

    def address(self, offset, stride: int, slot) -> str:
        index = "bat"
        for a, o in enumerate(offset):
            index = f"({index} * n{a} + {self.axis(a, o)})"
        index = index[1:-1]
        if stride == 1:
            return f"{index} + {slot}" if slot else index
        return f"({index}) * {stride} + {slot}" if slot else f"({index}) * {stride}"


class TritonGather:
    """The Triton value of a tap: a load of a field component, or a bond / chirality /
    length built from spins loaded once each (the loads are `lines`)."""

    def __init__(self, part: Part, coords: Coordinates, indent: str):
        self.part, self.coords, self.indent = part, coords, indent
        self.lines, self.loaded = [], {}
        self.S, self.M = part.sublattices, len(part.components)

    def load(self, offset, sub: int, comp: int) -> str:
        address = self.coords.address(offset, self.S * self.M, sub * self.M + comp)
        return f"tl.load(X + {address}, mask=mask, other=0.0)"

    def spin(self, offset, sub: int = 0) -> list[str]:
        if (offset, sub) not in self.loaded:
            names = [f"s{len(self.loaded)}{'xyz'[a]}" for a in range(self.M)]
            self.loaded[offset, sub] = names
            for a, name in enumerate(names):
                self.lines.append(f"{self.indent}{name} = {self.load(offset, sub, a)}  # "
                                  f"{self.part.components[a]}{self.part.sub(sub)}{_at(offset)}")
        return self.loaded[offset, sub]

    def __call__(self, channel, offset) -> str:
        key = self.part.channels[channel]
        if key[0] == "field":
            return self.load(offset, key[1], key[2])
        s = [self.spin(_add(offset, o), b) for o, b in self.part.spins(key)]
        if key[0] == "length":
            return dot(s[0], s[0])
        if key[0] == "dot":
            return dot(s[0], s[1])
        return dot(s[0], cross(s[1], s[2]))


def dot(a, b) -> str:
    return " + ".join(f"{x}*{y}" for x, y in zip(a, b))


def cross(b, c) -> list[str]:
    return [f"({b[1]}*{c[2]} - {b[2]}*{c[1]})", f"({b[2]}*{c[0]} - {b[0]}*{c[2]})",
            f"({b[0]}*{c[1]} - {b[1]}*{c[0]})"]


def _branches(part: Part, body) -> list[str]:
    """`body(n, taps, indent)` for the n-th center, under `if SUB == s:` (s its sublattice)
    when the lattice has several."""
    if part.sublattices == 1:
        return body(0, part.taps[0], "    ")
    lines = []
    for n, (s, taps) in enumerate(zip(part.centers, part.taps)):
        lines.append(f"    {'if' if n == 0 else 'elif'} SUB == {s}:")
        lines += body(n, taps, "        ")
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


def triton_body(part: Part) -> list[str]:
    def body(s, taps, indent):
        coords = Coordinates(part.dimension, indent)
        gather = TritonGather(part, coords, indent)
        keys = tap_values(taps)
        args = [gather(c, o) for c, o in keys]
        call = _call(f"combine_{s}_triton", args, [part.label(c, o) for c, o in keys], indent)
        return coords.lines + gather.lines + call
    return _branches(part, body)


def dchannel_body(part: Part) -> list[str]:
    """∂L/∂channel_c(x) = Σ_taps c·GY[x − offset, s, K0 + k]: the transposed stencil."""
    coords = Coordinates(part.dimension, "    ")
    loads, lines, loaded = [], [], {}
    S, M = part.sublattices, len(part.components)
    per_channel: dict = {}
    for s, taps in zip(part.centers, part.taps):
        for k, c, o, v in taps:
            per_channel.setdefault(c, []).append((v, s, k, tuple(o)))

    def gy(s, k, offset):
        key = (s, k, offset)
        if key not in loaded:
            name = loaded[key] = f"g{len(loaded)}"
            index = coords.address(offset, S, s) if S > 1 else coords.address(offset, 1, 0)
            sub = f"_{s}" if S > 1 else ""
            loads.append(f"    {name} = tl.load(GY + ({index}) * K + K0 + {k}, mask=mask, "
                         f"other=0.0)  # ∂{part.outputs[k]}{sub}{_at(offset)}")
        return loaded[key]

    for c, key in enumerate(part.channels):
        terms = [(v, gy(s, k, _neg(o))) for v, s, k, o in per_channel.get(c, [])]
        total, notes = grouped_sum(terms)
        if key[0] == "field":
            target = f"GX + {coords.address((0,) * part.dimension, S * M, key[1] * M + key[2])}"
            value = f"tl.load({target}, mask=mask) + {total}"
        else:
            target = f"GC + {coords.address((0,) * part.dimension, len(part.channels), c)}"
            value = total
        lines.append(f"    tl.store({target}, {value}, mask=mask)"
                     f"{comment(part.label(c, (0,) * part.dimension), notes)}")
    return coords.lines + loads + lines


def dspin_body(part: Part) -> list[str]:
    """∂L/∂S(x) += Σ over the bonds, chiralities and lengths that contain x (from GC): a
    channel at z reads S_j = S(z + o_j, b_j), so S(x, b_j) gets GC(x − o_j)·∂channel/∂S_j."""
    coords = Coordinates(part.dimension, "    ")
    zero = (0,) * part.dimension
    S, M, C = part.sublattices, len(part.components), len(part.channels)
    spins, grads, loads = {}, {}, []

    def spin(offset, b):
        if (offset, b) not in spins:
            names = [f"s{len(spins)}{'xyz'[a]}" for a in range(M)]
            spins[offset, b] = names
            for a, name in enumerate(names):
                loads.append(f"    {name} = tl.load(X + {coords.address(offset, S * M, b * M + a)}"
                             f", mask=mask, other=0.0)  # {part.components[a]}{part.sub(b)}"
                             f"{_at(offset)}")
        return spins[offset, b]

    def grad(offset, c):
        if (offset, c) not in grads:
            name = grads[(offset, c)] = f"g{len(grads)}"
            loads.append(f"    {name} = tl.load(GC + {coords.address(offset, C, c)}, "
                         f"mask=mask, other=0.0)  # ∂{part.label(c, offset)}")
        return grads[(offset, c)]

    acc: dict = {}
    for c, key in enumerate(part.channels):
        if key[0] == "field":
            continue
        sites = part.spins(key)
        for j, (o, b) in enumerate(sites):
            z = _neg(o)  # the channel's cell when x is its j-th spin
            g = grad(z, c)
            others = [spin(_add(z, o2), b2) for o2, b2 in sites[j + 1:] + sites[:j]]
            if key[0] == "length":
                terms = [f"2.0*{g}*{x}" for x in spin(z, b)]
            elif key[0] == "dot":
                terms = [f"{g}*{x}" for x in others[0]]
            else:  # ∂ S0·(S1×S2)/∂S_j = S_{j+1} × S_{j+2} (cyclic)
                terms = [f"{g}*{x}" for x in cross(*others)]
            for a, term in enumerate(terms):
                acc.setdefault((b, a), []).append(term)
    stores = [f"    tl.store(X_GRAD, tl.load(X_GRAD, mask=mask) + {balanced(acc[b, a])}, "
              f"mask=mask)".replace("X_GRAD", f"GX + {coords.address(zero, S * M, b * M + a)}")
              for b, a in sorted(acc)]
    return coords.lines + loads + stores


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
