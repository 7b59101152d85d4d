"""Concurrent learning (`latticeff learn`, issue 16): the ML model explores, ED labels only the
frames the ensemble is unsure of (DP-GEN, Zhang et al., Comput. Phys. Commun. 253, 107206
(2020), for lattice models).

    settings = LearnSettings(members=4, walkers=4, ...)
    log = learn(LearnJob(directory, descriptor, dataset_parameters, ...), pool, parallel=2)

Iteration 0: `seed_trajectories` exact trajectories of the dataset protocol, or of a shorter
one (`seed_protocol`; the seed set, `generation.generate`) and `test_trajectories` of another
seed (the exact test set, never produced by the loop), and an ensemble of `members` models
trained on the seed set (member k: training seed + k, so other initial weights, split and
batch order).
Iteration n: `walkers` ML trajectories under the dataset's own protocol (integrator, bath
temperatures, initial field; walker seeds of their own) driven by the mean force of the
ensemble of iteration n - 1; a frame every `explore_every` steps with its deviation
(`runtime.ml.ensemble`). Frames below eps_lo are accurate, in [eps_lo, eps_hi) candidates,
at or above eps_hi rejected (counted, never labelled: the model is too far off for its
trajectory to be physical). Candidates at least `min_gap` steps apart in their walker, at
most `max_labels` (and the remaining budget), chosen at random with the loop's seed, are
labelled by ED in parallel (the executor of `latticeff dataset`: Dask workers of one thread
each), appended to the same HDF5 file as one-snapshot trajectories with their provenance
(iteration, walker, step, deviation, in the run record), and the ensemble is retrained from
the previous one (warm start, `runtime.ml.training.train` on grown data). The loop ends when
at least `accurate_fraction` of the explored frames are accurate, at `label_budget` labels,
or after `iterations` iterations. eps_lo and eps_hi are given relative to the RMS force of
the seed set (defaults per model: `ElectronicModel.learn_window`).

Work directory (everything resumable, every file written atomically):

    learn.json             the settings (a rerun with others is refused)
    data.h5, test.h5       the labelled data (seed set + labels) and the exact test set
    seed_ed.json           the ED core-seconds of the seed set
    members/member<k>.pt.checkpoint   the training state of each member
    iterations/<n>/        ensemble.pt, member<k>.pt, walker<w>.npz, selected.npz,
                           labels/chunk<c>.npz (the label journal of the iteration)
    iterations.json        one record per finished iteration (LOG_FIELDS)
    learning_curve.png     sigma on the exact test set against cumulative ED calls

A killed run (Ctrl-C, a lost machine) resumes at the stage it stopped in: finished walkers,
label chunks and trained members are kept, and an iteration's labels are appended once (the
append is atomic and the file's run records name the iterations already in it).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from contextlib import closing
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from runtime.data.cluster import InlineExecutor, completed
from runtime.data.config import MODELS, DatasetConfig, build
from runtime.data.dataset import Snapshots, append, read_dataset, read_header
from runtime.data.generation import SEGMENT_THREADS, _now, generate, lock, torch_threads
from runtime.data.provenance import code_version
from runtime.dynamics.forces import TotalForce
from runtime.errors import ConfigError, DatasetError
from runtime.files import check_output_directory, save_npz, write_json
from runtime.ml.ensemble import DRIVES, Ensemble
from runtime.ml.evaluation import force_errors, plot_learning_curve, sigma_curves
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig
from runtime.ml.training import TrainingData, TrainingOptions, train

LOG_FIELDS = ("iteration", "explored", "accurate", "candidate", "rejected", "labels_added",
              "labels_total", "ed_calls", "ed_core_seconds", "validation", "eps_lo", "eps_hi",
              "converged", "finished")
"""The keys of every iterations.json record: frames explored, the fractions accurate /
candidate / rejected, labels added and in total (loop labels, the seed set not counted),
ED calls and ED core-seconds of the iteration (iteration 0: the seed set), the error of the
ensemble's mean force on the exact test set (RMSE, sigma, per component, raw and divided by
the coupling), the absolute thresholds, whether the loop has converged, and when."""

_RESUMABLE = ("iterations", "label_budget")  # settings a rerun may change


@dataclass(frozen=True)
class LearnSettings:
    """The `[learn]` table (see the module doc); eps_lo, eps_hi 0: the model's default."""

    members: int = 4
    walkers: int = 4
    iterations: int = 10
    explore_every: int = 0      # 0: the protocol's sample_every
    eps_lo: float = 0.0
    eps_hi: float = 0.0
    min_gap: int = 0            # 0: explore_every
    max_labels: int = 50
    label_budget: int = 1000
    accurate_fraction: float = 0.99
    label_batch: int = 4        # frames per ED task
    drive: str = "mean"         # the walkers' force: the members' mean, or member 0 alone

    def __post_init__(self) -> None:
        if self.drive not in DRIVES:
            raise ValueError(f"drive must be one of {', '.join(DRIVES)}, got {self.drive!r}")
        for name in ("members",):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be >= 2 (the deviation needs two), got "
                                 f"{getattr(self, name)}")
        for name in ("walkers", "iterations", "max_labels", "label_budget", "label_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("explore_every", "min_gap"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0: the default), got "
                                 f"{getattr(self, name)}")
        for name in ("eps_lo", "eps_hi", "accurate_fraction"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got "
                                 f"{getattr(self, name)}")
        if (self.eps_lo or self.eps_hi) and not 0 < self.eps_lo < self.eps_hi:
            raise ValueError(f"need 0 < eps_lo < eps_hi (relative to the seed set's RMS "
                             f"force; give both or neither), got eps_lo = {self.eps_lo}, "
                             f"eps_hi = {self.eps_hi}")
        if not 0 < self.accurate_fraction <= 1:
            raise ValueError(f"accurate_fraction must be in (0, 1], got "
                             f"{self.accurate_fraction}")


