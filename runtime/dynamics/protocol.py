"""The sampling protocol of a trajectory: its bath-temperature schedule and snapshot steps.

A trajectory starts from a random field (`model.random_field`, Gaussian components or random
unit spins, times `initial_scale`), evolves under the bath temperature of its `Protocol` (a
quench: constant T; an anneal: T from `temperature_start` to `temperature_end`) and records a
snapshot at steps burn_in, burn_in + sample_every, ... (`runtime.data.generation.run_segment`).
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.checks import integer


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
            integer(name, getattr(self, name), minimum=1)
        integer("burn_in", self.burn_in, minimum=0)
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
