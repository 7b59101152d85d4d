"""The force-field commands end to end on a tiny Holstein run, and their errors."""

import json

import numpy as np
import pytest

from runtime.app.cli import main
from runtime.app.pipeline import DEFAULT_RUN, run_settings, simulate_settings, train_settings
from runtime.dynamics.integrators import Langevin
from runtime.ml.evaluation import ForceErrors, plot_histogram, plot_parity
from runtime.settings import read_toml

TINY = """
directory = "{directory}"
descriptor = "square_scalar_reference"
compare = ["square_scalar_raw"]
test_trajectories = 1

[dataset]
seed = 3
trajectories = 2
checkpoint_every = 3
[dataset.model]
name = "holstein"
size = [11, 11]
[dataset.electrons]
filling = 0.5
[dataset.integrator]
name = "langevin"
dt = 0.05
[dataset.protocol]
kind = "quench"
temperature = 0.05
snapshots = 3
sample_every = 2

[network]
widths = [8, 8]

[training]
epochs = 2
batch_size = 2
validation_fraction = 0.5

[simulate]
size = [12, 12]
temperature = 0.05
[simulate.integrator]
name = "tdgl"
dt = 0.05
[simulate.simulation]
steps = 3
measure_every = 1
"""


def test_shipped_force_field_configs_are_valid():
    configs = DEFAULT_RUN.parent
    runs = sorted(configs.glob("run_*.toml"))
    assert DEFAULT_RUN in runs
    for path in runs:
        job, _, train_config, _ = run_settings(read_toml(path))
        assert train_config.output.parent.as_posix() == job.directory
    papers = sorted(p for p in (configs / "paper").glob("*.toml")
                    if not p.stem.startswith(("train_", "learn_", "curve_")))
    assert [p.stem for p in papers] == ["holstein", "jahn_teller", "sd"]
    from runtime.app.learn import learn_settings

    for path in papers:  # learn: the physics and the exact test trajectory of the paper run
        learned = learn_settings(read_toml(configs / "paper" / f"learn_{path.stem}.toml"))
        _, sections, train_config, test_config = run_settings(read_toml(path))
        assert learned.parameters == train_config.parameters
        assert learned.dataset.seed + 1_000_000 == test_config.seed
        assert learned.network.as_dict() == sections["network"]
    curves = sorted((configs / "paper").glob("curve_*.toml"))  # learn's other protocol
    assert curves
    for path in curves:
        learned = learn_settings(read_toml(configs / "paper" / f"learn_{path.stem[6:]}.toml"))
        _, sections, train_config, test_config = run_settings(read_toml(path))
        assert learned.parameters == train_config.parameters
        assert learned.dataset.seed + 1_000_000 == test_config.seed
        assert learned.network.as_dict() == sections["network"]
        assert learned.training == train_settings({
            "data": "", "output": "", "descriptor": "", "network": sections["network"],
            "training": sections["training"]})[2]
    learn_settings(read_toml(configs / "small" / "learn_holstein.toml"))
    train_settings(read_toml(configs / "paper/train_holstein_corrmatrix.toml"))
    for path in papers:  # the paper-size runs, and their reduced form
        job, sections, train_config, test_config = run_settings(read_toml(path))
        assert train_config.parameters["model"]["size"] == [30, 30] and not sections["simulate"]
        assert test_config.seed != train_config.seed
        _, sections, reduced, _ = run_settings(read_toml(path), trajectories=2, epochs=5)
        assert reduced.trajectories == 2 and sections["training"]["epochs"] == 5
        assert reduced.output == train_config.output
    train_settings(read_toml(configs / "train_holstein.toml"))
    job, integrator, _ = simulate_settings(read_toml(configs / "simulate_holstein.toml"))
    assert job.size == (512, 512) and isinstance(integrator, Langevin)


