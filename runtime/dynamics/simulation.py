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

A `monitor` (the model deviation of an ensemble, `runtime.ml.ensemble.DeviationMonitor`, or
the training-range excess of a single model, `runtime.ml.extrapolation.RangeMonitor`) is
measured on every measured frame: its largest site value is recorded (observables
`deviation`, `deviation_site`), shown in the progress bar, and the first frame past the
threshold raises an `ExtrapolationWarning` naming step, site, value and threshold; with
`stop_on_deviation` the run ends there (outputs written as for a full run, `Trace.stopped_at`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from dataclasses import field as _default
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from runtime.dynamics.observables import StructureFactor
from runtime.errors import SimulationError
from runtime.files import save_npz, write_atomically, write_json


@dataclass(frozen=True)
class SimulationOptions:
    """The `[simulation]` table: steps, measurements every `measure_every` steps (S(k),
    domain size, energy), PNG snapshots every `snapshot_every` steps (0: first and last)."""

    steps: int = 1000
    measure_every: int = 10
    snapshot_every: int = 0
    deviation_threshold: float = 0.0  # of the monitor; 0: the monitor's own (the model's)
    stop_on_deviation: bool = False   # end the run at the first frame past the threshold

    def __post_init__(self) -> None:
        if self.steps < 1 or self.measure_every < 1 or self.snapshot_every < 0:
            raise ValueError(f"need steps >= 1, measure_every >= 1, snapshot_every >= 0; got "
                             f"{self.steps}, {self.measure_every}, {self.snapshot_every}")
        if not (isinstance(self.deviation_threshold, (int, float))
                and self.deviation_threshold >= 0):
            raise ValueError(f"deviation_threshold must be a number >= 0 (0: the model's "
                             f"own), got {self.deviation_threshold!r}")


class ExtrapolationWarning(UserWarning):
    """ML dynamics reached fields where the model is unreliable (deviation or range)."""


@dataclass(frozen=True)
class Trace:
    """Measurements over time (numpy arrays) and the final state."""

    step: np.ndarray
    time: np.ndarray
    energy_per_site: np.ndarray
    domain_size: np.ndarray    # StructureFactor.domain_size: at most the cluster size
    peak: np.ndarray           # S(Q) at the ordering wavevector Q (dominant sublattice mode)
    wavevector: np.ndarray     # Q, (measurements, dim), Cartesian
    field: torch.Tensor        # the final field (*cells, sublattice, component)
    order: dict = _default(default_factory=dict)  # order parameter name -> (measurements,)
    deviation: np.ndarray | None = None  # the monitor's largest site value per measurement
    stopped_at: int | None = None        # the step stop_on_deviation ended the run at


def simulate(forces, integrator, field: torch.Tensor, options: SimulationOptions, output, *,
             seed: int, progress: bool = True, lattice=None, model=None,
             monitor=None) -> Trace:
    """Run `options.steps` steps of `integrator` from `field` (batch 1) with the force
    function `forces` (a `TotalForce`: it keeps its last evaluation); write snapshots
    (snapshot_<step>.png), observables.npz/json, structure_factor.png, domain_size.png and
    final_state.npz into the directory `output`.

    `lattice` (a runtime Lattice or preset name; None: a square grid) places the sites for
    the structure factor and the snapshots; `model` (an electronic model class, e.g.
    `runtime.electrons.Holstein`) gives the order parameters recorded at every measurement
    (`order_parameters`, `order_centred`). `monitor` (field -> per-site values (batch,
    *cells, sublattice), with `name` and `threshold`) is recorded at every measurement (see
    the module doc)."""
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
    rows, profiles, orders, deviations = [], {}, [], []
    centre = getattr(model, "order_centred", True)
    threshold = options.deviation_threshold or getattr(monitor, "threshold", math.inf)
    bar = tqdm(range(1, options.steps + 1), desc="simulation", unit="step",
               disable=not progress)

    def measure(step: int, current) -> bool:
        """Record the observables; True if the monitor passed its threshold."""
        sf = StructureFactor.of(current.field[0], lattice, centre=centre)
        rows.append((step, step * integrator.dt, float(forces.energy(current.field)[0]) / sites,
                     sf.domain_size(), sf.peak, sf.wavevector.numpy()))
        orders.append(model.order_parameters(sf) if model is not None else
                      {"order": sf.amplitude()})
        profiles[step] = sf.radial_profile()
        if monitor is None:
            return False
        values = monitor(current.field)[0]
        where = np.unravel_index(int(values.argmax()), tuple(values.shape))
        value = float(values.max())
        deviations.append((value, *map(int, where)))
        bar.set_postfix({monitor.name.split()[-1]: f"{value:.3g}"}, refresh=False)
        passed = value > threshold
        if passed and not any(d[0] > threshold for d in deviations[:-1]):
            warnings.warn(ExtrapolationWarning(
                f"step {step}: {monitor.name} {value:.4g} at site {tuple(map(int, where))} "
                f"(cell indices, sublattice) passes the threshold {threshold:.4g}; the model "
                f"is extrapolating there, so its forces are unreliable"
                + (" (stopping: stop_on_deviation)" if options.stop_on_deviation else
                   "; further frames past it are counted in observables.json")),
                stacklevel=3)
        return passed

    snapshot_steps = {0, options.steps} | (
        set(range(0, options.steps, options.snapshot_every)) if options.snapshot_every else set())
    stopped_at = 0 if measure(0, state) and options.stop_on_deviation else None
    _plot_field(state.field[0], output / f"snapshot_{0:07d}.png", "step 0", lattice, centre)
    for step in bar if stopped_at is None else ():
        new = integrator.step(state, forces)
        if not _finite(new, forces):
            path = save_npz(output / "last_good_state.npz", step=step - 1, **state.arrays())
            raise SimulationError(
                f"the field or force became NaN/infinite at step {step} (time "
                f"{step * integrator.dt:g}); the last good state (step {step - 1}) is saved in "
                f"{path}. Lower integrator.dt or check that the model was trained on fields of "
                f"this range")
        state = new
        measured = step % options.measure_every == 0 or step == options.steps
        if measured and measure(step, state) and options.stop_on_deviation:
            stopped_at = step
        if step in snapshot_steps or stopped_at is not None:
            _plot_field(state.field[0], output / f"snapshot_{step:07d}.png", f"step {step}",
                        lattice, centre)
        if stopped_at is not None:
            break
    bar.close()
    save_npz(output / "final_state.npz", step=int(rows[-1][0]), **state.arrays())
    trace = Trace(*(np.array([r[i] for r in rows]) for i in range(6)), field=state.field[0],
                  order={name: np.array([o[name] for o in orders]) for name in orders[0]},
                  deviation=np.array([d[0] for d in deviations]) if monitor else None,
                  stopped_at=stopped_at)
    _write_observables(trace, profiles, output, deviations, monitor, threshold)
    return trace


def _finite(state, forces) -> bool:
    """Field and force of `state` finite, and its energy (a `TotalForce` has it from the
    evaluation just made)."""
    if not bool(torch.isfinite(state.field).all() and torch.isfinite(state.forces).all()):
        return False
    energy = getattr(forces, "energy", None)
    return energy is None or bool(torch.isfinite(energy(state.field)).all())


def _write_observables(trace: Trace, profiles: dict, output: Path, deviations=(),
                       monitor=None, threshold: float = math.inf) -> None:
    extra = {}
    if monitor is not None:
        extra = {"deviation": trace.deviation,
                 "deviation_site": np.array([d[1:] for d in deviations], dtype=np.int64)}
    save_npz(output / "observables.npz", step=trace.step, time=trace.time,
             energy_per_site=trace.energy_per_site, domain_size=trace.domain_size,
             peak=trace.peak, wavevector=trace.wavevector,
             **{f"order_{name}": values for name, values in trace.order.items()}, **extra)
    names = list(trace.order)
    record = {
        "columns": ["step", "time", "energy_per_site", "domain_size", "peak", *names,
                    *(f"Q_{axis}" for axis in "xyz"[:trace.wavevector.shape[1]]),
                    *(["deviation"] if monitor is not None else [])],
        "rows": [[int(a), float(b), float(c), float(d), float(e),
                  *(float(trace.order[name][i]) for name in names), *map(float, q),
                  *([deviations[i][0]] if monitor is not None else [])]
                 for i, (a, b, c, d, e, q) in enumerate(zip(
                     trace.step, trace.time, trace.energy_per_site, trace.domain_size,
                     trace.peak, trace.wavevector))]}
    if monitor is not None:
        record["monitor"] = {"name": monitor.name, "threshold": threshold,
                             "frames_past_threshold": sum(d[0] > threshold for d in deviations),
                             "stopped_at": trace.stopped_at}
    write_json(output / "observables.json", record)
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    shown = sorted(profiles)[:: max(1, len(profiles) // 6)]
    for step in shown:
        k, s = profiles[step]
        axes[0].semilogy(k.numpy(), s.numpy().clip(min=1e-12), label=f"step {step}")
    axes[0].set_xlabel("|k − Q|")
    axes[0].set_ylabel("S(k), radial mean")
    axes[0].legend(fontsize=7)
    for name, values in trace.order.items():
        if not name.endswith("structure_factor"):
            axes[1].plot(trace.time, values, label=name)
    axes[1].set_xlabel("time")
    axes[1].set_ylabel("order parameter")
    axes[1].legend(fontsize=7)
    figure.tight_layout()
    _save(figure, output / "structure_factor.png")
    plt.close(figure)
    figure, ax = plt.subplots(figsize=(4.5, 3.8))
    finite = np.isfinite(trace.domain_size) & (trace.time > 0)
    ax.loglog(trace.time[finite], trace.domain_size[finite], "o-", ms=3)
    ax.set_xlabel("time")
    ax.set_ylabel("domain size L")
    figure.tight_layout()
    _save(figure, output / "domain_size.png")
    plt.close(figure)


def _save(figure, path: Path) -> None:
    write_atomically(path, lambda temporary: figure.savefig(temporary, dpi=110, format="png"))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_field(field: torch.Tensor, path: Path, title: str, lattice=None,
                centre: bool = True) -> None:
    """Every site at its real position (all sublattices; the cell layer at the middle of the
    last axis for a 3D lattice), coloured by component 0 (S_z for spins: the last),
    demodulated by the ordering wavevector Q when cos(Q.r) is +-1 on every site (the
    checkerboard, the A/B wave of Q = 0 is shown as it is)."""
    if field.dim() not in (4, 5):
        return
    sf = StructureFactor.of(field, lattice, centre=centre)
    if lattice is None:
        positions = np.stack(np.meshgrid(*map(np.arange, field.shape[:-2]), indexing="ij"),
                             -1)[..., None, :] + np.zeros((field.shape[-2], 1))
    else:
        from runtime.lattices import Lattice

        lattice = Lattice.of(lattice)
        positions = lattice.positions(tuple(field.shape[:-2]))
    values = field[..., -1 if field.shape[-1] == 3 else 0].detach().cpu().numpy()
    q = sf.wavevector.numpy()
    label = "field"
    sign = np.cos(positions @ q)
    if np.allclose(np.abs(sign), 1.0, atol=1e-9) and np.abs(q).sum() > 1e-9:
        values = values * sign
        label = f"field × cos(Q·r), Q = ({', '.join(f'{x:.2f}' for x in q)})"
    if field.dim() == 5:  # a slice of cells through the middle of the last axis
        middle = field.shape[2] // 2
        positions, values = positions[:, :, middle], values[:, :, middle]
        label += f", cells at a3 index {middle}"
    xy = positions[..., :2].reshape(-1, 2)
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(5, 4.4))
    limit = float(np.abs(values).max()) or 1.0
    image = ax.scatter(xy[:, 0], xy[:, 1], c=values.reshape(-1), cmap="RdBu_r",
                       vmin=-limit, vmax=limit, s=max(1.0, 0.5 * (300 / math.sqrt(len(xy))) ** 2),
                       marker="o", linewidths=0)
    ax.set_aspect("equal")
    figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(f"{title}: {label}", fontsize=8)
    figure.tight_layout()
    _save(figure, path)
    plt.close(figure)
