"""configs/examples/: every run config parses and validates without running, and the small
honeycomb Holstein example runs end to end."""

import json
from pathlib import Path

import pytest

import generated
from codegen import catalog
from runtime.app.pipeline import DEFAULT_RUN, GenerateRecipe, run_job, run_settings
from runtime.lattices import Lattice
from runtime.settings import from_table, read_toml

EXAMPLES = sorted((DEFAULT_RUN.parent / "examples").glob("*.toml"))


def test_the_examples_cover_the_lattices_and_models():
    shown = set()
    for path in EXAMPLES:
        model = read_toml(path)["dataset"]["model"]
        lattice = Lattice.of(model["lattice"])
        shown.add((lattice.name if lattice.name in {"honeycomb", "triangular", "kagome",
                                                    "cubic", "lieb"} else "custom",
                   model["name"]))
    assert shown == {("honeycomb", "holstein"), ("triangular", "sd"), ("kagome", "sd"),
                     ("cubic", "holstein"), ("lieb", "holstein"), ("custom", "holstein")}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_parses_and_validates(path):
    table = read_toml(path)
    name = table["descriptor"]
    present = name in generated.available() or name in catalog.CATALOG
    if not present:  # made on first use: its recipe must be complete
        assert "generate" in table, f"{path.name}: {name} is neither generated nor made"
        from_table(GenerateRecipe, table["generate"], "generate.")
    job, sections, train_config, test_config = run_settings(table, descriptors=present)
    assert job.directory == f"runs/examples/{path.stem}"
    assert train_config.output.parent.as_posix() == job.directory
    assert test_config.seed != train_config.seed and sections["simulate"]
    model = train_config.parameters["model"]
    assert model["lattice"] == Lattice.of(table["dataset"]["model"]["lattice"]).record()


def test_the_honeycomb_example_runs(tmp_path):
    """The whole pipeline on honeycomb Holstein, reduced to one short trajectory each for
    training and test, one epoch and 20 ML steps."""
    table = read_toml(DEFAULT_RUN.parent / "examples" / "honeycomb_holstein.toml")
    table["directory"] = str(tmp_path / "run")
    table["test_trajectories"] = 1
    table["dataset"]["protocol"].update(snapshots=8, burn_in=5)
    table["simulate"]["simulation"]["steps"] = 20
    result = run_job(table, progress=False, trajectories=1, epochs=1)
    summary = json.loads(Path(tmp_path / "run" / "results.json").read_text())
    errors = summary["honeycomb_scalar_reference"]
    assert errors["symmetry_error"]["mean"] < 1e-10  # invariant descriptor, D3 + translations
    assert result["simulation"].is_dir()
