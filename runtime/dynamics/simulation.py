"""Large-scale dynamics driven by the ML force field (paper Secs. IV–VI): Langevin, TDGL or
LLG on lattices far beyond exact diagonalization, with snapshots, structure factor and domain
size over time.

    forces = TotalForce(ForceField.load("model.pt"), Elastic("square", (512, 512), K0=1.0))
    result = simulate(forces, Langevin(dt=0.05, damping=0.5, temperature=0.05), field,
                      SimulationOptions(steps=1000), "runs/holstein/simulation")

The total force (`runtime.dynamics.forces.TotalForce`) is the ML electronic force plus the exact
elastic force -dV/dPhi (the ML model learns only the electronic part, as the dataset stores
it). A step whose field, force or energy is not finite (at any of its force evaluations) stops
the run with `SimulationError` naming the step, after the last good state was saved
(atomically) to `last_good_state.npz`; an initial field whose force is not finite stops it at
step 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from runtime.dynamics.observables import (
    domain_size,
    ordering_wavevector,
    radial_profile,
    structure_factor,
)
from runtime.errors import SimulationError
from runtime.files import save_npz, write_atomically


@dataclass(frozen=True)
class SimulationOptions:
    """The `[simulation]` table: steps, measurements every `measure_every` steps (S(k),
    domain size, energy), PNG snapshots every `snapshot_every` steps (0: first and last)."""

    steps: int = 1000
    measure_every: int = 10
    snapshot_every: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.measure_every < 1 or self.snapshot_every < 0:
            raise ValueError(f"need steps >= 1, measure_every >= 1, snapshot_every >= 0; got "
                             f"{self.steps}, {self.measure_every}, {self.snapshot_every}")


@dataclass(frozen=True)
class Trace:
    """Measurements over time (numpy arrays) and the final state."""

    step: np.ndarray
    time: np.ndarray
    energy_per_site: np.ndarray
    domain_size: np.ndarray
    peak: np.ndarray           # S(Q) at the ordering wavevector Q
    wavevector: np.ndarray     # Q, (measurements, dim)
    field: torch.Tensor        # the final field (*cells, sublattice, component)


def simulate(forces, integrator, field: torch.Tensor, options: SimulationOptions, output, *,
             seed: int, progress: bool = True) -> Trace:
    """Run `options.steps` steps of `integrator` from `field` (batch 1) with the force
    function `forces` (a `TotalForce`: it keeps its last evaluation); write snapshots
    (snapshot_<step>.png), observables.npz/json, structure_factor.png, domain_size.png and
    final_state.npz into the directory `output`."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    state = integrator.init(field, forces, seed=seed)
    if not _finite(state, forces):
        raise SimulationError(
            f"the initial field or its force is NaN/infinite (step 0; largest |field| "
            f"{float(state.field.abs().max()):.3g}), so no step was made and no state was good "
            f"enough to save. Lower initial_scale to the range of fields the model was trained "
            f"on")
    sites = state.field[0, ..., 0].numel()
    rows, profiles = [], {}

    def measure(step: int, current) -> None:
        s, k = structure_factor(current.field[0])
        rows.append((step, step * integrator.dt, float(forces.energy(current.field)[0]) / sites,
                     domain_size(s, k), float(s.max()), ordering_wavevector(s, k).numpy()))
        profiles[step] = radial_profile(s, k)

    snapshot_steps = {0, options.steps} | (
        set(range(0, options.steps, options.snapshot_every)) if options.snapshot_every else set())
    measure(0, state)
    _plot_field(state.field[0], output / f"snapshot_{0:07d}.png", "step 0")
    for step in tqdm(range(1, options.steps + 1), desc="simulation", unit="step",
                     disable=not progress):
        new = integrator.step(state, forces)
        if not _finite(new, forces):
            path = save_npz(output / "last_good_state.npz", step=step - 1, **state.arrays())
            raise SimulationError(
                f"the field or force became NaN/infinite at step {step} (time "
                f"{step * integrator.dt:g}); the last good state (step {step - 1}) is saved in "
                f"{path}. Lower integrator.dt or check that the model was trained on fields of "
                f"this range")
        state = new
        if step % options.measure_every == 0 or step == options.steps:
            measure(step, state)
        if step in snapshot_steps:
            _plot_field(state.field[0], output / f"snapshot_{step:07d}.png", f"step {step}")
    save_npz(output / "final_state.npz", step=options.steps, **state.arrays())
    trace = Trace(*(np.array([r[i] for r in rows]) for i in range(6)), field=state.field[0])
    _write_observables(trace, profiles, output)
    return trace


