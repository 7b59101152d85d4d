"""Stages 1 and 2 of a descriptor as plain data: per-site channels and a linear stencil.

Stage 1, channels (computed at every site x from the field Φ):
  ("field", sublattice b, component α)   Φ_α at sublattice b of cell x;
  ("length",)                             |Φ(x)|²;
  ("dot", d)                              Φ(x)·Φ(x+d)           (bonds S_j·S_k, eq. 93);
  ("triple", d1, d2)                      Φ(x)·(Φ(x+d1)×Φ(x+d2)) (chiralities, eq. 94).
  dot/length/triple channels are for one-site-per-cell lattices; d is a cell offset.
Stage 2, outputs: y_k(x, s) = Σ_taps c · channel(x + offset) for the center sublattice s,
with exact coefficients c (eqs. 18, 38, 48 and the ACSF sums 53–57).

On lattices with several sites per cell, the stencil of sublattice s is the stencil of site 0
carried over by a space-group operation h = (R, t) with h(site 0) = site s: features then
mean the same thing on every sublattice. Only field channels whose components do not mix
under R (scalar fields) can be carried over this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp

from ..errors import GroupTheoryError


def canonical(offset: tuple[int, ...]) -> bool:
    """True for the representative of {d, -d}: first non-zero component positive."""
    for x in offset:
        if x:
            return x > 0
    return True


def _number(value) -> sp.Expr:
    """Exact values stay exact; floats (ACSF envelopes) are kept to full double precision."""
    if isinstance(value, float):
        return sp.Float(repr(value), 17)
    return sp.nsimplify(value) if not isinstance(value, sp.Expr) or not value.is_Float \
        else value


def _neg(offset):
    return tuple(-x for x in offset)


def _sub(a, b):
    return tuple(x - y for x, y in zip(a, b))


@dataclass
class LinearStage:
    """Channels, output names and taps[s] = [(output, channel, offset, coefficient)]."""

    dimension: int
    sublattices: int
    channels: list[tuple] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    taps: list[list[tuple]] = field(default_factory=list)

    def __post_init__(self):
        if not self.taps:
            self.taps = [[] for _ in range(self.sublattices)]

    def channel(self, key: tuple) -> int:
        if key not in self.channels:
            self.channels.append(key)
        return self.channels.index(key)

    def add_output(self, name: str, terms: list[tuple]) -> int:
        """New output from [(channel key, offset, coefficient)] for center sublattice 0;
        other sublattices are filled by `map_sublattices`."""
        k = len(self.outputs)
        self.outputs.append(name)
        merged: dict = {}
        for key, offset, coefficient in terms:
            slot = (self.channel(key), tuple(offset))
            merged[slot] = merged.get(slot, 0) + coefficient
        self.taps[0] += [(k, c, o, _number(v)) for (c, o), v in merged.items() if v != 0]
        return k

    def combine(self, name: str, weights: dict[int, sp.Expr]) -> int:
        """New output Σ w_k y_k (e.g. a reference coefficient, a sum over copies)."""
        k = len(self.outputs)
        self.outputs.append(name)
        for s in range(self.sublattices):
            merged: dict = {}
            for out, c, o, v in self.taps[s]:
                if out in weights:
                    merged[c, o] = merged.get((c, o), 0) + weights[out] * v
            self.taps[s] += [(k, c, o, _number(v)) for (c, o), v in merged.items()
                             if v != 0]
        return k

    @property
    def radius(self) -> tuple[int, ...]:
        """Largest |offset| per axis, including the displacements inside channels."""
        radius = [0] * self.dimension
        for taps in self.taps:
            for _, c, o, _ in taps:
                reach = [o] + [tuple(a + b for a, b in zip(o, d))
                               for d in self.channels[c][1:] if isinstance(d, tuple)]
                for r in reach:
                    for axis, x in enumerate(r[:self.dimension]):
                        radius[axis] = max(radius[axis], abs(x))
        return tuple(radius)

    def as_dict(self) -> dict:
        return {
            "channels": [list(_jsonable(c)) for c in self.channels],
            "outputs": list(self.outputs),
            "taps": [[[k, c, list(o), str(v)] for k, c, o, v in sorted(
                taps, key=lambda t: (t[0], t[1], t[2]))] for taps in self.taps],
        }


def _jsonable(key):
    return [list(x) if isinstance(x, tuple) else x for x in key]


def entry_terms(decomposition, entry) -> list[tuple]:
    """[(channel key, offset, coefficient)] of one entry of U, center sublattice 0."""
    hood = decomposition.neighborhood
    sites = [hood.sites[s] for s in entry.sites]
    if entry.kind == "field":
        s = sites[0]
        return [(("field", s.sublattice, entry.component), s.cell, 1)]
    if hood.lattice.sublattices > 1:
        raise GroupTheoryError("spin building blocks need a lattice with one site per cell")
    if entry.kind == "length":
        return [(("length",), sites[0].cell, 1)]
    if entry.kind in ("center_bond", "bond"):
        a, b = sites[0].cell, sites[1].cell
        d = _sub(b, a)
        return [(("dot", d), a, 1)] if canonical(d) else [(("dot", _neg(d)), b, 1)]
    d1, d2 = sites[1].cell, sites[2].cell
    return [(("triple", d1, d2), (0,) * len(d1), 1)] if d1 < d2 else \
        [(("triple", d2, d1), (0,) * len(d1), -1)]


def from_decomposition(decomposition) -> tuple[LinearStage, dict]:
    """The IR coefficients f^{Γ,r}_μ as stencil outputs; returns the stage and
    {(Γ, r): [output index per μ]}."""
    lattice = decomposition.neighborhood.lattice
    stage = LinearStage(lattice.dimension, lattice.sublattices)
    terms = [entry_terms(decomposition, e) for e in decomposition.entries]
    index = {}
    for c in decomposition.coefficients:
        outs = []
        for mu, vector in enumerate(c.vectors):
            suffix = f"_{mu + 1}" if len(c.vectors) > 1 else ""
            combined = [(key, off, coef * v) for i, coef in vector for key, off, v in terms[i]]
            outs.append(stage.add_output(f"f({c.irrep},{c.copy}){suffix}", combined))
        index[c.irrep, c.copy] = outs
    return stage, index


def map_sublattices(stage: LinearStage, lattice) -> None:
    """Fill taps for sublattices 1… from sublattice 0 through a space-group operation
    (scalar fields: the channel component is carried over unchanged)."""
    if lattice.sublattices == 1:
        return
    basis = [[Fraction(int(x.p), int(x.q)) for x in f] for f in lattice.basis]
    for s in range(1, lattice.sublattices):
        op = _operation_to(lattice, basis, s)
        if op is None:
            raise GroupTheoryError(
                f"sublattice {s} is not equivalent to sublattice 0 by a symmetry of the "
                f"lattice: build a descriptor per sublattice instead")
        m, t = op
        merged: dict = {}
        for k, c, offset, v in stage.taps[0]:
            _, b, alpha = stage.channels[c]
            p = [o + f for o, f in zip(offset, basis[b])]
            image = [sum(p[i] * m[i][j] for i in range(len(p))) + t[j] for j in range(len(p))]
            for b2, f2 in enumerate(basis):
                shift = [x - y for x, y in zip(image, f2)]
                if all(x.denominator == 1 for x in shift):
                    cell = tuple(int(x) for x in shift)
                    break
            key = (k, stage.channel(("field", b2, alpha)), cell)
            merged[key] = merged.get(key, 0) + v
        stage.taps[s] = [(k, c, o, v) for (k, c, o), v in merged.items() if v != 0]


def _operation_to(lattice, basis, s):
    """(M, t): f ↦ f M + t maps the lattice onto itself (species kept) and site 0 to s."""
    for m in lattice._lattice_automorphisms:
        m = [[int(x) for x in row] for row in m.tolist()]
        t = [basis[s][j] - sum(basis[0][i] * m[i][j] for i in range(len(m)))
             for j in range(len(m))]
        ok = True
        for b, f in enumerate(basis):
            image = [sum(f[i] * m[i][j] for i in range(len(m))) + t[j] for j in range(len(m))]
            if not any(all((x - y).denominator == 1 for x, y in zip(image, f2))
                       and lattice.species[b2] == lattice.species[b]
                       for b2, f2 in enumerate(basis)):
                ok = False
                break
        if ok:
            return m, t
    return None
