"""Custom lattices given as data (a config table or the command line): read without eval,
identical to a preset when they are one, refused with one-line errors when they are not
lattices, and usable by the electrons, datasets and the command line like a preset."""

import math

import numpy as np
import pytest
import torch

import generated
import grouptheory
from grouptheory import build_descriptor
from grouptheory.errors import LatticeError
from runtime.app.cli import main
from runtime.data.config import DatasetConfig
from runtime.electrons import Holstein
from runtime.errors import ConfigError
from runtime.lattices import Lattice

RHOMBIC = {"name": "rhombic", "vectors": [[1, 0], ["1/2", "3/4"]]}

HOSTILE = [
    ({"vectors": [["one", 0], [0, 1]]}, "'one' is not a real number"),
    ({"vectors": [["__import__('os')", 0], [0, 1]]}, "the only call allowed is sqrt"),
    ({"vectors": [["().__class__", 0], [0, 1]]}, "is not a real number"),
    ({"vectors": [[1, 0], [2, 0]]}, "linearly dependent"),
    ({"vectors": [[1, 0], [0, 1]], "basis": [[0, 0], [1, 0]]}, "coincide"),
    ({"vectors": [[1, 0, 0], [0, 1]]}, "2 vectors of 2 numbers or 3 vectors of 3"),
    ({"vectors": [[1]]}, "2 vectors of 2 numbers or 3 vectors of 3"),
    ({"vectors": [[1, 0], [0, 1]], "basis": [[0, 0, 0]]}, "row 0 has 3 numbers, expected 2"),
    ({"vectors": [[math.nan, 0], [0, 1]]}, "nan is not a finite number"),
    ({"vectors": [[math.inf, 0], [0, 1]]}, "inf is not a finite number"),
    ({"vectors": [[True, 0], [0, 1]]}, "True is not a real number"),
    ({"vectors": "1,0;0,1"}, "must be a non-empty list of rows"),
    ({"basis": [[0, 0]]}, "needs vectors"),
    ({"vectors": [[1, 0], [0, 1]], "colour": "red"}, "unknown lattice key colour"),
    ({"name": "Bad name!", "vectors": [[1, 0], [0, 1]]}, "lattice name must be"),
    ({"name": "square", "vectors": [[1, 0], [0, 2]]}, "is a preset's"),
    ("hexagon", "unknown lattice 'hexagon'"),
    (42, "a lattice is a preset name"),
]


@pytest.mark.parametrize(("table", "message"), HOSTILE)
def test_hostile_lattice_data_gives_a_one_line_error(table, message):
    for read in (grouptheory.Lattice.from_data, Lattice.of):
        with pytest.raises(LatticeError, match=message) as error:
            read(table)
        assert "\n" not in str(error.value)


def test_exact_and_numeric_views_of_a_custom_lattice_agree():
    table = {"name": "tilted", "vectors": [[1, 0], ["1/2", "sqrt(3)/2 + 1/5"]],
             "basis": [[0, 0], ["1/3", 0.5]]}
    exact, numeric = grouptheory.Lattice.from_data(table), Lattice.of(table)
    np.testing.assert_allclose(np.array(exact.vectors.evalf(), dtype=float), numeric.vectors,
                               atol=1e-15)
    np.testing.assert_allclose(np.array(exact.basis, dtype=float), numeric.basis, atol=1e-15)
    assert exact.name == numeric.name == "tilted"
    # the record a dataset stores reads back to the same lattice
    assert Lattice.of(numeric.record()).same_geometry(numeric)


@pytest.mark.parametrize(("preset", "table"), [
    ("triangular", {"name": "mytriangular", "vectors": [[1, 0], [0.5, math.sqrt(3) / 2]]}),
    ("honeycomb", {"name": "graphene", "vectors": [[1, 0], ["0.5", "sqrt(3)/2"]],
                   "basis": [[0, 0], [1 / 3, "1/3"]]}),
])
def test_a_custom_lattice_equal_to_a_preset_gives_identical_descriptors(preset, table,
                                                                        tmp_path):
    """Same spec but for the names, and the generated modules give the same features."""
    from codegen.generate import write

    specs = [build_descriptor(lattice, "scalar", "reference", shells=2, name=f"d_{n}")
             for n, lattice in enumerate((grouptheory.Lattice.preset(preset),
                                          grouptheory.Lattice.from_data(table)))]
    named = [{**spec.data, "name": None, "lattice": {**spec.data["lattice"], "name": None}}
             for spec in specs]
    assert named[0] == named[1]
    assert specs[0].data["lattice"]["name"] == preset
    assert specs[1].data["lattice"]["name"] == table["name"]
    modules = [generated.load_file(write(spec, tmp_path)) for spec in specs]
    field = torch.randn((2, 5, 5, modules[0].sublattices, 1), dtype=torch.float64,
                        generator=torch.Generator().manual_seed(0))
    assert torch.equal(modules[0].torch_forward(field), modules[1].torch_forward(field))
    # the same table under the preset's own name is the preset: the same hash
    same = build_descriptor(grouptheory.Lattice.from_data({**table, "name": preset}), "scalar",
                            "reference", shells=2, name="d_0")
    assert same.hash == specs[0].hash


def _dataset_table(lattice) -> dict:
    return {"output": "x.h5", "seed": 1, "trajectories": 1,
            "model": {"name": "holstein", "lattice": lattice, "size": [4, 4]},
            "integrator": {"name": "langevin", "dt": 0.05, "mass": 1.0, "damping": 0.5},
            "protocol": {"kind": "quench", "temperature": 0.1, "snapshots": 2,
                         "sample_every": 1}}


