"""Integrators against analytic results: equipartition, weak order, Larmor precession, the
Langevin function, norm conservation, exact checkpoints.

Statistical checks use ensembles of independent particles; the standard error of a mean is
the spread of the per-particle time averages over sqrt(number of particles), and every
tolerance is Z standard errors. Where the discretization has a known bias it is part of the
expected value; where it has an unknown O(dt) bias, dt is chosen so that the bias measured in
benchmarks/ is below a third of the standard error.
"""

import math

import numpy as np
import pytest
import torch

from runtime.dynamics.integrators import TDGL, Langevin, SpinLangevin, State, StochasticLLG

Z = 4.0  # tolerance in standard errors (two-sided p = 6e-5 per check)


def ensemble_mean(per_particle: torch.Tensor) -> tuple[float, float]:
    """Mean over independent particles and its standard error."""
    return float(per_particle.mean()), float(per_particle.std()) / math.sqrt(len(per_particle))


def time_average(integrator, state, forces, burn_in: float, duration: float, observe):
    """Per-particle time averages of observe(state) after burn_in."""
    for _ in range(round(burn_in / integrator.dt)):
        state = integrator.step(state, forces)
    steps = round(duration / integrator.dt)
    total = 0.0
    for _ in range(steps):
        state = integrator.step(state, forces)
        total = total + observe(state)
    return total / steps


# --- second-order Langevin (BAOAB) and TDGL --------------------------------------------------

STIFFNESS = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=torch.float64).repeat(5000)


def harmonic(q):
    return -STIFFNESS * q


@pytest.mark.parametrize("dt", [0.05, 0.7])
def test_langevin_equipartition_in_a_harmonic_potential(dt):
    """<K Q^2> = T exactly for BAOAB at any stable dt; the end-of-step momenta give
    <mu Qdot^2> = T (1 - omega^2 dt^2 / 4) (a 0.1% correction at dt = 0.05, 25% at
    omega dt = 1, which the test also sees)."""
    mass, temperature = 2.0, 0.7
    integrator = Langevin(dt=dt, mass=mass, damping=1.0, temperature=temperature)
    state = integrator.init(torch.zeros_like(STIFFNESS), harmonic, seed=11)
    potential = time_average(integrator, state, harmonic, 15.0, 60.0,
                             lambda s: STIFFNESS * s.field**2)
    mean, se = ensemble_mean(potential)
    assert abs(mean - temperature) < Z * se, (mean, se)

    state = integrator.init(torch.zeros_like(STIFFNESS), harmonic, seed=12)
    kinetic = time_average(integrator, state, harmonic, 15.0, 60.0,
                           lambda s: s.momentum**2 / mass)
    expected = temperature * (1 - STIFFNESS * dt**2 / (4 * mass))
    mean, se = ensemble_mean(kinetic - expected)
    assert abs(mean) < Z * se, (mean, se)


@pytest.mark.parametrize("dt", [0.05, 0.25])
def test_tdgl_equipartition_is_exact_at_any_step(dt):
    """<K Q^2> = T; at dt = 0.25 (damping K dt = 1 for K = 4) Euler–Maruyama would give 2T."""
    temperature = 0.7
    integrator = TDGL(dt=dt, damping=1.0, temperature=temperature)
    state = integrator.init(torch.zeros_like(STIFFNESS), harmonic, seed=13)
    potential = time_average(integrator, state, harmonic, 10.0, 100.0,
                             lambda s: STIFFNESS * s.field**2)
    mean, se = ensemble_mean(potential)
    assert abs(mean - temperature) < Z * se, (mean, se)


def test_tdgl_without_noise_descends_the_gradient():
    integrator = TDGL(dt=0.1, damping=2.0)
    state = integrator.init(torch.ones(4, dtype=torch.float64), harmonic_small, seed=0)
    state = integrator.step(state, harmonic_small)
    assert torch.allclose(state.field, torch.full((4,), 1 - 0.1 * 2.0 * 3.0, dtype=torch.float64))


