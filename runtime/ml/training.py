"""Training the force field on exact forces (and optionally energies) of a dataset.

    data = TrainingData.from_dataset(read_dataset("data/holstein.h5"))
    model = ForceField(generated.load("square_scalar_reference"))
    history = train(model, data, TrainingOptions(epochs=50), checkpoint="model.pt.checkpoint")

Loss per batch (the slides' Gamma with the roles of the two terms swapped, since the forces
are what the dynamics needs and what every snapshot provides per site):

    L = mean_{i,c} (F_ML - F_exact)^2 + beta * mean_snapshots ((E_ML - E_exact) / N_sites)^2

with F_ML = -dE_ML/dfield (eq. 9 differentiated), so the force term needs the second
derivative of the descriptor (the torch backend). Adam, learning rate lowered on a plateau of
the validation loss, early stopping on it; the weights with the lowest validation loss are
kept. Validation holds out whole trajectories (snapshots of one trajectory are correlated)
chosen with the seed. The checkpoint, written atomically after every epoch, holds everything
the loop needs, so a resumed run continues exactly as an uninterrupted one; it records the
SHA-256 of the training data, so it never resumes on other data. A non-finite loss or gradient
stops the run (TrainingError naming the epoch and batch) before the weights are updated, and the
checkpoint keeps the last finished epoch.

Several processes (`torchrun --nproc_per_node N -m runtime.app.cli train CONFIG`, any
torch.distributed process group): every process takes its share of each batch and the
gradients are summed over processes before the (identical) Adam step, as DistributedDataParallel
does; the batches are the single-process ones, so the result is the same up to the order of
floating-point sums. Process 0 writes the checkpoint and shows the progress bar.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import pickle
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from runtime.errors import ConfigError, DatasetError, TrainingError
from runtime.files import write_atomically
from runtime.ml.extrapolation import feature_range
from runtime.ml.forcefield import ForceField


@dataclass(frozen=True)
class TrainingOptions:
    """The `[training]` table. energy_weight is beta; patience counts epochs without a lower
    validation loss before stopping; lr_factor and lr_patience drive ReduceLROnPlateau."""

    epochs: int = 100
    batch_size: int = 8
    learning_rate: float = 1e-3
    energy_weight: float = 0.0
    validation_fraction: float = 0.2
    patience: int = 20
    lr_factor: float = 0.5
    lr_patience: int = 5
    min_learning_rate: float = 1e-6
    seed: int = 0
    precision: str = "float64"  # of the training batches; validation is always float64

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience", "lr_patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("learning_rate", "energy_weight", "validation_fraction", "lr_factor",
                     "min_learning_rate"):
            if not math.isfinite(getattr(self, name)):  # NaN passes every comparison below
                raise ValueError(f"{name} must be a finite number, got {getattr(self, name)}")
        for name in ("learning_rate", "min_learning_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.energy_weight < 0:
            raise ValueError(f"energy_weight must be >= 0, got {self.energy_weight}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got "
                             f"{self.validation_fraction}")
        if self.precision not in ("float64", "float32"):
            raise ValueError(f"precision must be 'float64' or 'float32', got "
                             f"{self.precision!r}")
        if not 0 < self.lr_factor < 1:
            raise ValueError(f"lr_factor must be in (0, 1), got {self.lr_factor}")


@dataclass(frozen=True)
class TrainingData:
    """Snapshots: fields and forces (n, *cells, sublattice, component), electronic energy (n,)
    and the trajectory of each snapshot (n,), all torch tensors."""

    fields: torch.Tensor
    forces: torch.Tensor
    energy: torch.Tensor
    trajectory: torch.Tensor

    @classmethod
    def from_dataset(cls, dataset) -> TrainingData:
        return cls(dataset.fields, dataset.forces, dataset.energy,
                   torch.from_numpy(dataset.snapshots.trajectory))

    def __len__(self) -> int:
        return len(self.energy)

    @property
    def sites(self) -> int:
        return self.fields[0, ..., 0].numel()

    def head(self, snapshots: int) -> TrainingData:
        """The first `snapshots` snapshots (the data a grown dataset started from)."""
        return TrainingData(self.fields[:snapshots], self.forces[:snapshots],
                            self.energy[:snapshots], self.trajectory[:snapshots])

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 over the bytes of fields, forces, energy and trajectory (each with its
        dtype and shape), computed once: a checkpoint resumes only on the same data."""
        digest = hashlib.sha256()
        for name in ("fields", "forces", "energy", "trajectory"):
            tensor = getattr(self, name).detach().cpu().contiguous()
            digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()


