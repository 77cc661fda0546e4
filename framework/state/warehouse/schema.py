"""The warehouse store's tables: per table its columns (name, type, not null), as the SQLite schema.

Tables live in the schema ``_orch`` of the target's database (:data:`STATE_SCHEMA`), named as the
warehouse stores unquoted names; ``code_versions``, ``run_git``, ``op_step_code`` and ``hook_runs``
hold code provenance and hook runs (:mod:`orch.state.warehouse.provenance`).
"""

from __future__ import annotations

STATE_SCHEMA = "_orch"

TEXT, INT, FLOAT = "VARCHAR", "BIGINT", "DOUBLE"

# table -> [(column, type, not null)], the SQLite schema's columns (ids made by the store).
TABLES: dict[str, list[tuple[str, str, bool]]] = {
    "meta": [("key", TEXT, True), ("value", TEXT, True)],
    "runs": [
        ("run_id", TEXT, True),
        ("command", TEXT, True),
        ("selection", TEXT, True),
        ("target", TEXT, True),
        ("started_at", TEXT, True),
        ("finished_at", TEXT, False),
        ("status", TEXT, True),
        ("pid", INT, False),
        ("host", TEXT, False),
        ("args", TEXT, True),
        ("counts", TEXT, True),
    ],
    "materializations": [
        ("id", INT, True),
        ("run_id", TEXT, True),
        ("target", TEXT, True),
        ("asset", TEXT, True),
        ("partition_key", TEXT, False),
        ("status", TEXT, True),
        ("fingerprint", TEXT, False),
        ("materialized", TEXT, False),
        ("started_at", TEXT, True),
        ("finished_at", TEXT, True),
        ("duration_s", FLOAT, True),
        ("rows", INT, False),
        ("metadata", TEXT, True),
        ("upstream", TEXT, True),
        ("error", TEXT, False),
        ("data_version", TEXT, False),  # added in schema 2
        ("versions", TEXT, False),  # added in schema 2
    ],
    "source_observations": [
        ("target", TEXT, True),
        ("source", TEXT, True),
        ("fingerprint", TEXT, True),
        ("detail", TEXT, True),
        ("observed_at", TEXT, True),
        ("changed_at", TEXT, False),
    ],
    "check_results": [
        ("id", INT, True),
        ("run_id", TEXT, True),
        ("target", TEXT, True),
        ("check_name", TEXT, True),
        ("asset", TEXT, False),
        ("partition_key", TEXT, False),
        ("status", TEXT, True),
        ("severity", TEXT, True),
        ("failing_rows", INT, True),
        ("sample", TEXT, True),
        ("duration_s", FLOAT, True),
        ("sql", TEXT, True),
        ("message", TEXT, True),
        ("at", TEXT, True),
    ],
    "op_steps": [
        ("id", INT, True),
        ("run_id", TEXT, True),
        ("job", TEXT, True),
        ("step_key", TEXT, True),
        ("op", TEXT, True),
        ("status", TEXT, True),
        ("attempts", INT, True),
        ("started_at", TEXT, True),
        ("finished_at", TEXT, True),
        ("duration_s", FLOAT, True),
        ("outputs", TEXT, True),
        ("metadata", TEXT, True),
        ("error", TEXT, False),
        ("path", TEXT, False),
        ("attempt_errors", TEXT, True),
        ("reused_from", TEXT, False),
    ],
    "ticks": [
        ("id", INT, True),
        ("name", TEXT, True),
        ("tick_time", TEXT, True),
        ("status", TEXT, True),
        ("run_ids", TEXT, True),
        ("skip_reason", TEXT, False),
        ("error", TEXT, False),
        ("recorded_at", TEXT, True),
    ],
    "sensor_cursors": [
        ("name", TEXT, True),
        ("cursor", TEXT, False),
        ("updated_at", TEXT, True),
    ],
    "run_keys": [
        ("name", TEXT, True),
        ("run_key", TEXT, True),
        ("run_id", TEXT, True),
        ("at", TEXT, True),
    ],
    "run_locks": [
        ("target", TEXT, True),
        ("lock_id", TEXT, True),
        ("pid", INT, True),
        ("host", TEXT, True),
        ("command", TEXT, True),
        ("run_id", TEXT, False),
        ("acquired_at", TEXT, True),
        ("heartbeat_at", TEXT, True),
    ],
    "code_versions": [
        ("fingerprint", TEXT, True),
        ("kind", TEXT, True),
        ("module", TEXT, False),
        ("code", TEXT, True),
        ("recorded_at", TEXT, True),
    ],
    "run_git": [
        ("run_id", TEXT, True),
        ("git_commit", TEXT, False),
        ("git_dirty", INT, True),
    ],
    "op_step_code": [
        ("run_id", TEXT, True),
        ("step_key", TEXT, True),
        ("fingerprint", TEXT, True),
    ],
    "hook_runs": [
        ("id", INT, True),
        ("run_id", TEXT, True),
        ("phase", TEXT, True),
        ("hook_index", INT, True),
        ("name", TEXT, True),
        ("step", TEXT, False),
        ("status", TEXT, True),
        ("error", TEXT, False),
        ("duration_s", FLOAT, True),
        ("at", TEXT, True),
    ],
}
RUN_COLUMNS = [c for c, _, _ in TABLES["runs"]]
MAT_COLUMNS = [c for c, _, _ in TABLES["materializations"]]
# (table, column, schema version that added it): added to an older schema by ``ALTER TABLE``
ADDED = (("materializations", "data_version", 2), ("materializations", "versions", 2))
OBSERVATION_COLUMNS = [c for c, _, _ in TABLES["source_observations"]]
CHECK_COLUMNS = [c for c, _, _ in TABLES["check_results"]]
TICK_COLUMNS = [c for c, _, _ in TABLES["ticks"]]
LOCK_COLUMNS = [c for c, _, _ in TABLES["run_locks"]]