def _finite(state, forces) -> bool:
    """Field and force of `state` finite, and its energy (a `TotalForce` has it from the
    evaluation just made)."""
    if not bool(torch.isfinite(state.field).all() and torch.isfinite(state.forces).all()):
        return False
    energy = getattr(forces, "energy", None)
    return energy is None or bool(torch.isfinite(energy(state.field)).all())


def _write_observables(trace: Trace, profiles: dict, output: Path) -> None:
    save_npz(output / "observables.npz", step=trace.step, time=trace.time,
             energy_per_site=trace.energy_per_site, domain_size=trace.domain_size,
             peak=trace.peak, wavevector=trace.wavevector)
    write_atomically(output / "observables.json", lambda path: path.write_text(json.dumps({
        "columns": ["step", "time", "energy_per_site", "domain_size", "peak"],
        "rows": [[int(a), float(b), float(c), float(d), float(e)] for a, b, c, d, e in
                 zip(trace.step, trace.time, trace.energy_per_site, trace.domain_size,
                     trace.peak)]}, indent=1)))
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    shown = sorted(profiles)[:: max(1, len(profiles) // 6)]
    for step in shown:
        k, s = profiles[step]
        axes[0].semilogy(k.numpy(), s.numpy().clip(min=1e-12), label=f"step {step}")
    axes[0].set_xlabel("|k − Q|")
    axes[0].set_ylabel("S(k), radial mean")
    axes[0].legend(fontsize=7)
    axes[1].plot(trace.time, trace.peak)
    axes[1].set_xlabel("time")
    axes[1].set_ylabel("S(Q)")
    figure.tight_layout()
    figure.savefig(output / "structure_factor.png", dpi=110)
    plt.close(figure)
    figure, ax = plt.subplots(figsize=(4.5, 3.8))
    finite = np.isfinite(trace.domain_size) & (trace.time > 0)
    ax.loglog(trace.time[finite], trace.domain_size[finite], "o-", ms=3)
    ax.set_xlabel("time")
    ax.set_ylabel("domain size L")
    figure.tight_layout()
    figure.savefig(output / "domain_size.png", dpi=110)
    plt.close(figure)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_field(field: torch.Tensor, path: Path, title: str) -> None:
    """Component 0 of sublattice 0 (S_z for spins: the last), demodulated by the ordering
    wavevector when that is a corner of the Brillouin zone (e.g. the staggered CDW field)."""
    if field.dim() != 4:
        return  # images for two-dimensional lattices only
    s, k = structure_factor(field)
    q = ordering_wavevector(s, k)
    values = field[..., 0, -1 if field.shape[-1] == 3 else 0]
    label = "field"
    if all(abs(abs(float(x)) - math.pi) < 1e-9 or abs(float(x)) < 1e-9 for x in q) and \
            float(q.abs().sum()) > 0:
        grid = torch.stack(torch.meshgrid(*(torch.arange(n) for n in values.shape),
                                          indexing="ij"), -1).to(torch.float64)
        values = values * torch.cos(grid @ q)
        label = f"field × cos(Q·r), Q = ({', '.join(f'{float(x):.2f}' for x in q)})"
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(5, 4.4))
    image = ax.imshow(values.numpy().T, origin="lower", cmap="RdBu_r", interpolation="nearest")
    figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(f"{title}: {label}", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
