"""The correlation-matrix descriptor (eqs. 14, 65): ordered eigenvalues of
C = diag(U) W diag(U), with the weights of eq. (65) for the neighborhood distances:
W_11 = 1, W_rr = W_1r = 1/R_1r², W_rs = 1/(R_1r R_1s R_rs) (r, s ≠ 1, r ≠ s); for several
components per site the same-site entries use 1/R_1r² (1 at the center). C transforms as
T C Tᵀ under the site group (eq. 15), so its eigenvalues are invariant. They have no closed
form: the features are torch.linalg.eigvalsh, largest first.
"""

from __future__ import annotations

import sympy as sp

from .stencil import LinearStage


def correlation_matrix(neighborhood, field, centers: int = 1):
    """(LinearStage gathering U for `centers` center sites, weights W as exact numbers)."""
    lattice = neighborhood.lattice
    comps = field.component_names(neighborhood.group)
    stage = LinearStage(lattice.dimension, centers)
    sites = neighborhood.sites
    for n, s in enumerate(sites):
        for a, name in enumerate(comps):
            stage.add_output(f"{name}[{neighborhood.label(n)}]",
                             [(("field", s.sublattice, a), s.cell, 1)])
    r1 = [sp.sqrt(s.distance2) for s in sites]
    entries = [(n, a) for n in range(len(sites)) for a in range(len(comps))]
    weights = []
    for r, _ in entries:
        row = []
        for s, _ in entries:
            if r == s:
                row.append(sp.Integer(1) if r == 0 else 1 / sites[r].distance2)
            elif r == 0 or s == 0:
                row.append(1 / sites[max(r, s)].distance2)
            else:
                d = sites[r].position - sites[s].position
                row.append(sp.radsimp(1 / (r1[r] * r1[s] * sp.sqrt((d * d.T)[0]))))
        weights.append(row)
    return stage, weights
