"""Reliability of the force field, training, evaluation and dynamics: every user-causable
failure is one clear error naming the fix, and nothing is overwritten or half-written
(docs/reliability.md, section "Force fields, training and dynamics")."""

import errno
import json
import math

import numpy as np
import pytest
import torch

import generated
from runtime.app.cli import main
from runtime.dynamics.forces import TotalForce
from runtime.dynamics.integrators import TDGL, StochasticLLG
from runtime.dynamics.simulation import SimulationOptions, simulate
from runtime.electrons import Holstein
from runtime.electrons.elastic import Elastic
from runtime.errors import (
    ConfigError,
    DatasetError,
    ForceFieldError,
    LatticeffError,
    SimulationError,
    TrainingError,
)
from runtime.ml import forcefield as forcefield_module
from runtime.ml import training
from runtime.ml.forcefield import ForceField, weights_hash
from runtime.ml.network import NetworkConfig
from runtime.ml.training import TrainingData, TrainingOptions, check_data, train

SMALL = NetworkConfig((8, 8))


def scalar_model(seed: int = 0) -> ForceField:
    torch.manual_seed(seed)
    return ForceField(generated.load("square_scalar_reference"), SMALL)


def field(cells=(11, 11), tail=(1, 1), batch=1, seed=0, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *cells, *tail), generator=generator, dtype=torch.float64).to(dtype)


# case 2: block_rows -------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [-1, -64, True, False, 2.0, "4", None])
def test_block_rows_must_be_a_non_negative_int(bad):
    with pytest.raises(ForceFieldError, match="block_rows must be an integer >= 1"):
        ForceField(generated.load("square_scalar_reference"), SMALL, block_rows=bad)
    model = scalar_model()
    with pytest.raises(ForceFieldError, match="block_rows must be an integer >= 1"):
        model.block_rows = bad
    assert model.block_rows == 0


def test_block_rows_zero_is_the_whole_lattice_and_positive_blocks_agree():
    model = scalar_model()
    x = field((13, 11))
    whole = model.forces(x)
    assert whole.abs().max() > 0
    model.block_rows = 3
    torch.testing.assert_close(model.forces(x), whole, rtol=1e-12, atol=1e-12)


# case 8: the field a ForceField takes ---------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.float16,
                                   torch.bfloat16, torch.complex128])
def test_force_field_refuses_non_float_fields(dtype):
    model = scalar_model()
    x = field().to(dtype) if dtype != torch.complex128 else field() + 0j
    for call in (model.forces, model.energy, model.features):
        with pytest.raises(ForceFieldError, match=f"float32 or float64, got {dtype}"):
            call(x)


def test_force_field_refuses_numpy_and_wrong_shapes():
    model = scalar_model()
    with pytest.raises(ForceFieldError, match="must be a torch.Tensor, got ndarray"):
        model.forces(np.zeros((1, 11, 11, 1, 1)))
    with pytest.raises(ForceFieldError, match=r"\(sublattice, component\) = \(1, 1\).*"
                                              r"got \(2, 1\)"):
        model.forces(field(tail=(2, 1)))
    with pytest.raises(ForceFieldError, match=r"got \(1, 3\)"):
        model.energy_and_forces(field(tail=(1, 3)))
    with pytest.raises(ForceFieldError, match="must have shape"):
        model.forces(field()[0])
    with pytest.raises(ForceFieldError, match="smaller than the stencil"):
        model.forces(field((6, 6)))
    with pytest.raises(ForceFieldError, match="NaN/inf"):
        model.forces(field() * math.inf)
    assert model.forces(field(dtype=torch.float32)).dtype == torch.float64


# case 5: weights and metadata verified on load ----------------------------------------------

