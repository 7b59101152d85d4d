"""Integrators for the classical fields, each a small frozen dataclass with `init` and `step`.

    integrator = Langevin(dt=0.05, mass=1.0, damping=0.5, temperature=0.1)
    state = integrator.init(field, forces, seed=7)
    for _ in range(1000):
        state = integrator.step(state, forces)

`forces` is any callable field -> forces, the generalized force -dE/dfield shaped like the
field (`runtime.electrons.forces.ExactForces`: electronic plus elastic; later the ML force field). The
field may carry any leading batch dimensions; every site evolves independently given its force.

Units: k_B = 1; energies and temperatures in units of the hopping t, time in units of hbar/t
(mass, damping, gamma in the matching units). Noise: white Gaussian, <eta(t) eta(t')> =
2 D delta(t - t') per component, D fixed by the fluctuation–dissipation theorem so that the
stationary distribution is exp(-E/T). Each state carries the force at its field (one force
evaluation per step for Langevin and TDGL, two for the spin integrators) and a
`torch.Generator` that `step` advances in place; `State.arrays` / `from_arrays` serialize a
state exactly, so a trajectory resumed from a checkpoint continues bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np
import torch

from runtime.checks import real_number

ForceFunction = Callable[[torch.Tensor], torch.Tensor]
"""field -> generalized force -dE/dfield, same shape, float64."""


@dataclass(frozen=True)
class State:
    """The field, the force at the field, and the random-number generator of the noise."""

    field: torch.Tensor
    forces: torch.Tensor
    generator: torch.Generator

    def arrays(self) -> dict[str, np.ndarray]:
        """Every field of the state as a numpy array (the generator as its byte state)."""
        return {f.name: _to_array(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> State:
        """The state that `arrays()` returned, restored exactly."""
        missing = {f.name for f in fields(cls)} - set(arrays)
        if missing:
            raise ValueError(f"{cls.__name__} checkpoint lacks {', '.join(sorted(missing))}")
        generator = torch.Generator()
        generator.set_state(torch.from_numpy(np.array(arrays["generator"], dtype=np.uint8)))
        values = {
            f.name: torch.from_numpy(np.array(arrays[f.name], dtype=np.float64))
            for f in fields(cls)
            if f.name != "generator"
        }
        return cls(generator=generator, **values)


@dataclass(frozen=True)
class LangevinState(State):
    momentum: torch.Tensor  # p = mass * dQ/dt


@dataclass(frozen=True)
class TDGLState(State):
    noise: torch.Tensor  # R_n, the standard normal draw shared by consecutive steps


def _to_array(value) -> np.ndarray:
    if isinstance(value, torch.Generator):
        return value.get_state().numpy().copy()
    return value.detach().cpu().numpy().copy()


def _parameter(owner: str, name: str, value, *, positive: bool = False) -> float:
    value = real_number(f"{owner}.{name}", value)
    if positive and value <= 0:
        raise ValueError(f"{owner}.{name} must be positive, got {value}")
    if value < 0:
        raise ValueError(f"{owner}.{name} must be >= 0, got {value}")
    return value


class _Integrator:
    """Validation of the dataclass parameters (`_positive` must be > 0, the rest >= 0);
    `state_type` is the class of the states `init` and `step` return; `components` the field
    components it evolves (None: any), `unit_spins` whether it conserves each |S_i| (its
    initial field is then normalised), `force_calls_per_step` the force evaluations of one
    step (an ED trajectory of n steps costs 1 + n x that many diagonalizations)."""

    _positive: tuple[str, ...] = ("dt",)
    state_type: ClassVar[type[State]] = State
    components: ClassVar[int | None] = None
    unit_spins: ClassVar[bool] = False
    force_calls_per_step: ClassVar[int] = 1

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in fields(self):
            value = _parameter(owner, f.name, getattr(self, f.name),
                               positive=f.name in self._positive)
            object.__setattr__(self, f.name, value)

    def _start(self, field, forces: ForceFunction, seed: int):
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        field = torch.as_tensor(field, dtype=torch.float64).clone()
        return field, forces(field), torch.Generator().manual_seed(int(seed))


def _normal(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, dtype=like.dtype)


@dataclass(frozen=True)
class Langevin(_Integrator):
    """Second-order Langevin dynamics of a field Q (paper eqs. 63, 86):

        mass Q'' + damping Q' = F(Q) + eta,    <eta eta'> = 2 damping T delta

    BAOAB splitting (Leimkuhler & Matthews, AMRX 2013): half kick, half drift, the exact
    Ornstein–Uhlenbeck step p -> c p + sqrt((1 - c^2) mass T) R with c = exp(-damping dt / mass),
    half drift, half kick. One force evaluation per step. Configurational averages have weak
    order 2 (exact for a harmonic potential at any stable dt); the momenta at the end of a step
    sample mass T (1 - omega^2 dt^2 / 4) for a harmonic mode of frequency omega. With
    damping = 0 it is velocity Verlet (symplectic, energy conserved up to O(dt^2) oscillations).
    """

    dt: float
    mass: float = 1.0
    damping: float = 1.0
    temperature: float = 0.0

    _positive = ("dt", "mass")
    state_type: ClassVar[type[State]] = LangevinState

    def init(self, field, forces: ForceFunction, *, seed: int) -> LangevinState:
        """Start at `field` with Maxwell momenta at `temperature` (zero at T = 0)."""
        field, force, generator = self._start(field, forces, seed)
        momentum = math.sqrt(self.mass * self.temperature) * _normal(field, generator)
        return LangevinState(field, force, generator, momentum)

    def step(self, state: LangevinState, forces: ForceFunction) -> LangevinState:
        half = 0.5 * self.dt
        momentum = state.momentum + half * state.forces
        field = state.field + (half / self.mass) * momentum
        c = math.exp(-self.damping * self.dt / self.mass)
        kick = math.sqrt((1.0 - c * c) * self.mass * self.temperature)
        momentum = c * momentum + kick * _normal(momentum, state.generator)
        field = field + (half / self.mass) * momentum
        force = forces(field)
        return LangevinState(field, force, state.generator, momentum + half * force)

    def kinetic_energy(self, state: LangevinState) -> torch.Tensor:
        """sum p^2 / (2 mass) over all but the first (batch) dimension."""
        squares = state.momentum.square()
        return squares.sum(tuple(range(1, squares.ndim))) / (2 * self.mass)


@dataclass(frozen=True)
class TDGL(_Integrator):
    """Time-dependent Ginzburg–Landau (model A) relaxation, paper eq. 4, with thermal noise:

        dPhi/dt = damping F(Phi) + eta,    <eta eta'> = 2 damping T delta

    Step (the high-friction limit of BAOAB; Leimkuhler, Matthews & Stoltz, IMA J. Numer. Anal.
    2016): Phi_{n+1} = Phi_n + damping dt F(Phi_n) + sqrt(damping T dt / 2) (R_n + R_{n+1}),
    one force evaluation per step. Weak order 2 for stationary averages and exact variance in
    a harmonic potential; at T = 0 it is explicit Euler gradient descent, stable for
    damping * dt * (largest curvature) < 2.
    """

    dt: float
    damping: float = 1.0
    temperature: float = 0.0

    state_type: ClassVar[type[State]] = TDGLState

    def init(self, field, forces: ForceFunction, *, seed: int) -> TDGLState:
        field, force, generator = self._start(field, forces, seed)
        return TDGLState(field, force, generator, _normal(field, generator))

    def step(self, state: TDGLState, forces: ForceFunction) -> TDGLState:
        noise = _normal(state.field, state.generator)
        amplitude = math.sqrt(0.5 * self.damping * self.temperature * self.dt)
        field = (state.field + (self.damping * self.dt) * state.forces
                 + amplitude * (state.noise + noise))
        return TDGLState(field, forces(field), state.generator, noise)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a . b over the last (vector) axis, kept as a length-1 axis (a matrix product: several
    times faster than a sum over an axis of length 3 in torch on CPU)."""
    return (a * b) @ a.new_ones(a.shape[-1], 1)