def harmonic_small(q):
    return -3.0 * q


def pendulum(q):
    return -torch.sin(q)


def test_baoab_weak_order_two_on_configurational_averages():
    """<cos q> of pendulums V = -cos q at T = 1 (exact: I1(1)/I0(1)) at dt = 0.8 and 0.4; the
    error ratio gives the order p = log2(e(0.8)/e(0.4)) with its propagated standard error.
    benchmarks/weak_order.py measures p = 2 over four steps with higher precision."""
    q = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    exact = (np.cos(q) * np.exp(np.cos(q))).sum() / np.exp(np.cos(q)).sum()
    start = torch.from_numpy(np.random.default_rng(5).vonmises(0.0, 1.0, 200_000))
    errors, ses = [], []
    for dt in (0.8, 0.4):
        integrator = Langevin(dt=dt, mass=1.0, damping=0.2, temperature=1.0)
        state = integrator.init(start, pendulum, seed=6)
        mean, se = ensemble_mean(time_average(integrator, state, pendulum, 20.0, 300.0,
                                              lambda s: torch.cos(s.field)))
        errors.append(mean - exact)
        ses.append(se)
    assert all(abs(e) > Z * se for e, se in zip(errors, ses)), (errors, ses)  # resolved
    order = math.log2(errors[0] / errors[1])
    order_se = math.hypot(ses[0] / errors[0], ses[1] / errors[1]) / math.log(2)
    assert abs(order - 2) < Z * order_se, (order, order_se)
    assert order - 1 > Z * order_se, (order, order_se)  # not first order


# --- spins ------------------------------------------------------------------------------------


def unit_spins(n: int, seed: int, length: float = 1.0) -> torch.Tensor:
    spins = torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return length * spins / spins.norm(dim=-1, keepdim=True)


def heisenberg_ring(spins):
    """H_i = -(S_{i-1} + S_{i+1}): an antiferromagnetic Heisenberg ring along axis 0."""
    return -(spins.roll(1, 0) + spins.roll(-1, 0))


def test_llg_keeps_every_spin_length_to_1e_12_over_10k_steps():
    """Heisenberg ring of 64 spins with damping and thermal noise."""
    spins = unit_spins(64, seed=1)
    integrator = StochasticLLG(dt=0.05, gamma=1.0, alpha=0.2, temperature=0.5)
    state = integrator.init(spins, heisenberg_ring, seed=2)
    for _ in range(10_000):
        state = integrator.step(state, heisenberg_ring)
    assert (state.field.norm(dim=-1) - 1).abs().max() < 1e-12
    assert not torch.allclose(state.field, spins)


def test_llg_larmor_precession_matches_the_analytic_frequency():
    """dS/dt = gamma H x S: counter-clockwise precession about H at omega = gamma |H|. The
    midpoint (Cayley) step turns by exactly 2 arctan(omega dt / 2) per step, i.e. a relative
    frequency error of -(omega dt)^2 / 12 + O(dt^4)."""
    gamma, strength, dt, steps = 1.7, 2.0, 0.01, 1000
    field = torch.tensor([0.0, 0.0, strength], dtype=torch.float64)

    def static(spins):
        return field.expand_as(spins)

    integrator = StochasticLLG(dt=dt, gamma=gamma, alpha=0.0)
    state = integrator.init(torch.tensor([[0.6, 0.0, 0.8]], dtype=torch.float64), static, seed=0)
    angles = []
    for _ in range(steps):
        state = integrator.step(state, static)
        angles.append(math.atan2(state.field[0, 1], state.field[0, 0]))
    omega = np.polyfit(dt * np.arange(1, steps + 1), np.unwrap(angles), 1)[0]
    larmor = gamma * strength
    assert omega == pytest.approx(2 * math.atan(larmor * dt / 2) / dt, rel=1e-12)
    assert abs(omega / larmor - 1) < (larmor * dt) ** 2 / 12 * 1.01
    assert state.field[0, 2] == pytest.approx(0.8, abs=1e-13)  # S . H conserved


