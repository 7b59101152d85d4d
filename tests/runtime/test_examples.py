"""configs/examples/: every run config parses and validates without running, and the
honeycomb Holstein, kagome s-d (spins on a three-site cell), Lieb Holstein (site classes),
custom-lattice and honeycomb SSH (displacement vectors) examples run end to end, reduced."""

import json
from pathlib import Path

import pytest

import codegen.generate
import generated
import grouptheory
from codegen import catalog
from grouptheory import build_descriptor
from runtime.app.pipeline import DEFAULT_RUN, GenerateRecipe, run_job, run_settings
from runtime.errors import ConfigError
from runtime.lattices import Lattice
from runtime.ml.forcefield import ForceField
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
                     ("cubic", "holstein"), ("lieb", "holstein"), ("custom", "holstein"),
                     ("honeycomb", "quadrupole_jahn_teller"), ("honeycomb", "ssh")}


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


def _reduced(name: str, directory: Path) -> dict:
    """An example reduced to one short trajectory each for training and test and 20 ML
    steps (with trajectories=1, epochs=1 given to run_job)."""
    table = read_toml(DEFAULT_RUN.parent / "examples" / f"{name}.toml")
    table["directory"] = str(directory)
    table["test_trajectories"] = 1
    table["dataset"]["protocol"].update(snapshots=8, burn_in=5)
    table["simulate"]["simulation"]["steps"] = 20
    return table


@pytest.mark.parametrize("name, operations", [
    ("honeycomb_holstein", 5),  # D3 besides E
    ("kagome_sd", 3),  # D2 on a three-site cell, spins
    ("lieb_holstein", 7),  # D4 of the corner class, one network per site class
])
def test_the_example_runs(name, operations, tmp_path):
    table = _reduced(name, tmp_path / "run")
    result = run_job(table, progress=False, trajectories=1, epochs=1)
    summary = json.loads(Path(tmp_path / "run" / "results.json").read_text())
    errors = summary[table["descriptor"]]
    assert errors["symmetry_error"]["operations"] == operations
    assert errors["symmetry_error"]["max"] < 1e-10  # invariant descriptor: the site group
    assert result["simulation"].is_dir()
    classes = ForceField.load(result["model"]).descriptor.spec.get("classes", [None])
    assert len(classes) == (2 if name == "lieb_holstein" else 1)


@pytest.fixture
def made_here(tmp_path, monkeypatch):
    """[generate] writes into a temporary directory instead of generated/: the modules made,
    by name."""
    made = {}

    def write(recipe, name, lattice):
        spec = build_descriptor(grouptheory.Lattice.from_data(lattice), recipe.field,
                                recipe.family, shells=recipe.shells, name=name)
        path = codegen.generate.write(spec, tmp_path / "generated")
        made[name] = generated.load_file(path)
        return path

    load, available = generated.load, generated.available
    monkeypatch.setattr(GenerateRecipe, "write", write)
    monkeypatch.setattr(generated, "available", lambda: [*available(), *made])
    monkeypatch.setattr(generated, "load", lambda name: made[name] if name in made
                        else load(name))
    return made


def test_the_custom_lattice_example_makes_its_descriptor_and_runs(tmp_path, made_here):
    """[generate] makes the descriptor on the config's custom lattice (3 shells to be quick);
    dataset, training, evaluation and simulate then run on the custom lattice, and a
    [generate] that disagrees with the module now present is refused."""
    made = made_here
    table = _reduced("custom_holstein", tmp_path / "run")
    table["descriptor"], table["generate"]["shells"] = "rhombic_scalar_reference_s3", 3
    result = run_job(table, progress=False, trajectories=1, epochs=1)
    assert list(made) == ["rhombic_scalar_reference_s3"]
    assert made["rhombic_scalar_reference_s3"].group == "D2"
    assert result["summary"]["symmetry_error"]["mean"] < 1e-10
    assert result["simulation"].is_dir()
    run_settings(table)  # the module is there now and matches the recipe
    table["generate"]["shells"] = 4
    with pytest.raises(ConfigError, match="is not the .generate. table's"):
        run_settings(table)


def test_the_ssh_example_trains_on_displacement_vectors(tmp_path, made_here):
    """The vector descriptor made from [generate] (2 components on honeycomb), the SSH data
    (bond-modulated hopping) and its forces: the trained model is equivariant under D3 acting
    on the displacements by its Cartesian matrices."""
    table = _reduced("honeycomb_ssh", tmp_path / "run")
    result = run_job(table, progress=False, trajectories=1, epochs=1)
    assert list(made_here) == ["honeycomb_vector_reference"]
    descriptor = made_here["honeycomb_vector_reference"]
    assert (descriptor.field, descriptor.components, descriptor.group) == ("vector", 2, "D3")
    summary = result["summary"]
    assert summary["symmetry_error"]["operations"] == 5
    assert summary["symmetry_error"]["max"] < 1e-10
    assert set(summary["components"]) == {"F_x", "F_y"}
    assert result["simulation"].is_dir()
