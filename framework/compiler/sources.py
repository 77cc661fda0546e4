"""Sources: a declared source table's node (relation, freshness, observation query)."""

from __future__ import annotations

import string
from typing import Any

from orch.compiler.settings import (
    ModelSettings,
    declared_columns,
    fingerprint_of,
    source_freshness,
)
from orch.config import ModelConfig
from orch.errors import ConfigError, Location
from orch.load import dbt_packages
from orch.load.project import Project
from orch.manifest import Node, RelationInfo
from orch.names import Relation
from orch.sql import relation_table
from sqlglot import exp


def source_node(project: Project, settings: ModelSettings, name: str, dialect: str) -> Node:
    """The node of source table ``name`` (``source.table``)."""
    src = project.sources[name]
    t = project.target
    relation = Relation(
        settings.normalize(src.source.database or t.database),
        settings.normalize(src.source.schema_ or src.source.name),  # type: ignore[arg-type]
        settings.normalize(src.table.identifier or src.table.name),  # type: ignore[arg-type]
    )
    columns = declared_columns(src.table.columns)
    tags = list(dict.fromkeys([*src.source.tags, *src.table.tags]))
    return Node(
        name=name,
        # dbt's id names the package whose YAML declares the source
        unique_id=f"source.{_package_name(project, src.path)}.{name}",
        resource_type="source",
        patch_path=src.path,
        path=src.path,
        relation=RelationInfo.from_relation(relation),
        config=ModelConfig(
            materialized="table",
            tags=tags,
            meta={**src.source.meta, **src.table.meta},
            extra=_external_location(project, src, tags),
        ),
        columns=columns,
        description=src.table.description or src.source.description,
        source_name=src.source.name,
        source_table=src.table.name,
        source_freshness=source_freshness(src, project.root),
        fingerprint=fingerprint_of(name),
        observe=_observe_sql(src.table.observe or src.source.observe, relation, src, dialect),
    )


def _external_location(project: Project, src: Any, tags: list[str]) -> dict[str, str]:
    """dbt-duckdb's ``external_location`` of a source table, formatted as dbt-duckdb formats it:
    ``{"external_location": SQL}`` (what ``source()`` reads instead of a relation), else ``{}``.

    Looked up in the source's and the table's ``meta:`` and ``config:`` (the table's win), then
    formatted with the table's ``name``, ``identifier``, ``schema``, ``database``, ``tags`` and
    those settings, by the ``formatter`` named (``newstyle`` ``{name}``, ``oldstyle``
    ``%(name)s``, ``template`` ``${name}``); a plain path is quoted, a function call is not.
    """
    table_config = (src.table.model_extra or {}).get("config") or {}
    settings = {**src.source.meta, **src.table.meta, **src.source.config, **table_config}
    template = settings.get("external_location")
    if not template:
        return {}
    values = {
        "name": src.table.name,
        "identifier": src.table.identifier or src.table.name,
        "schema": src.source.schema_ or src.source.name,
        "database": src.source.database or project.target.database,
        "tags": tags,
        **settings,
    }
    formatter = settings.get("formatter", "newstyle")
    where = Location(src.path)
    try:
        if formatter == "newstyle":
            location = str(template).format_map(values)
        elif formatter == "oldstyle":
            location = str(template) % values
        elif formatter == "template":
            location = string.Template(str(template)).substitute(values)
        else:
            raise ConfigError(
                f"source '{src.source.name}.{src.table.name}': formatter '{formatter}' is not "
                "one of newstyle, oldstyle, template",
                location=where,
                hint="Use formatter: newstyle ({name}), oldstyle (%(name)s) or template (${name})",
            )
    except (KeyError, ValueError, TypeError) as err:
        raise ConfigError(
            f"source '{src.source.name}.{src.table.name}': its external_location {template!r} "
            f"cannot be formatted: {err}",
            location=where,
            hint="Name only name, identifier, schema, database, tags or a meta/config key",
        ) from err
    if "(" not in location and not location.startswith("'"):
        location = "'" + location.replace("'", "''") + "'"
    return {"external_location": location}


def _observe_sql(written: str | None, relation: Relation, src: Any, dialect: str) -> str:
    """A source's observation query: the user's ``observe:``, else its row count and, with
    a ``loaded_at_field``, the newest load time."""
    if written:
        return written.strip()
    loaded = src.table.loaded_at_field or src.source.loaded_at_field
    parts: list[exp.Expr] = [exp.Count(this=exp.Star())]
    if loaded:
        parts.append(exp.Max(this=exp.column(loaded)))
    query = exp.select(*parts).from_(relation_table(relation))
    return query.sql(dialect=dialect)


def _package_name(project: Project, path: str) -> str:
    package = dbt_packages.package_of(project.packages, path)
    return package.name if package is not None else project.name