def check_data(data: TrainingData, descriptor, *, lattice: str, source, holds: str = "") -> None:
    """DatasetError unless `data` (from `source`, holding `holds` on `lattice`) fits
    `descriptor`: same lattice, sublattices and components, a lattice no smaller than the
    stencil, real float columns of matching shapes, and only finite values. Training and
    evaluation both check their data with it."""
    fields, forces = data.fields, data.forces
    tail = (descriptor.sublattices, descriptor.components)
    shape_ok = isinstance(fields, torch.Tensor) and fields.dim() == descriptor.dimension + 3
    if lattice != descriptor.lattice or not shape_ok or tuple(fields.shape[-2:]) != tail:
        got = tuple(fields.shape[1:]) if isinstance(fields, torch.Tensor) else "?"
        raise DatasetError(
            f"descriptor {descriptor.name} is for a {descriptor.field} field on the "
            f"{descriptor.lattice} lattice (sublattice, component) = {tail}, but {source} "
            f"holds {holds or 'a field'} on {lattice} with snapshots of shape {got}; use a "
            f"dataset of this lattice and field, or a descriptor made for it")
    n = len(fields)
    for name, column in (("fields", fields), ("forces", forces), ("energy", data.energy)):
        if not isinstance(column, torch.Tensor) or column.is_complex() or \
                not column.dtype.is_floating_point:
            kind = column.dtype if isinstance(column, torch.Tensor) else type(column).__name__
            raise DatasetError(f"{source}: column {name} has dtype {kind}; it must hold real "
                               f"floating-point numbers (float64). Recreate the dataset with "
                               f"`latticeff dataset CONFIG`")
    expected = {"fields": tuple(fields.shape), "forces": tuple(fields.shape), "energy": (n,),
                "trajectory": (n,)}
    for name, shape in expected.items():
        actual = tuple(getattr(data, name).shape)
        if actual != shape:
            raise DatasetError(f"{source}: column {name} has shape {actual}, but the fields "
                               f"need {shape}; the file is damaged: recreate the dataset with "
                               f"`latticeff dataset CONFIG`")
    if n < 1:
        raise DatasetError(f"{source} holds no snapshots; add some with `latticeff dataset`")
    cells = tuple(fields.shape[1:1 + descriptor.dimension])
    if any(c < m for c, m in zip(cells, descriptor.min_size)):
        raise DatasetError(f"{source}: lattice {cells} is smaller than the stencil of "
                           f"{descriptor.name}; it needs at least {descriptor.min_size} cells")
    for name in ("fields", "forces", "energy"):
        column = getattr(data, name)
        bad = ~torch.isfinite(column)
        if bad.any():
            where = bad.reshape(n, -1).any(1).nonzero()[:, 0]
            raise DatasetError(f"{source}: column {name} has {int(bad.sum())} NaN/infinite "
                               f"values, first in snapshot {int(where[0])} ({len(where)} "
                               f"snapshots affected); recreate the dataset or remove those "
                               f"snapshots")


def split(trajectory: torch.Tensor, fraction: float, seed: int):
    """(training, validation) snapshot indices: a seeded random `fraction` of the
    trajectories (at least one) is held out; with a single trajectory, of the snapshots."""
    groups = torch.unique(trajectory)
    if len(groups) < 2:
        groups, trajectory = torch.arange(len(trajectory)), torch.arange(len(trajectory))
    if len(groups) < 2:
        raise ConfigError("training needs at least 2 snapshots (one for validation)")
    n_held = min(len(groups) - 1, max(1, round(fraction * len(groups))))
    order = torch.randperm(len(groups), generator=torch.Generator().manual_seed(seed))
    held = torch.isin(trajectory, groups[order[:n_held]])
    return (~held).nonzero()[:, 0], held.nonzero()[:, 0]


