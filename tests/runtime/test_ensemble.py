"""Force-field ensembles (issue 16): mean force and model deviation, one model file, the
extrapolation warnings of ML dynamics."""

import json
import math
import warnings

import numpy as np
import pytest
import torch

import generated
from runtime.dynamics.forces import TotalForce
from runtime.dynamics.integrators import Langevin
from runtime.dynamics.simulation import ExtrapolationWarning, SimulationOptions, simulate
from runtime.errors import ForceFieldError
from runtime.ml.ensemble import DeviationMonitor, Ensemble, deviation, load_model
from runtime.ml.extrapolation import RangeMonitor, feature_range
from runtime.ml.forcefield import ForceField
from runtime.ml.network import NetworkConfig
from runtime.ml.symmetry import equivariance_error, lattice_actions

NAMES = ["square_scalar_reference", "square_jahn_teller_reference", "square_spin_phase"]


def members(name: str, count: int = 3, seed: int = 0) -> list[ForceField]:
    """Members with different weights, standardizations, scales and shifts."""
    descriptor = generated.load(name)
    out = []
    for k in range(count):
        torch.manual_seed(seed + k)
        model = ForceField(descriptor, NetworkConfig((8, 6)))
        with torch.no_grad():
            model.scale.fill_(0.5 + k)
            model.shift.fill_(0.1 * k)
            model.standardizer.scale.uniform_(0.5, 2.0)
            model.standardizer.mean.normal_()
        out.append(model)
    return out