@dataclass(frozen=True)
class LearnJob:
    """Everything a loop needs: the work directory, the descriptor object, the dataset
    parameters (`DatasetConfig.parameters`), the sizes of the seed and test sets, the
    network, the training options of every iteration and the loop settings."""

    directory: Path
    descriptor: object
    dataset: DatasetConfig
    seed_trajectories: int
    test_trajectories: int
    network: NetworkConfig
    training: TrainingOptions
    settings: LearnSettings
    record: dict  # the resolved configuration, kept in learn.json
    seed_dataset: DatasetConfig | None = None  # the seed trajectories' protocol, if shorter

    @property
    def parameters(self) -> dict:
        return self.dataset.parameters

    @property
    def seed_config(self) -> DatasetConfig:
        """The dataset config of the seed trajectories: the dataset's own, or one whose
        protocol is shortened (`seed_protocol` of the learn config); the test trajectories
        and the exploration keep the dataset's protocol."""
        return self.seed_dataset or self.dataset

    def window(self, force_rms: float) -> tuple[float, float]:
        """(eps_lo, eps_hi) in force units."""
        s = self.settings
        lo, hi = (s.eps_lo, s.eps_hi) if s.eps_hi else \
            MODELS[self.parameters["model"]["name"]].learn_window
        return lo * force_rms, hi * force_rms


def trajectory_ed_calls(parameters: dict) -> int:
    """Diagonalizations of one ED trajectory of a dataset parameter record: the initial field
    and every force evaluation of every integrator step (two per step for the spin
    integrators' midpoint scheme)."""
    setup = build(parameters)
    return 1 + setup.protocol.steps * setup.integrator_type.force_calls_per_step


def select_frames(walker: np.ndarray, step: np.ndarray, deviation: np.ndarray, *, lo: float,
                  hi: float, gap: int, cap: int, seed: int) -> np.ndarray:
    """Indices of the frames to label, sorted: lo <= deviation < hi, at least `gap` steps
    after the last one taken in the same walker (frames in step order per walker), then at
    most `cap` of those, a uniform random choice seeded by `seed`."""
    taken = []
    for w in np.unique(walker):
        last = None
        for i in np.flatnonzero(walker == w)[np.argsort(step[walker == w], kind="stable")]:
            if lo <= deviation[i] < hi and (last is None or step[i] - last >= gap):
                taken.append(i)
                last = step[i]
    taken = np.array(taken, dtype=np.int64)
    if len(taken) > cap:
        taken = np.random.default_rng(seed).choice(taken, size=cap, replace=False)
    return np.sort(taken)


