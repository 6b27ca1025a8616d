"""No import cycle in sklog, and no module of it imports the ``sklog`` command.

The graph is read with ``ast`` from the source files, so imports inside
functions count as much as those at the top of a module: a cycle through a
function-level import is a cycle waiting for its first caller.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sklog

PACKAGE = Path(sklog.__file__).parent


def _modules(root):
    """Dotted module name -> (path, is_package) for every ``.py`` file under ``root``."""
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def import_graph(root):
    """Module -> the modules of the same package it imports, anywhere in its source.

    ``from package import name`` points at ``package.name`` when that is a
    module, else at ``package``.
    """
    modules = _modules(root)
    graph = {}
    for name, (path, is_package) in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[:len(base) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module
                for alias in node.names:
                    child = f"{source}.{alias.name}"
                    targets.add(child if child in modules else source)
        graph[name] = sorted(t for t in targets if t in modules and t != name)
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or ``None``."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in graph[node]:
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in graph:
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_sklog_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert "sklog.cli" in graph and "sklog.benchmarks.cells.alogscan" in graph
    assert "sklog.methods" in graph["sklog.benchmarks._registry"]  # relative imports resolved
    assert "sklog.inspection" in graph["sklog.benchmarks._harness"]  # function-level ones too
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_nothing_imports_the_command():
    graph = import_graph(PACKAGE)
    importers = sorted(name for name, targets in graph.items() if "sklog.cli" in targets)
    assert importers == []


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .b import helper\n")
    (package / "a.py").write_text("from .sub import helper\n")
    (package / "sub" / "b.py").write_text("def helper():\n    from ..a import x\n")
    (package / "c.py").write_text("import pkg.a\n")
    graph = import_graph(package)
    assert graph["pkg.c"] == ["pkg.a"] and graph["pkg.sub"] == ["pkg.sub.b"]
    assert find_cycle(graph) == ["pkg.a", "pkg.sub", "pkg.sub.b", "pkg.a"]
    (package / "sub" / "b.py").write_text("def helper():\n    pass\n")
    assert find_cycle(import_graph(package)) is None
