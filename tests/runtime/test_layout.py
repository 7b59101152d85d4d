"""The runtime's layout (runtime/__init__.py): each package imports only the ones below it,
and the pipeline of the command line loads no sympy."""

import ast
import subprocess
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"
LAYERS = ["errors", "checks", "files", "settings", "lattices", "allocator", "electrons", "dynamics",
          "ml", "data", "app"]
BASICS = {"errors", "checks", "files", "settings", "lattices", "allocator"}  # shared basics: may use one another, nothing above


def _layer(module: str) -> str:
    return module.split(".")[1]


def _imports(path: Path) -> set[str]:
    """Every runtime module that `path` imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(n for n in names if n.startswith("runtime."))
    return found


def test_every_runtime_module_belongs_to_a_layer():
    for path in RUNTIME.rglob("*.py"):
        top = path.relative_to(RUNTIME).parts[0].removesuffix(".py")
        assert top == "__init__" or top in LAYERS, f"{path} is outside the layers {LAYERS}"


def test_packages_import_only_downward():
    rank = {name: i for i, name in enumerate(LAYERS)}
    for path in RUNTIME.rglob("*.py"):
        own = path.relative_to(RUNTIME).parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        for module in _imports(path):
            other = _layer(module)
            upward = rank[other] > rank[own] and not (own in BASICS and other in BASICS)
            assert not upward, f"{path.relative_to(RUNTIME)} imports {module}, above its layer"


def test_pipeline_loads_no_sympy():
    code = ("import sys, runtime.app.pipeline, runtime.app.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sympy')[:3])")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert output.stdout.strip() == "[]"
