"""`latticeff dataset`: run exact-force trajectories in parallel and collect their snapshots.

    config = load_config("configs/small/holstein.toml")
    with executor(workers=2) as (pool, parallel):
        generate(config, pool, parallel=parallel)

Each task runs one segment of `checkpoint_every` snapshots of one trajectory
(`sampling.run_segment`). A finished segment is saved at once, atomically, in the journal
`<output>.partial/` (its snapshots and the checkpoint to continue from); when every
trajectory is complete they are appended to the HDF5 file in (trajectory, step) order
(`dataset.append`) and the journal is removed. A run that was killed resumes from its journal
when the same command is run again: no segment is lost or taken twice, and the file is
identical to that of an uninterrupted run. Raising `trajectories` appends new trajectories
to an existing file; a file or journal made with other parameters is refused.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .cluster import InlineExecutor
from .config import DatasetConfig, build
from .dataset import (
    DatasetError,
    Snapshots,
    append,
    parameter_differences,
    read_header,
    require_compatible,
)
from .provenance import code_version
from .sampling import Checkpoint, run_segment, trajectory_seeds


class Journal:
    """The finished segments of an unfinished run: `<output>.partial/`, holding
    `parameters.json` and one `t<trajectory>-<snapshots done>.npz` per segment."""

    def __init__(self, output: Path, parameters: dict):
        self.directory = output.with_name(output.name + ".partial")
        record = self.directory / "parameters.json"
        if record.is_file():
            differences = parameter_differences(json.loads(record.read_text()), parameters)
            if differences:
                raise DatasetError(
                    f"{self.directory} holds an interrupted run with other parameters "
                    f"(recorded vs requested): {'; '.join(differences)}. Resume it with its "
                    f"own configuration, or delete the directory to discard it")
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_atomically(record, lambda path: path.write_text(
                json.dumps(parameters, sort_keys=True, indent=1)))

    def _segments(self, trajectory: int) -> list[Path]:
        return sorted(self.directory.glob(f"t{trajectory:07d}-*.npz"))

    def write(self, snapshots: Snapshots, checkpoint: Checkpoint) -> None:
        arrays = {f"snapshot.{k}": v for k, v in snapshots.columns().items()}
        arrays.update({f"state.{k}": v for k, v in checkpoint.state.items()})
        arrays.update(trajectory=checkpoint.trajectory, done=checkpoint.done, step=checkpoint.step)
        name = f"t{checkpoint.trajectory:07d}-{checkpoint.done:07d}.npz"

        def save(path: Path) -> None:
            with path.open("wb") as handle:
                np.savez(handle, **arrays)

        _write_atomically(self.directory / name, save)

    def latest(self, trajectory: int) -> Checkpoint | None:
        """The checkpoint after the last finished segment of `trajectory`, if any."""
        segments = self._segments(trajectory)
        if not segments:
            return None
        with np.load(segments[-1]) as data:
            state = {k.removeprefix("state."): data[k] for k in data.files
                     if k.startswith("state.")}
            return Checkpoint(int(data["trajectory"]), int(data["done"]), int(data["step"]),
                              state)

    def snapshots(self, trajectory: int):
        """The snapshots of `trajectory`, segment by segment, in order."""
        for path in self._segments(trajectory):
            with np.load(path) as data:
                yield Snapshots(**{f.name: data[f"snapshot.{f.name}"]
                                   for f in fields(Snapshots)})

    def remove(self) -> None:
        shutil.rmtree(self.directory)


def _write_atomically(path: Path, write) -> None:
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


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
    output, parameters = config.output, config.parameters
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
    executor = executor or InlineExecutor()
    pending, active = deque(todo), {}
    bar = tqdm(total=len(todo) * per_trajectory, initial=resumed, unit="snapshot",
               desc=output.name, disable=not progress, dynamic_ncols=True)

    def submit(trajectory: int) -> bool:
        checkpoint = latest[trajectory]
        taken = 0 if checkpoint is None else checkpoint.done
        if taken >= per_trajectory:
            return False
        count = min(config.checkpoint_every, per_trajectory - taken)
        future = executor.submit(run_segment, parameters, trajectory, checkpoint, count)
        active[future] = trajectory
        return True

    def fill() -> None:
        while pending and len(active) < parallel:
            submit(pending.popleft())

    try:
        fill()
        while active:
            finished, _ = wait(list(active), return_when=FIRST_COMPLETED)
            for future in finished:
                trajectory = active.pop(future)
                snapshots, checkpoint = future.result()
                journal.write(snapshots, checkpoint)
                latest[trajectory] = checkpoint
                bar.update(len(snapshots))
                if not submit(trajectory):
                    fill()
    finally:
        for future in active:
            future.cancel()
        bar.close()

    seeds = np.array([trajectory_seeds(parameters["seed"], t) for t in todo], dtype=np.uint64)
    run = {"trajectories": [todo.start, todo.stop], "started": started, "finished": _now(),
           "resumed_snapshots": resumed, "host": platform.node(), "code": code_version()}
    parts = (part for t in todo for part in journal.snapshots(t))
    append(output, parameters, setup.model.field_shape, parts, seeds, run)
    journal.remove()
    return Summary(output, len(todo), len(todo) * per_trajectory, resumed)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
