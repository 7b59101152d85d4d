"""Dataset configuration files: strict keys, resolved defaults, clear errors."""

import tomllib
from pathlib import Path

import pytest

from runtime.data.config import ConfigError, DatasetConfig, build, load_config
from runtime.dynamics.integrators import Langevin, StochasticLLG
from runtime.dynamics.protocol import Protocol

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def small(name: str = "holstein") -> dict:
    return tomllib.loads((CONFIGS / "small" / f"{name}.toml").read_text())


DATASET_CONFIGS = sorted(p for p in CONFIGS.rglob("*.toml")  # not the force-field ones
                         if isinstance(tomllib.loads(p.read_text()).get("model"), dict))


@pytest.mark.parametrize("path", DATASET_CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_are_valid(path):
    config = load_config(path)
    setup = build(config.parameters)
    assert config.trajectories >= 1 and setup.protocol.snapshots >= 1


def test_paper_configs_have_the_papers_systems():
    for name, coupling, value, snapshots in [("holstein", "g", 1.5, 2000),
                                              ("jahn_teller", "g", 1.5, 2000),
                                              ("sd", "J", 6.0, 3500)]:
        config = load_config(CONFIGS / f"{name}.toml")
        model = config.parameters["model"]
        assert model["name"] == name and model["size"] == [30, 30] and model[coupling] == value
        assert config.trajectories * config.parameters["protocol"]["snapshots"] == snapshots


def test_defaults_are_resolved_and_recorded():
    data = small()
    del data["model"]["K1"], data["integrator"]["mass"], data["electrons"]
    data["model"]["size"] = 6
    config = DatasetConfig.from_dict(data)
    assert config.parameters["model"]["K1"] == 0.0 and config.parameters["model"]["size"] == [6, 6]
    assert config.parameters["integrator"]["mass"] == 1.0
    assert config.parameters["electrons"] == {"filling": 0.5}
    assert config.checkpoint_every == 2 and "output" not in config.parameters
    setup = build(config.parameters)
    assert isinstance(setup.integrator(0.1), Langevin) and setup.integrator(0.1).temperature == 0.1


def test_sd_with_llg_builds_spin_dynamics():
    setup = build(DatasetConfig.from_dict(small("sd")).parameters)
    assert isinstance(setup.integrator(0.0), StochasticLLG) and setup.model.J == 6.0


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(seeed=1), "unknown key seeed; allowed: output, seed, trajectories"),
    (lambda d: d["model"].update(G=1.5), "unknown key model.G; allowed: name, lattice, size, t, g"),
    (lambda d: d["integrator"].update(alpha=0.1),
     "unknown key integrator.alpha; allowed: name, dt, mass, damping"),
    (lambda d: d["protocol"].pop("snapshots"), "missing key protocol.snapshots"),
    (lambda d: d["integrator"].update(dt=-0.05), "integrator: Langevin.dt must be positive"),
    (lambda d: d["protocol"].update(sample_every=0), "sample_every must be an integer >= 1"),
    (lambda d: d["protocol"].update(temperature=-1.0), "protocol.temperature must be >= 0"),
    (lambda d: d["model"].update(name="hubbard"), "model.name must be one of 'holstein'"),
    (lambda d: d["model"].update(size=[2, 2]), "too small for shell-1 bonds"),
    (lambda d: d["model"].update(g="strong"), "model.g must be a number"),
    (lambda d: d.update(trajectories=0), "trajectories must be >= 1"),
    (lambda d: d["electrons"].update(mu=0.0), "either filling"),
    (lambda d: d["integrator"].update(name="llg", dt=0.1, mass=None) or d["integrator"].pop("mass")
     or d["integrator"].pop("damping"), "evolves 3-component spins but model 'holstein'"),
    (lambda d: d.update(model=3), "model must be a [model] table"),
])
def test_bad_configs_raise_clear_errors(edit, message):
    data = small()
    edit(data)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        DatasetConfig.from_dict(data)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file .*nowhere.toml not found"):
        load_config(tmp_path / "nowhere.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = = 1\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)
    bad.write_text((CONFIGS / "small" / "holstein.toml").read_text() + "\nextra = 1\n")
    with pytest.raises(ConfigError, match="bad.toml: unknown key protocol.extra; allowed: kind"):
        load_config(bad)


def test_overrides_are_checked():
    config = DatasetConfig.from_dict(small())
    assert config.with_overrides(trajectories=7).trajectories == 7
    assert config.with_overrides(output="x.h5").output == Path("x.h5")
    with pytest.raises(ConfigError, match="trajectories must be an integer >= 1"):
        config.with_overrides(trajectories=-1)


def test_protocol_schedules():
    quench = Protocol(0.1, 0.1, snapshots=3, sample_every=5, burn_in=2)
    assert quench.steps == 12 and [quench.sample_step(i) for i in range(3)] == [2, 7, 12]
    assert quench.temperature(7) == 0.1
    linear = Protocol(0.4, 0.0, snapshots=5, sample_every=10)
    assert linear.temperature(0) == 0.4 and linear.temperature(20) == pytest.approx(0.2)
    assert linear.temperature(40) == 0.0
    geometric = Protocol(0.4, 0.1, snapshots=3, sample_every=10, schedule="geometric")
    assert geometric.temperature(10) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="geometric schedule needs temperatures > 0"):
        Protocol(0.4, 0.0, snapshots=3, sample_every=10, schedule="geometric")