def test_weights_hash_is_recorded_and_checked(tmp_path):
    model = scalar_model()
    path = model.save(tmp_path / "model.pt")
    data = torch.load(path, weights_only=True)
    assert data["format_version"] == 2
    assert forcefield_module.read_metadata(path)["weights_sha256"] == weights_hash(
        model.state_dict())
    loaded = ForceField.load(path)
    assert "weights_sha256" not in loaded.metadata
    data["state_dict"]["network.layers.0.weight"][0, 0] += 1e-12  # one flipped weight
    torch.save(data, path)
    with pytest.raises(ForceFieldError, match=f"weights in {path} do not match the SHA-256"):
        ForceField.load(path)


def test_truncated_or_garbage_model_is_a_clear_error(tmp_path):
    path = scalar_model().save(tmp_path / "model.pt")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ForceFieldError, match=f"{path} is not a readable latticeff model"):
        ForceField.load(path)
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ForceFieldError, match=f"{path} is not a readable latticeff model"):
        ForceField.load(path)


@pytest.mark.parametrize("remove,key", [(("descriptor",), "descriptor"),
                                        (("descriptor", "hash"), "descriptor.hash"),
                                        (("network",), "network"),
                                        (("weights_sha256",), "weights_sha256")])
def test_missing_metadata_keys_name_the_file_and_key(tmp_path, remove, key):
    path = scalar_model().save(tmp_path / "model.pt")
    data = torch.load(path, weights_only=True)
    record = json.loads(data["metadata"])
    parent = record
    for name in remove[:-1]:
        parent = parent[name]
    del parent[remove[-1]]
    data["metadata"] = json.dumps(record)
    torch.save(data, path)
    with pytest.raises(ForceFieldError, match=f"{path}: the model metadata lacks the key "
                                              f"{key};"):
        ForceField.load(path)


def test_weights_of_another_network_are_a_clear_error(tmp_path):
    path = scalar_model().save(tmp_path / "model.pt")
    data = torch.load(path, weights_only=True)
    del data["state_dict"]["network.layers.0.bias"]
    data["metadata"] = data["metadata"].replace(
        weights_hash(scalar_model().state_dict()), weights_hash(data["state_dict"]))
    torch.save(data, path)
    with pytest.raises(ForceFieldError, match=f"{path}: the weights do not fit network"):
        ForceField.load(path)


# case 9: the model is written atomically ------------------------------------------------------

def _full_disk(real_save):
    def save(obj, target, *args, **kwargs):
        real_save(obj, target, *args, **kwargs)  # a partial file is on disk ...
        with open(target, "r+b") as handle:
            handle.truncate(10)
        raise OSError(errno.ENOSPC, "No space left on device")  # ... when the disk fills
    return save


