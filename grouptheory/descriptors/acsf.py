"""Lattice atom-centred symmetry functions (Sec. III D; magnetic forms Sec. VI A).

Envelopes (Sec. VI A): F2(R; d) = exp(-(R-d)²/w²) and
F3(R_ij, R_ik, R_jk; d, d') = exp(-((R_ij-d)² + (R_ik-d)²)/w²) exp(-(R_jk-d')²/w²), with the
hard cutoff of the neighborhood; d and d' run over the shell distances. On a lattice every
R is fixed, so each function is a stencil with constant weights over the field (scalar) or
over bond / chirality channels (spins):
  scalar: G2a(d) = Σ_j Q_j F2 (eq. 53), G2b(d) = Q_i G2a(d) (eq. 54, p_ij = Q_i Q_j),
          G3a(d,d') = Σ_{j<k} Q_j Q_k F3 (eq. 55), G3c(d,d') = Q_i G3a(d,d') (eq. 57);
          G3b coincides with G3a for a scalar field and is omitted.
  spins:  G2b(d) = Σ_j S_i·S_j F2 (eq. 95), G3a(d,d') = Σ_{j<k} S_j·S_k F3 (eq. 96),
          G3b(d,d') = [Σ_{j,k ccw} F3 S_i·(S_j×S_k)]² (eq. 97): the sum over counter-clockwise
          ordered pairs is odd under lattice mirrors (a pseudo-scalar), so its square is
          used; 2D lattices only.
Weights below 1e-10 are dropped.
"""

from __future__ import annotations

from math import exp, sqrt

import numpy as np

from ..errors import GroupTheoryError
from .invariants import y
from .stencil import LinearStage, spin_channel

_DROP = 1e-10


def _f2(r, d, w):
    return exp(-((r - d) ** 2) / w**2)


def _f3(rij, rik, rjk, d, dp, w):
    return exp(-((rij - d) ** 2 + (rik - d) ** 2) / w**2) * exp(-((rjk - dp) ** 2) / w**2)


def acsf(neighborhood, field, centers: int = 1, width: float = 0.5,
         shells: int | None = None):
    """(LinearStage for `centers` center sites, features) for a scalar or spin field;
    `shells` limits the radii d."""
    lattice = neighborhood.lattice
    multi = lattice.sublattices > 1
    spin = field.internal
    if not spin and field.name != "scalar":
        raise GroupTheoryError(f"ACSF is defined for scalar and spin fields, not {field.name}")
    stage = LinearStage(lattice.dimension, centers)
    sites = neighborhood.sites
    pos = np.array([[float(x) for x in s.position] for s in sites])
    radius = np.linalg.norm(pos, axis=1)
    shell_r = [sqrt(float(d2)) for d2 in neighborhood.shell_distances2]
    radii = shell_r[:shells] if shells else shell_r
    others = range(1, len(sites))
    pairs = [(j, k) for j in others for k in others if j < k]
    features = []
    def q_term(j, weight):
        return (("field", sites[j].sublattice, 0), sites[j].cell, weight)

    center = None if spin else stage.add_output("Q(0)", [q_term(0, 1)])

    def spins(*js):
        return [(sites[j].cell, sites[j].sublattice) for j in js]

    def pair_term(j, k, weight):
        """S_j·S_k as a dot channel at the right offset."""
        return spin_channel(spins(j, k), multi, weight)

    def center_term(j, weight):
        return pair_term(0, j, weight)

    for d in radii:
        if spin:
            k = stage.add_output(f"G2b({d:.4g})", [
                center_term(j, _f2(radius[j], d, width)) for j in others
                if _f2(radius[j], d, width) > _DROP])
            features.append((f"G2b({d:.4g})", y(k)))
        else:
            k = stage.add_output(f"G2a({d:.4g})", [
                q_term(j, _f2(radius[j], d, width)) for j in others
                if _f2(radius[j], d, width) > _DROP])
            features.append((f"G2a({d:.4g})", y(k)))
            features.append((f"G2b({d:.4g})", y(center) * y(k)))
    for d in radii:
        for dp in shell_r:
            label = f"({d:.4g},{dp:.4g})"
            weights = [(j, k, _f3(radius[j], radius[k], np.linalg.norm(pos[j] - pos[k]), d,
                                  dp, width)) for j, k in pairs]
            weights = [(j, k, w) for j, k, w in weights if w > _DROP]
            if not weights:
                continue
            k3 = stage.add_output(f"G3a{label}", [pair_term(j, k, w) for j, k, w in weights])
            features.append((f"G3a{label}", y(k3)))
            if not spin:
                features.append((f"G3c{label}", y(center) * y(k3)))
                continue
            if lattice.dimension != 2:
                raise GroupTheoryError("the magnetic G3b needs a 2D lattice (triangle "
                                       "orientation)")
            terms = []
            for j, k, w in weights:
                cross = pos[j][0] * pos[k][1] - pos[j][1] * pos[k][0]
                if abs(cross) < 1e-9:
                    continue  # collinear with the center: odd under the half turn
                terms.append(spin_channel(spins(0, j, k) if cross > 0 else spins(0, k, j),
                                          multi, w))
            if terms:
                kb = stage.add_output(f"C3b{label}", terms)
                features.append((f"G3b{label}", y(kb) ** 2))
    return stage, features