def label_frames(parameters: dict, fields: np.ndarray, threads: int | None = SEGMENT_THREADS):
    """ED labels of `fields` (n, *cells, sublattice, component): (electronic forces (n, ...),
    energy (n,), thread CPU seconds), with `threads` torch threads (one per task)."""
    with torch_threads(threads):
        forces = build(parameters).forces
        start = time.thread_time()
        results = [forces.evaluate(torch.from_numpy(f)[None]) for f in fields]
        seconds = time.thread_time() - start
    return (np.stack([r.forces[0].numpy() for r in results]),
            np.array([float(r.energy[0]) for r in results]), seconds)


def walker_seeds(seed: int, iteration: int, walker: int) -> tuple[int, int]:
    """(initial-field seed, noise seed) of a walker, apart from the trajectories' streams."""
    words = np.random.SeedSequence([seed, 16, iteration, walker]).generate_state(
        2, dtype=np.uint64)
    return tuple(int(w) >> 1 for w in words)


def explore(parameters: dict, ensemble: Ensemble, seeds: tuple[int, int], every: int) -> dict:
    """One walker: ML dynamics of the dataset protocol from its own random field, a frame
    every `every` steps (step 0 included) with its frame deviation; it stops early if the
    field stops being finite. Arrays: fields, deviation, step, temperature."""
    setup = build(parameters)
    protocol, model = setup.protocol, setup.model
    forces = TotalForce(ensemble, model.elastic)  # the ML electronic force + exact elastic
    field = model.random_field(1, seed=seeds[0], scale=protocol.initial_scale)
    initial = setup.integrator(protocol.temperature(0)).init(field, forces, seed=seeds[1])
    frames = {"fields": [], "deviation": [], "step": [], "temperature": []}
    for step, state in setup.walk(initial, forces):
        if not bool(torch.isfinite(state.field).all() and torch.isfinite(state.forces).all()):
            break
        if step % every == 0:
            frames["fields"].append(state.field[0].numpy().copy())
            frames["deviation"].append(float(ensemble.predict(state.field).frame_deviation[0]))
            frames["step"].append(step)
            frames["temperature"].append(protocol.temperature(step))
        if step == protocol.steps:
            break
    return {k: np.array(v) for k, v in frames.items()}


def explore_walker(parameters: dict, ensemble: Path, drive: str, seeds: tuple[int, int],
                   every: int, output: Path, walker: int,
                   threads: int | None = SEGMENT_THREADS) -> None:
    """Task: `explore` of one walker with the ensemble file `ensemble` (driven by `drive`),
    its frames saved at `output`, with `threads` torch threads."""
    with torch_threads(threads), torch.no_grad():
        frames = explore(parameters, Ensemble.load(ensemble, drive=drive), seeds, every)
    save_npz(output, walker=np.full(len(frames["step"]), walker),
             seeds=np.array(seeds, dtype=np.uint64), **frames)


def train_member(descriptor: str, network: NetworkConfig, options: TrainingOptions,
                 data: Path, output: Path, checkpoint: Path, metadata: dict, progress: bool,
                 threads: int | None = SEGMENT_THREADS) -> None:
    """Task: one ensemble member (generated descriptor `descriptor`) trained on the dataset
    file `data`, resumed or warm-started from `checkpoint`, saved at `output`, with
    `threads` torch threads."""
    import generated

    with torch_threads(threads):
        model = ForceField(generated.load(descriptor), network, metadata=metadata)
        train(model, TrainingData.from_dataset(read_dataset(data)), options,
              checkpoint=checkpoint, progress=progress)
        model.save(output)


