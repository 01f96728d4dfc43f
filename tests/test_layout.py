"""The package's rooms: module size, no import cycles, what may import what, and
matplotlib only where figures are drawn (DEVELOPERS.md, "Layout").

Imports are read from the source with ``ast`` (function-level imports included), so a
lazy import that closes a cycle or crosses a layer is caught as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {
    "pyro_causalmmm": "pyro_causalmmm",
    "models": "pyro_causalmmm.models",
    "guides": "pyro_causalmmm.guides",
}
MAX_LINES = 400

# room -> rooms it may import (a room is a subpackage or a top-level module of the
# package; "__init__" is the package itself, e.g. ``from pyro_causalmmm import __version__``)
ALLOWED = {
    "errors": set(),
    "io": {"errors"},
    "data": {"errors", "io"},
    "simulate": {"errors"},
    "evaluation": {"errors"},
    "models": {"errors"},
    "guides": {"errors", "models"},
    "inference": {"errors", "io", "models", "guides"},
    "api": {"__init__", "errors", "io", "data", "models", "guides", "inference"},
    "posterior": {
        "__init__",
        "errors",
        "io",
        "data",
        "models",
        "guides",
        "inference",
        "api",
        "evaluation",
        "simulate",
    },
    "decisions": {"__init__", "errors", "io", "data", "models", "posterior", "api"},
    "report": {"errors", "io", "posterior"},
    "workflow": {
        "__init__",
        "errors",
        "io",
        "data",
        "simulate",
        "evaluation",
        "models",
        "guides",
        "inference",
        "api",
        "posterior",
        "decisions",
        "report",
    },
    "cli": {
        "__init__",
        "errors",
        "io",
        "data",
        "simulate",
        "evaluation",
        "models",
        "guides",
        "inference",
        "api",
        "posterior",
        "decisions",
        "report",
        "workflow",
    },
    "__init__": {"errors", "data", "api", "models", "inference"},
}
MATPLOTLIB_ROOMS = {"report"}


def _modules() -> dict[str, Path]:
    out = {}
    for folder, package in SOURCES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join((package, *parts))] = path
    return out


MODULES = _modules()


def _executed_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (never run, so no cycle)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING"):
                todo += child.orelse
                continue
            todo.append(child)


def _imports(path: Path, module: str) -> list[str]:
    """Every module imported by ``path`` (absolute names; relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = []
    for node in _executed_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.append(base)
            # ``from pkg import submodule`` imports the submodule
            names += [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
    return names


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _internal_graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        deps = {n for n in _imports(path, module) if n in MODULES and n != module}
        graph[module] = deps
    return graph


def test_sources_found():
    assert len(MODULES) > 40
    assert "pyro_causalmmm.data.container" in MODULES and "pyro_causalmmm.models" in MODULES


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_small(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (> {MAX_LINES}); split it by job"


def test_no_import_cycles():
    """A package's own ``__init__`` re-exporting its submodules is not an edge of the graph
    (Python initialises it first in any case); every other import is."""
    graph = _internal_graph()
    for module in graph:
        if MODULES[module].name == "__init__.py":
            graph[module] = {d for d in graph[module] if not d.startswith(module + ".")}
    for module, deps in graph.items():  # importing a submodule runs its package's __init__
        graph[module] = {d for d in deps if not module.startswith(d + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :] + [dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_rooms_import_only_what_they_may():
    bad = []
    for module, path in MODULES.items():
        room = _room(module)
        for name in _imports(path, module):
            if name == "pyro_causalmmm" or name.startswith("pyro_causalmmm."):
                target = _room(name)
                if target != room and target not in ALLOWED[room]:
                    bad.append(f"{module} imports {name} ({room} may not import {target})")
    assert not bad, "\n".join(bad)


def test_matplotlib_only_in_report():
    bad = [
        module
        for module, path in MODULES.items()
        if _room(module) not in MATPLOTLIB_ROOMS
        and any(n.split(".")[0] == "matplotlib" for n in _imports(path, module))
    ]
    assert not bad, f"modelling code imports matplotlib: {bad}"


def test_every_room_says_what_lives_there():
    for module, path in MODULES.items():
        if path.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(path.read_text()))
            assert doc and len(doc) > 60, f"{module} has no package docstring"