def field_for(descriptor, size=(12, 11), batch=2, seed=1) -> torch.Tensor:
    x = torch.randn((batch, *size, descriptor.sublattices, descriptor.components),
                    generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x / x.norm(dim=-1, keepdim=True) if descriptor.field == "spin" else x


@pytest.mark.parametrize("name", NAMES)
def test_mean_and_members_match_the_single_models(name):
    group = members(name)
    ensemble = Ensemble(group)
    field = field_for(ensemble.descriptor)
    singles = [m.energy_and_forces(field) for m in group]
    energy, forces = ensemble.energy_and_forces(field)
    torch.testing.assert_close(energy, sum(e for e, _ in singles) / 3, rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(forces, sum(f for _, f in singles) / 3, rtol=1e-12, atol=1e-12)
    prediction = ensemble.predict(field)
    torch.testing.assert_close(prediction.member_forces, torch.stack([f for _, f in singles]),
                               rtol=1e-12, atol=1e-12)
    expected = deviation(torch.stack([f for _, f in singles]), field,
                         spins=ensemble.descriptor.field == "spin")
    torch.testing.assert_close(prediction.site_deviation, expected, rtol=1e-10, atol=1e-12)
    ensemble.block_rows = 3  # blocks with halos: the same numbers
    torch.testing.assert_close(ensemble.energy_and_forces(field)[1], forces, rtol=1e-12,
                               atol=1e-12)
    torch.testing.assert_close(ensemble.predict(field).site_deviation, expected, rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_deviation_is_zero_for_identical_members_and_positive_otherwise(name):
    group = members(name)
    field = field_for(group[0].descriptor)
    same = Ensemble([group[0], group[0], group[0]]).predict(field)
    scale = float(same.forces.square().mean().sqrt())
    assert float(same.site_deviation.max()) <= 1e-12 * scale
    different = Ensemble(group).predict(field)
    assert bool((different.site_deviation > 1e-6 * scale).all())
    assert torch.equal(different.frame_deviation,
                       different.site_deviation.reshape(2, -1).amax(1))


def test_spin_deviation_ignores_the_longitudinal_part():
    spins = field_for(generated.load("square_spin_phase"), size=(5, 5), batch=1)
    forces = torch.randn((3, *spins.shape), dtype=torch.float64)
    along = torch.randn((3, *spins.shape[:-1], 1), dtype=torch.float64) * spins
    torch.testing.assert_close(deviation(forces + along, spins, spins=True),
                               deviation(forces, spins, spins=True), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(deviation(forces + along, spins), deviation(forces, spins))


@pytest.mark.parametrize("name", NAMES)
def test_mean_force_is_equivariant_and_deviation_invariant(name):
    ensemble = Ensemble(members(name))
    field = field_for(ensemble.descriptor, size=(12, 12), batch=1)
    actions = lattice_actions(ensemble.descriptor, field.shape[1:-2])
    assert equivariance_error(ensemble.forces, field, actions)["max"] < 1e-10
    base = ensemble.predict(field).site_deviation.reshape(-1)
    for permutation, matrix in actions:
        flat = field.reshape(-1, field.shape[-1])
        moved = torch.empty_like(flat)
        moved[torch.as_tensor(permutation)] = flat if matrix is None else flat @ matrix.T
        turned = ensemble.predict(moved.reshape(field.shape)).site_deviation.reshape(-1)
        torch.testing.assert_close(turned[torch.as_tensor(permutation)], base, rtol=1e-9,
                                   atol=1e-12)


def test_one_model_file_round_trip_and_refusals(tmp_path):
    group = members("square_jahn_teller_reference")
    ensemble = Ensemble(group, metadata={"note": "kept"})
    path = ensemble.save(tmp_path / "ensemble.pt")
    loaded = load_model(path)
    assert isinstance(loaded, Ensemble) and loaded.metadata["note"] == "kept"
    field = field_for(ensemble.descriptor)
    assert torch.equal(loaded.forces(field), ensemble.forces(field))
    with pytest.raises(ForceFieldError, match="ensemble of 3"):
        ForceField.load(path)
    group[0].save(tmp_path / "single.pt")
    assert isinstance(load_model(tmp_path / "single.pt"), ForceField)
    with pytest.raises(ForceFieldError, match="not an ensemble"):
        Ensemble.load(tmp_path / "single.pt")
    data = torch.load(path, weights_only=True)
    data["state_dict"]["members.1.shift"] += 1.0
    torch.save(data, tmp_path / "edited.pt")
    with pytest.raises(ForceFieldError, match="do not match the SHA-256"):
        load_model(tmp_path / "edited.pt")
    with pytest.raises(ForceFieldError, match="share the descriptor"):
        Ensemble([group[0], members("square_spin_phase")[0]])
    with pytest.raises(ForceFieldError, match="at least 2"):
        Ensemble(group[:1])


def ranged_model(seed=0) -> tuple[ForceField, torch.Tensor]:
    """A model whose recorded training range is that of unit-scale random fields."""
    torch.manual_seed(seed)
    model = ForceField(generated.load("square_scalar_reference"), NetworkConfig((8,)))
    fields = torch.randn(4, 12, 12, 1, 1, dtype=torch.float64)
    model.metadata["feature_range"] = feature_range(model.features(fields))
    return model, fields


def test_range_monitor_is_zero_inside_and_fires_ten_times_outside(tmp_path):
    model, fields = ranged_model()
    monitor = RangeMonitor(model, margin=0.1)
    assert float(monitor(fields[:1]).max()) == 0.0  # a training field lies inside its range
    far = 10 * fields[:1]
    assert float(monitor(far).max()) > 1.0
    forces = TotalForce(model)
    with pytest.warns(ExtrapolationWarning,
                      match=r"step 0: training-range excess .* at site \(\d+, \d+, 0\) .*"
                            r"passes the threshold 0\.1"):
        trace = simulate(forces, Langevin(dt=0.01, damping=0.5, temperature=0.0), far,
                         SimulationOptions(steps=2, measure_every=1, stop_on_deviation=True),
                         tmp_path, seed=1, progress=False, monitor=monitor)
    assert trace.stopped_at == 0 and trace.step.tolist() == [0]
    record = json.loads((tmp_path / "observables.json").read_text())
    assert record["monitor"]["stopped_at"] == 0 and record["columns"][-1] == "deviation"


def test_simulation_records_the_deviation_of_every_measured_frame(tmp_path):
    ensemble = Ensemble(members("square_scalar_reference", 2))
    field = field_for(ensemble.descriptor, size=(12, 12), batch=1)
    monitor = DeviationMonitor(ensemble, threshold=math.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)
        trace = simulate(TotalForce(ensemble), Langevin(dt=0.01, damping=0.5, temperature=0.0),
                         field, SimulationOptions(steps=4, measure_every=2), tmp_path, seed=1,
                         progress=False, monitor=monitor)
    assert trace.step.tolist() == [0, 2, 4] and trace.stopped_at is None
    final = torch.from_numpy(np.load(tmp_path / "final_state.npz")["field"])
    np.testing.assert_allclose(trace.deviation[-1],
                               float(ensemble.predict(final).frame_deviation[0]), rtol=1e-12)
    saved = np.load(tmp_path / "observables.npz")
    assert saved["deviation_site"].shape == (3, 3)
    # a threshold below the first frame's deviation: the warning, and the stop there
    with pytest.warns(ExtrapolationWarning, match="step 0: model deviation"):
        stopped = simulate(TotalForce(ensemble), Langevin(dt=0.01, damping=0.5,
                                                          temperature=0.0),
                           field, SimulationOptions(steps=4, measure_every=2,
                                                    deviation_threshold=1e-9,
                                                    stop_on_deviation=True),
                           tmp_path / "stop", seed=1, progress=False, monitor=monitor)
    assert stopped.stopped_at == 0


def test_simulate_command_watches_an_ensemble_and_a_ranged_model(tmp_path):
    from runtime.app.pipeline import simulate_job

    ensemble = Ensemble(members("square_scalar_reference", 2),
                        metadata={"deviation_threshold": 1e-9})
    ensemble.save(tmp_path / "ensemble.pt")
    model, _ = ranged_model()
    model.save(tmp_path / "single.pt")
    for name, monitor in (("ensemble", "model deviation"), ("single", "training-range excess")):
        table = {"forcefield": str(tmp_path / f"{name}.pt"), "output": str(tmp_path / name),
                 "size": [12, 12], "initial_scale": 10.0, "precision": "float64",
                 "integrator": {"name": "langevin", "dt": 0.01, "damping": 0.5},
                 "simulation": {"steps": 2, "measure_every": 1, "stop_on_deviation": True}}
        with pytest.warns(ExtrapolationWarning, match=f"step 0: {monitor}"):
            trace = simulate_job(table, progress=False)
        assert trace.stopped_at == 0
        record = json.loads((tmp_path / name / "observables.json").read_text())
        assert record["monitor"]["name"] == monitor
    assert record["monitor"]["threshold"] == 0.1  # range_margin, the default


def test_drive_first_steps_with_member_zero_and_bad_drives_are_refused(tmp_path):
    group = members("square_scalar_reference")
    ensemble = Ensemble(group, drive="first", dtype=torch.float32)
    field = field_for(ensemble.descriptor)
    expected = ForceField(group[0].descriptor, NetworkConfig((8, 6)), dtype=torch.float32)
    expected.load_state_dict(group[0].state_dict())
    assert torch.equal(ensemble.forces(field), expected.forces(field))
    mean = Ensemble(group, dtype=torch.float32).predict(field)  # predict: every member
    torch.testing.assert_close(ensemble.predict(field).site_deviation, mean.site_deviation)
    with pytest.raises(ForceFieldError, match="drive must be one of mean, first"):
        Ensemble(group, drive="last")
    from runtime.app.pipeline import simulate_settings
    from runtime.errors import ConfigError

    with pytest.raises(ConfigError, match="drive must be one of"):
        simulate_settings({"forcefield": "m.pt", "output": str(tmp_path / "o"), "size": [12, 12],
                           "drive": "median", "integrator": {"name": "tdgl", "dt": 0.1}})