def test_a_dataset_config_takes_a_custom_lattice_and_records_it():
    config = DatasetConfig.from_dict(_dataset_table(RHOMBIC))
    recorded = config.parameters["model"]["lattice"]
    assert recorded == {"name": "rhombic", "vectors": [[1.0, 0.0], [0.5, 0.75]],
                        "basis": [[0.0, 0.0]]}
    # the record is itself a valid config: an append finds the same parameters
    again = DatasetConfig.from_dict(_dataset_table(recorded))
    assert again.parameters == config.parameters
    model = Holstein(recorded, 4)
    assert len(model.bonds) == 2 * 16  # four neighbours at sqrt(13)/4: +-a2, +-(a2 - a1)
    assert model.bonds.distance == pytest.approx(math.sqrt(13) / 4)
    preset = DatasetConfig.from_dict(_dataset_table({"name": "lieb", "vectors": [[1, 0], [0, 1]],
                                                     "basis": [[0, 0], [0.5, 0], [0, 0.5]]}))
    assert preset.parameters["model"]["lattice"] == "lieb"


@pytest.mark.parametrize(("table", "message"), HOSTILE[:6])
def test_a_dataset_config_refuses_a_hostile_lattice_on_one_line(table, message):
    with pytest.raises(ConfigError, match="model: .*" + message) as error:
        DatasetConfig.from_dict(_dataset_table(table))
    assert "\n" not in str(error.value)


def test_onsite_energies_in_a_config_are_checked_and_recorded():
    table = _dataset_table("lieb")
    table["model"]["onsite"] = [0, 0.5, 0.5]
    assert DatasetConfig.from_dict(table).parameters["model"]["onsite"] == [0.0, 0.5, 0.5]
    table["model"]["onsite"] = [0, 0.5]
    with pytest.raises(ConfigError, match="model: onsite must list one energy per sublattice"):
        DatasetConfig.from_dict(table)


def test_generate_and_inspect_take_a_custom_lattice(tmp_path, capsys):
    vectors = ["--vectors", "1,0; 1/2,3/4"]
    assert main(["inspect", "group", "rhombic", *vectors]) == 0
    assert "rhombic lattice, site 0: point group D2" in capsys.readouterr().out
    assert main(["inspect", "decompose", "rhombic", *vectors, "--shells", "1"]) == 0
    assert "5 sites" in capsys.readouterr().out
    assert main(["generate", "--lattice", "rhombic", *vectors, "--field", "scalar",
                 "--descriptor", "power", "--shells", "2", "--output", str(tmp_path)]) == 0
    module = generated.load_file(tmp_path / "rhombic_scalar_power_s2.py")
    assert module.lattice == "rhombic" and module.group == "D2"


@pytest.mark.parametrize(("arguments", "message"), [
    (["--vectors", "1,0; __import__('os').system('true'),1"], "is not a real number"),
    (["--vectors", "1,0; 2,0"], "linearly dependent"),
    (["--vectors", "1,0; 0,1", "--basis", "0,0; 1,1"], "coincide"),
    (["--vectors", "1,0,0; 0,1"], "2 vectors of 2 numbers"),
    (["--vectors", "nan,0; 0,1"], "'nan' is not a real number"),
    (["--vectors", "1,; 0,1"], "'' is not a real number"),
    (["--basis", "0,0"], "--basis needs --vectors"),
])
def test_hostile_command_line_lattices_exit_2_with_one_line(arguments, message, capsys):
    for command in (["inspect", "group", "x"], ["inspect", "decompose", "x"],
                    ["generate", "--lattice", "x", "--field", "scalar", "--descriptor", "power",
                     "--output", "unused"]):
        assert main([*command, *arguments]) == 2
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1, error


def test_training_data_must_have_the_descriptors_geometry(tmp_path):
    """A dataset fits a descriptor by vectors and basis: another name with the same geometry
    is accepted, the same name with other geometry refused."""
    from types import SimpleNamespace

    from codegen.generate import write
    from runtime.app.pipeline import checked_data
    from runtime.data.dataset import read_dataset
    from runtime.data.generation import generate
    from runtime.errors import DatasetError

    spec = build_descriptor(grouptheory.Lattice.from_data(RHOMBIC), "scalar", "power",
                            shells=1, name="rhombic_power")
    descriptor = generated.load_file(write(spec, tmp_path))
    stretched = {**RHOMBIC, "vectors": [[1, 0], ["1/2", "4/5"]]}
    dataset = SimpleNamespace(parameters={"model": {"name": "holstein", "lattice": stretched}})
    with pytest.raises(DatasetError, match="rhombic lattice with other vectors or basis"):
        checked_data(dataset, "x.h5", descriptor)
    table = _dataset_table({**RHOMBIC, "name": "centred"})
    table["output"] = str(tmp_path / "centred.h5")
    config = DatasetConfig.from_dict(table)
    generate(config, progress=False)
    data = checked_data(read_dataset(config.output), config.output, descriptor)
    assert tuple(data.fields.shape) == (2, 4, 4, 1, 1)


@pytest.mark.parametrize(("table", "message"), [
    ({"field": "scalar", "family": "reference"}, "give one of shells .>= 1. and cutoff"),
    ({"field": "scalar", "family": "reference", "shells": 2, "cutoff": 1.5}, "give one of"),
    ({"field": "scalar", "family": "reference", "shells": -1}, "give one of"),
    ({"field": "scalar", "shells": 2}, "missing key generate.family"),
    ({"field": "scalar", "family": "reference", "shells": 2, "code": "x"},
     "unknown key generate.code"),
])
def test_a_bad_generate_table_is_refused(table, message):
    from runtime.app.pipeline import GenerateRecipe
    from runtime.settings import from_table

    with pytest.raises(ConfigError, match=message):
        from_table(GenerateRecipe, table, "generate.")
