"""The architecture as the README's Layout section draws it, checked on the source files.

import-linter (`lint-imports`, CI) checks the layers of `bench/`; the built-in backbones and
datasets live in their own folders (installed as `bench.backbones` / `bench.datasets`), so the
rules that involve them, and module-level cycles, are checked here from the files themselves.
Imports inside functions count (a lazy import hides a circle, it does not remove it); imports
under ``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"bench": ROOT / "bench", "bench.backbones": ROOT / "backbones", "bench.datasets": ROOT / "datasets"}
PLUGIN_PACKAGES = ("bench.backbones", "bench.datasets", "bench.methods")


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The modules of bench that ``path`` imports, anywhere in it but under TYPE_CHECKING."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(filter(None, [package.rsplit(".", node.level - 1)[0], base]))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def _is_plugin(module: str) -> bool:
    return module.startswith(tuple(f"{p}." for p in PLUGIN_PACKAGES)) or module in PLUGIN_PACKAGES


def test_no_module_imports_itself_through_others():
    graph, cycles = _graph(), []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def strong(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                cycles.append(sorted([v, *component]))

    for module in sorted(graph):
        if module not in index:
            strong(module)
    assert cycles == []


def test_the_core_reaches_plugins_only_through_entry_points():
    graph = _graph()
    leaks = {m: sorted(filter(_is_plugin, imported)) for m, imported in graph.items() if not _is_plugin(m)}
    assert {m: found for m, found in leaks.items() if found} == {}


def test_the_plugin_api_imports_nothing_else_of_bench():
    graph = _graph()
    api = {m: imported for m, imported in graph.items() if m == "bench.api" or m.startswith("bench.api.")}
    assert api and all(i == "bench.api" or i.startswith("bench.api.") for found in api.values() for i in found)


def test_every_path_the_readme_names_exists():
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`((?:bench|backbones|datasets|benchmarks|tests|plugins)/[\w/.-]*)`", readme))
    assert named, "the README names no path"
    assert sorted(p for p in named if not (ROOT / p.rstrip("/")).exists()) == []
