"""Reliability of the data, file and command-line layer (docs/reliability.md, first section):
a full disk, two runs on one output, Ctrl-C, corrupt and damaged files, bad output paths,
non-finite settings, impossible sizes, mismatched run configs, thread pinning, triton."""

import errno
import json
import pathlib
import subprocess
import sys
import tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import generated
from runtime.app import pipeline
from runtime.app.cli import main
from runtime.data import generation
from runtime.data.config import DatasetConfig
from runtime.data.dataset import DatasetError, read_dataset, read_header
from runtime.dynamics.forces import TotalForce
from runtime.electrons.model import ElectronicModel
from runtime.errors import ConfigError
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "configs" / "small" / "holstein.toml"


def value(v) -> str:
    """A TOML value: strings, numbers (inf and nan included) and lists of them."""
    if isinstance(v, float) and not np.isfinite(v):
        return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, list):
        return "[" + ", ".join(map(value, v)) + "]"
    return json.dumps(v)


def toml_text(data: dict, prefix: str = "") -> str:
    """A (nested) table as TOML text."""
    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, table in data.items():
        if isinstance(table, dict):
            lines += ["", f"[{prefix}{key}]", toml_text(table, f"{prefix}{key}.")]
    return "\n".join(lines) + "\n"


def dataset_config(tmp_path, name="data.h5", **changes) -> Path:
    """A one-trajectory Holstein config (two segments of one snapshot), written to a file."""
    data = tomllib.loads(SMALL.read_text())
    data.update(output=str(tmp_path / name), trajectories=1, checkpoint_every=1)
    data["protocol"].update(snapshots=2, sample_every=2, burn_in=0)
    for key, value in changes.items():
        section, _, key = key.rpartition("__")
        (data[section] if section else data)[key] = value
    path = tmp_path / f"{Path(name).stem}.toml"
    path.write_text(toml_text(data))
    return path


def dataset(config: Path, *extra) -> int:
    return main(["dataset", str(config), "--workers", "0", "--quiet", *extra])