def test_llg_damped_relaxation_follows_the_analytic_solution_to_second_order():
    """T = 0, static H: tan(theta/2) = tan(theta0/2) exp(-gamma alpha |H| t) (LL form)."""
    gamma, alpha, strength, duration = 1.0, 0.3, 1.5, 4.0
    field = torch.tensor([0.0, 0.0, strength], dtype=torch.float64)

    def static(spins):
        return field.expand_as(spins)

    theta0 = 2.5
    start = torch.tensor([[math.sin(theta0), 0.0, math.cos(theta0)]], dtype=torch.float64)
    exact = 2 * math.atan(math.tan(theta0 / 2) * math.exp(-gamma * alpha * strength * duration))
    errors = []
    for dt in (0.02, 0.01):
        integrator = StochasticLLG(dt=dt, gamma=gamma, alpha=alpha)
        state = integrator.init(start, static, seed=0)
        for _ in range(round(duration / dt)):
            state = integrator.step(state, static)
        errors.append(abs(math.acos(float(state.field[0, 2])) - exact))
    assert errors[1] < 1e-4
    assert 3.0 < errors[0] / errors[1] < 5.0  # second order: 4


def test_llg_magnetization_follows_the_langevin_function():
    """Independent spins of length s = 1.5 in static fields, T = 1: <S . H^>/s = coth x - 1/x,
    x = s |H| / T, for x = 0.5, 2, 5, from random initial directions. The scheme has weak
    order 1; for x = 5 (alpha = 0.5) its bias was measured as +1.4e-3 at dt = 0.04 and
    +3e-4 (+-2e-4) at dt = 0.01, below half the standard error (7e-4) here."""
    length, temperature = 1.5, 1.0
    x = torch.tensor([0.5, 2.0, 5.0], dtype=torch.float64)
    fields = torch.zeros(9000, 3, dtype=torch.float64)
    fields[:, 2] = (x * temperature / length).repeat(3000)

    def static(spins):
        return fields

    integrator = StochasticLLG(dt=0.01, gamma=1.0, alpha=0.5, temperature=temperature)
    state = integrator.init(unit_spins(9000, seed=3, length=length), static, seed=4)
    cosine = time_average(integrator, state, static, 8.0, 12.0, lambda s: s.field[:, 2] / length)
    for k, xk in enumerate(x.tolist()):
        mean, se = ensemble_mean(cosine[k::3])
        expected = 1 / math.tanh(xk) - 1 / xk
        assert abs(mean - expected) < Z * se, (xk, mean, expected, se)


def test_spin_langevin_samples_the_boltzmann_distribution():
    """E = K |S|^2 / 2 - B . S: Gaussian spins, mean B / K, <|S - B/K|^2> = 3 T / K, reached from
    S = 0 with the precession on (it conserves E, so it may not shift the distribution)."""
    stiffness, temperature = 2.0, 0.5
    field = torch.tensor([0.3, -0.2, 1.0], dtype=torch.float64)

    def forces(spins):
        return field - stiffness * spins

    integrator = SpinLangevin(dt=0.02, gamma=1.0, damping=0.5, temperature=temperature)
    state = integrator.init(torch.zeros(6000, 3, dtype=torch.float64), forces, seed=5)
    centre = field / stiffness
    averages = time_average(integrator, state, forces, 10.0, 12.0,
                            lambda s: torch.cat([s.field, ((s.field - centre) ** 2).sum(-1,
                                                keepdim=True)], dim=-1))
    for component in range(3):
        mean, se = ensemble_mean(averages[:, component])
        assert abs(mean - centre[component]) < Z * se, (component, mean, se)
    mean, se = ensemble_mean(averages[:, 3])
    assert abs(mean - 3 * temperature / stiffness) < Z * se, (mean, se)


