"""`latticeff learn` (issue 16): frame selection, the loop on a small Holstein lattice, a kill
in every stage, hostile configs."""

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from runtime.app.cli import main
from runtime.app.learn import learn_job
from runtime.data import learning
from runtime.data.dataset import read_dataset, read_header
from runtime.data.learning import select_frames

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "small" / "learn_holstein.toml"


@pytest.mark.parametrize("seed", range(5))
def test_selection_obeys_window_gap_and_cap(seed):
    rng = np.random.default_rng(seed)
    walker = rng.integers(0, 3, 200)
    step = rng.permutation(200) * 5  # steps in no particular order
    deviation = rng.uniform(0, 1, 200)
    lo, hi, gap = 0.3, 0.7, 40
    free = select_frames(walker, step, deviation, lo=lo, hi=hi, gap=gap, cap=10**6, seed=0)
    assert np.all((deviation[free] >= lo) & (deviation[free] < hi))
    for w in range(3):
        taken = np.sort(step[free][walker[free] == w])
        assert np.all(np.diff(taken) >= gap)
        # greedy: every candidate left out lies within `gap` after a frame taken before it
        for i in np.flatnonzero((walker == w) & (deviation >= lo) & (deviation < hi)):
            if i not in free:
                earlier = taken[taken <= step[i]]
                assert len(earlier) and step[i] - earlier[-1] < gap
    capped = select_frames(walker, step, deviation, lo=lo, hi=hi, gap=gap, cap=7, seed=3)
    assert len(capped) == min(7, len(free)) and set(capped) <= set(free)
    assert np.array_equal(capped, select_frames(walker, step, deviation, lo=lo, hi=hi,
                                                gap=gap, cap=7, seed=3))
    assert len(select_frames(walker, step, deviation, lo=lo, hi=hi, gap=gap, cap=0,
                             seed=3)) == 0


def test_every_model_has_a_default_window(tmp_path):
    from runtime.app.learn import learn_settings
    from runtime.data.config import MODELS

    for name, model in MODELS.items():
        lo, hi = model.learn_window
        assert 0 < lo < hi, name
    job = learn_settings(small_table(tmp_path / "work") | {"learn": {}})
    assert job.window(2.0) == (2 * MODELS["holstein"].learn_window[0],
                               2 * MODELS["holstein"].learn_window[1])


def small_table(directory) -> dict:
    """configs/small/learn_holstein.toml, made smaller still for CI."""
    table = tomllib.loads(CONFIG.read_text())
    table["directory"] = str(directory)
    table["training"]["epochs"] = 12
    table["learn"].update(members=2, walkers=2, max_labels=8)
    return table


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """An uninterrupted two-iteration run."""
    directory = tmp_path_factory.mktemp("learn") / "work"
    return directory, learn_job(small_table(directory), progress=False)


@pytest.mark.slow
def test_two_iterations_lower_the_error_on_the_exact_test_set(finished):
    directory, log = finished
    assert [r["iteration"] for r in log] == [0, 1, 2]
    assert log[1]["labels_added"] > 0 and log[2]["labels_total"] == sum(
        r["labels_added"] for r in log)
    assert log[2]["validation"]["rmse"] < log[0]["validation"]["rmse"]
    for record in log[1:]:
        assert record["accurate"] + record["candidate"] + record["rejected"] == \
            pytest.approx(1.0)
        assert record["ed_calls"] == record["labels_added"]
    data = read_dataset(directory / "data.h5")
    assert len(data) == log[0]["seed_snapshots"] + log[2]["labels_total"]
    test = read_dataset(directory / "test.h5")  # exact, of another seed, never labelled
    assert test.parameters["seed"] != data.parameters["seed"] and len(test.runs) == 1
    frames = [f for run in data.runs for f in run.get("learn", {}).get("frames", [])]
    assert [f["trajectory"] for f in frames] == list(range(1, data.n_trajectories))
    lo, hi = log[0]["eps_lo"], log[0]["eps_hi"]
    assert all(lo <= f["deviation"] < hi for f in frames)
    assert {f["walker"] for f in frames} <= {0, 1}
    np.testing.assert_array_equal(data.snapshots.step[-len(frames):],
                                  [f["step"] for f in frames])
    curves, _ = learning.learning_curve(log)  # what learning_curve.png shows
    calls, sigma = curves["all components"]
    assert list(calls) == [log[0]["ed_calls"], log[0]["ed_calls"] + log[1]["labels_added"],
                           log[0]["ed_calls"] + log[2]["labels_total"]]
    assert sigma == [r["validation"]["normalized"]["sigma"] for r in log]
    assert (directory / "learning_curve.png").stat().st_size > 0


