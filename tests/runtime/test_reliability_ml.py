"""Reliability of the force field, training, evaluation and dynamics: every user-causable
failure is one clear error naming the fix, and nothing is overwritten or half-written
(docs/reliability.md, section "Force fields, training and dynamics")."""

import errno
import math

import numpy as np
import pytest
import torch

import generated
from runtime.errors import ForceFieldError, LatticeffError
from runtime.ml import forcefield as forcefield_module
from runtime.ml.forcefield import ForceField, weights_hash
from runtime.ml.network import NetworkConfig

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
    import json

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