def _rotate(spins: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Cayley rotation (1 - [a x])^-1 (1 + [a x]) S: about a by the angle 2 arctan|a|, so
    |S| is kept to rounding; the exact solution of S' = S + a x (S + S')."""
    a2 = _dot(a, a)
    along = _dot(a, spins)
    return ((1 - a2) * spins + 2 * torch.cross(a, spins, dim=-1) + 2 * along * a) / (1 + a2)


def _solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(1 - [a x])^-1 b = (b + a x b + (a . b) a) / (1 + |a|^2)."""
    a2 = _dot(a, a)
    along = _dot(a, b)
    return (b + torch.cross(a, b, dim=-1) + along * a) / (1 + a2)


def _semi_implicit_midpoint(dt: float, spins, force, forces: ForceFunction, omega, drift=None):
    """One step of S' = Omega(S, H) x S + drift(H) by the semi-implicit midpoint scheme of
    Mentink et al. (J. Phys.: Condens. Matter 22, 176001 (2010)): a predictor with the field at
    S_n, then the corrector S_{n+1} = S_n + dt Omega(Sbar, Hbar) x (S_n + S_{n+1}) / 2
    + dt drift(Hbar) with Sbar = (S_n + S_pred) / 2, each solved exactly (`_rotate`, `_solve`).
    Returns S_{n+1} and the force there (two force evaluations)."""

    def update(at, field):
        a = (0.5 * dt) * omega(at, field)
        moved = _rotate(spins, a)
        return moved if drift is None else moved + _solve(a, dt * drift(field))

    middle = 0.5 * (spins + update(spins, force))
    new = update(middle, forces(middle))
    return new, forces(new)


