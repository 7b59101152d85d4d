"""The import structure of `grouptheory`: no cycles between its modules; the sympy-free
modules load without sympy."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import grouptheory

PACKAGE = Path(grouptheory.__file__).parent


def _module_name(path: Path) -> str:
    parts = ("grouptheory", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path) -> set[str]:
    """The grouptheory modules `name` imports anywhere in its source (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # `from package import submodule` imports the submodule
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module
                       for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


def _graph() -> dict[str, set[str]]:
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    # the package's public names import their modules on first use
    graph["grouptheory"] |= {f"grouptheory.{m}" for m in grouptheory.LAZY.values()}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, …, a], or None (depth-first search)."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_sees_relative_and_deferred_imports():
    graph = _graph()
    assert "grouptheory.operations" in graph["grouptheory.catalog"]
    assert "grouptheory.exact" in graph["grouptheory.operations"]  # `from . import exact`
    assert "grouptheory.descriptors.spec" in graph["grouptheory"]  # lazy public names
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_grouptheory_modules():
    assert _cycle(_graph()) is None


SYMPY_FREE = ["grouptheory.errors", "grouptheory.numbers", "grouptheory.presets"]


@pytest.mark.parametrize("module", SYMPY_FREE)
def test_sympy_free_modules_import_no_sympy(module):
    code = f"import {module}, sys; assert 'sympy' not in sys.modules, 'sympy was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)


def test_public_names_resolve_lazily():
    for name in grouptheory.__all__:
        assert getattr(grouptheory, name).__module__.startswith("grouptheory.")
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        grouptheory.nope  # noqa: B018
