"""The force the integrators take: one protocol for every source of energy.

Every term (`ExactForces`, the ML `ForceField`, `Elastic`) offers
`energy_and_forces(field) -> (energy per configuration, -dE/dΦ like the field)`.
`TotalForce(*terms)` adds them up and is the callable `field -> force` of the integrators;
it remembers its last evaluation, so the energy of the state just stepped to costs nothing.
A field that is not finite gets NaN energy and force without calling the terms, so that the
dynamics stop at that step (`runtime.dynamics.simulation`).

    forces = TotalForce(ForceField.load("model.pt"), Elastic("square", (512, 512), K0=1.0))
    state = integrator.step(state, forces)
    forces.energy(state.field)        # from the evaluation the step just made
"""

from __future__ import annotations

import math

import torch


class TotalForce:
    """The sum of the terms' energies and forces (the ML model learns only the electronic
    part, as datasets store it; the elastic term is exact)."""

    def __init__(self, *terms):
        if not terms or not all(callable(getattr(t, "energy_and_forces", None)) for t in terms):
            raise TypeError("TotalForce needs terms with an energy_and_forces(field) method, "
                            f"got {terms!r}")
        self.terms = terms
        self._last: tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]] | None = None

    def energy_and_forces(self, field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not bool(torch.isfinite(field).all()):
            # a step went non-finite: NaN energy and force, so that `simulate` stops at that
            # step with its number (the terms themselves may refuse such a field)
            return field.new_full(field.shape[:1], math.nan), torch.full_like(field, math.nan)
        if self._last is not None and self._last[0].shape == field.shape \
                and torch.equal(self._last[0], field):
            return self._last[1]
        energy, forces = self.terms[0].energy_and_forces(field)
        for term in self.terms[1:]:
            more_energy, more_forces = term.energy_and_forces(field)
            energy, forces = energy + more_energy, forces + more_forces
        self._last = (field.detach().clone(), (energy, forces))
        return energy, forces

    def __call__(self, field: torch.Tensor) -> torch.Tensor:
        return self.energy_and_forces(field)[1]

    def energy(self, field: torch.Tensor) -> torch.Tensor:
        return self.energy_and_forces(field)[0]
