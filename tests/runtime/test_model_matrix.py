"""The lattice × model matrix (`benchmarks/model_matrix.py`, docs/lattices.md): every preset
lattice with every model either builds and gives forces equal to −d(E + V)/dfield by central
differences on a small cluster, or is refused with a one-line `LatticeffError` (a traceback
fails the test); the refused cells are exactly those the docs list."""

import importlib.util
import re
from pathlib import Path

import pytest

from grouptheory.presets import PRESETS
from runtime.data.config import MODELS

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "model_matrix.py"
_SPEC = importlib.util.spec_from_file_location("model_matrix", _PATH)
matrix = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(matrix)

HEXAGONAL = ("triangular", "honeycomb", "kagome")
THREE_D = ("cubic", "bcc", "fcc", "diamond", "pyrochlore", "perovskite")
REFUSED = {**{(lattice, "jahn_teller"): "bonds along the Cartesian axes, the <110> face "
              "diagonals or the <111> body diagonals" for lattice in HEXAGONAL},
           **{(lattice, "quadrupole_jahn_teller"): "needs a two-dimensional lattice.*the e_g "
              "pair.*'jahn_teller'" for lattice in THREE_D}}


def test_the_matrix_covers_every_preset_and_model():
    assert set(MODELS) == {"holstein", "jahn_teller", "quadrupole_jahn_teller", "sd", "ssh"}
    assert len(PRESETS) == 11 and set(REFUSED) < {(a, b) for a in PRESETS for b in MODELS}


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("lattice", list(PRESETS))
def test_each_combination_runs_with_exact_forces_or_is_refused_on_one_line(lattice, name):
    status, value = matrix.audit(lattice, name)
    if (lattice, name) in REFUSED:
        assert status == "refused", value
        assert "\n" not in value and value.startswith("model: ")
        assert re.search(REFUSED[lattice, name], value), value
    else:
        assert status == "runs", value
        assert value < 1e-6
