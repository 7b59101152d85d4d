"""Start-up of the command line: the parser and `--help` load neither torch nor sympy, and
`inspect` (sympy) loads no torch; each command imports its modules when it runs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sympy", "numpy", "h5py", "dask", "triton", "matplotlib", "jinja2", "scipy")


def loaded_after(code: str) -> set[str]:
    """The HEAVY packages in sys.modules after `code` runs in a fresh interpreter."""
    probe = (f"import sys\n{code}\n"
             f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    return set(output.stdout.split())


def help_of(*words: str) -> str:
    return ("import contextlib, io, runtime.app.cli as c\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            f"    c.main({[*words, '--help']!r})")


def test_the_parser_loads_nothing_heavy():
    assert loaded_after("import runtime.app.cli as c; c.build_parser()") == set()


def test_help_loads_neither_torch_nor_sympy():
    for words in ((), ("dataset",), ("train",), ("simulate",), ("generate",),
                  ("inspect", "group")):
        assert loaded_after(help_of(*words)) == set(), words


def test_python_m_help_loads_neither_torch_nor_sympy():
    code = ("import runpy, contextlib, io\n"
            "sys.argv = ['latticeff', '--help']\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    runpy.run_module('runtime.app.cli', run_name='__main__')")
    assert loaded_after(code) == set()


def test_inspect_loads_sympy_but_no_torch():
    code = ("import contextlib, io, runtime.app.cli as c\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert c.main(['inspect', 'group', 'square']) == 0")
    loaded = loaded_after(code)
    assert "sympy" in loaded and "torch" not in loaded


def test_one_electrons_module_does_not_load_the_models():
    code = ("import runtime.electrons.ensembles\n"
            "assert 'runtime.electrons.model' not in sys.modules\n"
            "from runtime.electrons import Holstein\n"
            "assert 'runtime.electrons.model' in sys.modules")
    loaded_after(code)
