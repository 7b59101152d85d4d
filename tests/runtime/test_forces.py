"""Exact-diagonalization force sources and the dynamics they drive."""

import numpy as np
import pytest
import torch

from runtime.dynamics.integrators import Langevin, StochasticLLG
from runtime.electrons import SD, Holstein, JahnTeller
from runtime.electrons.forces import ExactForces


def test_total_force_is_electronic_plus_elastic_and_minus_the_energy_gradient():
    """Grand canonical at T_e = 0.2 (smooth E): central differences of E + V match the force."""
    model = JahnTeller("square", 4, g=1.5, K0=1.3, K1=0.2)
    forces = ExactForces(model, mu=0.1, temperature=0.2)
    field = model.random_field(2, seed=1)
    solution = model.solve(field, mu=0.1, temperature=0.2)
    expected = solution.forces + model.elastic_forces(field)
    assert torch.allclose(forces(field), expected, atol=1e-13)

    direction = model.random_field(2, seed=2)
    h = 1e-5
    slope = (forces.energy(field + h * direction) - forces.energy(field - h * direction)) / (2 * h)
    predicted = -(forces(field) * direction).sum((1, 2, 3, 4))
    assert torch.allclose(slope, predicted, atol=1e-7, rtol=1e-7)


def test_the_last_evaluation_is_reused_for_the_same_field():
    model = Holstein("square", 4)
    forces = ExactForces(model, filling=0.5)
    calls = []
    solve = model.solve

    def counting(*args, **kwargs):
        calls.append(1)
        return solve(*args, **kwargs)

    model.solve = counting
    field = model.random_field(1, seed=0)
    first = forces.evaluate(field)
    assert forces.evaluate(field.clone()) is first and len(calls) == 1
    forces.evaluate(field + 1e-3)
    assert len(calls) == 2


def test_bad_ensemble_fails_when_the_force_source_is_made():
    with pytest.raises(ValueError, match="filling must lie strictly between 0 and 1"):
        ExactForces(Holstein("square", 4), filling=1.5)
    with pytest.raises(ValueError, match="needs both mu and temperature"):
        ExactForces(Holstein("square", 4), mu=0.0)
    with pytest.raises(TypeError, match="ElectronicModel"):
        ExactForces("holstein")


def nve_fluctuation(model, dt: float, duration: float) -> tuple[float, float]:
    """Standard deviation of H(t) and its secular drift (fitted slope times duration) for velocity
    Verlet (Langevin without damping) from a random field with Maxwell momenta at T = 0.1."""
    forces = ExactForces(model, filling=0.5)
    integrator = Langevin(dt=dt, mass=1.0, damping=0.0, temperature=0.1)
    state = integrator.init(model.random_field(1, seed=3, scale=0.5), forces, seed=4)
    energies = []
    for _ in range(round(duration / dt)):
        state = integrator.step(state, forces)
        energies.append(float(integrator.kinetic_energy(state)[0] + forces.energy(state.field)[0]))
    slope = np.polyfit(dt * np.arange(len(energies)), energies, 1)[0]
    return float(np.std(energies)), abs(slope) * duration


def test_holstein_ed_dynamics_without_noise_and_damping_conserves_energy():
    """10 x 10 Holstein, g = 1.5t, half filling: the energy error of the symplectic integrator
    oscillates with an amplitude ~ dt^2 and does not drift (benchmarks/energy_drift.py
    reports the figures over longer runs)."""
    model = Holstein("square", 10, g=1.5, K0=1.0)
    coarse, coarse_drift = nve_fluctuation(model, 0.1, 40.0)
    fine, fine_drift = nve_fluctuation(model, 0.05, 40.0)
    assert 3.0 < coarse / fine < 5.3  # dt^2: 4
    assert coarse_drift < coarse and fine_drift < fine


def test_damped_llg_with_ed_forces_relaxes_at_fixed_spin_length():
    model = SD("square", 4, J=6.0)
    forces = ExactForces(model, filling=0.45)
    integrator = StochasticLLG(dt=0.02, gamma=1.0, alpha=0.2)
    state = integrator.init(model.random_field(1, seed=5), forces, seed=6)
    energies = [float(forces.energy(state.field)[0])]
    for _ in range(150):
        state = integrator.step(state, forces)
        energies.append(float(forces.energy(state.field)[0]))
    assert (state.field.norm(dim=-1) - 1).abs().max() < 1e-13
    assert np.all(np.diff(energies) < 0)  # Gilbert damping dissipates at every step
