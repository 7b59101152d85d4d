"""Two-orbital e_g Jahn–Teller model, classical doublet distortions (paper Sec. V, eqs. 85–87)."""

from __future__ import annotations

import numpy as np

from runtime.electrons.model import PhononModel

_SIGMA_X = ((0.0, 1.0), (1.0, 0.0))
_SIGMA_Z = ((1.0, 0.0), (0.0, -1.0))


class JahnTeller(PhononModel):
    """e_g electrons, orbitals (a, b) = (d_{x^2-y^2}, d_{3z^2-r^2}), coupled to the Jahn–Teller
    doublet Q_i = (Q^x_i, Q^z_i):

        H = -sum_<ij> sum_ab (t^ab_ij c^dag_ia c_jb + h.c.)
            - g sum_i [Q^x_i (c^dag_ia c_ib + h.c.) + Q^z_i (n_ia - n_ib)]             (eq. 85)
        V = K0/2 sum_i |Q_i|^2 + K1 sum_<ij> Q_i . Q_j

    Hoppings (Slater–Koster, dd-sigma only) for a bond along the unit vector (x, y, z):
    t^ab = (4t/3) u_a u_b with u = (sqrt(3)/2 (x^2 - y^2), z^2 - (x^2 + y^2)/2). Along x this is
    t^aa = -sqrt(3) t^ab = 3 t^bb = t and along y t^aa = sqrt(3) t^ab = 3 t^bb = t, the values
    given under eq. 85; along z (cubic lattice) t^bb = 4t/3, t^aa = t^ab = 0. Nearest-neighbour
    bonds must lie along Cartesian axes or <110> face diagonals (square, cubic, perovskite,
    fcc, pyrochlore: site groups in Oh, which the e_g pair represents); along <111> (bcc,
    diamond) u = 0.

    The paper cites refs. 98, 99 for V without a formula; V here is the doublet analogue of
    eq. 61. Field: `(..., sublattice, 2)` holding (Q^x, Q^z). `filling` is per orbital state:
    1/2 means one electron per site. Electronic force (eq. 87):
    F_i = g (<c^dag_ia c_ib + c^dag_ib c_ia>, <n_ia - n_ib>).
    """

    components = 2
    field = "jahn_teller"
    orbitals = 2
    vertices = np.array([_SIGMA_X, _SIGMA_Z])
    coupling_name = "g"
    force_names = ("F_x", "F_z")
    order_name = "orbital"
    """Orbital order of the doublet (Q^x, Q^z): ferro-orbital at Q = 0 (a uniform field counts,
    `order_centred` is False) or antiferro-orbital, e.g. the staggered order at (pi, pi)."""
    order_centred = False

    def _hopping_blocks(self) -> np.ndarray:
        direction = self.bonds.vectors / self.bonds.distance
        magnitudes = np.sort(np.abs(np.pad(direction, ((0, 0), (0, 3 - direction.shape[1])))))
        if np.isclose(magnitudes, 3 ** -0.5).all(axis=1).any():
            raise ValueError(
                f"JahnTeller: the e_g dd-sigma hopping vanishes along the <111> bonds of the "
                f"{self.lattice.name} lattice (it would need dd-pi and dd-delta terms). Use "
                f"'square', 'cubic', 'fcc', 'pyrochlore' or 'perovskite'")
        axis = np.isclose(magnitudes, [0.0, 0.0, 1.0]).all(axis=1)
        diagonal = np.isclose(magnitudes, [0.0, 0.5 ** 0.5, 0.5 ** 0.5]).all(axis=1)
        if not np.all(axis | diagonal):
            raise ValueError(
                f"JahnTeller needs nearest-neighbour bonds along the Cartesian axes or the "
                f"<110> face diagonals (the e_g hoppings of eq. 85); the {self.lattice.name} "
                f"lattice has others. Use 'square' or 'cubic' (or 'quadrupole_jahn_teller' on "
                f"hexagonal lattices)"
            )
        x, y, z = np.pad(direction, ((0, 0), (0, 3 - self.lattice.dimension))).T
        u = np.stack([np.sqrt(3.0) / 2 * (x**2 - y**2), z**2 - (x**2 + y**2) / 2], axis=1)
        return -(4 * self.t / 3) * u[:, :, None] * u[:, None, :]
