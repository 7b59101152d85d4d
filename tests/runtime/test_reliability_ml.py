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
from runtime.electrons import Holstein
from runtime.errors import ConfigError, DatasetError, ForceFieldError, LatticeffError
from runtime.ml import forcefield as forcefield_module
from runtime.ml import training
from runtime.ml.forcefield import ForceField, weights_hash
from runtime.ml.network import NetworkConfig
from runtime.ml.training import TrainingData, TrainingError, TrainingOptions, check_data, train

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
    from runtime.app.settings import from_table
    with pytest.raises(ConfigError, match=f"training: {name} must be"):
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
    with pytest.raises(TrainingError, match=r"training diverged: the loss nan or its gradient "
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