@dataclass
class History:
    """Per-epoch records: training loss, validation loss, validation force RMSE, learning
    rate; the best epoch (lowest validation loss) and whether early stopping ended the run."""

    epochs: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_loss: float = float("inf")
    stopped_early: bool = False
    warm_start: dict | None = None  # the finished run on fewer snapshots it started from


def _loss_terms(model: ForceField, data: TrainingData, index: torch.Tensor,
                create_graph: bool):
    """Force and energy MSE of the snapshots `index`, forces evaluated in `model.dtype` (the
    lean path: with `create_graph` a small graph through the hand-written backward)."""
    energy, forces = model.energy_and_forces(data.fields[index], create_graph=create_graph)
    forces = forces.to(data.forces.dtype)
    force_mse = (forces - data.forces[index]).square().mean()
    energy_mse = ((energy - data.energy[index]) / data.sites).square().mean()
    return force_mse, energy_mse


def _world() -> tuple[int, int]:
    """(rank, number of processes) of the torch.distributed group, or (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _sum_over_processes(values: list[float]) -> list[float]:
    if _world()[1] == 1:
        return values
    total = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(total)
    return total.tolist()


def _sum_gradients(model: ForceField) -> None:
    for parameter in model.parameters():
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        dist.all_reduce(parameter.grad)


def evaluate_loss(model: ForceField, data: TrainingData, index: torch.Tensor,
                  options: TrainingOptions) -> tuple[float, float]:
    """(loss, force RMSE) over `index`, in batches, without gradients in the weights (each
    process takes its share of every batch)."""
    rank, size = _world()
    force_sum = energy_sum = 0.0
    for batch in index.split(options.batch_size):
        mine = batch[rank::size]
        if len(mine):
            force_mse, energy_mse = _loss_terms(model, data, mine, create_graph=False)
            force_sum += float(force_mse) * len(mine)
            energy_sum += float(energy_mse) * len(mine)
    force_sum, energy_sum = _sum_over_processes([force_sum, energy_sum])
    force_mse, energy_mse = force_sum / len(index), energy_sum / len(index)
    return force_mse + options.energy_weight * energy_mse, force_mse ** 0.5


def _features(model: ForceField, data: TrainingData, index: torch.Tensor,
              options: TrainingOptions):
    """The descriptors of the snapshots `index`: one tensor, or one per site class."""
    with torch.no_grad():
        batches = [model.features(data.fields[b]) for b in index.split(options.batch_size)]
    if isinstance(batches[0], torch.Tensor):
        return torch.cat(batches)
    return tuple(torch.cat(parts) for parts in zip(*batches))


def _fit_scales(model: ForceField, data: TrainingData, index: torch.Tensor,
                options: TrainingOptions) -> None:
    features = _features(model, data, index, options)
    model.fit_scales(features, data.energy[index] / data.sites, data.forces[index])


def train(model: ForceField, data: TrainingData, options: TrainingOptions, *,
          checkpoint=None, progress: bool = True) -> History:
    """Train `model` in place (ending with its best weights) and return the history. With
    `checkpoint` (a path), state is saved there after every epoch and, if the file exists
    (made with the same options but perhaps fewer epochs, network, descriptor and data, the
    data compared by its SHA-256), the run resumes from it; a checkpoint with more finished
    epochs than `options.epochs` is refused (ConfigError: nothing to do).

    Grown data: a checkpoint of the same options, network and descriptor whose data are the
    first snapshots of `data` (trajectories appended, checked by the SHA-256 of that head)
    warm-starts a new run: the best weights of the checkpoint (standardization included),
    a fresh optimizer and schedule of `options.epochs` epochs and a new split over all the
    data; `history.warm_start` (and the model's metadata) records the run it started from.
    The new validation trajectories may include some the old weights were trained on, so the
    validation loss is optimistic there; a held-out test set is not affected."""
    train_index, valid_index = split(data.trajectory, options.validation_fraction,
                                     options.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=options.lr_factor, patience=options.lr_patience,
        min_lr=options.min_learning_rate)
    history = History()
    best_state = None
    signature = json.loads(json.dumps({  # what a checkpoint must match; `epochs` may grow
        "options": {k: v for k, v in options.__dict__.items() if k != "epochs"},
        "network": model.network.config.as_dict(), "descriptor": model.descriptor.hash,
        "snapshots": len(data), "field": list(data.fields.shape[1:]),
        "data": data.fingerprint}, sort_keys=True))
    checkpoint = None if checkpoint is None else Path(checkpoint)
    if checkpoint is not None and checkpoint.is_file():
        saved = _read_checkpoint(checkpoint)
        recorded = _recorded_signature(checkpoint, saved)
        differ = sorted(k for k in set(signature) | set(recorded)
                        if recorded.get(k) != signature.get(k))
        grown = set(differ) == {"data", "snapshots"} and isinstance(
            recorded.get("snapshots"), int) and 0 < recorded["snapshots"] < len(data) and \
            data.head(recorded["snapshots"]).fingerprint == recorded.get("data")
        if recorded != signature and not grown:
            names = {"data": "data (SHA-256 of fields, forces, energy, trajectory)"}
            raise ConfigError(f"{checkpoint} belongs to a training run with other options, "
                              f"network, descriptor or data (differs in: "
                              f"{', '.join(names.get(k, k) for k in differ)}; more "
                              f"snapshots appended to the same data would warm-start); delete "
                              f"it to start afresh")
        if grown:
            try:
                finished = History(**json.loads(saved["history"]))
                model.load_state_dict(saved["best"])
            except (KeyError, TypeError, ValueError, RuntimeError) as error:
                raise _damaged_checkpoint(checkpoint, error) from None
            history = History(warm_start={
                "snapshots": recorded["snapshots"], "data_sha256": recorded["data"],
                "epochs_run": len(finished.epochs), "best_epoch": finished.best_epoch,
                "best_loss": finished.best_loss, "earlier": finished.warm_start})
        else:
            try:
                model.load_state_dict(saved["model"])
                optimizer.load_state_dict(saved["optimizer"])
                scheduler.load_state_dict(saved["scheduler"])
                best_state = saved["best"]
                history = History(**json.loads(saved["history"]))
            except (KeyError, TypeError, ValueError, RuntimeError) as error:
                raise _damaged_checkpoint(checkpoint, error) from None
        if len(history.epochs) > options.epochs:
            raise ConfigError(
                f"{checkpoint} has already trained {len(history.epochs)} epochs, more than "
                f"the {options.epochs} asked for; nothing to do: ask for {len(history.epochs)} "
                f"epochs or more (training.epochs, --epochs) to continue, or delete the "
                f"checkpoint to train afresh")
    else:
        torch.manual_seed(options.seed)
        for layer in model.modules():  # every network's (one per site class)
            if isinstance(layer, torch.nn.Linear):
                layer.reset_parameters()
        _fit_scales(model, data, train_index, options)

    rank, size = _world()
    start = len(history.epochs)
    bar = tqdm(range(start, options.epochs), initial=start, total=options.epochs,
               desc="training", unit="epoch", disable=not progress or rank != 0)
    for epoch in bar:
        if history.stopped_early:
            break
        order = torch.randperm(len(train_index), generator=torch.Generator().manual_seed(
            options.seed * 1_000_003 + epoch))
        model.train()
        total = 0.0
        batches = train_index[order].split(options.batch_size)
        for number, batch in enumerate(batches):
            mine = batch[rank::size]
            optimizer.zero_grad()
            loss_value = 0.0
            if len(mine):
                kept, model.dtype = model.dtype, getattr(torch, options.precision)
                try:  # the training batches in options.precision, validation in float64
                    force_mse, energy_mse = _loss_terms(model, data, mine, create_graph=True)
                finally:
                    model.dtype = kept
                loss = (force_mse + options.energy_weight * energy_mse) * (len(mine) / len(batch))
                # only the weights: the field's second-derivative path is pruned (faster)
                loss.backward(inputs=[p for p in model.parameters() if p.requires_grad])
                loss_value = loss.item()
                total += loss_value * len(batch)
            if size > 1:
                _sum_gradients(model)
            finite = math.isfinite(loss_value) and all(
                p.grad is None or bool(torch.isfinite(p.grad).all()) for p in model.parameters())
            (bad,) = _sum_over_processes([0.0 if finite else 1.0])  # every process stops
            if bad:
                raise _diverged(f"the loss ({loss_value:g}) or its gradient is not finite at "
                                f"epoch {epoch + 1} of {options.epochs}, batch {number + 1} of "
                                f"{len(batches)}", checkpoint, epoch)
            optimizer.step()
        (total,) = _sum_over_processes([total])
        model.eval()
        valid_loss, valid_rmse = evaluate_loss(model, data, valid_index, options)
        if not math.isfinite(valid_loss):
            raise _diverged(f"the validation loss is {valid_loss:g} after epoch {epoch + 1} of "
                            f"{options.epochs}", checkpoint, epoch)
        scheduler.step(valid_loss)
        record = {"epoch": epoch, "train_loss": total / len(train_index),
                  "valid_loss": valid_loss, "valid_force_rmse": valid_rmse,
                  "learning_rate": optimizer.param_groups[0]["lr"]}
        history.epochs.append(record)
        if valid_loss < history.best_loss:
            history.best_loss, history.best_epoch = valid_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - history.best_epoch >= options.patience:
            history.stopped_early = True
        bar.set_postfix(loss=f"{record['train_loss']:.3g}", valid_rmse=f"{valid_rmse:.3g}",
                        lr=f"{record['learning_rate']:.2g}")
        if checkpoint is not None and rank == 0:
            _save_checkpoint(checkpoint, {
                "signature": json.dumps(signature, sort_keys=True),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "best": best_state, "history": json.dumps(history.__dict__)})
    bar.close()
    if best_state is None:
        raise _damaged_checkpoint(checkpoint, "it holds no best weights")
    model.load_state_dict(best_state)
    model.metadata["training"] = {
        **{k: v for k, v in history.__dict__.items() if k != "epochs"},
        "epochs_run": len(history.epochs), "options": options.__dict__,
        "data_sha256": data.fingerprint,
        "validation_snapshots": len(valid_index), "training_snapshots": len(train_index),
        "final": history.epochs[history.best_epoch] if history.epochs else None}
    # the range of the descriptors it was trained on: the extrapolation warning
    model.metadata["feature_range"] = feature_range(
        _features(model, data, train_index, options))
    return history


def _diverged(what: str, checkpoint, epoch: int) -> TrainingError:
    if checkpoint is None:
        kept = "no checkpoint was asked for"
    elif epoch > 0:
        kept = f"the checkpoint {checkpoint} keeps the last good state ({epoch} finished epochs)"
    else:
        kept = "no epoch had finished, so there is no checkpoint"
    return TrainingError(f"training diverged: {what}; no model was written and {kept}. "
                         f"Check the data for NaN/inf, or lower training.learning_rate")


def _damaged_checkpoint(path, reason) -> TrainingError:
    reason = str(reason).strip().splitlines()
    return TrainingError(f"{path} is not a readable training checkpoint "
                         f"({reason[0] if reason else 'damaged'}); it is only a cache of the "
                         f"training state: delete it and training restarts from the first "
                         f"epoch")


def _read_checkpoint(path: Path) -> dict:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError,
            UnicodeDecodeError) as error:
        raise _damaged_checkpoint(path, error) from None
    if not isinstance(saved, dict):
        raise _damaged_checkpoint(path, "not a dictionary of training state")
    return saved


def _recorded_signature(path: Path, saved: dict) -> dict:
    try:
        recorded = json.loads(saved["signature"])
    except (KeyError, TypeError, ValueError) as error:
        raise _damaged_checkpoint(path, f"no signature: {error}") from None
    if not isinstance(recorded, dict):
        raise _damaged_checkpoint(path, "no signature")
    return recorded


def _save_checkpoint(path: Path, state: dict) -> None:
    """Write the training state to `path` atomically (old checkpoint or the new one)."""
    write_atomically(path, lambda temporary: torch.save(state, temporary))
