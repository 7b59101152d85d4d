"""Lattice × model combinations the pipeline cannot run are refused by `latticeff run` on one
line (exit code 2), before any exact diagonalization or sympy time, naming what works."""

import re

import pytest

from runtime.app.cli import main
from runtime.app.pipeline import DEFAULT_RUN
from runtime.settings import read_toml

LANGEVIN = {"name": "langevin", "dt": 0.05, "mass": 1.0, "damping": 0.5}


def _toml(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    return repr(value)


def _write(table: dict, path, prefix: str = "") -> str:
    """A TOML file of `table` (plain values and nested tables only)."""
    lines = [f"{k} = {_toml(v)}" for k, v in table.items() if not isinstance(v, dict)]
    text = (f"[{prefix}]\n" if prefix else "") + "\n".join(lines) + "\n"
    for key, value in table.items():
        if isinstance(value, dict):
            text += _write(value, None, f"{prefix}.{key}" if prefix else key)
    if path is not None:
        path.write_text(text)
    return text


def _run_config(tmp_path, model: dict, descriptor: str, generate: dict | None = None) -> dict:
    table = {"directory": str(tmp_path / "run"), "descriptor": descriptor,
             "test_trajectories": 1,
             "dataset": {"seed": 1, "trajectories": 1, "model": model,
                         "integrator": LANGEVIN,
                         "protocol": {"kind": "quench", "temperature": 0.05, "snapshots": 2,
                                      "sample_every": 1}},
             "network": {"widths": [8]}, "training": {"epochs": 1}}
    if generate:
        table["generate"] = generate
    return table


CASES = {
    "e_g on hexagonal bonds": (
        {"name": "jahn_teller", "lattice": "honeycomb", "size": [4, 4]},
        "honeycomb_scalar_reference", None,
        "bonds along the Cartesian axes, the <110> face diagonals.*quadrupole_jahn_teller"),
    "e_g on <111> bonds": (
        {"name": "jahn_teller", "lattice": "diamond", "size": [3, 3, 3]},
        "cubic_scalar_reference", None, "dd-sigma hopping vanishes along the <111> bonds"),
    "p orbitals in 3D": (
        {"name": "quadrupole_jahn_teller", "lattice": "cubic", "size": [3, 3, 3]},
        "cubic_scalar_reference", None, "needs a two-dimensional lattice"),
    "the e_g descriptor on quadrupole data": (
        {"name": "quadrupole_jahn_teller", "lattice": "square", "size": [8, 8]},
        "square_jahn_teller_reference", None,
        "is for a jahn_teller field.*quadrupole_jahn_teller \\(a quadrupole field\\)"),
    "the e_g doublet on a hexagonal site": (
        {"name": "quadrupole_jahn_teller", "lattice": "honeycomb", "size": [4, 4]},
        "refused_honeycomb_jt", {"field": "jahn_teller", "family": "power", "shells": 1},
        "generate.field = 'jahn_teller', but .* has a quadrupole field; use 'quadrupole'"),
    "a recipe for another field": (
        {"name": "holstein", "lattice": "kagome", "size": [4, 4]},
        "refused_kagome_vector", {"field": "vector", "family": "power", "shells": 1},
        "generate.field = 'vector', but dataset.model holstein has a scalar field"),
    "a scalar descriptor for displacements": (
        {"name": "ssh", "lattice": "honeycomb", "size": [4, 4]},
        "honeycomb_scalar_reference", None,
        "is for a scalar field.*ssh \\(a vector field\\)"),
    "a scalar recipe for displacements": (
        {"name": "ssh", "lattice": "square", "size": [4, 4]},
        "refused_square_scalar", {"field": "scalar", "family": "power", "shells": 1},
        "generate.field = 'scalar', but dataset.model ssh has a vector field; use 'vector'"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_combination_that_cannot_run_is_refused_on_one_line(case, tmp_path, capsys):
    model, descriptor, generate, message = CASES[case]
    path = tmp_path / "run.toml"
    _write(_run_config(tmp_path, model, descriptor, generate), path)
    assert read_toml(path)["dataset"]["model"] == model  # the file says what we meant
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("latticeff: error:")
    assert re.search(message, err), err
    assert not (tmp_path / "run" / "train.h5").exists()


def test_the_default_run_config_is_accepted_by_the_same_writer(tmp_path):
    """The helper writes what `latticeff run` reads (the default config round-trips)."""
    table = read_toml(DEFAULT_RUN)
    _write(table, tmp_path / "copy.toml")
    assert read_toml(tmp_path / "copy.toml") == table


@pytest.mark.parametrize(("lattice", "field", "reason"), [
    ("kagome", "jahn_teller", ("not a representation of D2", "use the quadrupole field")),
    ("cubic", "quadrupole", ("not a representation of Oh", "use the jahn_teller field"))])
def test_generate_refuses_a_doublet_the_site_group_cannot_carry_naming_the_other(
        lattice, field, reason, tmp_path, capsys):
    """The e_g doublet on hexagonal sites, the quadrupole in 3D: each names the other."""
    assert main(["generate", "--lattice", lattice, "--field", field, "--descriptor",
                 "power", "--shells", "1", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert all(part in err for part in reason)
    assert not list(tmp_path.iterdir())


def test_the_kpm_solver_is_refused_for_displacements_on_one_line(tmp_path, capsys):
    table = _run_config(tmp_path, {"name": "ssh", "lattice": "square", "size": [4, 4]},
                        "refused_square_vector", {"field": "vector", "family": "power",
                                                  "shells": 1})
    table["dataset"]["solver"] = {"name": "kpm"}
    _write(table, tmp_path / "run.toml")
    assert main(["run", str(tmp_path / "run.toml"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search("solver: the KPM solver differentiates on-site couplings only.*SSH "
                     "modulates the hoppings", err), err


def test_training_refuses_a_descriptor_of_another_field_with_as_many_components(tmp_path):
    """Quadrupole (x²−y², 2xy) data and the e_g (x²−y², 3z²−r²) descriptor both have two
    components on the square lattice, but the site group acts on them differently."""
    from runtime.app.pipeline import train_job
    from runtime.data.config import DatasetConfig
    from runtime.data.generation import generate
    from runtime.errors import DatasetError

    config = DatasetConfig.from_dict({
        "output": str(tmp_path / "q.h5"), "seed": 0, "trajectories": 1,
        "model": {"name": "quadrupole_jahn_teller", "lattice": "square", "size": [8, 8]},
        "integrator": LANGEVIN, "protocol": {"kind": "quench", "temperature": 0.05,
                                             "snapshots": 1, "sample_every": 1}})
    generate(config, progress=False)
    with pytest.raises(DatasetError, match="holds quadrupole_jahn_teller data, a quadrupole "
                                           "field, but descriptor square_jahn_teller_reference"):
        train_job({"data": str(config.output), "output": str(tmp_path / "m.pt"),
                   "descriptor": "square_jahn_teller_reference", "network": {"widths": [4]},
                   "training": {"epochs": 1}}, progress=False)