def one_line_error(capsys, *fragments) -> str:
    err = capsys.readouterr().err
    assert err.startswith("latticeff: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


def no_temporaries(directory: Path) -> None:
    left = [p.name for p in directory.rglob("*") if p.name.endswith(".tmp")]
    assert not left, left


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def half_then_no_space(self, text, *args, **kwargs):
    with open(self, "w") as handle:
        handle.write(text[: len(text) // 2])
    raise OSError(errno.ENOSPC, "No space left on device")


# --- 1. a full disk -----------------------------------------------------------------------

def test_a_full_disk_while_appending_keeps_the_old_dataset(tmp_path, monkeypatch, capsys):
    config = dataset_config(tmp_path)
    assert dataset(config) == 0
    old = (tmp_path / "data.h5").read_bytes()
    monkeypatch.setattr(h5py.Dataset, "resize", no_space)
    assert dataset(config, "--trajectories", "2") == 2
    one_line_error(capsys, "no space left", "data.h5", "not changed")
    assert (tmp_path / "data.h5").read_bytes() == old
    no_temporaries(tmp_path)
    assert not (tmp_path / "data.h5.lock").exists()
    assert (tmp_path / "data.h5.partial").is_dir()  # the finished segments wait for a rerun
    monkeypatch.undo()
    assert dataset(config, "--trajectories", "2") == 0
    assert read_header(tmp_path / "data.h5").n_trajectories == 2


def test_a_full_disk_while_creating_a_dataset_leaves_no_file(tmp_path, monkeypatch, capsys):
    config = dataset_config(tmp_path)
    monkeypatch.setattr(h5py.Dataset, "resize", no_space)
    assert dataset(config) == 2
    one_line_error(capsys, "no space left", "data.h5")
    assert not (tmp_path / "data.h5").exists()
    no_temporaries(tmp_path)


def test_a_full_disk_while_writing_a_journal_segment(tmp_path, monkeypatch, capsys):
    config = dataset_config(tmp_path)
    calls = []

    def savez(handle, **arrays):
        calls.append(1)
        if len(calls) == 2:
            handle.write(b"PK half a segment")
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(handle, **arrays)

    original = np.savez
    monkeypatch.setattr(np, "savez", savez)
    assert dataset(config) == 2
    one_line_error(capsys, "no space left", "t0000000-0000002.npz")
    journal = tmp_path / "data.h5.partial"
    assert sorted(p.name for p in journal.iterdir()) == ["parameters.json",
                                                         "t0000000-0000001.npz"]
    no_temporaries(tmp_path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A dataset on 11 x 11 and an untrained model of a square scalar descriptor."""
    directory = tmp_path_factory.mktemp("trained")
    data = tomllib.loads(SMALL.read_text())
    data.update(output=str(directory / "data.h5"), trajectories=1, checkpoint_every=2)
    data["model"]["size"] = [11, 11]
    data["protocol"].update(snapshots=2, sample_every=1, burn_in=0)
    config = directory / "data.toml"
    config.write_text(toml_text(data))
    assert dataset(config) == 0
    parameters = read_header(directory / "data.h5").parameters
    model = ForceField(generated.load("square_scalar_power"), NetworkConfig(widths=(4,)),
                       metadata={"data": {"parameters": parameters}})
    model.save(directory / "model.pt")
    return directory


def simulate_config(trained, output: Path, where: Path | None = None, **changes) -> Path:
    data = {"forcefield": str(trained / "model.pt"), "output": str(output), "size": [12, 12],
            "integrator": {"name": "tdgl", "dt": 0.05},
            "simulation": {"steps": 3, "measure_every": 1}}
    data.update(changes)
    path = (where or output.parent) / f"{output.name}.toml"
    path.write_text(toml_text(data))
    return path


def test_a_full_disk_while_writing_evaluation_metrics(trained, tmp_path, monkeypatch, capsys):
    command = ["evaluate", "--model", str(trained / "model.pt"), "--data",
               str(trained / "data.h5"), "--output", str(tmp_path)]
    assert main(command) == 0
    old = (tmp_path / "metrics.json").read_text()
    capsys.readouterr()
    monkeypatch.setattr(pathlib.Path, "write_text", half_then_no_space)
    assert main(command) == 2
    one_line_error(capsys, "no space left", "metrics.json", "not changed")
    assert (tmp_path / "metrics.json").read_text() == old
    no_temporaries(tmp_path)


def test_a_full_disk_while_simulating_keeps_config_and_states(trained, tmp_path, monkeypatch,
                                                              capsys):
    config = simulate_config(trained, tmp_path / "sim")
    assert main(["simulate", str(config), "--quiet"]) == 0
    old = {name: (tmp_path / "sim" / name).read_bytes()
           for name in ("config.json", "final_state.npz", "observables.json")}
    capsys.readouterr()
    monkeypatch.setattr(pathlib.Path, "write_text", half_then_no_space)
    assert main(["simulate", str(config), "--quiet"]) == 2
    one_line_error(capsys, "no space left", "config.json")
    monkeypatch.undo()
    monkeypatch.setattr(np, "savez", no_space)
    assert main(["simulate", str(config), "--quiet"]) == 2
    one_line_error(capsys, "no space left", "final_state.npz")
    for name, content in old.items():
        assert (tmp_path / "sim" / name).read_bytes() == content, name
    no_temporaries(tmp_path)


def test_a_full_disk_while_writing_the_training_history(trained, tmp_path, monkeypatch,
                                                        capsys):
    config = tmp_path / "train.toml"
    config.write_text(toml_text({"data": str(trained / "data.h5"),
                                 "output": str(tmp_path / "model.pt"),
                                 "descriptor": "square_scalar_power",
                                 "network": {"widths": [4]},
                                 "training": {"epochs": 1, "batch_size": 1,
                                              "validation_fraction": 0.5}}))
    monkeypatch.setattr(pathlib.Path, "write_text", half_then_no_space)
    assert main(["train", str(config), "--quiet"]) == 2
    one_line_error(capsys, "no space left", "model.history.json")
    assert not (tmp_path / "model.history.json").exists()
    no_temporaries(tmp_path)


# --- 2. two runs on one output ----------------------------------------------------------

def test_a_second_dataset_run_on_the_same_output_is_refused(tmp_path, capsys):
    config = dataset_config(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "data.h5.lock").write_text(f"{holder.pid}\n")
        assert dataset(config) == 2
        one_line_error(capsys, f"process {holder.pid}", "data.h5.lock", "another run")
        assert (tmp_path / "data.h5.lock").read_text() == f"{holder.pid}\n"
        assert not (tmp_path / "data.h5").exists()
        assert not (tmp_path / "data.h5.partial").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_is_taken_over_and_released(tmp_path):
    config = dataset_config(tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "data.h5.lock").write_text(f"{gone.pid}\n")
    assert dataset(config) == 0
    assert not (tmp_path / "data.h5.lock").exists()
    assert read_header(tmp_path / "data.h5").n_trajectories == 1


def interrupt_dataset(config, monkeypatch, at_segment: int) -> None:
    """`latticeff dataset config` with Ctrl-C pressed in segment `at_segment`: exit 130."""
    original, calls = generation.run_segment, []

    def segment(*args):
        calls.append(1)
        if len(calls) == at_segment:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(generation, "run_segment", segment)
    assert dataset(config) == 130


# --- 3. Ctrl-C ----------------------------------------------------------------------------

def test_ctrl_c_in_dataset_keeps_the_journal_and_says_how_to_resume(tmp_path, monkeypatch,
                                                                     capsys):
    config = dataset_config(tmp_path)
    interrupt_dataset(config, monkeypatch, at_segment=2)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "journal" in err and "data.h5.partial" in err
    assert "rerun the same command to resume" in err
    assert not (tmp_path / "data.h5.lock").exists() and not (tmp_path / "data.h5").exists()
    monkeypatch.undo()
    assert dataset(config) == 0
    assert "1 of them from an interrupted run" in capsys.readouterr().out


def test_ctrl_c_in_train_names_the_checkpoint(trained, tmp_path, monkeypatch, capsys):
    config = tmp_path / "train.toml"
    config.write_text(toml_text({"data": str(trained / "data.h5"),
                                 "output": str(tmp_path / "model.pt"),
                                 "descriptor": "square_scalar_power",
                                 "network": {"widths": [4]}}))

    def train(model, data, options, *, checkpoint, progress):
        checkpoint.write_bytes(b"state of epoch 1")
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "train", train)
    assert main(["train", str(config), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "model.pt.checkpoint") in err
    assert "rerun the same command to continue" in err


def test_ctrl_c_in_simulate_saves_the_last_field(trained, tmp_path, monkeypatch, capsys):
    config = simulate_config(trained, tmp_path / "sim")
    original, calls = TotalForce.energy_and_forces, []

    def forces(self, field):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, field)

    monkeypatch.setattr(TotalForce, "energy_and_forces", forces)
    assert main(["simulate", str(config), "--quiet"]) == 130
    err = capsys.readouterr().err
    saved = tmp_path / "sim" / "interrupted_field.npz"
    assert err.count("\n") == 1 and str(saved) in err
    with np.load(saved) as data:
        assert data["field"].shape == (1, 12, 12, 1, 1) and int(data["force_evaluations"]) == 3
    no_temporaries(tmp_path)


# --- 4. checksums -------------------------------------------------------------------------

def test_every_dataset_column_has_a_checksum_and_corruption_is_a_clear_error(tmp_path, capsys):
    config = dataset_config(tmp_path)
    assert dataset(config) == 0
    path = tmp_path / "data.h5"
    with h5py.File(path) as f:
        assert all(f[name].fletcher32 for name in f)
        chunk, written = f["forces"].id.get_chunk_info(0), f["forces"].nbytes
    content = bytearray(path.read_bytes())
    middle = chunk.byte_offset + written // 2  # in the middle of the stored forces
    content[middle:middle + 4] = bytes(b ^ 0x5A for b in content[middle:middle + 4])
    path.write_bytes(bytes(content))
    with pytest.raises(DatasetError, match=r"data\.h5 is corrupt: /forces.*checksum"):
        read_dataset(path)
    config2 = tmp_path / "train.toml"
    config2.write_text(toml_text({"data": str(path), "output": str(tmp_path / "m.pt"),
                                  "descriptor": "square_scalar_power"}))
    assert main(["train", str(config2), "--quiet"]) == 2
    one_line_error(capsys, "data.h5 is corrupt", "/forces")


# --- 5. clear errors ----------------------------------------------------------------------

def test_output_paths_that_are_directories_or_under_files(trained, tmp_path, capsys):
    config = dataset_config(tmp_path)
    assert dataset(config, "--output", str(tmp_path)) == 2
    one_line_error(capsys, "is a directory")
    (tmp_path / "file").write_text("")
    assert dataset(config, "--output", str(tmp_path / "file" / "x.h5")) == 2
    one_line_error(capsys, "lies under", "which is a file")
    assert main(["evaluate", "--model", str(trained / "model.pt"), "--data",
                 str(trained / "data.h5"), "--output", str(tmp_path / "file")]) == 2
    one_line_error(capsys, "output directory", "is a file")
    assert main(["simulate", str(simulate_config(trained, tmp_path / "file" / "sim", tmp_path)),
                 "--quiet"]) == 2
    one_line_error(capsys, "lies under", "which is a file")
    run = tomllib.loads((ROOT / "configs" / "run_default.toml").read_text())
    run["directory"] = str(tmp_path / "file" / "run")
    (tmp_path / "run.toml").write_text(toml_text(run))
    assert main(["run", str(tmp_path / "run.toml"), "--quiet"]) == 2
    one_line_error(capsys, "lies under")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.toml", "file", "run.toml",
                                                          "sim.toml"]


def test_missing_keys_in_a_dataset_file_name_the_file_and_key(tmp_path):
    assert dataset(dataset_config(tmp_path)) == 0
    path = tmp_path / "data.h5"
    with h5py.File(path, "a") as f:
        del f["seeds"]
    with pytest.raises(DatasetError, match=r"data\.h5 is damaged: it has no dataset /seeds"):
        read_dataset(path)
    assert dataset(dataset_config(tmp_path, "other.h5")) == 0
    path = tmp_path / "other.h5"
    with h5py.File(path, "a") as f:
        parameters = json.loads(f.attrs["parameters"])
        del parameters["model"]["lattice"]
        f.attrs["parameters"] = json.dumps(parameters)
        del f.attrs["runs"]
    with pytest.raises(DatasetError, match=r"other\.h5 is damaged: it has no attribute 'runs'"):
        read_header(path)
    with h5py.File(path, "a") as f:
        f.attrs["runs"] = "[]"
    with pytest.raises(DatasetError, match=r"other\.h5 .*parameters have no model\.lattice"):
        read_header(path)


def interrupted_journal(tmp_path, monkeypatch) -> Path:
    config = dataset_config(tmp_path, protocol__snapshots=3)
    interrupt_dataset(config, monkeypatch, at_segment=3)
    monkeypatch.undo()
    return config


def test_a_truncated_or_garbage_journal_segment_is_named_as_a_cache(tmp_path, monkeypatch,
                                                                    capsys):
    config = interrupted_journal(tmp_path, monkeypatch)
    journal = tmp_path / "data.h5.partial"
    first, second = sorted(journal.glob("*.npz"))
    first.write_bytes(first.read_bytes()[:100])
    capsys.readouterr()
    assert dataset(config) == 2
    one_line_error(capsys, str(first), "only a cache", "delete it and the later segments")
    first.write_bytes(b"garbage")
    assert dataset(config) == 2
    one_line_error(capsys, str(first), "only a cache")
    first.unlink()  # a gap: the segment after it no longer follows on
    assert dataset(config) == 2
    one_line_error(capsys, str(second), "only a cache")
    second.unlink()
    (journal / "parameters.json").write_text("{trunc")
    assert dataset(config) == 2
    one_line_error(capsys, "parameters.json", "only a cache")
    (journal / "parameters.json").unlink()
    assert dataset(config) == 0
    assert read_header(tmp_path / "data.h5").n_snapshots == 3


def test_an_impossible_ed_size_is_refused_with_the_estimate(tmp_path, capsys):
    config = dataset_config(tmp_path, model__size=[100000, 100000])
    assert dataset(config) == 2
    one_line_error(capsys, "model: exact diagonalization", "10000000000 states", "PiB",
                   "use a smaller size")
    assert list(tmp_path.iterdir()) == [config]


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_numbers_are_refused_while_parsing(tmp_path, trained, capsys, value):
    config = dataset_config(tmp_path)
    text = config.read_text().replace("temperature = 0.05", f"temperature = {value}")
    config.write_text(text)
    assert dataset(config) == 2
    one_line_error(capsys, "protocol.temperature must be a finite number")
    data = tomllib.loads(text)
    data["output"] = str(tmp_path / "x.h5")
    with pytest.raises(ConfigError, match="protocol.temperature must be a finite number"):
        DatasetConfig.from_dict(data)
    simulate = simulate_config(trained, tmp_path / "sim")
    simulate.write_text(simulate.read_text().replace("dt = 0.05", f"dt = {value}"))
    assert main(["simulate", str(simulate), "--quiet"]) == 2
    one_line_error(capsys, "integrator: ", "dt must be finite")
    run = tomllib.loads((ROOT / "configs" / "run_default.toml").read_text())
    run["directory"] = str(tmp_path / "run")
    run["training"]["learning_rate"] = float(value)
    (tmp_path / "run.toml").write_text(toml_text(run))
    assert main(["run", str(tmp_path / "run.toml"), "--quiet"]) == 2
    one_line_error(capsys, "training.learning_rate must be a finite number")
    with pytest.raises(ConfigError, match=r"training\.learning_rate must be a finite"):
        pipeline.run_settings({**run, "training": {"learning_rate": float(value)}})


def test_decompose_refuses_a_huge_neighbourhood(capsys):
    assert main(["inspect", "decompose", "square", "--shells", "100000"]) == 2
    one_line_error(capsys, "--shells 100000 takes more than 2000 sites", "at most 218 shells")
    assert main(["inspect", "decompose", "cubic", "--cutoff", "1e5"]) == 2
    one_line_error(capsys, "limit is 2000")
    assert main(["generate", "--lattice", "square", "--field", "scalar", "--descriptor",
                 "power", "--shells", "100000"]) == 2
    one_line_error(capsys, "takes more than 2000 sites")


# --- 6. run: descriptor against the dataset model, before any ED --------------------------

@pytest.fixture
def no_ed(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("exact diagonalization was started")

    monkeypatch.setattr(ElectronicModel, "solve", fail)
    monkeypatch.setattr(generation, "run_segment", fail)


def run_config(tmp_path, **changes) -> Path:
    run = tomllib.loads((ROOT / "configs" / "run_default.toml").read_text())
    run["directory"] = str(tmp_path / "run")
    for key, value in changes.items():
        *sections, key = key.split("__")
        table = run
        for section in sections:
            table = table[section]
        table[key] = value
    path = tmp_path / "run.toml"
    path.write_text(toml_text(run))
    return path


@pytest.mark.parametrize("changes, fragments", [
    ({"dataset__model__name": "jahn_teller"},
     ("descriptor square_scalar_reference is for a scalar field",
      "jahn_teller (a jahn_teller field)")),
    ({"dataset__model__lattice": "triangular"}, ("on the triangular lattice",)),
    ({"descriptor": "square_jahn_teller_reference"}, ("holstein (a scalar field)",)),
    ({"dataset__model__size": [8, 8]},
     ("dataset.model.size = [8, 8] is smaller than the stencil", "at least [11, 11]")),
    ({"simulate__size": [10, 10]}, ("simulate.size = [10, 10] is smaller than the stencil",)),
])
def test_run_checks_descriptor_and_sizes_before_any_ed(tmp_path, no_ed, capsys, changes,
                                                      fragments):
    assert main(["run", str(run_config(tmp_path, **changes)), "--quiet"]) == 2
    one_line_error(capsys, *fragments)
    assert not (tmp_path / "run").exists()


# --- 7. --workers 0 pins torch to one thread ----------------------------------------------

def test_workers_0_runs_segments_on_one_thread_and_records_it(tmp_path, monkeypatch):
    original, seen = generation.run_segment, []

    def segment(*args):
        seen.append(torch.get_num_threads())
        return original(*args)

    monkeypatch.setattr(generation, "run_segment", segment)
    torch.set_num_threads(2)
    try:
        assert dataset(dataset_config(tmp_path)) == 0
        assert torch.get_num_threads() == 2  # restored after the run
    finally:
        torch.set_num_threads(1)
    assert seen == [1, 1]
    assert read_header(tmp_path / "data.h5").runs[-1]["torch_threads"] == [1]


# --- 8. backend = "triton" without a GPU ---------------------------------------------------

def test_triton_without_gpu_or_interpreter_is_a_clear_error(trained, tmp_path, monkeypatch,
                                                           capsys, no_ed):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = simulate_config(trained, tmp_path / "sim", backend="triton")
    assert main(["simulate", str(config), "--quiet"]) == 2
    one_line_error(capsys, "backend = 'triton' needs a CUDA GPU", "TRITON_INTERPRET=1")
    assert not (tmp_path / "sim").exists()
    assert main(["run", str(run_config(tmp_path, simulate__backend="triton")), "--quiet"]) == 2
    one_line_error(capsys, "backend = 'triton' needs a CUDA GPU")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    pipeline.simulate_settings(tomllib.loads(config.read_text()))  # allowed: the interpreter
