"""The warehouse catalog: each built relation's columns and types, for the site (like dbt's
``catalog.json``).

Asked through the adapter (:meth:`Adapter.schema_columns`: one query per schema), at
``orch docs generate`` time and by ``orch ui`` at start and after each run it launched. Reading is
best-effort: a warehouse that cannot be opened now (a DuckDB file another build holds, a network
fault) gives the last catalog written to ``target/catalog.json`` and a warning, never a failure.
Python assets need none of this: they record the schema they produced at materialization
(``output_schema`` in the materialization's metadata).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orch.adapters import get_adapter
from orch.errors import OrchError
from orch.load.project import Project
from orch.manifest import Manifest

CATALOG_FILE = "catalog.json"

#: asset name -> [[column, type], ...] in the warehouse's column order
Columns = dict[str, list[list[str]]]


@dataclass(frozen=True)
class Catalog:
    """Columns of the built relations, and why there are none when reading failed."""

    columns: Columns = field(default_factory=dict)
    warning: str | None = None


def read_catalog(project: Project, manifest: Manifest, built: Collection[str]) -> Catalog:
    """Ask the warehouse for the columns of the SQL models and seeds in ``built`` (the assets
    with a successful materialization: nothing else has a relation to ask about, and a warehouse
    never built is not opened, so not created).

    Falls back to the saved ``target/catalog.json`` (with a warning) when the warehouse cannot be
    read; saves a fresh catalog there when it could.
    """
    wanted: dict[tuple[str | None, str], dict[str, str]] = {}  # (db, schema) -> name -> asset
    for name in sorted(built):
        node = manifest.nodes.get(name)
        if node is None or node.relation is None or node.language == "python":
            continue
        if node.resource_type not in ("model", "seed", "snapshot"):
            continue
        if node.materialized == "ephemeral":
            continue
        rel = node.relation
        wanted.setdefault((rel.database, rel.schema_name), {})[rel.identifier.lower()] = name
    path = project.target_dir / CATALOG_FILE
    if not wanted:
        return Catalog()
    try:
        adapter = get_adapter(project.target, project.root)
        with adapter:
            columns: Columns = {}
            for (database, schema), assets in wanted.items():
                for table, cols in adapter.schema_columns(database, schema).items():
                    asset = assets.get(table.lower())
                    if asset is not None:
                        columns[asset] = [[c.name, c.data_type] for c in cols]
    except OrchError as err:
        saved = load_saved(path)
        return Catalog(saved, f"column types not read from the warehouse: {err.message}")
    save(path, columns)
    return Catalog(columns)


def load_saved(path: Path) -> Columns:
    """The catalog saved by the last successful read (empty when none or unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("columns", {}) if isinstance(data, dict) else {}


def save(path: Path, columns: Mapping[str, list[list[str]]]) -> None:
    """Write ``target/catalog.json`` (no values, only names and types: nothing secret)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"columns": columns}, sort_keys=True), encoding="utf-8")
    except OSError:
        pass  # a read-only project folder: the catalog is still used for this site
