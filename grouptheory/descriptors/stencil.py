"""Stages 1 and 2 of a descriptor as plain data: per-site channels and a linear stencil.

Stage 1, channels (computed at every site x from the field Φ):
  ("field", sublattice b, component α)   Φ_α at sublattice b of cell x;
  ("length",)                             |Φ(x)|²;
  ("dot", d)                              Φ(x)·Φ(x+d)           (bonds S_j·S_k, eq. 93);
  ("triple", d1, d2)                      Φ(x)·(Φ(x+d1)×Φ(x+d2)) (chiralities, eq. 94);
  d is a cell offset. With several sites per cell the spin channels name sublattices:
  ("length", b), ("dot", b1, d, b2) = S(x, b1)·S(x+d, b2) and ("triple", b0, d1, b1, d2, b2)
  = S(x, b0)·(S(x+d1, b1)×S(x+d2, b2)) (`generated._spec.spin_sites` reads both forms for the runtime).
Stage 2, outputs: y_k(x, s) = Σ_taps c · channel(x + offset) for the center sublattice s,
with exact coefficients c (eqs. 18, 38, 48 and the ACSF sums 53–57).

On lattices with several sites per cell, the stencil of sublattice s is the stencil of site 0
carried over by a space-group operation h = (R, t) with h(site 0) = site s: features then
mean the same thing on every sublattice. A field channel's components turn with the
field's matrix M(R) (R in the point group of the space group); spin channels move with their
sites (spins are type II). On a lattice with inequivalent sites the same holds within each
site class, about the class's first site.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..errors import GroupTheoryError
from ..lattice import affine_image


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


def _sub(a, b):
    return tuple(x - y for x, y in zip(a, b))


@dataclass
class LinearStage:
    """Channels, output names and taps[n] = [(output, channel, offset, coefficient)] of the
    n-th center site (`sublattices` of them: every basis site, or those of one class)."""

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
    return [spin_channel([(s.cell, s.sublattice) for s in sites],
                         hood.lattice.sublattices > 1)]


def spin_channel(spins, multi: bool, coefficient=1) -> tuple:
    """(channel key, offset, coefficient) of the length |S_a|², bond S_a·S_b or chirality
    S_a·(S_b×S_c) of spins [(cell, sublattice), …]: anchored at the first spin's cell (a
    bond at whichever end gives the canonical key), the chirality's outer pair in order with
    the sign of the swap. Keys carry sublattices when `multi` (see the module docstring)."""
    (a, sa), rest = spins[0], spins[1:]
    if not rest:
        return (("length", sa) if multi else ("length",)), a, coefficient
    if len(rest) == 1:
        (b, sb), = rest
        if sa > sb or (sa == sb and not canonical(_sub(b, a))):
            (a, sa), (b, sb) = (b, sb), (a, sa)
        d = _sub(b, a)
        return (("dot", sa, d, sb) if multi else ("dot", d)), a, coefficient
    (b, sb), (c, sc) = sorted(rest, key=lambda x: (_sub(x[0], a), x[1]))
    sign = 1 if [(b, sb), (c, sc)] == list(rest) else -1
    d1, d2 = _sub(b, a), _sub(c, a)
    key = ("triple", sa, d1, sb, d2, sc) if multi else ("triple", d1, d2)
    return key, a, sign * coefficient


def from_decomposition(decomposition, centers: int = 1) -> tuple[LinearStage, dict]:
    """The IR coefficients f^{Γ,r}_μ as stencil outputs for `centers` center sites; returns
    the stage and {(Γ, r): [output index per μ]}."""
    lattice = decomposition.neighborhood.lattice
    stage = LinearStage(lattice.dimension, centers)
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


def map_sublattices(stage: LinearStage, lattice, field, centers=None) -> None:
    """Fill taps for centers 1… (default: every basis site) from centers[0] through
    space-group operations h = (R, t) with h(centers[0]) = s. The descriptor of s is that of
    centers[0] on the field h⁻¹·Φ: a field channel (b, α) becomes Σ_β M(R)_βα (h(b), β)."""
    centers = list(range(lattice.sublattices)) if centers is None else list(centers)
    if len(centers) == 1:
        return
    for n, (m, t, matrix) in enumerate(_carriers(lattice, field, centers), start=1):
        merged: dict = {}
        for k, c, offset, v in stage.taps[0]:
            key = stage.channels[c]
            if key[0] != "field":  # a spin channel: its sites move, the spins do not turn
                reads = [((0,) * lattice.dimension, key[1]), *zip(key[2::2], key[3::2])]
                spins = [_image(lattice, m, t, tuple(o + x for o, x in zip(offset, d)), b)
                         for d, b in reads]  # the (offset, sublattice) of each spin
                moved, cell, sign = spin_channel(spins, True)
                slot = (k, stage.channel(moved), cell)
                merged[slot] = merged.get(slot, 0) + sign * v
                continue
            _, b, alpha = key
            cell, b2 = _image(lattice, m, t, offset, b)
            for beta in range(matrix.rows):
                if matrix[beta, alpha] != 0:
                    slot = (k, stage.channel(("field", b2, beta)), cell)
                    merged[slot] = merged.get(slot, 0) + v * matrix[beta, alpha]
        stage.taps[n] = [(k, c, o, _number(v)) for (k, c, o), v in merged.items() if v != 0]


def _image(lattice, m, t, offset, b) -> tuple[tuple[int, ...], int]:
    """(cell offset, sublattice) of the image of site (offset, b) under f ↦ f M + t."""
    basis = lattice.fractional_basis
    p = affine_image([o + f for o, f in zip(offset, basis[b])], m, t)
    b2 = lattice.site_at(p, lattice.species[b])
    return tuple(int(x - y) for x, y in zip(p, basis[b2])), b2


def _carriers(lattice, field, centers) -> list[tuple]:
    """(M, t, field matrix M(R)) of one operation centers[0] → s for each later center s
    (the first in `operations_from` order); M(R) from the point group of the space group,
    checked to restrict to the field's matrices on the site group of centers[0]."""
    ops = lattice.operations_from(centers[0])
    group = lattice.point_group
    if field.internal:
        matrices = [sp.eye(1)] * group.order
    else:
        matrices = _point_group_matrices(lattice, field, group, centers[0])
    index = {lattice.fractional(g): i for i, g in enumerate(group.elements)}
    carriers = []
    for s in centers[1:]:
        m, t, _ = next(op for op in ops if op[2] == s)
        carriers.append((m, t, matrices[index[sp.ImmutableMatrix(m)]]))
    return carriers


def _point_group_matrices(lattice, field, group, site):
    """The field's M(R) on the point group of the space group; GroupTheoryError if there is
    none, or if it disagrees with the field's matrices on the site group of `site`."""
    why = (f"the {field.name} field is defined on the site group only; sublattices "
           f"related by operations outside it ({group.name} ⊃ "
           f"{lattice.site_group(site).name}) need a field defined on {group.name}")
    try:
        matrices = field.rule(group)
    except (GroupTheoryError, KeyError, ValueError) as error:
        raise GroupTheoryError(f"{why} ({error})") from None
    local = lattice.site_group(site)
    index = {g: i for i, g in enumerate(group.elements)}
    for g, own in zip(local.elements, field.matrices(local)):
        if sp.ImmutableMatrix(matrices[index[g]]) != own:
            raise GroupTheoryError(why)
    return matrices
