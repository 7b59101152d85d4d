"""The classical energy of the field, V = K0/2 Σ_i |Φ_i|² + K1 Σ_<ij> Φ_i·Φ_j (eq. 61 and its
analogues for doublets and spins), and its force: the one elastic term of the ED models and of
the ML dynamics."""

from __future__ import annotations

import torch

from runtime.lattices import Bonds, Lattice


class Elastic:
    """V and -dV/dΦ on a periodic lattice of any size, O(N) through the nearest-neighbour bond
    list (`bonds`, computed from the lattice when not given; not needed when K1 = 0)."""

    def __init__(self, lattice: str | dict | Lattice, size, K0: float = 0.0, K1: float = 0.0, *,
                 bonds: Bonds | None = None):
        lattice = Lattice.of(lattice)
        self.size = lattice.check_size(size)
        self.K0, self.K1 = float(K0), float(K1)
        if self.K1 and bonds is None:
            bonds = lattice.bonds(self.size)
        self._source = torch.as_tensor(bonds.source) if self.K1 else None
        self._target = torch.as_tensor(bonds.target) if self.K1 else None

    def energy_and_forces(self, field: torch.Tensor):
        """(V per configuration, -dV/dΦ like the field) of a (batch, *cells, sublattice,
        component) field."""
        flat = field.reshape(field.shape[0], -1, field.shape[-1])
        energy = 0.5 * self.K0 * flat.square().sum((1, 2))
        forces = -self.K0 * flat
        if self._source is not None:
            source, target = self._source.to(flat.device), self._target.to(flat.device)
            energy = energy + self.K1 * (flat[:, source] * flat[:, target]).sum((1, 2))
            neighbours = torch.zeros_like(flat).index_add_(1, source, flat[:, target])
            neighbours.index_add_(1, target, flat[:, source])
            forces = forces - self.K1 * neighbours
        return energy, forces.reshape(field.shape)
