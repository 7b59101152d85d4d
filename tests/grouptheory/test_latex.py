"""`inspect … --latex` writes LaTeX fragments: TeX names for every symbol and left-hand side,
and (where a TeX engine is installed) pdflatex compiles them."""

import shutil
import subprocess

import pytest

from grouptheory.latex import group_name, symbol_name
from runtime.app.cli import main

COMMANDS = [
    ["inspect", "group", "Oh", "--latex"],
    ["inspect", "group", "kagome", "--site", "2", "--latex"],
    ["inspect", "decompose", "honeycomb", "--latex"],
    ["inspect", "decompose", "cubic", "--field", "jahn_teller", "--shells", "1", "--latex"],
    ["inspect", "decompose", "square", "--field", "spin", "--shells", "2", "--latex"],
]


def fragment(capsys, command) -> str:
    assert main(command) == 0
    return capsys.readouterr().out


def test_symbols_and_left_hand_sides_are_tex():
    assert symbol_name("Q[-1,0|1]") == "Q^{(1)}_{-1,0}"
    assert symbol_name("Qx[0,0,0]") == "Q^{x}_{0,0,0}"
    assert symbol_name("p[0,0;1,0]") == "p_{(0,0),(1,0)}"
    assert group_name("Oh") == "O_{h}" and group_name("D4h") == "D_{4h}"


def test_decompose_latex_has_no_plain_text_math(capsys):
    out = fragment(capsys, COMMANDS[2])
    assert "Q[" not in out and "f^(" not in out and "⊕" not in out
    assert r"f^{(A_{1},2)} = \frac{\sqrt{3} Q^{(1)}_{-1,0}}{3}" in out
    assert r"$10 = 3A_{1} \oplus A_{2} \oplus 3E$" in out
    assert "$O_{h}$" in fragment(capsys, COMMANDS[0])


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex installed")
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c[1:4]))
def test_pdflatex_compiles_the_fragment(capsys, tmp_path, command):
    (tmp_path / "fragment.tex").write_text(fragment(capsys, command))
    (tmp_path / "main.tex").write_text("\\documentclass{article}\n\\begin{document}\n"
                                       "\\input{fragment}\n\\end{document}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           "main.tex"], check=False, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "main.pdf").read_bytes()[:4] == b"%PDF"
