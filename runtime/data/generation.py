"""`latticeff dataset`: run exact-force trajectories in parallel and collect their snapshots.

    config = load_config("configs/small/holstein.toml")
    with executor(workers=2) as (pool, parallel):
        generate(config, pool, parallel=parallel)

Each task runs one segment of `checkpoint_every` snapshots of one trajectory
(`run_segment`). A finished segment is saved at once, atomically, in the journal
`<output>.partial/` (its snapshots and the checkpoint to continue from); when every
trajectory is complete they are appended to the HDF5 file in (trajectory, step) order
(`dataset.append`) and the journal is removed. A run that was killed resumes from its journal
when the same command is run again: no segment is lost or taken twice, and the file is
identical to that of an uninterrupted run. Raising `trajectories` appends new trajectories
to an existing file; a file or journal made with other parameters is refused. One run at a
time writes an output: it holds `<output>.lock` (its process id) while it runs; a second run
is refused, a lock left by a process that no longer exists is taken over.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import shutil
import zipfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import closing, contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from runtime.data.cluster import InlineExecutor, completed
from runtime.data.config import DatasetConfig, build
from runtime.data.dataset import (
    DatasetError,
    Snapshots,
    append,
    parameter_differences,
    read_header,
    require_compatible,
)
from runtime.data.provenance import code_version
from runtime.errors import DivergenceError
from runtime.files import check_output_path, save_npz, write_atomically


@dataclass(frozen=True)
class Checkpoint:
    """Where a trajectory stands: `done` snapshots taken, the integrator state at `step`;
    `threads`: the torch threads of the process that computed the segment (None: unknown)."""

    trajectory: int
    done: int
    step: int
    state: dict[str, np.ndarray]
    threads: int | None = None


def trajectory_seeds(seed: int, trajectory: int) -> tuple[int, int]:
    """(initial-field seed, noise seed) of trajectory `trajectory`, independent streams derived
    from the dataset seed by numpy's SeedSequence."""
    words = np.random.SeedSequence([seed, trajectory]).generate_state(2, dtype=np.uint64)
    return tuple(int(w) >> 1 for w in words)


