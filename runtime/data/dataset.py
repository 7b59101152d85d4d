"""Training data on disk: snapshots of the classical field with exact forces, one HDF5 file.

Layout (`read_dataset` gives it back; n snapshots, field shape (*cells, sublattice, component)):

    /fields        (n, *cells, sublattice, component) float64   the classical field
    /forces        (n, *cells, sublattice, component) float64   electronic force -dE/dfield
    /energy        (n,) float64    electronic energy E (band energy, or Omega at (mu, T))
    /trajectory    (n,) int64      trajectory index, 0 .. n_trajectories - 1
    /step, /time   (n,)            step within the trajectory and time = step * dt
    /temperature   (n,) float64    bath temperature at that step
    /seeds         (n_trajectories, 2) uint64   initial-field and noise seed of each trajectory
    attributes     format, format_version, parameters (JSON: model, lattice, size, electrons,
                   integrator, protocol, seed), runs (JSON: one record per run that appended
                   trajectories: their range, code version, start and end time, torch
                   threads per task)

Snapshots are ordered by (trajectory, step). The elastic energy V and force are not stored:
they follow exactly from the parameters. A file is only ever replaced whole (written under a
temporary name, then renamed: `runtime.files.write_atomically`), so it is never seen
half-written. Every HDF5 dataset carries a Fletcher-32 checksum per chunk; a damaged file is
reported as a DatasetError naming it, never read as numbers.
"""

from __future__ import annotations

import errno
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import h5py
import numpy as np
import torch

from runtime.errors import DatasetError
from runtime.files import check_output_path, write_atomically