def test_spin_langevin_without_damping_precesses_at_fixed_length():
    integrator = SpinLangevin(dt=0.05, gamma=1.0, damping=0.0)
    spins = unit_spins(8, seed=6, length=2.0)
    field = torch.tensor([0.2, 0.1, 1.0], dtype=torch.float64)

    def static(s):
        return field.expand_as(s)

    state = integrator.init(spins, static, seed=0)
    for _ in range(1000):
        state = integrator.step(state, static)
    assert (state.field.norm(dim=-1) - 2.0).abs().max() < 1e-12
    assert torch.allclose(state.field @ field, spins @ field, atol=1e-12)


# --- states, checkpoints, input checks --------------------------------------------------------

INTEGRATORS = [
    (Langevin(dt=0.1, damping=0.5, temperature=0.3), 1),
    (TDGL(dt=0.1, temperature=0.3), 1),
    (StochasticLLG(dt=0.1, alpha=0.2, temperature=0.3), 3),
    (SpinLangevin(dt=0.1, temperature=0.3), 3),
]


@pytest.mark.parametrize(("integrator", "components"), INTEGRATORS,
                         ids=lambda v: type(v).__name__)
def test_a_restored_checkpoint_continues_bit_for_bit(integrator, components):
    def forces(field):
        return -field**3 + 0.1

    field = unit_spins(6, seed=7)[:, :components]
    state = integrator.init(field, forces, seed=8)
    for _ in range(5):
        state = integrator.step(state, forces)
    restored = type(state).from_arrays(state.arrays())
    assert type(state) is integrator.state_type
    for _ in range(5):
        state = integrator.step(state, forces)
        restored = integrator.step(restored, forces)
    assert torch.equal(state.field, restored.field)
    assert torch.equal(state.forces, restored.forces)


def test_parameters_are_checked_with_clear_errors():
    with pytest.raises(ValueError, match="Langevin.dt must be positive"):
        Langevin(dt=-0.1)
    with pytest.raises(ValueError, match="Langevin.mass must be positive"):
        Langevin(dt=0.1, mass=0.0)
    with pytest.raises(ValueError, match="TDGL.temperature must be >= 0"):
        TDGL(dt=0.1, temperature=-1.0)
    with pytest.raises(ValueError, match="StochasticLLG.alpha must be finite"):
        StochasticLLG(dt=0.1, alpha=float("nan"))
    with pytest.raises(TypeError, match="SpinLangevin.gamma must be a real number"):
        SpinLangevin(dt=0.1, gamma="1")
    with pytest.raises(ValueError, match="nonzero spins"):
        StochasticLLG(dt=0.1).init(torch.zeros(2, 3), lambda s: s, seed=0)
    with pytest.raises(ValueError, match="3-component spins"):
        SpinLangevin(dt=0.1).init(torch.zeros(2, 2), lambda s: s, seed=0)
    with pytest.raises(ValueError, match="State checkpoint lacks field, forces, generator"):
        State.from_arrays({})


@pytest.mark.parametrize("integrator", [
    Langevin(dt=0.05, mass=1.0, damping=0.5, temperature=0.1),
    TDGL(dt=0.05, damping=1.0, temperature=0.1),
    StochasticLLG(dt=0.02, gamma=1.0, alpha=0.1, temperature=0.1),
    SpinLangevin(dt=0.02, gamma=1.0, damping=0.1, temperature=0.1),
], ids=type)
def test_force_calls_per_step_counts_the_force_evaluations(integrator):
    """What learn and the learning-curve benchmark count as ED calls per step."""
    calls = []

    def forces(field):
        calls.append(1)
        return -field

    field = torch.randn(4, 4, 1, 3 if integrator.components == 3 else 1,
                        generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    state = integrator.init(field, forces, seed=0)
    assert len(calls) == 1
    for _ in range(3):
        state = integrator.step(state, forces)
    assert len(calls) == 1 + 3 * integrator.force_calls_per_step