def learning_curve(log: list[dict]) -> tuple[dict, str]:
    """({label: (cumulative ED calls, sigma on the exact test set)}, the y label) of an
    iterations log (`sigma_curves`)."""
    return sigma_curves(np.cumsum([r["ed_calls"] for r in log]).tolist(),
                        [r["validation"] for r in log])


def read_log(directory: Path) -> list[dict]:
    path = directory / "iterations.json"
    if not path.is_file():
        return []
    try:
        log = json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as error:
        raise DatasetError(f"{path} is not readable JSON ({error}); restore it, or delete "
                           f"the work directory {directory} to start the loop again") from None
    if not isinstance(log, list) or not all(isinstance(r, dict) and set(LOG_FIELDS) <= set(r)
                                            for r in log):
        raise DatasetError(f"{path} is not an iterations log of latticeff learn; restore it, "
                           f"or delete the work directory {directory} to start again")
    return log


def _check_record(directory: Path, record: dict) -> None:
    """learn.json holds the settings of the loop in `directory`; others are refused, except
    for the ones a rerun may raise (_RESUMABLE)."""
    path = directory / "learn.json"
    if path.is_file():
        try:
            recorded = json.loads(path.read_text())
        except (UnicodeDecodeError, ValueError) as error:
            raise DatasetError(f"{path} is not readable JSON ({error}); restore it or delete "
                               f"{directory}") from None
        defaults = {f.name: f.default for f in fields(LearnSettings)}  # keys added later
        strip = [(dict(r), {**defaults, **r.get("learn", {})}) for r in (recorded, record)]
        for whole, table in strip:  # the directory may have been moved
            for key in _RESUMABLE:
                table.pop(key, None)
            whole["learn"] = table
            whole.pop("directory", None)
        if strip[0][0] != strip[1][0]:
            from runtime.data.dataset import parameter_differences

            raise ConfigError(
                f"{directory} holds a learning loop with other settings (recorded vs "
                f"requested): {'; '.join(parameter_differences(strip[0][0], strip[1][0]))}. "
                f"Only learn.{' and learn.'.join(_RESUMABLE)} may change on a rerun; use "
                f"another directory")
    write_json(path, record)


def learn(job: LearnJob, executor=None, *, parallel: int = 1, progress: bool = True,
          hook=None) -> list[dict]:
    """Run (or resume) the loop of `job` (see the module doc); the iterations log. `hook`
    (stage name, iteration) is called at the start of every stage and after every walker,
    label chunk and trained member (tests interrupt the loop there)."""
    directory = check_output_directory(job.directory)
    directory.mkdir(parents=True, exist_ok=True)
    with lock(directory / "learn"):
        _check_record(directory, job.record)
        return _Loop(job, directory, executor or InlineExecutor(), parallel, progress,
                     hook or (lambda stage, iteration: None)).run()


