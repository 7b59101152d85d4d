"""Su–Schrieffer–Heeger (Peierls) electron–lattice model: classical displacement vectors
modulate the nearest-neighbour hopping; the model of the `vector` field."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import torch

from runtime.electrons.diagonalization import Spectrum
from runtime.electrons.model import ElectronicModel
from runtime.lattices import Lattice


class SSH(ElectronicModel):
    """Spinless electrons whose hopping on each bond <ij> follows the bond's stretch:

        H = -sum_<ij> t_ij (c^dag_i c_j + h.c.),   t_ij = t - alpha (u_j - u_i) . e_ij
        V = K0/2 sum_i |u_i|^2 + K1 sum_<ij> u_i . u_j                   (`Elastic`, eq. 61)

    on any lattice: u_i is the displacement of site i (as many components as the lattice
    has dimensions, the `vector` field: the site group acts on it by its Cartesian matrices),
    e_ij the unit vector of the bond i -> j from the lattice's vectors and basis, <ij> the
    nearest-neighbour bonds, each once. The hopping is linear in u (the SSH form, eq. 60's
    linear coupling moved to the bonds). One state per site; `filling` is the mean density.

    Electronic force, from the bond density matrix rho_ij = <c^dag_j c_i> (Hellmann–Feynman):

        F_i = -dE/du_i = 2 alpha sum_{j nn i} Re(rho_ij) e_ij        (e_ji = -e_ij)

    so a bond with bonding correlation pulls its ends together (the Peierls force), against
    the stiffness K0. The field enters H on the bonds, not on site: `onsite_coupling` is
    False and the KPM solver refuses it.
    """

    field = "vector"
    orbitals = 1
    vertices = np.zeros((0, 1, 1))
    """No on-site vertex: the field couples to the bonds."""
    coupling_name = "alpha"
    force_names = ("F_x", "F_y", "F_z")
    """Labels of the force components (the first `components`: F_x, F_y in two dimensions)."""
    order_name = "distortion"
    """The amplitude of the ordered displacement pattern (e.g. the dimerization of a
    bond-order wave); a uniform displacement is a translation, no order."""
    onsite_coupling = False
    parameters = MappingProxyType({"t": 1.0, "alpha": 1.0, "K0": 1.0, "K1": 0.0})

    def __init__(self, lattice: str | dict | Lattice, size, *, onsite=None, **parameters):
        lattice = Lattice.of(lattice)
        self.components = lattice.dimension
        super().__init__(lattice, size, onsite=onsite, **parameters)
        self._direction = torch.as_tensor(self.bonds.vectors / self.bonds.distance)
        self._density_bonds = (torch.as_tensor(self.bonds.source),
                               torch.as_tensor(self.bonds.target))
        m = self.n_states
        source, target = self._density_bonds
        self._bond_index = torch.cat([source * m + target, target * m + source])

    @property
    def alpha(self) -> float:
        return self.coupling

    def _hopping_blocks(self) -> np.ndarray:
        return np.full((len(self.bonds), 1, 1), -self.t)

    def _stretch(self, field: torch.Tensor) -> torch.Tensor:
        """(u_j - u_i) . e_ij per bond, `(batch, n_bonds)`."""
        source, target = (index.to(field.device) for index in self._density_bonds)
        return ((field[:, target] - field[:, source]) * self._direction.to(field.device)).sum(-1)

    def _hamiltonians(self, field: torch.Tensor) -> torch.Tensor:
        batch = field.shape[0]
        change = self.coupling * self._stretch(field)
        hamiltonians = self._hopping.to(field.device).repeat(batch, 1, 1)
        hamiltonians.view(batch, -1).index_add_(1, self._bond_index.to(field.device),
                                                torch.cat([change, change], dim=1))
        return hamiltonians

    def _electronic_forces(self, spectrum: Spectrum) -> torch.Tensor:
        rho = spectrum.bonds[..., 0, 0].real  # (batch, n_bonds)
        pull = (2 * self.coupling * rho)[..., None] * self._direction.to(rho.device)
        source, target = (index.to(rho.device) for index in self._density_bonds)
        forces = rho.new_zeros(rho.shape[0], self.n_sites, self.components)
        forces.index_add_(1, source, pull)
        forces.index_add_(1, target, -pull)
        return forces
