"""Spinless Holstein model with classical phonons (paper Sec. IV, eqs. 60, 61, 64)."""

from __future__ import annotations

import numpy as np

from runtime.electrons.model import PhononModel


class Holstein(PhononModel):
    """Spinless electrons coupled to a scalar lattice distortion Q_i on any lattice:

        H = -t sum_<ij> (c^dag_i c_j + h.c.) - g sum_i Q_i n_i        (eq. 60)
        V = K0/2 sum_i Q_i^2 + K1 sum_<ij> Q_i Q_j                      (eq. 61)

    <ij> runs over nearest-neighbour bonds, each once. Field: `(..., sublattice, 1)` holding
    Q_i. One state per site, so `filling` is the mean density <n_i>. Electronic force
    F_i = -dE/dQ_i = g <n_i> (eq. 64); `density[..., 0, 0]` is <n_i>.
    """

    components = 1
    field = "scalar"
    orbitals = 1
    vertices = np.ones((1, 1, 1))
    coupling_name = "g"
    force_names = ("F",)
    order_name = "cdw"
    """Charge-density-wave order: the staggered distortion amplitude |sum_i e_i Q_i| / N of
    the (+-1) pattern e_i of the peak (square or cubic checkerboard, Q = (pi, pi); the
    honeycomb A/B wave, Q = 0 with form factor (1, -1); the triangular sqrt3 x sqrt3 wave,
    Q = K); the mean distortion, fixed by the filling, is no order."""

    def _hopping_blocks(self) -> np.ndarray:
        return np.full((len(self.bonds), 1, 1), -self.t)
