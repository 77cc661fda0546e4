"""The warehouse catalog: each built relation's columns and types, for the site (like dbt's
``catalog.json``).

Asked through the adapter (:meth:`Adapter.schema_columns`: one query per schema) by
``orch docs generate``, by ``orch ui`` when it starts, and by each ``orch ui`` worker at the end of
its run (while the run still owns the warehouse, so the server itself never opens it after a run:
a DuckDB file opened by the server would refuse the user's next build or query). What was read is
saved to ``target/catalog.json`` keyed by relation; a warehouse that cannot be opened now (a DuckDB
file another build holds, a network fault) gives the saved catalog and a warning, never a failure.
Python assets need none of this: they record the schema they produced at materialization
(``output_schema`` in the materialization's metadata).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from orch.adapters import get_adapter
from orch.errors import OrchError
from orch.load.project import Project
from orch.manifest import Manifest

CATALOG_FILE = "catalog.json"

#: asset name -> [[column, type], ...] in the warehouse's column order
Columns = dict[str, list[list[str]]]
#: "database.schema" (database "" for the default) -> stored table name -> its columns
Relations = dict[str, dict[str, list[list[str]]]]
Schema = tuple[str | None, str]


@dataclass(frozen=True)
class Catalog:
    """Columns of the built relations by asset, and why they are the saved ones when reading
    failed."""

    columns: Columns = field(default_factory=dict)
    warning: str | None = None


def _key(schema: Schema) -> str:
    return f"{schema[0] or ''}.{schema[1]}"


def catalog_schemas(manifest: Manifest, built: Collection[str] | None = None) -> list[Schema]:
    """The (database, schema) pairs holding relations of SQL models and seeds (of ``built`` only,
    when given)."""
    found: set[Schema] = set()
    for name, node in manifest.nodes.items():
        if built is not None and name not in built:
            continue
        if node.relation is None or node.language == "python" or node.materialized == "ephemeral":
            continue
        if node.resource_type in ("model", "seed", "snapshot"):
            found.add((node.relation.database, node.relation.schema_name))
    return sorted(found, key=_key)


def refresh(project: Project, schemas: Iterable[Schema]) -> str | None:
    """Read ``schemas`` from the warehouse into ``target/catalog.json``; a warning on failure."""
    schemas = list(schemas)
    if not schemas:
        return None
    try:
        with get_adapter(project.target, project.root) as adapter:
            relations: Relations = {}
            for database, schema in schemas:
                tables = adapter.schema_columns(database, schema)
                relations[_key((database, schema))] = {
                    t: [[c.name, c.data_type] for c in cols] for t, cols in tables.items()
                }
    except OrchError as err:
        return f"column types not read from the warehouse: {err.message}"
    saved = load_relations(project)
    saved.update(relations)
    _save(project.target_dir / CATALOG_FILE, saved)
    return None


def read_catalog(project: Project, manifest: Manifest, built: Collection[str]) -> Catalog:
    """Ask the warehouse for the schemas of the ``built`` SQL models and seeds (a warehouse never
    built is not opened, so not created), then the columns by asset from the saved catalog."""
    warning = refresh(project, catalog_schemas(manifest, built))
    return Catalog(saved_columns(project, manifest), warning)


def load_relations(project: Project) -> Relations:
    """The saved catalog (empty when none or unreadable)."""
    try:
        data = json.loads((project.target_dir / CATALOG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    relations = data.get("relations") if isinstance(data, dict) else None
    return relations if isinstance(relations, dict) else {}


def saved_columns(project: Project, manifest: Manifest) -> Columns:
    """The saved catalog by asset: each SQL model's and seed's relation looked up (by name,
    case-insensitively, as warehouses fold unquoted names)."""
    relations = {
        k: {t.lower(): cols for t, cols in v.items()} for k, v in load_relations(project).items()
    }
    out: Columns = {}
    for name, node in manifest.nodes.items():
        rel = node.relation
        if rel is None or node.language == "python":
            continue
        cols = relations.get(_key((rel.database, rel.schema_name)), {}).get(rel.identifier.lower())
        if cols:
            out[name] = cols
    return out


def _save(path: Path, relations: Relations) -> None:
    """Write ``target/catalog.json`` (names and types only: nothing secret)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"relations": relations}, sort_keys=True), encoding="utf-8")
    except OSError:
        pass  # a read-only project folder: the catalog is still used for this site
