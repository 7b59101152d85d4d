"""Training: the force error falls, a resumed run continues exactly, the split is by trajectory."""

import pytest
import torch

import generated
from runtime.electrons import Holstein
from runtime.errors import ConfigError
from runtime.ml import training
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig
from runtime.ml.training import TrainingData, TrainingOptions, evaluate_loss, split, train


@pytest.fixture(scope="module")
def holstein_data() -> TrainingData:
    """Exact Holstein forces on 11 x 11 (the smallest lattice of the L = 89 stencil)."""
    model = Holstein("square", 11, g=1.5)
    fields = model.random_field(12, seed=4, scale=0.8)
    solution = model.solve(fields, filling=0.5)
    return TrainingData(fields, solution.forces, solution.energy,
                        torch.arange(12) // 3)


def new_model() -> ForceField:
    return ForceField(generated.load("square_scalar_reference"), NetworkConfig((24, 24), "silu"))


OPTIONS = TrainingOptions(epochs=6, batch_size=3, learning_rate=3e-3, energy_weight=0.1,
                          validation_fraction=0.25, patience=10, seed=5)


def test_training_reduces_the_force_error(holstein_data):
    model = new_model()
    history = train(model, holstein_data, OPTIONS, progress=False)
    first = history.epochs[0]["valid_force_rmse"]
    best = history.epochs[history.best_epoch]["valid_force_rmse"]
    assert best < 0.7 * first
    _, rmse = evaluate_loss(model, holstein_data, split(holstein_data.trajectory, 0.25, 5)[1],
                            OPTIONS)
    assert rmse == pytest.approx(best, rel=1e-12)  # the best weights are the ones kept
    assert model.metadata["training"]["epochs_run"] == 6


def test_resume_from_midway_is_bit_identical(holstein_data, tmp_path, monkeypatch):
    straight = new_model()
    reference = train(straight, holstein_data, OPTIONS, progress=False)
    checkpoint = tmp_path / "run.checkpoint"

    class Stop(Exception):
        pass

    from runtime.ml import training
    saved = training._save_checkpoint
    calls = []

    def save_then_stop(path, state):
        saved(path, state)
        calls.append(1)
        if len(calls) == 3:
            raise Stop

    monkeypatch.setattr(training, "_save_checkpoint", save_then_stop)
    with pytest.raises(Stop):
        train(new_model(), holstein_data, OPTIONS, checkpoint=checkpoint, progress=False)
    monkeypatch.setattr(training, "_save_checkpoint", saved)
    resumed = new_model()
    history = train(resumed, holstein_data, OPTIONS, checkpoint=checkpoint, progress=False)
    assert history.epochs == reference.epochs
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    other = TrainingOptions(**{**OPTIONS.__dict__, "learning_rate": 1e-2})
    with pytest.raises(ConfigError, match="other options"):
        train(new_model(), holstein_data, other, checkpoint=checkpoint, progress=False)
    longer = TrainingOptions(**{**OPTIONS.__dict__, "epochs": 7})
    assert len(train(new_model(), holstein_data, longer, checkpoint=checkpoint,
                     progress=False).epochs) == 7


def test_split_holds_out_whole_trajectories():
    trajectory = torch.arange(20) // 4
    train_index, valid_index = split(trajectory, 0.4, seed=1)
    assert len(valid_index) == 8 and len(train_index) == 12
    assert not set(trajectory[train_index].tolist()) & set(trajectory[valid_index].tolist())
    assert torch.equal(split(trajectory, 0.4, seed=1)[1], valid_index)
    with pytest.raises(ValueError, match="validation_fraction"):
        TrainingOptions(validation_fraction=1.0)


def _distributed_worker(rank: int, world: int, init_file: str, output: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        model = Holstein("square", 11, g=1.5)
        fields = model.random_field(12, seed=4, scale=0.8)
        solution = model.solve(fields, filling=0.5)
        data = TrainingData(fields, solution.forces, solution.energy, torch.arange(12) // 3)
        trained = new_model()
        history = train(trained, data, OPTIONS, progress=False)
        if rank == 0:
            torch.save({"state": trained.state_dict(), "loss": history.best_loss}, output)
    finally:
        dist.destroy_process_group()


def test_two_processes_train_like_one(holstein_data, tmp_path):
    """Gradients summed over 2 processes (torch.distributed, gloo) give the 1-process run."""
    import torch.multiprocessing as mp

    output = tmp_path / "distributed.pt"
    mp.spawn(_distributed_worker, args=(2, str(tmp_path / "init"), str(output)), nprocs=2)
    single = new_model()
    history = train(single, holstein_data, OPTIONS, progress=False)
    saved = torch.load(output, weights_only=True)
    assert saved["loss"] == pytest.approx(history.best_loss, rel=1e-9)
    for name, value in single.state_dict().items():
        torch.testing.assert_close(saved["state"][name], value, rtol=1e-8, atol=1e-10)


def test_more_trajectories_and_epochs_warm_start_from_the_checkpoint(holstein_data, tmp_path):
    """Trajectories appended to the data (the first snapshots unchanged) and more epochs: the
    run starts from the finished weights, a new schedule over all the data, recorded."""
    first = holstein_data.head(9)  # trajectories 0, 1, 2 of 0..3
    checkpoint = tmp_path / "model.pt.checkpoint"
    model = new_model()
    short = train(model, first, OPTIONS, checkpoint=checkpoint, progress=False)
    longer = TrainingOptions(**{**OPTIONS.__dict__, "epochs": 8})
    grown = new_model()
    losses = []
    original = training.evaluate_loss

    def first_loss(*args, **kwargs):
        result = original(*args, **kwargs)
        losses.append(result[0])
        return result

    import unittest.mock

    with unittest.mock.patch.object(training, "evaluate_loss", first_loss):
        history = train(grown, holstein_data, longer, checkpoint=checkpoint, progress=False)
    assert len(history.epochs) == 8
    assert history.warm_start == {"snapshots": 9, "data_sha256": first.fingerprint,
                                  "epochs_run": 6, "best_epoch": short.best_epoch,
                                  "best_loss": short.best_loss, "earlier": None}
    assert grown.metadata["training"]["warm_start"]["snapshots"] == 9
    assert grown.metadata["training"]["data_sha256"] == holstein_data.fingerprint
    # warm: the first epoch starts from the trained weights, better than a fresh start
    cold = train(new_model(), holstein_data, TrainingOptions(**{**OPTIONS.__dict__,
                                                               "epochs": 1}), progress=False)
    assert losses[0] < cold.epochs[0]["valid_loss"]
    # other data of the same size still refuse, naming the rule
    other = TrainingData(holstein_data.fields.flip(0), holstein_data.forces.flip(0),
                         holstein_data.energy.flip(0), holstein_data.trajectory)
    with pytest.raises(ConfigError, match="appended to the same data would warm-start"):
        train(new_model(), other, longer, checkpoint=checkpoint, progress=False)


def test_training_records_the_range_of_its_training_descriptors(holstein_data):
    """The extrapolation check of a single model: every training site lies inside the
    recorded range, the held-out trajectories need not, a field 10x larger lies far out."""
    from runtime.ml.extrapolation import RangeMonitor

    model = new_model()
    options = TrainingOptions(epochs=1, batch_size=3, validation_fraction=0.25, seed=5)
    train(model, holstein_data, options, progress=False)
    train_index, _ = split(holstein_data.trajectory, 0.25, 5)
    features = model.features(holstein_data.fields[train_index]).reshape(
        -1, model.descriptor.n_features)
    recorded = model.metadata["feature_range"]
    assert torch.equal(features.min(0).values, torch.tensor(recorded["min"], dtype=torch.float64))
    assert torch.equal(features.max(0).values, torch.tensor(recorded["max"], dtype=torch.float64))
    monitor = RangeMonitor(model, margin=0.1)
    assert float(monitor(holstein_data.fields[train_index]).max()) == 0.0
    assert float(monitor(10 * holstein_data.fields[:1]).max()) > 1.0
