"""The `latticeff` command line: `inspect group`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.app.cli import main


def test_inspect_group_square_prints_tables(capsys):
    assert main(["inspect", "group", "square"]) == 0
    out = capsys.readouterr().out
    assert "point group D4, order 8" in out
    assert "2C2''" in out and "A1 ⊕ A2 ⊕ B1 ⊕ B2" in out


def test_inspect_group_json_carries_the_contract(capsys):
    assert main(["inspect", "group", "square", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "D4" and data["order"] == 8
    assert data["classes"][1] == {"name": "2C4", "size": 2}
    e = next(i for i in data["irreps"] if i["name"] == "E")
    assert e["dim"] == 2 and e["characters"] == [2, 0, -2, 0, 0]
    assert data["products"]["ExE"] == {"A1": 1, "A2": 1, "B1": 1, "B2": 1}


def test_inspect_group_latex_and_point_group_names(capsys):
    assert main(["inspect", "group", "Oh", "--latex"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(r"\begin{tabular}") and "T_{1u}" in out
    assert main(["inspect", "group", "kagome", "--site", "2"]) == 0
    assert "point group D2" in capsys.readouterr().out


def test_inspect_group_unknown_target_is_a_clear_error(capsys):
    assert main(["inspect", "group", "hexagon"]) == 2
    err = capsys.readouterr().err
    assert "unknown lattice or point group 'hexagon'" in err and "square" in err


def test_inspect_group_requires_a_target():
    with pytest.raises(SystemExit):
        main(["inspect", "group"])


def test_inspect_decompose_prints_blocks_and_expressions(capsys):
    assert main(["inspect", "decompose", "square", "--field", "scalar", "--shells", "2"]) == 0
    out = capsys.readouterr().out
    assert "4 = A1 ⊕ B1 ⊕ E" in out and "4 = A1 ⊕ B2 ⊕ E" in out
    assert "f^(B1,1) = Q[-1,0]/2 - Q[0,-1]/2 - Q[0,1]/2 + Q[1,0]/2" in out
    assert main(["inspect", "decompose", "square", "--shells", "4"]) == 0
    assert "8 = A1 ⊕ A2 ⊕ B1 ⊕ B2 ⊕ 2E" in capsys.readouterr().out


def test_inspect_decompose_json_latex_and_spin(capsys):
    assert main(["inspect", "decompose", "square", "--field", "spin", "--shells", "2",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["group"] == "D4" and data["field"] == "spin"
    assert {b["kind"] for b in data["blocks"]} >= {"center_bond", "bond", "chirality"}
    assert main(["inspect", "decompose", "square", "--field", "jahn_teller", "--latex"]) == 0
    assert r"\frac{" in capsys.readouterr().out


def test_inspect_decompose_bad_input(capsys):
    assert main(["inspect", "decompose", "square", "--shells", "0"]) == 2
    assert "shells must be a positive integer" in capsys.readouterr().err
    assert main(["inspect", "decompose", "triangular", "--field", "jahn_teller"]) == 2
    assert "not a representation of D6" in capsys.readouterr().err
    assert main(["inspect", "decompose", "square", "--field", "tensor"]) == 2
    assert "unknown field 'tensor'" in capsys.readouterr().err


def test_a_reader_that_leaves_early_ends_the_output_quietly():
    """`latticeff inspect … --json | head -1`: no BrokenPipeError traceback, exit 0."""
    command = (f"{sys.executable} -m runtime.app.cli inspect decompose square --field scalar "
               "--shells 14 --json | head -1")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], check=False,
                            capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "{"
    assert result.stderr == "" and result.returncode == 0