@pytest.mark.slow
def test_two_workers_give_the_same_loop(finished, tmp_path):
    """Walkers, labels and members run as tasks on two worker processes (Dask): the data
    and every iteration's test error are those of the run in one process."""
    reference, log = finished
    parallel = learn_job(small_table(tmp_path / "work"), workers=2, progress=False)
    data, expected = (read_dataset(d / "data.h5") for d in (tmp_path / "work", reference))
    np.testing.assert_array_equal(data.snapshots.fields, expected.snapshots.fields)
    np.testing.assert_array_equal(data.snapshots.forces, expected.snapshots.forces)
    assert [r["validation"]["rmse"] for r in parallel] == pytest.approx(
        [r["validation"]["rmse"] for r in log], rel=1e-9)


@pytest.mark.slow
def test_a_shorter_seed_protocol_makes_the_seed_set_only(tmp_path):
    """seed_protocol shortens the seed trajectories; the test trajectory and the walkers
    keep the dataset's protocol, and the labels append to the seed set's file."""
    table = small_table(tmp_path / "work")
    table["seed_protocol"] = {"sample_every": 2, "burn_in": 2}
    table["learn"]["iterations"] = 1
    log = learn_job(table, progress=False)
    data, test = (read_dataset(tmp_path / "work" / name) for name in ("data.h5", "test.h5"))
    protocol = table["dataset"]["protocol"]
    assert data.parameters["protocol"]["sample_every"] == 2
    assert test.parameters["protocol"] == {**test.parameters["protocol"], **protocol}
    seed_steps = 2 + 2 * (protocol["snapshots"] - 1)
    assert log[0]["ed_calls"] == seed_steps + 1
    assert list(data.snapshots.step[:protocol["snapshots"]]) == list(range(2, seed_steps + 1, 2))
    assert log[1]["labels_added"] > 0
    assert len(data) == protocol["snapshots"] + log[1]["labels_added"]


STAGES = [("seed", 0), ("train", 0), ("member", 0), ("evaluate", 0), ("explore", 1),
          ("walker", 1), ("select", 1), ("label", 1), ("label_chunk", 1), ("append", 1),
          ("train", 1), ("member", 1), ("evaluate", 1), ("label_chunk", 2)]


@pytest.mark.slow
def test_a_kill_in_every_stage_resumes_without_a_duplicate_label(finished, tmp_path,
                                                                 monkeypatch):
    reference, log = finished
    labelled = []
    original = learning.label_frames

    def counting(parameters, fields, *args):
        labelled.extend(f.tobytes() for f in fields)
        return original(parameters, fields, *args)

    monkeypatch.setattr(learning, "label_frames", counting)
    table = small_table(tmp_path / "work")
    for stage, iteration in STAGES:
        def hook(name, n, stage=stage, iteration=iteration):
            if (name, n) == (stage, iteration):
                raise KeyboardInterrupt(stage)

        with pytest.raises(KeyboardInterrupt, match=stage):
            learn_job(table, progress=False, hook=hook)
    resumed = learn_job(table, progress=False)
    assert len(labelled) == len(set(labelled)) == log[-1]["labels_total"]  # none twice
    data, expected = read_dataset(tmp_path / "work" / "data.h5"), read_dataset(
        reference / "data.h5")
    np.testing.assert_array_equal(data.snapshots.fields, expected.snapshots.fields)
    np.testing.assert_array_equal(data.snapshots.forces, expected.snapshots.forces)
    assert len(np.unique(data.snapshots.fields.reshape(len(data), -1), axis=0)) == len(data)
    assert [r["validation"]["rmse"] for r in resumed] == pytest.approx(
        [r["validation"]["rmse"] for r in log], rel=1e-9)


