"""E ⊗ e Jahn–Teller model of in-plane (p_x, p_y) orbitals and the quadrupole doublet: the
Jahn–Teller coupling of trigonal and hexagonal sites (honeycomb, triangular, kagome), where
the e_g pair of `JahnTeller` (eq. 85) is no representation of the site group."""

from __future__ import annotations

import numpy as np

from runtime.electrons.jahn_teller import _SIGMA_X, _SIGMA_Z, JahnTeller
from runtime.electrons.model import PhononModel


class QuadrupoleJahnTeller(JahnTeller):
    """Orbitals (p_x, p_y) on every site of a two-dimensional lattice, coupled to the
    quadrupole doublet Q_i = (Q^{x²−y²}_i, Q^{xy}_i) (`grouptheory.Field.quadrupole`):

        H = -t sum_<ij> sum_ab e_a e_b (c^dag_ia c_jb + h.c.)
            - g sum_i [Q^{x²−y²}_i (n_ix - n_iy) + Q^{xy}_i (c^dag_ix c_iy + h.c.)]
        V = K0/2 sum_i |Q_i|^2 + K1 sum_<ij> Q_i . Q_j

    The hopping is the pp-sigma Slater–Koster term along the bond's unit vector e; the
    vertices (σ_z, σ_x) are the orbital densities of shape x² − y² and 2xy, so H(g·Q) is
    unitarily equivalent to H(Q) for every operation g of the site group (the eq. 85 form
    with the doublet of the hexagonal groups). `filling` is per orbital state. Force:
    F_i = g (<n_ix - n_iy>, <c^dag_ix c_iy + h.c.>).
    """

    field = "quadrupole"
    parameters = PhononModel.parameters  # the pp-sigma hopping t only
    vertices = np.array([_SIGMA_Z, _SIGMA_X])
    force_names = ("F_x2y2", "F_xy")

    def _hopping_blocks(self) -> np.ndarray:
        if self.lattice.dimension != 2:
            raise ValueError(
                f"QuadrupoleJahnTeller needs a two-dimensional lattice (the in-plane p_x, p_y "
                f"orbitals); the {self.lattice.name} lattice is "
                f"{self.lattice.dimension}-dimensional, where the Jahn–Teller doublet is the "
                f"e_g pair (x²−y², 3z²−r²): use the model 'jahn_teller' (field 'jahn_teller')")
        direction = self.bonds.vectors / self.bonds.distance
        return -self.t * direction[:, :, None] * direction[:, None, :]