def test_model_save_on_a_full_disk_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = scalar_model(0).save(tmp_path / "model.pt")
    old = path.read_bytes()
    monkeypatch.setattr(torch, "save", _full_disk(torch.save))
    with pytest.raises(LatticeffError, match="no space left on the device while writing"):
        scalar_model(1).save(path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


# training: data, options, checkpoints ---------------------------------------------------------

OPTIONS = TrainingOptions(epochs=2, batch_size=2, learning_rate=3e-3, energy_weight=0.1,
                          validation_fraction=0.34, seed=1)


def holstein_data(seed: int = 4, n: int = 6) -> TrainingData:
    model = Holstein("square", 11, g=1.5)
    fields = model.random_field(n, seed=seed, scale=0.8)
    solution = model.solve(fields, filling=0.5)
    return TrainingData(fields, solution.forces, solution.energy, torch.arange(n) // 2)


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return holstein_data()


def with_column(data: TrainingData, **columns) -> TrainingData:
    names = ("fields", "forces", "energy", "trajectory")
    return TrainingData(**{**{name: getattr(data, name) for name in names}, **columns})


# case 4: checkpoints resume only on the same data; fewer epochs than finished is explicit

def test_checkpoint_refuses_other_data_of_the_same_size(data, tmp_path):
    checkpoint = tmp_path / "model.pt.checkpoint"
    train(scalar_model(), data, OPTIONS, checkpoint=checkpoint, progress=False)
    other = holstein_data(seed=5)
    assert len(other) == len(data) and other.fields.shape == data.fields.shape
    with pytest.raises(ConfigError, match=r"other options, network, descriptor or data "
                                          r"\(differs in: data \(SHA-256"):
        train(scalar_model(), other, OPTIONS, checkpoint=checkpoint, progress=False)
    model = scalar_model()  # the same data resumes (nothing left to do at 2 of 2 epochs)
    assert len(train(model, data, OPTIONS, checkpoint=checkpoint, progress=False).epochs) == 2
    assert model.metadata["training"]["data_sha256"] == data.fingerprint


def test_fewer_epochs_than_the_checkpoint_finished_is_refused(data, tmp_path):
    checkpoint = tmp_path / "model.pt.checkpoint"
    train(scalar_model(), data, OPTIONS, checkpoint=checkpoint, progress=False)
    before = checkpoint.read_bytes()
    fewer = TrainingOptions(**{**OPTIONS.__dict__, "epochs": 1})
    with pytest.raises(ConfigError, match="has already trained 2 epochs, more than the 1 asked "
                                          "for; nothing to do: ask for 2 epochs or more"):
        train(scalar_model(), data, fewer, checkpoint=checkpoint, progress=False)
    assert checkpoint.read_bytes() == before


def test_fingerprint_covers_every_column(data):
    copy = TrainingData(*(t.clone() for t in (data.fields, data.forces, data.energy,
                                               data.trajectory)))
    assert copy.fingerprint == data.fingerprint
    changed = data.forces.clone()
    changed[0, 0, 0, 0, 0] += 1e-15
    assert with_column(data, forces=changed).fingerprint != data.fingerprint
    assert with_column(data, trajectory=data.trajectory.flip(0)).fingerprint != data.fingerprint


# case 5: a damaged checkpoint is only a cache

@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign"])
def test_damaged_checkpoint_says_it_can_be_deleted(data, tmp_path, damage):
    checkpoint = tmp_path / "model.pt.checkpoint"
    train(scalar_model(), data, OPTIONS, checkpoint=checkpoint, progress=False)
    whole = checkpoint.read_bytes()
    if damage == "truncate":
        checkpoint.write_bytes(whole[: len(whole) // 3])
    elif damage == "garbage":
        checkpoint.write_bytes(b"not a checkpoint\n" * 50)
    else:
        torch.save({"model": {}}, checkpoint)  # a torch file without a signature
    with pytest.raises(TrainingError, match=f"{checkpoint} is not a readable training "
                                            f"checkpoint .*only a cache of the training state: "
                                            f"delete it and training restarts"):
        train(scalar_model(), data, OPTIONS, checkpoint=checkpoint, progress=False)


# case 6: divergence stops at the first non-finite loss; options are finite

@pytest.mark.parametrize("name,value", [("learning_rate", math.inf), ("learning_rate", math.nan),
                                        ("energy_weight", math.nan), ("energy_weight", math.inf),
                                        ("energy_weight", -1.0), ("min_learning_rate", math.nan),
                                        ("lr_factor", math.nan)])
def test_training_options_must_be_finite(name, value):
    with pytest.raises(ValueError, match=name):
        TrainingOptions(**{name: value})
    from runtime.settings import from_table
    with pytest.raises(ConfigError, match=f"training(: |.){name} must be"):
        from_table(TrainingOptions, {name: value}, "training.")


def test_divergence_stops_at_the_batch_and_keeps_the_last_good_checkpoint(data, tmp_path,
                                                                           monkeypatch):
    checkpoint = tmp_path / "model.pt.checkpoint"
    real = training._loss_terms
    calls = []

    def diverging(model, data, index, create_graph):
        force_mse, energy_mse = real(model, data, index, create_graph)
        if create_graph:
            calls.append(1)
            if len(calls) == 5:  # 2 batches per epoch: epoch 3, batch 1
                return force_mse * math.nan, energy_mse
        return force_mse, energy_mse

    monkeypatch.setattr(training, "_loss_terms", diverging)
    longer = TrainingOptions(**{**OPTIONS.__dict__, "epochs": 4})
    with pytest.raises(TrainingError, match=r"training diverged: the loss \(nan\) or its gradient "
                                            r"is not finite at epoch 3 of 4, batch 1 of 2; .*"
                                            r"keeps the last good state \(2 finished epochs\)"):
        train(scalar_model(), data, longer, checkpoint=checkpoint, progress=False)
    saved = torch.load(checkpoint, weights_only=True)
    assert len(json.loads(saved["history"])["epochs"]) == 2
    assert all(torch.isfinite(v).all() for v in saved["model"].values())
    monkeypatch.setattr(training, "_loss_terms", real)  # the cause fixed, training resumes
    assert len(train(scalar_model(), data, longer, checkpoint=checkpoint,
                     progress=False).epochs) == 4


def test_nan_data_or_infinite_learning_rate_end_in_a_training_error(data):
    forces = data.forces.clone()
    forces[:, 3, 4] = math.nan
    with pytest.raises(TrainingError, match=r"epoch 1 of 2, batch 1 of 2.*no checkpoint was "
                                            r"asked for"):
        train(scalar_model(), with_column(data, forces=forces), OPTIONS, progress=False)
    huge = TrainingOptions(**{**OPTIONS.__dict__, "learning_rate": 1e300})
    with pytest.raises(TrainingError, match="training diverged"):
        train(scalar_model(), data, huge, progress=False)


# case 9: the checkpoint is written atomically

def test_checkpoint_on_a_full_disk_keeps_the_old_one_and_no_temporary(data, tmp_path,
                                                                      monkeypatch):
    checkpoint = tmp_path / "model.pt.checkpoint"
    one = TrainingOptions(**{**OPTIONS.__dict__, "epochs": 1})
    train(scalar_model(), data, one, checkpoint=checkpoint, progress=False)
    old = checkpoint.read_bytes()
    monkeypatch.setattr(torch, "save", _full_disk(torch.save))
    with pytest.raises(LatticeffError, match=f"no space left on the device while writing "
                                             f"{checkpoint}"):
        train(scalar_model(), data, OPTIONS, checkpoint=checkpoint, progress=False)
    assert checkpoint.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == [checkpoint.name]


# case 3: the data check shared by train and evaluate

def test_check_data_refuses_foreign_or_damaged_data(data):
    square = generated.load("square_scalar_reference")
    check_data(data, square, lattice="square", source="d.h5", holds="holstein")
    with pytest.raises(DatasetError, match="is for a scalar field on the square lattice.*but "
                                           "d.h5 holds holstein on triangular"):
        check_data(data, square, lattice="triangular", source="d.h5", holds="holstein")
    with pytest.raises(DatasetError, match=r"but d.h5 holds .* shape \(11, 11, 1, 1\)"):
        check_data(data, generated.load("honeycomb_scalar_reference"), lattice="honeycomb",
                   source="d.h5")
    for column, value in (("fields", math.nan), ("forces", math.inf), ("energy", -math.inf)):
        bad = getattr(data, column).clone()
        bad[2] = value
        with pytest.raises(DatasetError, match=f"d.h5: column {column} has .* NaN/infinite "
                                               f"values, first in snapshot 2"):
            check_data(with_column(data, **{column: bad}), square, lattice="square",
                       source="d.h5")
    with pytest.raises(DatasetError, match="d.h5: column forces has dtype torch.complex128"):
        check_data(with_column(data, forces=data.forces + 0j), square, lattice="square",
                   source="d.h5")
    with pytest.raises(DatasetError, match=r"d.h5: column forces has shape \(6, 11, 10, 1, 1\)"):
        check_data(with_column(data, forces=data.forces[:, :, :10]), square, lattice="square",
                   source="d.h5")
    with pytest.raises(DatasetError, match=r"column energy has shape \(5,\)"):
        check_data(with_column(data, energy=data.energy[:5]), square, lattice="square",
                   source="d.h5")


# the commands: train, evaluate, simulate --------------------------------------------------

DATASET = """
output = "{output}"
seed = 3
trajectories = 2
checkpoint_every = 3
[model]
name = "holstein"
lattice = "{lattice}"
size = [11, 11]
[electrons]
filling = 0.5
[integrator]
name = "langevin"
dt = 0.05
[protocol]
kind = "quench"
temperature = 0.05
snapshots = 3
sample_every = 2
"""

TRAIN = """
data = "{data}"
output = "{output}"
descriptor = "square_scalar_reference"
[network]
widths = [8]
[training]
epochs = 2
batch_size = 2
validation_fraction = 0.5
{extra}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A square and a triangular Holstein dataset and a model trained on the square one."""
    root = tmp_path_factory.mktemp("reliability")
    for lattice in ("square", "triangular"):
        config = root / f"{lattice}.toml"
        config.write_text(DATASET.format(output=root / f"{lattice}.h5", lattice=lattice))
        assert main(["dataset", str(config), "--workers", "0", "--quiet"]) == 0
    config = root / "train.toml"
    config.write_text(TRAIN.format(data=root / "square.h5", output=root / "model.pt", extra=""))
    assert main(["train", str(config), "--quiet"]) == 0
    return root


def train_config(tmp_path, data, output, extra="") -> str:
    config = tmp_path / "train.toml"
    config.write_text(TRAIN.format(data=data, output=output, extra=extra))
    return str(config)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("latticeff: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def copy_dataset(source, target, **columns):
    """A copy of a dataset file with some columns replaced (ragged, complex, NaN ...)."""
    import shutil

    import h5py

    shutil.copyfile(source, target)
    with h5py.File(target, "a") as f:
        for name, values in columns.items():
            if name == "parameters":
                f.attrs["parameters"] = json.dumps(values)
                continue
            del f[name]
            f.create_dataset(name, data=values)
    return target


# case 1: train never overwrites what is not its own model

@pytest.mark.parametrize("target", ["data", "other_dataset", "text", "other_model"])
def test_train_refuses_to_overwrite_anything_but_its_own_model(files, tmp_path, capsys, target):
    import shutil

    data = tmp_path / "data.h5"
    shutil.copyfile(files / "square.h5", data)
    if target == "data":
        output = data
        expected = f"output {data} is the input {data}"
    elif target == "other_dataset":
        output = shutil.copyfile(files / "triangular.h5", tmp_path / "tri.h5")
        expected = "exists and is not a latticeff model file, so train will not overwrite it"
    elif target == "text":
        output = tmp_path / "notes.pt"
        output.write_text("my notes\n")
        expected = "exists and is not a latticeff model file"
    else:
        output = tmp_path / "power.pt"
        ForceField(generated.load("square_scalar_power"), SMALL).save(output)
        expected = ("holds a model of descriptor square_scalar_power (another hash), so train "
                    "will not replace it with a model of square_scalar_reference")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert main(["train", train_config(tmp_path, data, output), "--quiet"]) == 2
    assert expected in one_line_error(capsys)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "train.toml"}
    assert after == before  # nothing written, nothing replaced


def test_train_replaces_a_model_of_the_same_descriptor(files, tmp_path, capsys):
    output = tmp_path / "model.pt"
    output.write_bytes((files / "model.pt").read_bytes())
    config = train_config(tmp_path, files / "square.h5", output, "seed = 9")
    assert main(["train", config, "--quiet"]) == 0
    assert ForceField.load(output).metadata["training"]["options"]["seed"] == 9


# case 2: block_rows in a simulate config

@pytest.mark.parametrize("value", ["-1", "-64", "true", "2.5"])
def test_simulate_refuses_bad_block_rows(files, tmp_path, capsys, value):
    config = tmp_path / "simulate.toml"
    config.write_text(f'forcefield = "{files / "model.pt"}"\noutput = "{tmp_path / "sim"}"\n'
                      f'size = [12, 12]\nblock_rows = {value}\n'
                      '[integrator]\nname = "tdgl"\ndt = 0.05\n[simulation]\nsteps = 2\n')
    assert main(["simulate", str(config), "--quiet"]) == 2
    assert "block_rows must be" in one_line_error(capsys)
    assert not (tmp_path / "sim").exists()


# case 3: evaluate checks its data as train does

def test_evaluate_refuses_data_of_another_lattice(files, tmp_path, capsys):
    assert main(["evaluate", "--model", str(files / "model.pt"), "--data",
                 str(files / "triangular.h5"), "--output", str(tmp_path / "ev")]) == 2
    err = one_line_error(capsys)
    assert "is for a scalar field on the square lattice" in err
    assert f"{files / 'triangular.h5'} holds holstein on triangular" in err
    assert not (tmp_path / "ev").exists()


@pytest.mark.parametrize("damage", ["nan", "inf", "complex", "ragged", "lattice"])
@pytest.mark.parametrize("command", ["evaluate", "train"])
def test_train_and_evaluate_refuse_damaged_force_columns(files, tmp_path, capsys, damage,
                                                         command):
    import h5py

    with h5py.File(files / "square.h5") as f:
        forces, parameters = f["forces"][()], json.loads(f.attrs["parameters"])
    columns = {}
    if damage == "nan":
        forces[1, 2, 3] = np.nan
        columns["forces"] = forces
        expected = "column forces has 1 NaN/infinite values, first in snapshot 1"
    elif damage == "inf":
        forces[4, 0, 0] = -np.inf
        columns["forces"] = forces
        expected = "column forces has 1 NaN/infinite values, first in snapshot 4"
    elif damage == "complex":
        columns["forces"], expected = forces + 1j, "column forces has dtype torch.complex128"
    elif damage == "ragged":
        columns["forces"], expected = forces[:, :, :9], "column forces has shape (6, 11, 9, 1, 1)"
    else:
        parameters["model"]["lattice"] = "triangular"
        columns["parameters"], expected = parameters, "holds holstein on triangular"
    data = copy_dataset(files / "square.h5", tmp_path / "bad.h5", **columns)
    if command == "evaluate":
        argv = ["evaluate", "--model", str(files / "model.pt"), "--data", str(data),
                "--output", str(tmp_path / "ev")]
    else:
        argv = ["train", train_config(tmp_path, data, tmp_path / "m.pt"), "--quiet"]
    assert main(argv) == 2
    err = one_line_error(capsys)
    assert expected in err and (str(data) in err)
    assert not (tmp_path / "ev").exists() and not (tmp_path / "m.pt").exists()


# case 4 and 6 through the command line

def test_train_with_fewer_epochs_than_finished_says_nothing_to_do(files, tmp_path, capsys):
    output = tmp_path / "model.pt"
    config = train_config(tmp_path, files / "square.h5", output)
    assert main(["train", config, "--quiet"]) == 0
    before = output.read_bytes()
    assert main(["train", config, "--quiet", "--epochs", "1"]) == 2
    assert "has already trained 2 epochs, more than the 1 asked for; nothing to do" in \
        one_line_error(capsys)
    assert output.read_bytes() == before


def test_train_resumes_only_on_the_same_data(files, tmp_path, capsys):
    output = tmp_path / "model.pt"
    data = tmp_path / "data.h5"
    data.write_bytes((files / "square.h5").read_bytes())
    config = train_config(tmp_path, data, output)
    assert main(["train", config, "--quiet", "--epochs", "1"]) == 0
    import h5py

    with h5py.File(data, "a") as f:  # same size, other values
        f["forces"][0] = -f["forces"][0]
    assert main(["train", config, "--quiet"]) == 2
    assert "differs in: data (SHA-256" in one_line_error(capsys)


@pytest.mark.parametrize("option", ["learning_rate = inf", "learning_rate = nan",
                                    "energy_weight = nan"])
def test_train_refuses_non_finite_options(files, tmp_path, capsys, option):
    config = train_config(tmp_path, files / "square.h5", tmp_path / "m.pt", option)
    assert main(["train", config, "--quiet"]) == 2
    assert f"training.{option.split()[0]} must be a finite number" in one_line_error(capsys)
    assert not (tmp_path / "m.pt").exists()


def test_train_divergence_is_one_line_and_writes_no_model(files, tmp_path, capsys):
    config = train_config(tmp_path, files / "square.h5", tmp_path / "m.pt",
                          "learning_rate = 1e300")
    assert main(["train", config, "--quiet"]) == 2
    assert "training diverged: the loss" in one_line_error(capsys)
    assert not (tmp_path / "m.pt").exists()


# case 7: a non-finite field or force at any step of a simulation

def simulate_config(tmp_path, files, **settings) -> str:
    table = {"initial_scale": 1.0, "dt": 0.05, **settings}
    config = tmp_path / "simulate.toml"
    config.write_text(f'forcefield = "{files / "model.pt"}"\noutput = "{tmp_path / "sim"}"\n'
                      f'size = [12, 12]\ninitial_scale = {table["initial_scale"]}\n'
                      f'[integrator]\nname = "tdgl"\ndt = {table["dt"]}\n'
                      '[simulation]\nsteps = 4\nmeasure_every = 1\n')
    return str(config)


def test_a_field_that_overflows_in_a_step_stops_with_the_step_and_the_last_good_state(
        files, tmp_path, capsys):
    """dt = 1e308 moves the field to infinity in step 1: once a DescriptorInputError
    without a step and without last_good_state.npz."""
    assert main(["simulate", simulate_config(tmp_path, files, dt=1e308), "--quiet"]) == 2
    err = one_line_error(capsys)
    assert "became NaN/infinite at step 1" in err and "last good state (step 0)" in err
    saved = np.load(tmp_path / "sim/last_good_state.npz")
    assert int(saved["step"]) == 0 and np.isfinite(saved["field"]).all()
    assert not [p for p in (tmp_path / "sim").iterdir() if p.name.endswith(".tmp")]


def test_an_initial_field_with_non_finite_forces_stops_at_step_0(files, tmp_path, capsys):
    assert main(["simulate", simulate_config(tmp_path, files, initial_scale=1e200),
                 "--quiet"]) == 2
    err = one_line_error(capsys)
    assert "the initial field or its force is NaN/infinite (step 0" in err
    assert "Lower initial_scale" in err
    assert not (tmp_path / "sim/last_good_state.npz").exists()


def test_a_non_finite_midpoint_of_a_spin_step_is_caught(tmp_path):
    """LLG evaluates the force twice per step; a non-finite midpoint field is that step's."""
    torch.manual_seed(0)
    model = ForceField(generated.load("square_spin_phase"), SMALL)
    spins = field((6, 6), (1, 3))
    spins = spins / spins.norm(dim=-1, keepdim=True)

    class Midpoint(TotalForce):
        calls = 0

        def __call__(self, x):
            self.calls += 1  # init, then 2 per step: the midpoint of step 3 is call 6
            return super().__call__(x * math.inf if self.calls == 6 else x)

    forces = Midpoint(model, Elastic("square", (6, 6)))
    with pytest.raises(SimulationError, match=r"at step 3 .*last good state \(step 2\)"):
        simulate(forces, StochasticLLG(dt=0.01), spins, SimulationOptions(steps=5), tmp_path,
                 seed=1, progress=False)
    assert int(np.load(tmp_path / "last_good_state.npz")["step"]) == 2


def test_last_good_state_is_written_atomically(tmp_path, monkeypatch):
    from runtime import files

    written = []
    real = files.write_atomically
    monkeypatch.setattr(files, "write_atomically",  # save_npz writes through it
                        lambda path, write: written.append(path) or real(path, write))
    torch.manual_seed(0)
    forces = TotalForce(scalar_model(), Elastic("square", (12, 12), K0=1.0))
    with pytest.raises(SimulationError, match="at step 1"):
        simulate(forces, TDGL(dt=1e308), field((12, 12)), SimulationOptions(steps=3), tmp_path,
                 seed=1, progress=False)
    assert written == [tmp_path / "last_good_state.npz"]