class _Loop:
    def __init__(self, job: LearnJob, directory: Path, executor, parallel: int,
                 progress: bool, hook):
        self.job, self.directory, self.executor = job, directory, executor
        self.parallel, self.progress, self.hook = parallel, progress, hook
        self.data_path, self.test_path = directory / "data.h5", directory / "test.h5"
        self.log = read_log(directory)

    def iteration_dir(self, n: int) -> Path:
        return self.directory / "iterations" / f"{n:03d}"

    def run(self) -> list[dict]:
        settings = self.job.settings
        if not self.log:
            self.log.append(self.seed())
            self._save_log()
        while len(self.log) <= settings.iterations and not self.log[-1]["converged"]:
            if self.log[-1]["labels_total"] >= settings.label_budget:
                break
            self.log.append(self.iteration(len(self.log)))
            self._save_log()
        return self.log

    def _save_log(self) -> None:
        write_json(self.directory / "iterations.json", self.log)
        curves, ylabel = learning_curve(self.log)
        plot_learning_curve(curves, self.directory / "learning_curve.png", ylabel=ylabel,
                            title=f"latticeff learn: {self.job.parameters['model']['name']}")
        last = self.log[-1]
        if self.progress:
            v = last["validation"]
            print(f"iteration {last['iteration']}: {last['labels_added']} labels "
                  f"({last['labels_total']} in all), explored {last['explored']} frames "
                  f"({last['accurate']:.0%} accurate, {last['candidate']:.0%} candidates, "
                  f"{last['rejected']:.0%} rejected); test RMSE {v['rmse']:.4g}, "
                  f"sigma/{v['force_scale_name'] or 'scale'} {v['normalized']['sigma']:.4g}",
                  flush=True)
        if last["rejected"] > 0.5:  # the window is too narrow for this ensemble
            print(f"iteration {last['iteration']}: {last['rejected']:.0%} of the explored "
                  f"frames are past eps_hi = {last['eps_hi']:.4g} and were not labelled; if "
                  f"this persists, raise learn.eps_hi or seed_trajectories", flush=True)

    # --- iteration 0 -------------------------------------------------------------------
    def seed(self) -> dict:
        job = self.job
        self.hook("seed", 0)
        timing = self.directory / "seed_ed.json"  # wall time x tasks of the seed runs
        spent = json.loads(timing.read_text())["core_seconds"] if timing.is_file() else 0.0
        for base, path, seed, count in (
                (job.seed_config, self.data_path, job.dataset.seed, job.seed_trajectories),
                (job.dataset, self.test_path, job.dataset.seed + 1_000_000,
                 job.test_trajectories)):
            config = replace(base, output=path, trajectories=count, seed=seed,
                             parameters={**base.parameters, "seed": seed})
            start = time.monotonic()
            summary = generate(config, self.executor, parallel=self.parallel,
                               progress=self.progress)
            if path == self.data_path and summary.added_trajectories:
                spent += (time.monotonic() - start) * self.parallel
                write_json(timing, {"core_seconds": spent})
        data = read_dataset(self.data_path)
        force_rms = float(np.sqrt(np.mean(data.snapshots.forces ** 2)))
        lo, hi = job.window(force_rms)
        ensemble = self.train(0, lo, hi)
        return {**self.record(0, ensemble, lo, hi, explored=0, fractions=(0.0, 0.0, 0.0),
                              added=0, total=0,
                              ed_calls=job.seed_trajectories * trajectory_ed_calls(
                                  job.seed_config.parameters),
                              ed_seconds=spent),
                "seed_force_rms": force_rms, "seed_snapshots": len(data)}

    # --- iteration n >= 1 --------------------------------------------------------------
    def iteration(self, n: int) -> dict:
        job, settings = self.job, self.job.settings
        lo, hi = self.log[-1]["eps_lo"], self.log[-1]["eps_hi"]
        protocol = build(job.parameters).protocol
        every = settings.explore_every or protocol.sample_every
        frames = self.explore(n, every)
        deviation = frames["deviation"]
        fractions = (float(np.mean(deviation < lo)),
                     float(np.mean((deviation >= lo) & (deviation < hi))),
                     float(np.mean(deviation >= hi)))
        total = self.log[-1]["labels_total"]
        converged = fractions[0] >= settings.accurate_fraction
        if converged:
            return self.record(n, None, lo, hi, explored=len(deviation), fractions=fractions,
                               added=0, total=total, ed_calls=0, ed_seconds=0.0,
                               converged=True)
        self.hook("select", n)
        chosen = self.select(n, frames, lo, hi, every,
                             min(settings.max_labels, settings.label_budget - total))
        ed_seconds = self.label(n, frames, chosen)
        ensemble = self.train(n, lo, hi)
        return self.record(n, ensemble, lo, hi, explored=len(deviation), fractions=fractions,
                           added=len(chosen), total=total + len(chosen), ed_calls=len(chosen),
                           ed_seconds=ed_seconds)

    def explore(self, n: int, every: int) -> dict:
        """The frames of every walker, `parallel` walkers at once (walker<w>.npz each, kept
        for a resume), driven by the ensemble of iteration n - 1."""
        self.hook("explore", n)
        place, settings = self.iteration_dir(n), self.job.settings
        ensemble = self.iteration_dir(n - 1) / "ensemble.pt"
        todo = [w for w in range(settings.walkers) if not (place / f"walker{w}.npz").is_file()]
        pending = deque((w, explore_walker, self.job.parameters, ensemble, settings.drive,
                         walker_seeds(self.job.parameters["seed"], n, w), every,
                         place / f"walker{w}.npz", w) for w in todo)
        self._run_tasks(pending, settings.walkers, f"explore {n}", "walker", n)
        parts = []
        for w in range(settings.walkers):
            with np.load(place / f"walker{w}.npz") as data:
                parts.append({k: data[k] for k in data.files})
        return {k: np.concatenate([p[k] for p in parts]) for k in
                ("fields", "deviation", "step", "temperature", "walker")} | {
                "seeds": np.stack([p["seeds"] for p in parts])}

    def _run_tasks(self, tasks: deque, total: int, desc: str, unit: str, n: int, *,
                   bar: bool = True) -> None:
        """Every task (key, fn, *args) of `tasks`, each writing its own file, `parallel` at
        once, with a bar of `total` units (those done before counted) and the hook `unit`
        after each."""
        progress = tqdm(total=total, initial=total - len(tasks), desc=desc, unit=unit,
                        disable=not (bar and self.progress))
        try:
            with closing(completed(self.executor, self.parallel, tasks)) as results:
                for _ in results:
                    progress.update()
                    self.hook(unit, n)
        finally:
            progress.close()

    def select(self, n: int, frames: dict, lo: float, hi: float, every: int, cap: int):
        path = self.iteration_dir(n) / "selected.npz"
        if path.is_file():
            with np.load(path) as data:
                return data["index"]
        gap = self.job.settings.min_gap or every
        index = select_frames(frames["walker"], frames["step"], frames["deviation"], lo=lo,
                              hi=hi, gap=gap, cap=max(cap, 0),
                              seed=self.job.parameters["seed"] * 1_000 + n)
        save_npz(path, index=index)
        return index

    def label(self, n: int, frames: dict, chosen: np.ndarray) -> float:
        """ED labels of the chosen frames, chunk by chunk into the iteration's journal, then
        appended to data.h5 once (skipped if its run records already hold iteration n)."""
        self.hook("label", n)
        journal = self.iteration_dir(n) / "labels"
        journal.mkdir(parents=True, exist_ok=True)
        batch = self.job.settings.label_batch
        chunks = [chosen[i:i + batch] for i in range(0, len(chosen), batch)]
        if any(run.get("learn", {}).get("iteration") == n
               for run in read_header(self.data_path).runs):
            return _journal_seconds(journal, len(chunks))
        todo = [c for c in range(len(chunks)) if not (journal / f"chunk{c:04d}.npz").is_file()]
        bar = tqdm(total=len(chosen), initial=sum(len(chunks[c]) for c in range(len(chunks))
                                                  if c not in todo),
                   desc=f"label {n}", unit="ED", disable=not self.progress)
        pending = deque((c, label_frames, self.job.parameters, frames["fields"][chunks[c]])
                        for c in todo)
        try:  # each chunk saved as soon as it is done
            with closing(completed(self.executor, self.parallel, pending)) as results:
                for c, (forces, energy, seconds) in results:
                    save_npz(journal / f"chunk{c:04d}.npz", forces=forces, energy=energy,
                             seconds=seconds)
                    bar.update(len(chunks[c]))
                    self.hook("label_chunk", n)
        finally:
            bar.close()
        self.hook("append", n)
        if len(chosen):
            self._append(n, frames, chosen, chunks, journal)
        return _journal_seconds(journal, len(chunks))

    def _append(self, n: int, frames: dict, chosen, chunks, journal: Path) -> None:
        parts = []
        for c in range(len(chunks)):
            with np.load(journal / f"chunk{c:04d}.npz") as data:
                parts.append((data["forces"], data["energy"]))
        header = read_header(self.data_path)
        first = header.n_trajectories
        trajectories = np.arange(first, first + len(chosen))
        dt = build(self.job.parameters).dt
        steps = frames["step"][chosen]
        snapshots = Snapshots(
            fields=frames["fields"][chosen], forces=np.concatenate([p[0] for p in parts]),
            energy=np.concatenate([p[1] for p in parts]), trajectory=trajectories,
            step=steps.astype(np.int64), time=steps * dt,
            temperature=frames["temperature"][chosen])
        seeds = frames["seeds"][frames["walker"][chosen]]
        provenance = [{"trajectory": int(t), "walker": int(frames["walker"][i]),
                       "step": int(frames["step"][i]),
                       "deviation": float(frames["deviation"][i])}
                      for t, i in zip(trajectories, chosen)]
        run = {"trajectories": [first, first + len(chosen)], "finished": _now(),
               "code": code_version(), "learn": {"iteration": n, "frames": provenance}}
        # a label is one ED of the dataset's model: the file's protocol record (the seed
        # trajectories') stays, the walkers' protocol is in learn.json
        parameters = {**self.job.parameters, "protocol": header.parameters["protocol"]}
        append(self.data_path, parameters, header.field_shape, [snapshots],
               seeds.astype(np.uint64), run)

    def train(self, n: int, lo: float, hi: float) -> Ensemble:
        """The ensemble of iteration n: every member trained (from its checkpoint: a warm
        start from iteration n - 1 on the grown data), `parallel` members at once, and kept
        as member<k>.pt."""
        self.hook("train", n)
        job, place = self.job, self.iteration_dir(n)
        path = place / "ensemble.pt"
        if path.is_file():
            return Ensemble.load(path, job.descriptor)
        metadata = {"data": {"path": str(self.data_path), "parameters": job.parameters},
                    "code": code_version()}
        todo = [k for k in range(job.settings.members)
                if not (place / f"member{k}.pt").is_file()]
        inline = self.parallel == 1  # one member at a time: its own progress bar
        pending = deque((k, train_member, job.descriptor.name, job.network,
                         replace(job.training, seed=job.training.seed + k), self.data_path,
                         place / f"member{k}.pt",
                         self.directory / "members" / f"member{k}.pt.checkpoint", metadata,
                         self.progress and inline) for k in todo)
        self._run_tasks(pending, job.settings.members, f"train {n}", "member", n,
                        bar=not inline)
        members = [ForceField.load(place / f"member{k}.pt", job.descriptor)
                   for k in range(job.settings.members)]
        ensemble = Ensemble(members, metadata={
            "deviation_threshold": hi, "learn": {"iteration": n, "eps_lo": lo, "eps_hi": hi,
                                                 "snapshots": read_header(
                                                     self.data_path).n_snapshots},
            "data": {"path": str(self.data_path), "parameters": job.parameters}})
        ensemble.save(path)
        ensemble.save(self.directory / "ensemble.pt")
        return ensemble

    def record(self, n: int, ensemble, lo: float, hi: float, *, explored: int, fractions,
               added: int, total: int, ed_calls: int, ed_seconds: float,
               converged: bool = False) -> dict:
        self.hook("evaluate", n)
        if ensemble is None:  # converged: the ensemble of the last iteration stands
            validation = self.log[-1]["validation"]
        else:
            test = read_dataset(self.test_path)
            model = test.parameters["model"]
            hamiltonian = MODELS[model["name"]]
            coupling = hamiltonian.coupling_name
            with torch.no_grad():
                validation = force_errors(ensemble, test.fields, test.forces,
                                          component_names=hamiltonian.force_names,
                                          scale=model[coupling], scale_name=coupling).summary()
        return {"iteration": n, "explored": explored, "accurate": fractions[0],
                "candidate": fractions[1], "rejected": fractions[2], "labels_added": added,
                "labels_total": total, "ed_calls": ed_calls, "ed_core_seconds": ed_seconds,
                "validation": validation, "eps_lo": lo, "eps_hi": hi, "converged": converged,
                "finished": _now()}


def _journal_seconds(journal: Path, chunks: int) -> float:
    total = 0.0
    for c in range(chunks):
        with np.load(journal / f"chunk{c:04d}.npz") as data:
            total += float(data["seconds"])
    return total