SEGMENT_THREADS = 1
"""torch threads of one segment (`run_segment`): the cores are shared out between trajectories
(one task per core), not between the threads of one eigensolver call. On a loaded 2-core
machine two threads per call were 8x slower than one (186 ms against 23 ms per step)."""


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch.set_num_threads(`threads`) while the block runs, restored after (None: unchanged).
    numpy's and scipy's OpenBLAS follow torch's count in the eigensolvers
    (`runtime.electrons.diagonalization.eigh`)."""
    previous = torch.get_num_threads()
    if threads is None or threads == previous:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_segment(parameters: dict, trajectory: int, checkpoint: Checkpoint | None,
                snapshots: int, threads: int | None = SEGMENT_THREADS
                ) -> tuple[Snapshots, Checkpoint]:
    """Take the next `snapshots` snapshots of trajectory `trajectory` (from its start if
    `checkpoint` is None) with `threads` torch threads (default SEGMENT_THREADS = 1, whatever
    executor runs it; None: the process's): the snapshots and the checkpoint after the last of
    them."""
    with torch_threads(threads):
        return _run_segment(parameters, trajectory, checkpoint, snapshots)


def _run_segment(parameters: dict, trajectory: int, checkpoint: Checkpoint | None,
                 snapshots: int) -> tuple[Snapshots, Checkpoint]:
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
        initial = setup.integrator(protocol.temperature(0)).init(field, forces, seed=noise_seed)
        first = done = 0
    else:
        initial = setup.state_type.from_arrays(checkpoint.state)
        first, done = checkpoint.step, checkpoint.done
    stop = min(done + snapshots, protocol.snapshots)

    fields, electronic, energies, steps = [], [], [], []
    for step, state in setup.walk(initial, guarded, first):
        if done < stop and step == protocol.sample_step(done):
            evaluation = forces.evaluate(state.field)
            fields.append(state.field[0].numpy().copy())
            electronic.append(evaluation.forces[0].numpy().copy())
            energies.append(float(evaluation.energy[0]))
            steps.append(step)
            done += 1
        if done >= stop:
            break

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
    return result, Checkpoint(trajectory, done, step, state.arrays(), torch.get_num_threads())


class Journal:
    """The finished segments of an unfinished run: `<output>.partial/`, holding
    `parameters.json` and one `t<trajectory>-<snapshots done>.npz` per segment. It is only a
    cache of finished work: a damaged file in it is reported with the advice to delete it."""

    def __init__(self, output: Path, parameters: dict):
        self.directory = output.with_name(output.name + ".partial")
        record = self.directory / "parameters.json"
        if record.is_file():
            try:
                recorded = json.loads(record.read_text())
            except (UnicodeDecodeError, ValueError) as error:
                raise self._damaged(record, error, "") from None
            differences = parameter_differences(recorded, parameters)
            if differences:
                raise DatasetError(
                    f"{self.directory} holds an interrupted run with other parameters "
                    f"(recorded vs requested): {'; '.join(differences)}. Resume it with its "
                    f"own configuration, or delete the directory to discard it")
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(record, lambda path: path.write_text(
                json.dumps(parameters, sort_keys=True, indent=1)))

    def _damaged(self, path: Path, error, later: str) -> DatasetError:
        return DatasetError(
            f"journal file {path} is damaged ({type(error).__name__}: {error}); the journal "
            f"is only a cache of finished segments, so delete it{later} (or all of "
            f"{self.directory}) and rerun the same command to compute them again")

    def _segments(self, trajectory: int) -> list[Path]:
        return sorted(self.directory.glob(f"t{trajectory:07d}-*.npz"))

    def write(self, snapshots: Snapshots, checkpoint: Checkpoint) -> None:
        arrays = {f"snapshot.{k}": v for k, v in snapshots.columns().items()}
        arrays.update({f"state.{k}": v for k, v in checkpoint.state.items()})
        arrays.update(trajectory=checkpoint.trajectory, done=checkpoint.done, step=checkpoint.step)
        if checkpoint.threads is not None:
            arrays.update(threads=checkpoint.threads)
        name = f"t{checkpoint.trajectory:07d}-{checkpoint.done:07d}.npz"
        save_npz(self.directory / name, **arrays)

    def _load(self, path: Path, trajectory: int, read):
        """`read(npz)` of one segment file; a truncated or foreign file is a DatasetError."""
        later = (f" and the later segments of trajectory {trajectory} "
                 f"(t{trajectory:07d}-*.npz after it)")
        try:
            with np.load(path) as data:
                return read(data)
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise self._damaged(path, error, later) from None

    def latest(self, trajectory: int) -> Checkpoint | None:
        """The checkpoint after the last finished segment of `trajectory`, if any; every
        segment of it is checked to open and to follow on from the one before."""
        segments = self._segments(trajectory)
        done = 0
        for path in segments:
            count, recorded = self._load(path, trajectory, lambda data: (
                len(data["snapshot.energy"]), int(data["done"])))
            if recorded != done + count:
                raise self._damaged(path, ValueError(
                    f"it ends at snapshot {recorded} and holds {count}, but the segments "
                    f"before it end at {done}"),
                    f" and the later segments of trajectory {trajectory}")
            done = recorded
        if not segments:
            return None

        def checkpoint(data) -> Checkpoint:
            state = {k.removeprefix("state."): data[k] for k in data.files
                     if k.startswith("state.")}
            threads = int(data["threads"]) if "threads" in data.files else None
            return Checkpoint(int(data["trajectory"]), int(data["done"]), int(data["step"]),
                              state, threads)

        return self._load(segments[-1], trajectory, checkpoint)

    def snapshots(self, trajectory: int):
        """The snapshots of `trajectory`, segment by segment, in order."""
        for path in self._segments(trajectory):
            yield self._load(path, trajectory, lambda data: Snapshots(
                **{f.name: data[f"snapshot.{f.name}"] for f in fields(Snapshots)}))

    def remove(self) -> None:
        shutil.rmtree(self.directory)


@contextmanager
def lock(output: Path) -> Iterator[Path]:
    """Hold `<output>.lock` (created exclusively, holding this process id) while the block
    runs. A lock of a live process is a DatasetError naming it; one whose process is gone is
    taken over."""
    path = output.with_name(output.name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _lock_holder(path)
            if holder is not None and _alive(holder):
                raise DatasetError(
                    f"{output} is being written by another run (process {holder} holds "
                    f"{path}); wait for it to finish, or, if process {holder} is not latticeff, "
                    f"delete {path}") from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(handle, "w") as file:
            file.write(f"{os.getpid()}\n")
        break
    else:
        raise DatasetError(f"cannot take the lock {path}: other runs keep taking it")
    try:
        yield path
    finally:
        if _lock_holder(path) == os.getpid():
            path.unlink(missing_ok=True)


def _lock_holder(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError as error:
        return error.errno != errno.ESRCH
    return True


@dataclass(frozen=True)
class Summary:
    output: Path
    added_trajectories: int
    added_snapshots: int
    resumed_snapshots: int

    def __str__(self) -> str:
        if not self.added_trajectories:
            return f"{self.output} already holds the requested trajectories; nothing to do"
        resumed = (f" ({self.resumed_snapshots} of them from an interrupted run)"
                   if self.resumed_snapshots else "")
        return (f"added {self.added_snapshots} snapshots in {self.added_trajectories} "
                f"trajectories to {self.output}{resumed}")


def generate(config: DatasetConfig, executor: Executor | None = None, *, parallel: int = 1,
             progress: bool = True) -> Summary:
    """Bring `config.output` to `config.trajectories` trajectories (see the module doc).
    `executor` runs the segments (default: in this process), `parallel` of them at once."""
    output, parameters = check_output_path(config.output), config.parameters
    with lock(output):
        return _generate(config, output, parameters, executor, parallel, progress)


def _generate(config: DatasetConfig, output: Path, parameters: dict, executor, parallel: int,
              progress: bool) -> Summary:
    done = 0
    if output.exists():
        header = read_header(output)
        require_compatible(output, header.parameters, parameters)
        done = header.n_trajectories
    if done >= config.trajectories:
        return Summary(output, 0, 0, 0)

    started = _now()
    setup = build(parameters)
    per_trajectory = setup.protocol.snapshots
    journal = Journal(output, parameters)
    todo = range(done, config.trajectories)
    latest = {t: journal.latest(t) for t in todo}
    resumed = sum(c.done for c in latest.values() if c is not None)
    bar = tqdm(total=len(todo) * per_trajectory, initial=resumed, unit="snapshot",
               desc=output.name, disable=not progress, dynamic_ncols=True)

    def segment(trajectory: int) -> tuple | None:
        """The next segment task of `trajectory`, None once it has all its snapshots."""
        checkpoint = latest[trajectory]
        taken = 0 if checkpoint is None else checkpoint.done
        if taken >= per_trajectory:
            return None
        count = min(config.checkpoint_every, per_trajectory - taken)
        return trajectory, run_segment, parameters, trajectory, checkpoint, count

    pending = deque(task for task in map(segment, todo) if task is not None)
    try:
        with closing(completed(executor or InlineExecutor(), parallel, pending)) as results:
            for trajectory, (snapshots, checkpoint) in results:
                journal.write(snapshots, checkpoint)
                latest[trajectory] = checkpoint
                bar.update(len(snapshots))
                if (task := segment(trajectory)) is not None:
                    pending.appendleft(task)  # a started trajectory goes on first
    finally:
        bar.close()

    seeds = np.array([trajectory_seeds(parameters["seed"], t) for t in todo], dtype=np.uint64)
    run = {"trajectories": [todo.start, todo.stop], "started": started, "finished": _now(),
           "resumed_snapshots": resumed, "host": platform.node(), "code": code_version(),
           "torch_threads": sorted({c.threads for c in latest.values()
                                    if c is not None and c.threads is not None})}
    parts = (part for t in todo for part in journal.snapshots(t))
    append(output, parameters, setup.model.field_shape, parts, seeds, run)
    journal.remove()
    return Summary(output, len(todo), len(todo) * per_trajectory, resumed)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