def test_run_generates_a_missing_catalog_descriptor(monkeypatch):
    import codegen.generate
    import generated

    written = []  # generated/ "holds" only what the (recording) codegen wrote
    monkeypatch.setattr(generated, "available", lambda: list(written))
    monkeypatch.setattr(codegen.generate, "write", lambda spec: written.append(spec.name))
    job, *_ = run_settings(read_toml(DEFAULT_RUN))
    assert written == [job.descriptor] == ["square_scalar_reference"]


def test_force_errors_summary_and_plots(tmp_path):
    exact = np.zeros((2, 3, 3, 1, 2))
    predicted = exact.copy()
    predicted[..., 0] = 0.3
    predicted[0, ..., 1] = 1.0
    predicted[1, ..., 1] = -1.0
    errors = ForceErrors(predicted, exact, ("Qx", "Qz"), scale=2.0)
    summary = errors.summary()
    assert summary["components"]["Qx"] == pytest.approx(
        {"rmse": 0.3, "mean": 0.3, "sigma": 0.0, "variance": 0.0, "max_abs": 0.3})
    assert summary["components"]["Qz"]["sigma"] == pytest.approx(1.0)
    assert summary["normalized"]["rmse"] == pytest.approx(np.sqrt((0.09 + 1) / 2) / 2)
    for plot in (plot_parity, plot_histogram):
        assert plot(errors, tmp_path / f"{plot.__name__}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("run")
    config = directory / "run.toml"
    config.write_text(TINY.format(directory=directory / "out"))
    assert main(["run", str(config), "--quiet"]) == 0
    return directory / "out"


def test_run_writes_every_stage(tiny_run):
    for name in ("train.h5", "test.h5", "model.pt", "model.history.json",
                 "evaluation-test/metrics.json", "evaluation-test/parity.png",
                 "evaluation-test/errors.png", "simulation/observables.npz",
                 "simulation/snapshot_0000003.png"):
        assert (tiny_run / name).is_file(), name
    metrics = json.loads((tiny_run / "evaluation-test/metrics.json").read_text())
    assert metrics["snapshots"] == 3 and metrics["normalized_by"] == "g = 1.5"


def test_run_compares_descriptors_on_the_same_data(tiny_run):
    """The raw neighborhood (no descriptor) is trained alike; only it breaks the symmetry."""
    results = json.loads((tiny_run / "results.json").read_text())
    assert list(results) == ["square_scalar_reference", "square_scalar_raw"]
    assert (tiny_run / "square_scalar_raw/evaluation-test/parity.png").is_file()
    for name, summary in results.items():
        assert summary["descriptor"] == name and summary["snapshots"] == 3
        assert summary["symmetry_error"]["operations"] == 7
    assert results["square_scalar_reference"]["symmetry_error"]["max"] < 1e-10
    assert results["square_scalar_raw"]["symmetry_error"]["mean"] > 1e-4


def test_evaluate_command(tiny_run, tmp_path, capsys):
    assert main(["evaluate", "--model", str(tiny_run / "model.pt"), "--data",
                 str(tiny_run / "train.h5"), "--output", str(tmp_path)]) == 0
    assert '"sigma"' in capsys.readouterr().out
    assert (tmp_path / "parity.png").is_file()


def simulate_config(path, run, output, size: str):
    """A TDGL simulate config for the model of `run`, written to `path`."""
    path.write_text(f'forcefield = "{run / "model.pt"}"\noutput = "{output}"\nsize = {size}\n'
                    '[integrator]\nname = "tdgl"\ndt = 0.05\n')
    return path


def test_errors_are_clear(tiny_run, tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "none.pt"), "--data",
                 str(tiny_run / "test.h5")]) == 2
    assert "no model file" in capsys.readouterr().err
    small = simulate_config(tmp_path / "small.toml", tiny_run, tmp_path / "sim", "[6, 6]")
    assert main(["simulate", str(small), "--quiet"]) == 2
    assert "smaller than the stencil" in capsys.readouterr().err
    assert not (tmp_path / "sim").exists()
    wrong = tmp_path / "train.toml"
    wrong.write_text(f'data = "{tiny_run / "train.h5"}"\noutput = "{tmp_path / "m.pt"}"\n'
                     'descriptor = "square_jahn_teller_reference"\n')
    assert main(["train", str(wrong), "--quiet"]) == 2
    assert "holds holstein" in capsys.readouterr().err
    typo = tmp_path / "typo.toml"
    typo.write_text(f'data = "{tiny_run / "train.h5"}"\noutput = "x.pt"\n'
                    'descriptor = "square_scalar_reference"\n[training]\nepoch = 3\n')
    assert main(["train", str(typo), "--quiet"]) == 2
    assert "unknown key training.epoch" in capsys.readouterr().err
    scalar = simulate_config(tmp_path / "scalar.toml", tiny_run, "x", "512")
    assert main(["simulate", str(scalar), "--quiet"]) == 2
    assert "size must be a list" in capsys.readouterr().err