def _check_vectors(field: torch.Tensor, owner: str) -> None:
    if field.ndim == 0 or field.shape[-1] != 3:
        raise ValueError(f"{owner} integrates 3-component spins (last dimension 3), "
                         f"got a field of shape {tuple(field.shape)}")


@dataclass(frozen=True)
class StochasticLLG(_Integrator):
    """Stochastic Landau–Lifshitz–Gilbert dynamics of fixed-length spins (paper eq. 91):

        dS/dt = -gamma S x (H + xi) - (gamma alpha / s) S x [S x (H + xi)],   s = |S|

    with H = F(S) = -dE/dS and a thermal field xi, <xi_a xi_b'> = 2 D delta_ab delta,
    D = alpha T / (gamma s (1 + alpha^2)) (Stratonovich; this makes exp(-E/T) stationary).
    This is the Landau–Lifshitz form of the Gilbert equation dS/dt = -gamma_G S x (H + xi)
    + (alpha / s) S x dS/dt with gamma_G = gamma (1 + alpha^2), <xi xi'> = 2 alpha T /
    (gamma_G s). Paper eq. 91 reads gamma_paper = gamma, lambda = gamma alpha (for s = 1) and
    eta = -xi; its damping term as printed has the opposite sign (it would raise the energy):
    here the damping relaxes S towards H. A static field H precesses S counter-clockwise about
    H at the Larmor frequency gamma |H|.

    Scheme: Mentink's semi-implicit midpoint (see `_semi_implicit_midpoint`) with xi held over
    the step; every update is a rotation, so each |S_i| is conserved to rounding for any dt.
    Second order without noise, weak order 1 with it (it converges to the Stratonovich
    solution, as the fluctuation–dissipation relation above requires).
    """

    force_calls_per_step: ClassVar[int] = 2  # the midpoint's and the new field's

    dt: float
    gamma: float = 1.0
    alpha: float = 0.1
    temperature: float = 0.0

    _positive = ("dt", "gamma")
    components: ClassVar[int] = 3
    unit_spins: ClassVar[bool] = True

    def init(self, field, forces: ForceFunction, *, seed: int) -> State:
        field, force, generator = self._start(field, forces, seed)
        _check_vectors(field, "StochasticLLG")
        if bool((field.norm(dim=-1) == 0).any()):
            raise ValueError("StochasticLLG needs nonzero spins (it conserves each |S_i|); use "
                             "SpinLangevin for spins of variable length")
        return State(field, force, generator)

    def step(self, state: State, forces: ForceFunction) -> State:
        length = _dot(state.field, state.field).sqrt()
        variance = 2 * self.alpha * self.temperature / (
            self.gamma * length * (1 + self.alpha**2) * self.dt)
        thermal = variance.sqrt() * _normal(state.field, state.generator)

        def omega(spins, field):
            total = field + thermal
            return self.gamma * (total + (self.alpha / length) * torch.cross(spins, total, dim=-1))

        field, force = _semi_implicit_midpoint(self.dt, state.field, state.forces, forces, omega)
        return State(field, force, state.generator)


@dataclass(frozen=True)
class SpinLangevin(_Integrator):
    """Spins of variable length (spin-density waves, paper Sec. VI): precession plus a
    Langevin dissipation in place of the Gilbert damping,

        dS/dt = -gamma S x H + damping H + eta,    <eta eta'> = 2 damping T delta,

    H = F(S) = -dE/dS. Precession conserves E and phase-space volume, the rest is model A, so
    exp(-E/T) is stationary. Scheme: Mentink's semi-implicit midpoint with the additive terms
    at the midpoint field (see `_semi_implicit_midpoint`); with damping = 0 the precession
    keeps every |S_i| to rounding.
    """

    force_calls_per_step: ClassVar[int] = 2  # the midpoint's and the new field's

    dt: float
    gamma: float = 1.0
    damping: float = 1.0
    temperature: float = 0.0

    components: ClassVar[int] = 3

    def init(self, field, forces: ForceFunction, *, seed: int) -> State:
        field, force, generator = self._start(field, forces, seed)
        _check_vectors(field, "SpinLangevin")
        return State(field, force, generator)

    def step(self, state: State, forces: ForceFunction) -> State:
        kick = math.sqrt(2 * self.damping * self.temperature / self.dt)
        noise = kick * _normal(state.field, state.generator)

        def omega(spins, field):
            return self.gamma * field

        def drift(field):
            return self.damping * field + noise

        field, force = _semi_implicit_midpoint(
            self.dt, state.field, state.forces, forces, omega, drift)
        return State(field, force, state.generator)


INTEGRATORS: dict[str, type[_Integrator]] = {
    "langevin": Langevin,
    "tdgl": TDGL,
    "llg": StochasticLLG,
    "spin_langevin": SpinLangevin,
}
"""Names used in configs and on the command line."""
