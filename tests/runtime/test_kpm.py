"""The kernel polynomial solver: convergence to ED, exact gradients of its own estimate, exact
probing when the colouring covers the support, transverse torques, bad parameters, configs."""

import tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from runtime.app.cli import main
from runtime.data.config import ConfigError, DatasetConfig, build
from runtime.electrons import SD, Holstein, JahnTeller
from runtime.electrons.forces import ExactForces
from runtime.electrons.kpm import (
    MOMENTS,
    KPMError,
    KPMForces,
    default_moments,
    default_probing_distance,
    jackson,
    step_coefficients,
)
from runtime.electrons.probing import check_colouring, distance_colouring
from runtime.errors import LatticeffError
from runtime.lattices import Lattice

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MODELS = [Holstein, JahnTeller, SD]


def relative(a, b) -> float:
    return float((a - b).square().mean().sqrt() / b.square().mean().sqrt())


def exact_trace(model, **options) -> KPMForces:
    """KPM whose colouring gives every site its own colour: the trace is exact, only the
    truncation to M moments (and the kernel) remains."""
    return KPMForces(model, probing_distance=100, **options)


@pytest.mark.parametrize("Model", MODELS)
def test_error_shrinks_with_the_number_of_moments(Model):
    model = Model("square", 6)
    field = model.random_field(seed=1)
    ed = ExactForces(model, mu=0.1, temperature=0.3).evaluate(field)
    errors = [relative(exact_trace(model, mu=0.1, temperature=0.3, moments=m,
                                   kernel="none").evaluate(field).forces, ed.forces)
              for m in (40, 80, 160)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-5, errors
    jackson_errors = [relative(exact_trace(model, filling=0.5, moments=m).evaluate(field).forces,
                               ExactForces(model, filling=0.5).evaluate(field).forces)
                      for m in (50, 200, 800)]
    assert jackson_errors[0] > jackson_errors[1] > jackson_errors[2], jackson_errors


@pytest.mark.parametrize("Model", MODELS)
@pytest.mark.parametrize("electrons", [{"mu": 0.2, "temperature": 0.2},
                                       {"mu": 0.2, "temperature": 0.0}, {"filling": 0.4}])
@pytest.mark.parametrize("probing", [{"probing_distance": 2},
                                     {"probing": "random", "vectors": 3}])
def test_forces_are_the_gradient_of_the_same_estimate(Model, electrons, probing):
    model = Model("square", 4)
    field = model.random_field(seed=2)
    solver = KPMForces(model, **electrons, moments=30, bounds=(-14.0, 14.0), **probing)
    _, forces = solver.electronic(field)
    h = 1e-5
    for index in [(0, 0, 0, 0), (3, 2, 0, model.components - 1), (1, 3, 0, 0)]:
        up, down = field.clone(), field.clone()
        up[index] += h
        down[index] -= h
        difference = -(solver.electronic(up)[0] - solver.electronic(down)[0]) / (2 * h)
        assert abs(float(difference) - float(forces[index])) < 1e-7


@pytest.mark.parametrize("Model", MODELS)
def test_probing_is_exact_when_the_colouring_covers_the_support(Model):
    # T_n(A) reaches n hops: with M moments, same-colour sites more than M - 1 hops apart
    # alias nothing, so colour probes give the exact-trace result
    model = Model("square", 10)
    field = model.random_field(seed=3)
    moments = 6
    probed = KPMForces(model, filling=0.5, moments=moments, probing_distance=moments - 1)
    assert probed.n_probes < model.n_states
    exact = exact_trace(model, filling=0.5, moments=moments)
    a, b = probed.evaluate(field), exact.evaluate(field)
    torch.testing.assert_close(a.forces, b.forces, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(a.energy, b.energy, rtol=1e-10, atol=1e-10)
    # one hop short of the support: no longer exact
    short = KPMForces(model, filling=0.5, moments=moments, probing_distance=2)
    assert relative(short.evaluate(field).forces, b.forces) > 1e-6


def test_colourings_separate_sites_on_every_lattice():
    for name, size in [("square", 12), ("triangular", 12), ("honeycomb", 8), ("kagome", 8),
                       ("cubic", 6), ("bcc", 5), ("fcc", 5)]:
        lattice = Lattice.preset(name)
        bonds, n = lattice.bonds(size), lattice.n_sites(size)
        for distance in (1, 3):
            colours = distance_colouring(bonds, n, distance, lattice.check_size(size))
            assert check_colouring(bonds, n, colours, distance), (name, distance)


@pytest.mark.parametrize("name", ["square", "triangular", "honeycomb", "kagome", "cubic"])
def test_holstein_and_sd_agree_with_ed_on_the_preset_lattices(name):
    size = 4 if name == "cubic" else 8
    for model in (Holstein(name, size), SD(name, size)):
        field = model.random_field(seed=4)
        ed = ExactForces(model, mu=0.0, temperature=0.5).evaluate(field)
        kpm = KPMForces(model, mu=0.0, temperature=0.5, moments=200,
                        probing_distance=4).evaluate(field)
        assert relative(kpm.forces, ed.forces) < 0.06, name
        assert abs(float(kpm.energy - ed.energy)) < 0.01 * abs(float(ed.energy))


def ordered_or_random(model, size: int, state: str) -> torch.Tensor:
    """The states of benchmarks/kpm.py: an ordered one (checkerboard CDW, staggered orbital
    order, spin spiral q = (pi/2, pi/2), plus 0.2 noise) or a random, metallic one."""
    if state == "random":
        return model.random_field(seed=1)
    x, y = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    noise = 0.2 * model.random_field(seed=5).numpy()
    if isinstance(model, Holstein):
        field = 0.75 * ((-1.0) ** (x + y))[..., None, None] + noise
    elif isinstance(model, JahnTeller):
        field = np.stack([0.6 * (-1.0) ** (x + y), 0.3 * np.ones_like(x)], -1)[:, :, None] + noise
    else:
        phase = np.pi / 2 * (x + y)
        field = np.stack([np.cos(phase), np.sin(phase), 0 * phase], -1)[:, :, None] + noise
    return torch.as_tensor(field)


@pytest.mark.parametrize(("Model", "size", "state"), [
    *[(Model, size, state) for Model, size in ((Holstein, 16), (JahnTeller, 12), (SD, 12))
      for state in ("ordered", "random")],
    pytest.param(SD, 16, "random", marks=pytest.mark.slow),  # ~20 s: M = 3072, 288 probes
])
def test_default_parameters_reach_one_percent_at_zero_temperature(Model, size, state):
    # gapped ordered states and metallic random ones, half filling, T = 0; on 16 x 16 the
    # default colouring aliases sites (160 probes for 256 sites at d = 12), on 12 x 12 it
    # covers the cluster and only the truncation to M moments remains. The random s-d state
    # on 16 x 16 has a HOMO-LUMO gap of 0.13 mean level spacings: 1.18 % with M = 1000, below
    # 1 % only with the small-cluster M = 6 x states of default_moments
    model = Model("square", size)
    field = ordered_or_random(model, size, state)
    kpm = KPMForces(model, filling=0.5).evaluate(field)
    ed = ExactForces(model, filling=0.5).evaluate(field)
    assert relative(kpm.forces, ed.forces) < 0.01


def test_defaults_depend_on_the_model_and_are_recorded():
    small, large = Holstein("square", 16), Holstein("square", 30)
    assert default_moments(small) == 6 * small.n_states  # resolves the level spacing
    assert default_moments(large) == MOMENTS
    assert default_moments(JahnTeller("square", 8)) == MOMENTS  # 6 x 128 states < 1000
    assert default_probing_distance(large) == 12 and default_probing_distance(SD("square", 30)) == 14
    solver = KPMForces(SD("square", 12), filling=0.5)
    assert (solver.settings.moments, solver.settings.probing_distance) == (6 * 288, 14)
    assert solver.parameters["moments"] == 6 * 288
    explicit = KPMForces(small, filling=0.5, moments=300, probing_distance=4)
    assert (explicit.settings.moments, explicit.settings.probing_distance) == (300, 4)
    record = DatasetConfig.from_dict(small_kpm()).parameters["solver"]
    assert (record["moments"], record["probing_distance"]) == (MOMENTS, 12)  # 36 sites, 36 states


def test_spin_torques_are_transverse():
    model = SD("square", 6, J=2.0)
    field = model.random_field(seed=6)
    forces = exact_trace(model, mu=0.0, temperature=0.1, moments=400)(field)
    torque = model.transverse(field, forces)
    assert float((torque * field).sum(-1).abs().max()) < 1e-12
    ed = model.transverse(field, ExactForces(model, mu=0.0, temperature=0.1)(field))
    assert relative(torque, ed) < 0.01


def test_float32_batches_and_probe_blocks_agree():
    model = JahnTeller("square", 6)
    fields = model.random_field(3, seed=7)
    reference = KPMForces(model, filling=0.5, moments=80, probing_distance=3)
    batched = reference.evaluate(fields)
    for k in range(3):
        single = reference.evaluate(fields[k])
        torch.testing.assert_close(single.forces, batched.forces[k])
    blocks = KPMForces(model, filling=0.5, moments=80, probing_distance=3, probe_block=5)
    torch.testing.assert_close(blocks.evaluate(fields).forces, batched.forces)
    single = KPMForces(model, filling=0.5, moments=80, probing_distance=3, dtype="float32")
    assert relative(single.evaluate(fields).forces, batched.forces) < 1e-5


def test_zero_temperature_coefficients_are_exact():
    # the Chebyshev series of the step, summed with the Jackson kernel, is a smoothed step
    x = np.linspace(-0.99, 0.99, 7)
    nu, gamma = step_coefficients(np.array([0.1]), 2000)
    values = np.polynomial.chebyshev.chebval(x, (nu[0] * jackson(2000)))
    np.testing.assert_allclose(values, (x < 0.1).astype(float), atol=0.02)
    values = np.polynomial.chebyshev.chebval(x, gamma[0])
    np.testing.assert_allclose(values, (x - 0.1) * (x < 0.1), atol=1e-3)


@pytest.mark.parametrize(("options", "message"), [
    ({"moments": 1}, "moments must be >= 2"),
    ({"probing_distance": 0}, "probing_distance must be >= 1"),
    ({"kernel": "lorentz"}, "kernel must be one of"),
    ({"dtype": "float16"}, "dtype must be one of"),
    ({"probing": "stochastic"}, "probing must be one of"),
    ({"probing": "random", "vectors": 0}, "vectors must be >= 1"),
    ({"bounds": (1.0, -1.0)}, "bounds must satisfy lo < hi"),
    ({"bounds": (float("nan"), 1.0)}, "bounds must be two finite numbers"),
    ({"bounds": (-1.0, float("inf"))}, "bounds must be two finite numbers"),
    ({"bounds": "-1, 1"}, "bounds must be two finite numbers"),
    ({"moments": "400"}, "moments must be an integer"),
    ({"moments": 400.0}, "moments must be an integer"),
    ({"moments": True}, "moments must be an integer"),
    ({"probing_distance": 2.5}, "probing_distance must be an integer"),
    ({"seed": -1}, "seed must be >= 0"),
])
def test_bad_parameters_are_refused(options, message):
    with pytest.raises(KPMError, match=message):
        KPMForces(Holstein("square", 4), filling=0.5, **options)
    assert issubclass(KPMError, LatticeffError)


def test_mu_outside_the_spectrum_and_narrow_bounds_are_refused():
    model = Holstein("square", 4)
    field = model.random_field(seed=8)
    with pytest.raises(KPMError, match="outside the spectrum bounds"):
        KPMForces(model, mu=50.0, temperature=0.1, moments=10)(field)
    with pytest.raises(KPMError, match="do not contain the spectrum"):
        KPMForces(model, filling=0.5, moments=10, bounds=(-1.0, 1.0))(field)


@pytest.mark.parametrize("model", [Holstein("triangular", 4), JahnTeller("square", 4),
                                   SD("square", 4, J=3.0)], ids=repr)
def test_gershgorin_bounds_contain_the_spectrum(model):
    field = 3.0 * model.random_field(seed=9)
    solver = KPMForces(model, filling=0.5, moments=10)
    lo, hi = solver.gershgorin(model._read(field)[0])
    eigenvalues = model.solve(field, 0.5).eigenvalues
    assert float(lo) <= float(eigenvalues.min()) and float(eigenvalues.max()) <= float(hi)
    lanczos_lo, lanczos_hi = solver.lanczos_extremes(model._read(field)[0], steps=40)
    assert float(lo) <= float(lanczos_lo) and float(lanczos_hi) <= float(hi)
    assert abs(float(lanczos_lo) - float(eigenvalues.min())) < 0.05
    assert abs(float(lanczos_hi) - float(eigenvalues.max())) < 0.05
    # given bounds that miss only the top of the spectrum are refused (checked, not assumed)
    top = float(eigenvalues.max())
    with pytest.raises(KPMError, match="do not contain the spectrum"):
        KPMForces(model, filling=0.5, moments=10, bounds=(float(lo), top - 0.3))(field)
    inside = KPMForces(model, filling=0.5, moments=10, bounds=(float(lo) - 1, float(hi) + 1))
    assert torch.isfinite(inside(field)).all()


def test_a_large_model_builds_without_the_dense_matrix():
    model = Holstein("square", 400)   # ED would need ~1 TB; KPM needs the bonds
    with pytest.raises(ValueError, match="exact diagonalization"):
        model.check_dense()
    solver = KPMForces(model, filling=0.5, moments=4, probing_distance=2)
    assert solver.n_probes <= 13


def small_kpm(**solver) -> dict:
    data = tomllib.loads((CONFIGS / "small" / "holstein.toml").read_text())
    data["solver"] = {"name": "kpm", **solver}
    return data


def test_config_solver_kpm_builds_kpm_forces_and_records_its_parameters():
    config = DatasetConfig.from_dict(small_kpm(moments=100, probing_distance=3))
    assert config.parameters["solver"] == {"name": "kpm", "moments": 100, "probing": "colour",
                                           "probing_distance": 3, "vectors": 64,
                                           "kernel": "none", "dtype": "float64", "seed": 0}
    assert isinstance(build(config.parameters).forces, KPMForces)
    exact = tomllib.loads((CONFIGS / "small" / "holstein.toml").read_text())
    assert "solver" not in DatasetConfig.from_dict(exact).parameters
    exact["solver"] = {"name": "exact"}
    assert isinstance(build(DatasetConfig.from_dict(exact).parameters).forces, ExactForces)


@pytest.mark.parametrize(("solver", "message"), [
    ({"moments": 1}, "solver: moments must be >= 2"),
    ({"momnets": 10}, "unknown key solver.momnets"),
    ({"name": "lanczos"}, "solver.name must be one of 'exact', 'kpm'"),
])
def test_config_solver_errors(solver, message):
    data = small_kpm(**{k: v for k, v in solver.items() if k != "name"})
    data["solver"].update({k: v for k, v in solver.items() if k == "name"})
    with pytest.raises(ConfigError, match=message):
        DatasetConfig.from_dict(data)


def test_a_kpm_dataset_is_written(tmp_path):
    data = small_kpm(moments=60, probing_distance=3)
    data.update(output=str(tmp_path / "kpm.h5"), trajectories=1, checkpoint_every=1)
    data["protocol"].update(snapshots=2, sample_every=2, burn_in=0)
    lines = [f"output = {data['output']!r}", "seed = 1", "trajectories = 1",
             "checkpoint_every = 1"]
    for section in ("model", "electrons", "integrator", "protocol", "solver"):
        lines.append(f"[{section}]")
        for key, value in data[section].items():
            text = repr(value).replace("'", '"') if not isinstance(value, list) else str(value)
            lines.append(f"{key} = {text}")
    path = tmp_path / "kpm.toml"
    path.write_text("\n".join(lines) + "\n")
    assert main(["dataset", str(path), "--workers", "0", "--quiet"]) == 0
    with h5py.File(tmp_path / "kpm.h5") as f:
        assert f["forces"].shape[0] == 2 and np.isfinite(f["forces"][()]).all()