def test_summary_line_shows_the_bias_beside_sigma():
    """A constant offset of 0.5 g with a spread of 0.1 g: sigma alone (0.1) hides it; the
    line gives RMSE = sqrt(0.5^2 + 0.1^2), the mean error +0.5 and the exact force RMS."""
    from runtime.ml.evaluation import summary_line

    exact = np.zeros((2, 4, 4, 1, 1))
    exact[0], exact[1] = 3.0, -3.0
    predicted = exact + 0.75 + 0.15 * np.where(np.arange(16).reshape(4, 4, 1, 1) % 2, 1, -1)
    summary = ForceErrors(predicted, exact, ("F",), scale=1.5, scale_name="g").summary()
    line = summary_line(summary)
    assert "RMSE 0.7649" in line and "mean error +0.75" in line and "sigma 0.15" in line
    assert "exact force RMS 3 " in line or "exact force RMS 3)" in line
    assert "divided by g: RMSE 0.5099, mean error +0.5, sigma 0.1 (exact force RMS 2)" in line


def test_evaluate_and_run_print_rmse_mean_and_exact_rms(tiny_run, tmp_path, capsys):
    assert main(["evaluate", "--model", str(tiny_run / "model.pt"), "--data",
                 str(tiny_run / "test.h5"), "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "RMSE" in out and "mean error" in out and "exact force RMS" in out
    assert "divided by g" in out and "{" not in out  # a line, not the JSON
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"rmse", "mean", "sigma", "exact_rms"} <= set(metrics)
    config = tiny_run.parent / "run.toml"
    assert main(["run", str(config), "--quiet"]) == 0  # every stage is on disk: skipped
    out = capsys.readouterr().out
    assert "square_scalar_reference: test force error RMSE" in out
    assert "mean error" in out and "exact force RMS" in out


def test_run_with_more_trajectories_and_epochs_warm_starts(tmp_path, capsys):
    """`run --trajectories 2 --epochs 2`, then `--trajectories 3 --epochs 3`: the data grow
    and training continues from the first model, as --help and docs/results.md say."""
    from runtime.ml.forcefield import read_metadata

    config = tmp_path / "run.toml"
    text = TINY.format(directory=tmp_path / "out").replace(
        'compare = ["square_scalar_raw"]\n', "")
    config.write_text(text[:text.index("[simulate]")])
    assert main(["run", str(config), "--quiet", "--trajectories", "2", "--epochs", "2"]) == 0
    assert main(["run", str(config), "--quiet", "--trajectories", "3", "--epochs", "3"]) == 0
    history = json.loads((tmp_path / "out/model.history.json").read_text())
    assert len(history["epochs"]) == 3
    assert history["warm_start"]["snapshots"] == 6 and history["warm_start"]["epochs_run"] == 2
    metadata = read_metadata(tmp_path / "out/model.pt")
    assert metadata["training"]["warm_start"]["snapshots"] == 6
    assert metadata["training"]["training_snapshots"] + metadata["training"][
        "validation_snapshots"] == 9
