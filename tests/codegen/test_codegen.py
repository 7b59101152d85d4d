"""Code generation: printers, the form of the generated code, the CLI and the drift check."""

import importlib.util
import re
from pathlib import Path

import pytest
import sympy as sp

from codegen.catalog import CATALOG, check
from codegen.printers import TorchPrinter, TritonPrinter, grouped_sum, statements
from runtime.app.cli import main

GENERATED = Path(__file__).resolve().parents[2] / "generated"


def test_printers_fold_constants_and_avoid_pow():
    x, y = sp.symbols("x y", real=True)
    assert TorchPrinter().doprint(x**2 * sp.sqrt(2)) == "1.4142135623730951*((x)*(x))"
    assert TritonPrinter().doprint(1 / sp.sqrt(x**2 + y**2)) == \
        "(1.0/(tl.sqrt(((x)*(x)) + ((y)*(y)))))"
    assert "**" not in TorchPrinter().doprint((x + 1) ** sp.Rational(-3, 2))
    lines, _ = statements([sp.sqrt(2) * x + sp.sqrt(2) * y, sp.sqrt(2) * x * y],
                                TritonPrinter())
    assert not any(re.fullmatch(r"\s*t\d+ = [0-9.e-]+", line) for line in lines)


def test_grouped_sums_are_constant_folded():
    assert grouped_sum([("1/2", "a"), ("-1/2", "b"), ("1/2", "c"), ("-1/2", "d")],
                       TorchPrinter()) == "0.5*(a - b + c - d)"
    assert grouped_sum([("1", "a"), ("-1", "b")], TorchPrinter()) == "a - b"


def test_square_scalar_blocks_read_like_eqs_66_67():
    """Constant-folded ±1 sums over the 4- and 8-site blocks, not dense products."""
    text = (GENERATED / "square_scalar_reference.py").read_text()
    stencil = text[text.index("def _stencil_0"):text.index("def _invariants")]
    assert re.search(r"y1 = 0\.5\*\(v\d+ \+ v\d+ \+ v\d+ \+ v\d+\)  # f\(A1,2\)", stencil)
    assert re.search(r"= 0\.5\*\(v\d+ - v\d+ - v\d+ \+ v\d+\)  # f\(B1,1\)", stencil)
    eight = re.search(r"= 0\.3535533905932738\*\(((?:-?v\d+(?: [+-] )?){8})\)  # f\(A2,", stencil)
    assert eight, "the 8-site A2 coefficient of eq. (67) is a ±1 sum"
    assert "matmul" not in stencil and "@" not in stencil


def test_generate_cli_writes_an_importable_module(tmp_path, capsys):
    assert main(["generate", "--lattice", "square", "--field", "scalar", "--shells", "2",
                 "--descriptor", "power", "--name", "tiny_power",
                 "--output", str(tmp_path)]) == 0
    path = tmp_path / "tiny_power.py"
    assert "7 features" in capsys.readouterr().out
    module_spec = importlib.util.spec_from_file_location("tiny_power", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    assert module.DESCRIPTOR.n_features == 7 and module.FAMILY == "power"
    assert main(["generate", "--lattice", "square", "--field", "scalar"]) == 2
    assert "give --lattice, --field and --descriptor" in capsys.readouterr().err


@pytest.mark.slow
def test_committed_catalog_matches_its_specs():
    """`latticeff generate --check`: regenerating every catalog module changes nothing."""
    assert check() == []
    assert len(CATALOG) == 11


def test_drift_is_detected(tmp_path):
    (tmp_path / "square_scalar_power.py").write_text("# edited by hand\n")
    assert "square_scalar_power" in check(tmp_path)
