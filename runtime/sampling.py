"""Trajectories of exact-force dynamics and their snapshots: the unit of work of a dataset.

A trajectory starts from a random field (`model.random_field`, Gaussian components or random
unit spins, times `initial_scale`), evolves under the bath temperature of its `Protocol` (a
quench: constant T; an anneal: T from `temperature_start` to `temperature_end`) and records a
snapshot at steps burn_in, burn_in + sample_every, ... . `run_segment` advances a trajectory
by a few snapshots from a `Checkpoint`; a segment is a pure function of (parameters,
trajectory index, checkpoint), so segments can run anywhere, in any order across
trajectories, and a resumed trajectory is identical to an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .dataset import Snapshots


@dataclass(frozen=True)
class Protocol:
    """Bath temperature schedule and sampling of one trajectory.

    snapshots      snapshots per trajectory
    sample_every   steps between snapshots
    burn_in        step of the first snapshot (0: the random initial field itself)
    schedule       'linear' or 'geometric' interpolation from temperature_start (step 0) to
                   temperature_end (last snapshot); equal temperatures make a quench
    """

    temperature_start: float
    temperature_end: float
    snapshots: int
    sample_every: int
    burn_in: int = 0
    schedule: str = "linear"
    initial_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("snapshots", "sample_every"):
            _integer(name, getattr(self, name), minimum=1)
        _integer("burn_in", self.burn_in, minimum=0)
        for name in ("temperature_start", "temperature_end"):
            if not (isinstance(getattr(self, name), (int, float)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be a number >= 0 (in units of t), got "
                                 f"{getattr(self, name)!r}")
        if self.schedule not in ("linear", "geometric"):
            raise ValueError(f"schedule must be 'linear' or 'geometric', got {self.schedule!r}")
        if self.schedule == "geometric" and min(self.temperature_start, self.temperature_end) <= 0:
            raise ValueError("a geometric schedule needs temperatures > 0; use 'linear' to reach 0")
        if not (isinstance(self.initial_scale, (int, float)) and self.initial_scale > 0):
            raise ValueError(f"initial_scale must be > 0, got {self.initial_scale!r}")

    @property
    def steps(self) -> int:
        """Step of the last snapshot: the length of the trajectory."""
        return self.burn_in + (self.snapshots - 1) * self.sample_every

    def sample_step(self, index: int) -> int:
        return self.burn_in + index * self.sample_every

    def temperature(self, step: int) -> float:
        """Bath temperature of the step that starts at `step`."""
        x = step / self.steps if self.steps else 0.0
        a, b = self.temperature_start, self.temperature_end
        if a == b:
            return float(a)
        if self.schedule == "geometric":
            return a * (b / a) ** x
        return a + (b - a) * x


def _integer(name: str, value, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


class DivergenceError(ValueError):
    """The field of a trajectory stopped being finite (the time step is too large)."""


@dataclass(frozen=True)
class Checkpoint:
    """Where a trajectory stands: `done` snapshots taken, the integrator state at `step`."""

    trajectory: int
    done: int
    step: int
    state: dict[str, np.ndarray]


def trajectory_seeds(seed: int, trajectory: int) -> tuple[int, int]:
    """(initial-field seed, noise seed) of trajectory `trajectory`, independent streams derived
    from the dataset seed by numpy's SeedSequence."""
    words = np.random.SeedSequence([seed, trajectory]).generate_state(2, dtype=np.uint64)
    return tuple(int(w) >> 1 for w in words)


def run_segment(parameters: dict, trajectory: int, checkpoint: Checkpoint | None,
                snapshots: int) -> tuple[Snapshots, Checkpoint]:
    """Take the next `snapshots` snapshots of trajectory `trajectory` (from its start if
    `checkpoint` is None): the snapshots and the checkpoint after the last of them."""
    from .config import build  # config imports this module

    setup = build(parameters)
    protocol, forces = setup.protocol, setup.forces

    def guarded(field: torch.Tensor) -> torch.Tensor:
        if not bool(torch.isfinite(field).all()):
            raise DivergenceError(
                f"trajectory {trajectory} diverged at step {step + 1}: the field is no longer "
                f"finite; reduce integrator.dt (now {setup.dt})")
        return forces(field)

    if checkpoint is None:
        field_seed, noise_seed = trajectory_seeds(parameters["seed"], trajectory)
        field = setup.model.random_field(1, seed=field_seed, scale=protocol.initial_scale)
        state = setup.integrator(protocol.temperature(0)).init(field, forces, seed=noise_seed)
        step = done = 0
    else:
        state = setup.state_type.from_arrays(checkpoint.state)
        step, done = checkpoint.step, checkpoint.done
    stop = min(done + snapshots, protocol.snapshots)

    fields, electronic, energies, steps = [], [], [], []
    integrator = setup.integrator(protocol.temperature(step))
    while done < stop:
        if step == protocol.sample_step(done):
            evaluation = forces.evaluate(state.field)
            fields.append(state.field[0].numpy().copy())
            electronic.append(evaluation.forces[0].numpy().copy())
            energies.append(float(evaluation.energy[0]))
            steps.append(step)
            done += 1
            continue
        if protocol.temperature_start != protocol.temperature_end:
            integrator = replace(integrator, temperature=protocol.temperature(step))
        state = integrator.step(state, guarded)
        step += 1

    steps = np.array(steps, dtype=np.int64)
    result = Snapshots(
        fields=np.stack(fields),
        forces=np.stack(electronic),
        energy=np.array(energies),
        trajectory=np.full(len(steps), trajectory, dtype=np.int64),
        step=steps,
        time=steps * setup.dt,
        temperature=np.array([protocol.temperature(s) for s in steps]),
    )
    return result, Checkpoint(trajectory, done, step, state.arrays())

