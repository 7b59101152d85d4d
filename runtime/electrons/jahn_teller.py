"""Two-orbital e_g Jahn–Teller model, classical doublet distortions (paper Sec. V, eqs. 85–87)."""

from __future__ import annotations

from types import MappingProxyType

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

    Hoppings: the Slater–Koster e_g–e_g block for a bond along the unit vector (l, m, n)
    (`e_g_hopping`), <ia|H|jb> = V_sigma u_a u_b + V_pi P_ab + V_delta D_ab with
    u = (sqrt(3)/2 (l^2 - m^2), n^2 - (l^2 + m^2)/2) and V_sigma = -4t/3: with the default
    V_pi = V_delta = 0 (dd-sigma only) this is t^aa = -sqrt(3) t^ab = 3 t^bb = t along x and
    t^aa = sqrt(3) t^ab = 3 t^bb = t along y, the values given under eq. 85; along z (cubic
    lattice) t^bb = 4t/3, t^aa = t^ab = 0. V_pi and V_delta (the dd-pi and dd-delta
    integrals, energies) add the rest of the block. Nearest-neighbour bonds must lie along
    Cartesian axes, <110> face diagonals or <111> body diagonals (square, Lieb, cubic,
    perovskite, fcc, pyrochlore, bcc, diamond: site groups in Oh, which the e_g pair
    represents); along <111> the sigma term vanishes and the block is (2 V_pi + V_delta)/3
    times the identity, so a lattice with such bonds needs V_pi or V_delta.

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
    parameters = MappingProxyType({**PhononModel.parameters, "V_pi": 0.0, "V_delta": 0.0})
    recorded_if_set = ("V_pi", "V_delta")

    def _hopping_blocks(self) -> np.ndarray:
        direction = self.bonds.vectors / self.bonds.distance
        magnitudes = np.sort(np.abs(np.pad(direction, ((0, 0), (0, 3 - direction.shape[1])))))
        cubic = [np.isclose(magnitudes, axis).all(axis=1) for axis in
                 ([0.0, 0.0, 1.0], [0.0, 0.5 ** 0.5, 0.5 ** 0.5], [3 ** -0.5] * 3)]
        if not np.all(np.any(cubic, axis=0)):
            raise ValueError(
                f"JahnTeller needs nearest-neighbour bonds along the Cartesian axes, the <110> "
                f"face diagonals or the <111> body diagonals (the e_g hoppings of eq. 85 on "
                f"sites in Oh); the {self.lattice.name} lattice has others. Use 'square' or "
                f"'cubic' (or 'quadrupole_jahn_teller' on hexagonal lattices)")
        v_pi, v_delta = self.parameter_values["V_pi"], self.parameter_values["V_delta"]
        if cubic[2].any() and abs(2 * v_pi + v_delta) <= 1e-12 * abs(self.t):
            raise ValueError(
                f"JahnTeller: the e_g dd-sigma hopping vanishes along the <111> bonds of the "
                f"{self.lattice.name} lattice, where the Slater–Koster block is "
                f"(2 V_pi + V_delta)/3 times the identity; give V_pi or V_delta (the dd-pi "
                f"and dd-delta hoppings, e.g. V_pi = {-self.t / 2:g}), or use 'square', "
                f"'cubic', 'fcc', 'pyrochlore' or 'perovskite'")
        return e_g_hopping(direction, -4 * self.t / 3, v_pi, v_delta)


def e_g_hopping(direction: np.ndarray, v_sigma: float, v_pi: float = 0.0,
                v_delta: float = 0.0) -> np.ndarray:
    """The Slater–Koster e_g–e_g blocks `(n, 2, 2)`, orbitals (x^2 - y^2, 3z^2 - r^2), of bonds
    along the unit vectors `direction` `(n, 2 or 3)` (2D vectors lie in z = 0), from the
    dd-sigma, dd-pi and dd-delta integrals (Slater & Koster, Phys. Rev. 94, 1498 (1954),
    Table I)."""
    l, m, n = np.pad(direction, ((0, 0), (0, 3 - direction.shape[1]))).T
    planar, difference = l**2 + m**2, l**2 - m**2
    u = np.stack([np.sqrt(3.0) / 2 * difference, n**2 - planar / 2], axis=1)
    blocks = v_sigma * u[:, :, None] * u[:, None, :]
    if v_pi or v_delta:
        root3 = np.sqrt(3.0)
        pi = np.array([[planar - difference**2, -root3 * n**2 * difference],
                       [-root3 * n**2 * difference, 3 * n**2 * planar]])
        delta = np.array([[n**2 + difference**2 / 4, root3 / 4 * (1 + n**2) * difference],
                          [root3 / 4 * (1 + n**2) * difference, 3 / 4 * planar**2]])
        blocks = blocks + np.moveaxis(v_pi * pi + v_delta * delta, -1, 0)
    return blocks
