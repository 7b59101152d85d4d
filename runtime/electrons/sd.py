"""s-d (double-exchange) model with classical spins (paper Sec. VI, eqs. 90–92)."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import torch

from runtime.electrons.field import read_field
from runtime.electrons.model import ElectronicModel

_PAULI = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=np.complex128)


class SD(ElectronicModel):
    """Spin-1/2 electrons, states (up, down) per site, coupled to classical spins S_i:

        H = -t sum_<ij> sum_a (c^dag_ia c_ja + h.c.) - J sum_i S_i . (c^dag_ia sigma_ab c_ib)  (90)
        V = K0/2 sum_i |S_i|^2 + K1 sum_<ij> S_i . S_j     (both 0 by default)

    Field: `(..., sublattice, 3)` holding (S^x, S^y, S^z) of any length, so both fixed-length
    spins (pass unit vectors, see `random_field`) and variable-length spin-density waves are
    covered. `filling` is per spin state: 1/2 means one electron per site. Electronic force
    (eq. 92): H_i = -dE/dS_i = J <c^dag_ia sigma_ab c_ib>, the full gradient including its
    component along S_i; `transverse` removes that component for fixed-length dynamics. V with
    K1 > 0 is an antiferromagnetic direct exchange, K0 a spin-length stiffness.
    """

    components = 3
    field = "spin"
    orbitals = 2
    vertices = _PAULI
    coupling_name = "J"
    force_names = ("H_x", "H_y", "H_z")
    order_name = "spin"
    """Magnetic order from the spin structure factor S(Q) = (1/N) |sum_i S_i e^{-iQ.r_i}|^2:
    ferromagnet Q = 0 (a uniform magnetisation counts, `order_centred` is False), Neel,
    spiral and 120-degree order (triangular: Q = K with S(K) / N = 1/2 for unit spins, the
    other half at -K; kagome q = 0: Q = 0 with three 120-degree sublattices)."""
    order_centred = False
    kpm_probing_distance = 14
    """Its spin spiral is probing-limited at d = 12 (1.01 % at 30 x 30, 0.85 % at d = 14;
    docs/performance.md): 211 colours, twice the cost."""

    parameters = MappingProxyType({"t": 1.0, "J": 1.0, "K0": 0.0, "K1": 0.0})

    @property
    def J(self) -> float:
        return self.coupling

    def _hopping_blocks(self) -> np.ndarray:
        return np.broadcast_to(-self.t * np.eye(2), (len(self.bonds), 2, 2))

    def random_field(
        self, batch: int | None = None, *, seed: int, scale: float = 1.0
    ) -> torch.Tensor:
        """Spins of length `scale` pointing in independent, uniformly random directions."""
        spins = super().random_field(batch, seed=seed)
        return scale * spins / spins.norm(dim=-1, keepdim=True)

    def transverse(self, field, forces):
        """F_i - (F_i . S^_i) S^_i: the part of `forces` that rotates the spins `field` (the force
        on the sphere for fixed-length spins; unchanged where S_i = 0), shaped like the field."""
        spins, layout = self._read(field)
        values, _ = read_field(forces, self.field_shape, "SD.transverse forces")
        axis = spins / spins.norm(dim=-1, keepdim=True).clamp(min=torch.finfo(spins.dtype).tiny)
        return layout.per_site(values - (values * axis).sum(-1, keepdim=True) * axis)
