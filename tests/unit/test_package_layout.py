"""The package's layout: every module imports, and no module imports itself back through others.

Imports inside functions count too (the one cycle the package had, spark_publish <-> cli,
went through a function-level import). The import graph is read from the source with ast,
so the test needs no build and catches a cycle whatever order the modules load in.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import chengyu_cluster

PACKAGE = Path(chengyu_cluster.__file__).parent


def module_name(path: Path) -> str:
    parts = ["chengyu_cluster", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
# Imports that close a cycle, each with its reason; to be removed, not added to (none left: the
# readers' shared types live in inputs/base.py).
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()


def imported_modules(name: str, path: Path) -> set[str]:
    """The package's modules that `name` imports anywhere in its file (absolute or relative)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([base] if base else []))
            # `from package import module` imports the module; `from module import name` the module.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a list of nodes (first = last), or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None  # a diamond is no cycle


def test_relative_and_absolute_imports_are_both_read(tmp_path):
    assert imported_modules("chengyu_cluster.cli", MODULES["chengyu_cluster.cli"]) >= {
        "chengyu_cluster.exits",
        "chengyu_cluster.publish.versions",
        "chengyu_cluster.pipeline.build",
    }


def test_no_module_imports_itself_back():
    graph = {
        name: {t for t in imported_modules(name, path) if (name, t) not in KNOWN_CYCLE_EDGES}
        for name, path in MODULES.items()
    }
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_every_module_imports():
    for name in MODULES:
        importlib.import_module(name)
