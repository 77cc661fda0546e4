"""dbt snapshots in the compiler: settings checked, ``materialized='snapshot'``, their relation.

A snapshot compiles like a SQL model (its query's refs and sources resolved the same way); what
differs is decided here: the settings dbt requires (strategy, unique_key, updated_at or
check_cols), and the relation: ``target_schema`` / ``target_database`` (dbt's legacy settings)
are used as written, while ``schema`` / ``database`` go through ``generate_schema_name`` like a
model's (dbt >= 1.9).
"""

from __future__ import annotations

from orch.compiler.settings import ModelSettings
from orch.config import ModelConfig
from orch.load.dbt_snapshots import check_snapshot_config
from orch.names import Relation


def snapshot_config(name: str, path: str, config: ModelConfig) -> ModelConfig:
    """The snapshot's merged config, checked, with ``materialized='snapshot'``."""
    check_snapshot_config(name, path, {**config.extra, "unique_key": config.unique_key})
    return config.model_copy(update={"materialized": "snapshot"})


def snapshot_relation(settings: ModelSettings, name: str, config: ModelConfig) -> Relation:
    """Where dbt writes the snapshot: legacy ``target_schema``/``target_database`` win."""
    rel = settings.relation_for(name, config)
    extra = config.extra
    database = settings.normalize(extra.get("target_database")) or rel.database
    schema = settings.normalize(extra.get("target_schema")) or rel.schema
    return Relation(database, schema, rel.name)
