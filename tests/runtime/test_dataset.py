"""`latticeff dataset`: HDF5 round trip, determinism, append, refusal, interruption and resume."""

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from runtime.app.cli import main
from runtime.data.cluster import InlineExecutor, executor
from runtime.data.config import DatasetConfig, build
from runtime.data.dataset import DatasetError, read_dataset, read_header
from runtime.data.generation import generate, trajectory_seeds
from runtime.errors import DivergenceError

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "configs" / "small" / "holstein.toml"


def holstein(tmp_path, **changes) -> dict:
    """The small Holstein config writing into tmp_path; `changes` as section__key=value."""
    data = tomllib.loads(SMALL.read_text())
    data["output"] = str(tmp_path / "holstein.h5")
    for key, value in changes.items():
        section, _, name = key.rpartition("__")
        (data[section] if section else data)[name] = value
    return data


def make(tmp_path, **changes) -> DatasetConfig:
    return DatasetConfig.from_dict(holstein(tmp_path, **changes))


def write_toml(path: Path, data: dict) -> Path:
    def value(v):
        return json.dumps(v)  # strings, numbers and lists of numbers read back the same

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, table in data.items():
        if isinstance(table, dict):
            lines += [f"[{section}]", *(f"{k} = {value(v)}" for k, v in table.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def same_snapshots(a, b) -> bool:
    return all(np.array_equal(getattr(a.snapshots, name), getattr(b.snapshots, name))
               for name in ("fields", "forces", "energy", "trajectory", "step", "time",
                            "temperature")) and np.array_equal(a.seeds, b.seeds)


def test_round_trip_records_everything_and_matches_exact_diagonalization(tmp_path):
    config = make(tmp_path)
    summary = generate(config, progress=False)
    assert summary.added_snapshots == 15 and "added 15 snapshots in 3 trajectories" in str(summary)
    data = read_dataset(config.output)

    assert data.parameters == config.parameters and data.n_trajectories == 3 and len(data) == 15
    assert data.fields.shape == (15, 6, 6, 1, 1) and data.fields.dtype == torch.float64
    assert data.snapshots.trajectory.tolist() == [t for t in range(3) for _ in range(5)]
    assert data.snapshots.step.tolist() == [10, 20, 30, 40, 50] * 3
    assert np.allclose(data.snapshots.time, 0.05 * data.snapshots.step)
    assert np.all(data.snapshots.temperature == 0.05)
    assert data.seeds.tolist() == [list(trajectory_seeds(1, t)) for t in range(3)]
    (run,) = data.runs
    assert run["trajectories"] == [0, 3] and run["code"]["latticeff"] and run["code"]["torch"]

    model = build(config.parameters).model
    solution = model.solve(data.fields, filling=0.5)
    assert torch.allclose(data.forces, solution.forces, atol=1e-12)
    assert torch.allclose(data.energy, solution.energy, atol=1e-10)
    assert not torch.equal(data.fields[0], data.fields[5])  # independent trajectories
    assert not (config.output.parent / "holstein.h5.partial").exists()


def test_the_file_does_not_depend_on_segments_or_parallelism(tmp_path):
    generate(make(tmp_path / "a", checkpoint_every=5), progress=False)
    with ThreadPoolExecutor(2) as pool:
        generate(make(tmp_path / "b", checkpoint_every=1), pool, parallel=2, progress=False)
    assert same_snapshots(read_dataset(tmp_path / "a" / "holstein.h5"),
                          read_dataset(tmp_path / "b" / "holstein.h5"))


def test_anneal_and_llg_datasets(tmp_path):
    for name in ("jahn_teller", "sd"):
        data = tomllib.loads((ROOT / "configs" / "small" / f"{name}.toml").read_text())
        data["output"] = str(tmp_path / f"{name}.h5")
        generate(DatasetConfig.from_dict(data), progress=False)
        result = read_dataset(tmp_path / f"{name}.h5")
        assert len(result) == data["trajectories"] * data["protocol"]["snapshots"]
    jt = read_dataset(tmp_path / "jahn_teller.h5")
    assert np.all(np.diff(jt.snapshots.temperature[:4]) < 0)  # cooling
    sd = read_dataset(tmp_path / "sd.h5")
    assert (sd.fields.norm(dim=-1) - 1).abs().max() < 1e-13  # unit spins


def test_appending_trajectories_equals_making_them_at_once(tmp_path):
    config = make(tmp_path, trajectories=2)
    generate(config, progress=False)
    before = read_dataset(config.output)
    generate(config.with_overrides(trajectories=3), progress=False)
    after = read_dataset(config.output)
    assert len(after) == 15 and after.n_trajectories == 3
    assert [r["trajectories"] for r in after.runs] == [[0, 2], [2, 3]]
    assert np.array_equal(after.snapshots.fields[:10], before.snapshots.fields)

    reference = make(tmp_path / "ref")
    generate(reference, progress=False)
    assert same_snapshots(after, read_dataset(reference.output))

    again = generate(config.with_overrides(trajectories=2), progress=False)
    assert again.added_trajectories == 0 and "nothing to do" in str(again)


def test_appending_data_made_with_other_parameters_is_refused(tmp_path):
    config = make(tmp_path, trajectories=1)
    generate(config, progress=False)
    content = config.output.read_bytes()
    other = make(tmp_path, trajectories=2, model__g=1.2, integrator__dt=0.04)
    with pytest.raises(DatasetError, match=r"other parameters.*integrator\.dt: 0\.05 vs 0\.04; "
                                           r"model\.g: 1\.5 vs 1\.2"):
        generate(other, progress=False)
    assert config.output.read_bytes() == content


def test_files_that_are_missing_or_not_datasets_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="no dataset file .*none.h5; create it with"):
        read_dataset(tmp_path / "none.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(DatasetError, match="not a readable HDF5 file"):
        read_header(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(DatasetError, match="not a latticeff dataset"):
        generate(DatasetConfig.from_dict(holstein(tmp_path, output=str(tmp_path / "other.h5"))),
                 progress=False)


class StopAfter(InlineExecutor):
    """Runs tasks in this process and is interrupted (like Ctrl-C) at the n-th submission."""

    def __init__(self, n: int):
        self.left = n

    def submit(self, fn, /, *args, **kwargs):
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return super().submit(fn, *args, **kwargs)


def test_an_interrupted_run_resumes_without_losing_or_repeating_snapshots(tmp_path):
    config = make(tmp_path)  # 3 trajectories x 5 snapshots in segments of 2, 2, 1
    with pytest.raises(KeyboardInterrupt):
        generate(config, StopAfter(4), progress=False)
    journal = tmp_path / "holstein.h5.partial"
    assert not config.output.exists() and len(list(journal.glob("*.npz"))) == 4

    summary = generate(config, progress=False)
    assert summary.resumed_snapshots == 5 + 2 and not journal.exists()
    reference = make(tmp_path / "ref")
    generate(reference, progress=False)
    assert same_snapshots(read_dataset(config.output), read_dataset(reference.output))


def test_a_journal_left_with_other_parameters_is_refused(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        generate(make(tmp_path), StopAfter(1), progress=False)
    with pytest.raises(DatasetError, match="interrupted run with other parameters.*seed: 1 vs 9"):
        generate(make(tmp_path, seed=9), progress=False)


def test_a_killed_dask_run_resumes_from_its_journal(tmp_path):
    """The CLI on a local Dask cluster, killed (SIGKILL, workers included) after a few
    segments; the same command run again finishes the file, identical to an uninterrupted run."""
    data = holstein(tmp_path, trajectories=4, checkpoint_every=1, protocol__snapshots=12,
                    protocol__sample_every=40, protocol__burn_in=0)
    config_file = write_toml(tmp_path / "run.toml", data)
    journal = tmp_path / "holstein.h5.partial"
    command = [sys.executable, "-m", "runtime.app.cli", "dataset", str(config_file), "--workers", "2",
               "--quiet"]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list(journal.glob("*.npz"))) < 3 and process.poll() is None:
            assert time.monotonic() < deadline, "the run wrote no segments"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    taken = len(list(journal.glob("*.npz")))
    assert 3 <= taken < 48 and not (tmp_path / "holstein.h5").exists()

    assert main([str(a) for a in command[3:5]] + ["--workers", "0", "--quiet"]) == 0
    resumed = read_dataset(tmp_path / "holstein.h5")
    pairs = list(zip(resumed.snapshots.trajectory.tolist(), resumed.snapshots.step.tolist()))
    assert len(pairs) == len(set(pairs)) == 48
    assert resumed.runs[0]["resumed_snapshots"] == taken

    data["output"] = str(tmp_path / "reference.h5")
    generate(DatasetConfig.from_dict(data), progress=False)
    assert same_snapshots(resumed, read_dataset(tmp_path / "reference.h5"))


def test_cli_dataset_command(tmp_path, capsys):
    config_file = write_toml(tmp_path / "run.toml", holstein(tmp_path, trajectories=1))
    out = tmp_path / "elsewhere" / "data.h5"
    assert main(["dataset", str(config_file), "--workers", "0", "--quiet", "--output", str(out),
                 "--trajectories", "2"]) == 0
    assert f"added 10 snapshots in 2 trajectories to {out}" in capsys.readouterr().out
    assert read_header(out).n_trajectories == 2

    assert main(["dataset", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml not found" in capsys.readouterr().err
    bad = holstein(tmp_path)
    bad["integrator"]["step"] = 0.1
    assert main(["dataset", str(write_toml(tmp_path / "bad.toml", bad)), "--workers", "0"]) == 2
    assert "unknown key integrator.step; allowed: name, dt, mass, damping" in (
        capsys.readouterr().err)
    bad = holstein(tmp_path)
    bad["integrator"]["dt"] = -0.05
    assert main(["dataset", str(write_toml(tmp_path / "bad.toml", bad)), "--workers", "0"]) == 2
    assert "Langevin.dt must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["dataset", str(config_file), "--trajectories", "-1"])
    assert "must be an integer >= 1" in capsys.readouterr().err


def test_an_existing_dask_cluster_is_used_by_its_address(tmp_path):
    """`--scheduler ADDRESS`: here an in-process cluster of one worker with two threads."""
    from dask.distributed import LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                           dashboard_address=None)
    with cluster, executor(scheduler=cluster.scheduler_address) as (pool, parallel):
        assert parallel == 2
        generate(make(tmp_path / "dask", checkpoint_every=1), pool, parallel=parallel,
                 progress=False)
    generate(make(tmp_path / "inline"), progress=False)
    assert same_snapshots(read_dataset(tmp_path / "dask" / "holstein.h5"),
                          read_dataset(tmp_path / "inline" / "holstein.h5"))


def test_executor_arguments_are_checked():
    with pytest.raises(ValueError, match="either a scheduler address or a number of local"), \
            executor(scheduler="tcp://127.0.0.1:1", workers=1):
        pass
    with pytest.raises(ValueError, match="workers must be >= 0"), executor(workers=-1):
        pass


def test_a_diverging_trajectory_names_the_fix(tmp_path):
    config = make(tmp_path, integrator__dt=5.0, integrator__damping=0.0, trajectories=1,
                  protocol__sample_every=2000)
    with pytest.raises(DivergenceError, match="diverged at step .* reduce integrator.dt"):
        generate(config, progress=False)
