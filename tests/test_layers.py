"""The architecture rules of CONVENTIONS.md, checked on the source (an AST test, no imports run).

- Only adapters import a database driver; core code talks to warehouses through the Adapter.
- Adapters import only orch's lower layers (errors, names, config, redaction) and other adapters.
- SQL text is parsed only in ``sql.py`` (the one sqlglot parsing boundary).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK = sorted((ROOT / "framework").rglob("*.py"))
ADAPTERS = sorted((ROOT / "adapters").rglob("*.py"))
DRIVERS = ("duckdb", "snowflake")
ADAPTER_MAY_IMPORT = ("orch.errors", "orch.names", "orch.config", "orch.redaction", "orch.adapters")
SQL_PARSERS = {"parse", "parse_one", "maybe_parse", "transpile"}


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