FORMAT = "latticeff-dataset"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Snapshots:
    """A run of snapshots (numpy arrays with a leading snapshot dimension)."""

    fields: np.ndarray
    forces: np.ndarray
    energy: np.ndarray
    trajectory: np.ndarray
    step: np.ndarray
    time: np.ndarray
    temperature: np.ndarray

    def __len__(self) -> int:
        return len(self.energy)

    def columns(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def concatenate(cls, parts: Iterable[Snapshots]) -> Snapshots:
        parts = list(parts)
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


_DTYPES = {"fields": np.float64, "forces": np.float64, "energy": np.float64,
           "trajectory": np.int64, "step": np.int64, "time": np.float64,
           "temperature": np.float64}
_PER_SITE = ("fields", "forces")


@dataclass(frozen=True)
class Dataset:
    """A dataset file read back: its parameters, run records, seeds and all snapshots."""

    path: Path
    parameters: dict
    runs: list[dict]
    seeds: np.ndarray
    snapshots: Snapshots

    def __len__(self) -> int:
        return len(self.snapshots)

    @property
    def n_trajectories(self) -> int:
        return len(self.seeds)

    @property
    def fields(self) -> torch.Tensor:
        """`(n, *cells, sublattice, component)` float64, the layout the models take."""
        return torch.from_numpy(self.snapshots.fields)

    @property
    def forces(self) -> torch.Tensor:
        return torch.from_numpy(self.snapshots.forces)

    @property
    def energy(self) -> torch.Tensor:
        return torch.from_numpy(self.snapshots.energy)


@dataclass(frozen=True)
class Header:
    """What a dataset file was made with and how much it holds (read without the data)."""

    parameters: dict
    runs: list[dict]
    n_trajectories: int
    n_snapshots: int
    field_shape: tuple[int, ...]


_ATTRIBUTES = ("format_version", "parameters", "runs")
_COLUMNS = (*_DTYPES, "seeds")
_PARAMETERS = ("seed", "model", "electrons", "integrator", "protocol")


def _open(path: Path):
    if not path.is_file():
        raise DatasetError(f"no dataset file {path}; create it with `latticeff dataset CONFIG`")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise DatasetError(f"{path} is not a readable HDF5 file ({error}); delete it or give "
                           f"another output path") from None
    try:
        _check_layout(path, handle)
    except BaseException:
        handle.close()
        raise
    return handle


def _check_layout(path: Path, handle) -> None:
    if handle.attrs.get("format") != FORMAT:
        raise DatasetError(f"{path} is not a latticeff dataset (no format={FORMAT!r} "
                           f"attribute); give another output path")
    missing = [f"attribute {key!r}" for key in _ATTRIBUTES if key not in handle.attrs]
    missing += [f"dataset /{key}" for key in _COLUMNS if key not in handle]
    if missing:
        raise DatasetError(f"{path} is damaged: it has no {', '.join(missing)}; delete it and "
                           f"write it again with `latticeff dataset CONFIG`")
    version = int(handle.attrs["format_version"])
    if version != FORMAT_VERSION:
        raise DatasetError(f"{path} has dataset format {version}; this code reads format "
                           f"{FORMAT_VERSION}")


def _records(path: Path, handle) -> tuple[dict, list]:
    """The parameters and run records of an open dataset file, checked."""
    try:
        parameters, runs = (json.loads(handle.attrs[key]) for key in ("parameters", "runs"))
    except (TypeError, ValueError) as error:
        raise DatasetError(f"{path} is damaged: its parameters or runs attribute is not JSON "
                           f"({error}); delete it and write it again") from None
    if not isinstance(parameters, dict) or not isinstance(runs, list):
        raise DatasetError(f"{path} is damaged: its parameters attribute must be a JSON object "
                           f"and runs a list; delete it and write it again")
    missing = [key for key in _PARAMETERS if key not in parameters]
    missing += [f"model.{key}" for key in ("name", "lattice", "size")
                if key not in parameters.get("model", {})]
    if missing:
        raise DatasetError(f"{path} is damaged or foreign: its parameters have no "
                           f"{', '.join(missing)}; delete it and write it again with "
                           f"`latticeff dataset CONFIG`")
    return parameters, runs


def _read_column(path: Path, handle, name: str) -> np.ndarray:
    """All of `/name`; a checksum or read failure is a DatasetError naming the file."""
    try:
        return handle[name][()]
    except OSError as error:
        raise DatasetError(f"{path} is corrupt: /{name} cannot be read ({error}; its "
                           f"checksum does not match); delete it and write it again with "
                           f"`latticeff dataset CONFIG`") from None


def read_header(path) -> Header:
    path = Path(path)
    with _open(path) as f:
        parameters, runs = _records(path, f)
        return Header(
            parameters=parameters,
            runs=runs,
            n_trajectories=len(f["seeds"]),
            n_snapshots=len(f["energy"]),
            field_shape=tuple(f["fields"].shape[1:]),
        )


def read_dataset(path) -> Dataset:
    """Read a dataset file written by `latticeff dataset` (everything, into memory)."""
    path = Path(path)
    with _open(path) as f:
        parameters, runs = _records(path, f)
        snapshots = Snapshots(**{name: _read_column(path, f, name) for name in _DTYPES})
        return Dataset(path, parameters, runs, _read_column(path, f, "seeds"), snapshots)


def parameter_differences(recorded: dict, requested: dict) -> list[str]:
    """'key: recorded vs requested' for every (dotted) key whose values differ."""
    a, b = _flatten(recorded), _flatten(requested)
    return [f"{key}: {a.get(key, '(absent)')!r} vs {b.get(key, '(absent)')!r}"
            for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def require_compatible(path, recorded: dict, requested: dict) -> None:
    differences = parameter_differences(recorded, requested)
    if differences:
        raise DatasetError(
            f"{path} was made with other parameters, so new snapshots cannot be added to it "
            f"(recorded vs requested): {'; '.join(differences)}. Use the configuration it was "
            f"made with, or another output path")


def append(path, parameters: dict, field_shape: tuple[int, ...], parts: Iterable[Snapshots],
           seeds: np.ndarray, run: dict) -> None:
    """Add whole trajectories to the dataset at `path` (creating it if absent): `parts` are
    their snapshots in (trajectory, step) order, `seeds` their (n_new, 2) seeds, `run` the
    record of this run. The file is rewritten under a temporary name and renamed at the end
    (`write_atomically`): on any failure, a full disk included, the old file is unchanged."""
    path = check_output_path(path)
    exists = path.exists()
    if exists:
        header = read_header(path)
        require_compatible(path, header.parameters, parameters)

    def write(temporary: Path) -> None:
        if exists:
            shutil.copyfile(path, temporary)
        else:
            _create(temporary, parameters, field_shape)
        try:
            with h5py.File(temporary, "a") as f:
                _add(path, f, parts, seeds, run)
        except OSError as error:
            raise _disk_error(error) from None

    write_atomically(path, write)


def _add(path: Path, f, parts: Iterable[Snapshots], seeds: np.ndarray, run: dict) -> None:
    first, start = len(f["seeds"]), len(f["energy"])
    for part in parts:
        for name, values in part.columns().items():
            column = f[name]
            column.resize(len(column) + len(values), axis=0)
            column[-len(values):] = values
    written = f["trajectory"][start:]
    if np.any(np.diff(written) < 0) or not np.array_equal(
            np.unique(written), np.arange(first, first + len(seeds))):
        raise DatasetError(f"the new snapshots must hold trajectories {first} to "
                           f"{first + len(seeds) - 1} of {path} in order")
    f["seeds"].resize(first + len(seeds), axis=0)
    f["seeds"][first:] = seeds
    f.attrs["runs"] = json.dumps([*json.loads(f.attrs["runs"]), run])


def _disk_error(error: OSError) -> OSError:
    """h5py reports a full disk as an OSError without errno ('errno = 28' in its message):
    give it the errno, so that `write_atomically` reports it as one line."""
    if error.errno is None and ("errno = 28" in str(error) or "No space left" in str(error)):
        return OSError(errno.ENOSPC, str(error))
    return error


def _create(path: Path, parameters: dict, field_shape: tuple[int, ...]) -> None:
    snapshot_bytes = 8 * int(np.prod(field_shape))
    rows = max(1, 2**20 // snapshot_bytes)  # chunks of about 1 MiB
    try:
        with h5py.File(path, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["parameters"] = json.dumps(parameters, sort_keys=True)
            f.attrs["runs"] = "[]"
            f.attrs["field_layout"] = "(snapshot, *cells, sublattice, component)"
            f.attrs["energy_meaning"] = ("electronic energy: band energy <H> at fixed filling, "
                                         "or grand potential at (mu, T); elastic V not included")
            f.attrs["forces_meaning"] = "electronic force -d(energy)/d(fields)"
            for name, dtype in _DTYPES.items():
                shape = field_shape if name in _PER_SITE else ()
                f.create_dataset(name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype,
                                 chunks=(rows if name in _PER_SITE else 4096, *shape),
                                 fletcher32=True)
            f.create_dataset("seeds", shape=(0, 2), maxshape=(None, 2), dtype=np.uint64,
                             chunks=(1024, 2), fletcher32=True)
    except OSError as error:
        raise _disk_error(error) from None