@pytest.mark.slow
def test_a_rerun_of_a_finished_loop_does_nothing_and_more_iterations_continue(finished,
                                                                             tmp_path, capsys):
    reference, log = finished
    directory = tmp_path / "work"
    shutil.copytree(reference, directory)
    table = small_table(directory)
    assert learn_job(table, progress=False) == log
    assert main(["learn", str(write(tmp_path / "learn.toml", table)), "--quiet",
                 "--workers", "0"]) == 0
    assert "2 iterations (2 iterations done)" in capsys.readouterr().out
    before = read_header(directory / "data.h5").n_snapshots
    table["learn"]["iterations"] = 3  # a resumable setting: one more iteration
    longer = learn_job(table, progress=False)
    assert len(longer) == 4 and longer[:3] == log
    assert read_header(directory / "data.h5").n_snapshots == before + longer[3]["labels_added"]


def write(path: Path, table: dict) -> Path:
    def value(v):
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v) if not isinstance(v, float) or np.isfinite(v) else str(v)

    lines = []

    def emit(prefix, t):
        for k, v in t.items():
            if not isinstance(v, dict):
                lines.append(f"{k} = {value(v)}")
        for k, v in t.items():
            if isinstance(v, dict):
                lines.append(f"[{prefix}{k}]")
                emit(f"{prefix}{k}.", v)

    emit("", table)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update(colour=1), "unknown key colour"),
    (lambda t: t["learn"].update(walkrs=2), "unknown key learn.walkrs"),
    (lambda t: t["learn"].update(eps_lo=0.5, eps_hi=0.5), "0 < eps_lo < eps_hi"),
    (lambda t: t["learn"].update(eps_lo=0.9, eps_hi=0.2), "0 < eps_lo < eps_hi"),
    (lambda t: t["learn"].update(eps_hi=float("nan")), "finite"),
    (lambda t: t["learn"].update(eps_lo=float("inf")), "finite"),
    (lambda t: t["learn"].update(max_labels=-1), "max_labels must be >= 1"),
    (lambda t: t["learn"].update(label_budget=-5), "label_budget must be >= 1"),
    (lambda t: t["learn"].update(members=1), "members must be >= 2"),
    (lambda t: t["learn"].update(min_gap=-3), "min_gap must be >= 0"),
    (lambda t: t["learn"].update(accurate_fraction=1.5), "accurate_fraction"),
    (lambda t: t["learn"].update(drive="median"), "drive must be one of mean, first"),
    (lambda t: t["dataset"].update(output="x.h5"), "dataset.output is set by learn"),
    (lambda t: t.update(seed_trajectories=0), "seed_trajectories must be >= 1"),
    (lambda t: t.update(seed_protocol={"sample_evry": 2}), "seed_protocol: "),
    (lambda t: t.update(seed_protocol={"sample_every": -2}), "seed_protocol: "),
    (lambda t: t.update(seed_protocol=3), "seed_protocol must be a [seed_protocol] table"),
    (lambda t: t.update(descriptor="square_spin_phase"), "choose a descriptor for that model"),
])
def test_bad_learn_configs_give_one_line_errors(tmp_path, capsys, change, message):
    table = small_table(tmp_path / "work")
    change(table)
    assert main(["learn", str(write(tmp_path / "bad.toml", table)), "--quiet", "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "work").exists()  # refused before anything was written


def test_a_work_directory_that_is_a_file_or_holds_another_loop_is_refused(tmp_path, capsys):
    table = small_table(tmp_path / "file")
    (tmp_path / "file").write_text("not a directory")
    assert main(["learn", str(write(tmp_path / "a.toml", table)), "--quiet", "--workers", "0"]) == 2
    assert "is a file" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "learn.json").write_text('{"directory": "x"}')
    table = small_table(other)
    assert main(["learn", str(write(tmp_path / "b.toml", table)), "--quiet", "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "holds a learning loop with other settings" in err and err.count("\n") == 1


def test_a_seed_trajectory_counts_every_force_evaluation_as_an_ed_call(tmp_path):
    """Langevin steps diagonalize once, the spin integrators' midpoint scheme twice."""
    from runtime.app.learn import learn_settings

    paper = CONFIG.parents[1] / "paper"
    for name, per_step in (("learn_holstein", 1), ("learn_sd", 2)):
        table = tomllib.loads((paper / f"{name}.toml").read_text())
        table["directory"] = str(tmp_path / name)
        job = learn_settings(table)
        protocol = job.seed_config.parameters["protocol"]
        steps = protocol["burn_in"] + (protocol["snapshots"] - 1) * protocol["sample_every"]
        assert learning.trajectory_ed_calls(job.seed_config.parameters) == 1 + per_step * steps
