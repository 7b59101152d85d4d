"""Force sources for the integrators: the exact (ED) electronic force plus the elastic force.

    forces = ExactForces(Holstein("square", 10), filling=0.5)
    forces(field)               # -d(E + V)/dfield, the total force the dynamics needs
    forces.evaluate(field)      # E, -dE/dfield (electronic, eq. 6) and V, -dV/dfield apart
    forces.energy(field)        # E + V per configuration
    forces.energy_and_forces(field)   # both: the protocol of every force term
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from runtime.electrons import ElectronicModel
from runtime.electrons.ensembles import ensemble


@dataclass(frozen=True)
class Evaluation:
    """Energies and forces of one (batch of) field(s), float64 torch tensors.

    energy          electronic energy per configuration: the band energy <H> at fixed
                    filling, or the grand potential Omega at (mu, T) (see `ensembles`)
    forces          electronic force -d(energy)/dfield (eqs. 6, 64, 87, 92), like the field
    elastic_energy  classical V per configuration (eq. 61 and its analogues)
    elastic_forces  -dV/dfield, like the field
    """

    energy: torch.Tensor
    forces: torch.Tensor
    elastic_energy: torch.Tensor
    elastic_forces: torch.Tensor

    @property
    def total_forces(self) -> torch.Tensor:
        return self.forces + self.elastic_forces

    @property
    def total_energy(self) -> torch.Tensor:
        return self.energy + self.elastic_energy


class ElectronicForces:
    """The force protocol of an electronic solver (ED here, KPM in `kpm`): a subclass gives
    `electronic(field)` -> (E per configuration, -dE/dfield); `evaluate` adds the elastic
    term of `self.model` and remembers the last evaluation, so asking again for the same
    field (a snapshot of a state whose force was just computed) does not solve twice."""

    model: ElectronicModel
    _last: tuple[torch.Tensor, Evaluation] | None = None

    def electronic(self, field) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def evaluate(self, field: torch.Tensor) -> Evaluation:
        if self._last is not None and _same(self._last[0], field):
            return self._last[1]
        energy, forces = self.electronic(field)
        result = Evaluation(
            energy=energy,
            forces=forces,
            elastic_energy=self.model.elastic_energy(field),
            elastic_forces=self.model.elastic_forces(field),
        )
        if isinstance(field, torch.Tensor):
            self._last = (field.detach().clone(), result)
        return result

    def energy_and_forces(self, field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E + V, -d(E + V)/dfield): the protocol of every force term (`dynamics.forces`)."""
        result = self.evaluate(field)
        return result.total_energy, result.total_forces

    def __call__(self, field: torch.Tensor) -> torch.Tensor:
        return self.evaluate(field).total_forces

    def energy(self, field: torch.Tensor) -> torch.Tensor:
        return self.evaluate(field).total_energy


class ExactForces(ElectronicForces):
    """The force on the classical field of an exact-diagonalization model: the electronic
    force at fixed `filling` (T = 0) or at (`mu`, `temperature`) (the electronic temperature,
    not the bath's), plus the elastic force -dV/dfield.
    """

    def __init__(
        self,
        model: ElectronicModel,
        *,
        filling: float | None = None,
        mu: float | None = None,
        temperature: float | None = None,
    ):
        if not isinstance(model, ElectronicModel):
            raise TypeError(f"model must be a runtime.electrons.ElectronicModel, got {model!r}")
        ensemble(model.n_states, filling, mu, temperature)  # fail now, not at the first step
        model.check_dense()  # the ED memory estimate, before anything is allocated
        self.model = model
        self.filling, self.mu, self.temperature = filling, mu, temperature

    def __repr__(self) -> str:
        electrons = (f"filling={self.filling}" if self.mu is None
                     else f"mu={self.mu}, temperature={self.temperature}")
        return f"ExactForces({self.model!r}, {electrons})"

    def electronic(self, field) -> tuple[torch.Tensor, torch.Tensor]:
        """(E or Omega per configuration, -dE/dfield) by exact diagonalization."""
        solution = self.model.solve(
            field, self.filling, mu=self.mu, temperature=self.temperature)
        return solution.energy, solution.forces


def _same(a: torch.Tensor, b) -> bool:
    return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
