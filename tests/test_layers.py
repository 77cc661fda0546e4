"""The architecture rules of CONVENTIONS.md, checked on the source (an AST test, no imports run).

- Packages by stage, each importing only from its own layer or below:
  ground < load < compiler < run < automation < docs/ui < cli, with adapters and state above
  ground and below run (adapters never see the loader or compiler, state never sees them either).
  Imports inside ``if TYPE_CHECKING:`` do not count (they never run).
- No import circles between modules (module-level imports; a function-level import is allowed
  only to keep a heavy dependency off a light path, and never counts as an edge).
- Only adapters import a database driver; core code talks to warehouses through the Adapter.
- Adapters import only orch's lower layers (errors, names, config, redaction) and other adapters.
- SQL text is parsed only in ``sql.py`` (the one sqlglot parsing boundary).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK = sorted((ROOT / "framework").rglob("*.py"))
ADAPTERS = sorted((ROOT / "adapters").rglob("*.py"))
DRIVERS = ("duckdb", "snowflake")
ADAPTER_MAY_IMPORT = ("orch.errors", "orch.names", "orch.config", "orch.redaction", "orch.adapters")
SQL_PARSERS = {"parse", "parse_one", "maybe_parse", "transpile"}

# Which layers each layer may import from (its own included).
_BELOW_RUN = {"ground", "load", "compiler", "adapters", "state"}
MAY_IMPORT: dict[str, set[str]] = {
    "ground": {"ground"},
    "adapters": {"ground", "adapters"},
    "state": {"ground", "adapters", "state"},
    "load": {"ground", "load"},
    "compiler": {"ground", "load", "compiler"},
    "run": _BELOW_RUN | {"run"},
    "automation": _BELOW_RUN | {"run", "automation"},
    "docs": _BELOW_RUN | {"run", "automation", "docs"},
    "ui": _BELOW_RUN | {"run", "automation", "docs", "ui"},
    "cli": _BELOW_RUN | {"run", "automation", "docs", "ui", "cli"},
}
STAGE_PACKAGES = {"load", "compiler", "run", "state", "automation", "docs", "ui", "cli"}
# User-facing entry points that drive whole runs: on top, beside the command line.
TOP_MODULES = {"testing", "pytest_plugin"}


def module_name(path: Path) -> str:
    """``orch.run.plan`` for framework/run/plan.py, ``orch.adapters.base`` for adapters/base.py."""
    if path.is_relative_to(ROOT / "adapters"):
        parts = ["orch", "adapters", *path.relative_to(ROOT / "adapters").with_suffix("").parts]
    else:
        parts = ["orch", *path.relative_to(ROOT / "framework").with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """The layer a module (``orch.x.y``) belongs to."""
    parts = module.split(".")
    if len(parts) == 1:
        return "ground"  # the package itself: lazy re-exports only (PEP 562)
    if parts[1] == "adapters":
        return "adapters"
    if parts[1] in STAGE_PACKAGES:
        return parts[1]
    if parts[1] in TOP_MODULES:
        return "cli"
    return "ground"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module, here: str, is_package: bool) -> list[str]:
    """Modules imported when the module runs: top level, try/if bodies, not TYPE_CHECKING."""
    out: list[str] = []

    def visit(stmts: list[ast.stmt]) -> None:
        for node in stmts:
            if isinstance(node, ast.Import):
                out.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, here, is_package)
                if base is None:
                    continue
                out.append(base)
                # ``from orch.load import dbt`` imports the module orch.load.dbt
                out.extend(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if not _is_type_checking(node):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(tree.body)
    return out


def _absolute(node: ast.ImportFrom, here: str, is_package: bool) -> str | None:
    if node.level == 0:
        return node.module
    base = here.split(".") if is_package else here.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def import_graph() -> dict[str, set[str]]:
    """Module -> the orch modules it imports at module level."""
    paths = {module_name(p): p for p in [*FRAMEWORK, *ADAPTERS]}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = _module_level_imports(tree, name, path.name == "__init__.py")
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", [*FRAMEWORK, *ADAPTERS], ids=_rel)
def test_a_module_imports_only_its_layer_or_below(path: Path) -> None:
    here = module_name(path)
    mine = layer_of(here)
    upward = sorted(
        f"{m} ({layer_of(m)})"
        for m in import_graph()[here]
        if layer_of(m) not in MAY_IMPORT[mine] and m != "orch"
    )
    assert upward == [], f"{_rel(path)} ({mine}) imports upward: {upward}"


def test_no_import_circles() -> None:
    graph = import_graph()
    # Tarjan's strongly connected components: any component of two or more modules is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    # A package's __init__ re-exporting its own submodules is not a circle of concepts.
    real = [c for c in circles if not _package_and_children(c)]
    assert real == [], f"import circles: {real}"


def _package_and_children(component: list[str]) -> bool:
    shortest = min(component, key=len)
    return all(m == shortest or m.startswith(shortest + ".") for m in component)


@pytest.mark.parametrize("path", FRAMEWORK, ids=_rel)
def test_core_never_imports_a_driver(path: Path) -> None:
    drivers = [m for m in _imports(path) if m.split(".")[0] in DRIVERS]
    assert drivers == [], f"{_rel(path)} imports {drivers}: go through orch.adapters instead"


@pytest.mark.parametrize("path", ADAPTERS, ids=_rel)
def test_adapters_import_only_lower_layers(path: Path) -> None:
    upward = [
        m for m in _imports(path) if m.startswith("orch") and not m.startswith(ADAPTER_MAY_IMPORT)
    ]
    assert upward == [], f"{_rel(path)} imports {upward} (adapters sit below the core)"


@pytest.mark.parametrize("path", [p for p in FRAMEWORK if p.name != "sql.py"], ids=_rel)
def test_sql_text_is_parsed_only_in_sql_py(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (
                node.func.attr in SQL_PARSERS
                and isinstance(owner, ast.Name)
                and owner.id in ("sqlglot", "exp")
            ):
                calls.append(f"{owner.id}.{node.func.attr} (line {node.lineno})")
    assert calls == [], f"{_rel(path)} parses SQL itself: {calls}; use orch.sql"


def test_the_package_ships_type_information() -> None:
    assert (ROOT / "framework" / "py.typed").is_file()
