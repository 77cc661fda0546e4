"""The SQLite store's tables: the schema script, its migrations and the column lists.

SQLite schema (``schema_version`` 1, in table ``meta``; tables are created on first open, and
:data:`MIGRATIONS` upgrades an older file in place):

- ``runs``: run_id (uuid4 hex) PK, command, selection, target, started_at, finished_at, status
  (running/success/failed/interrupted), pid, host, args JSON, counts JSON.
- ``materializations``: id PK, run_id, target, asset, partition_key (NULL when unpartitioned),
  status (success/failed), fingerprint, materialized, started_at, finished_at, duration_s, rows,
  metadata JSON, upstream JSON (``[{asset, partition, run_id}]``: exactly what it read), error.
- ``materialization_latest``: per (target, asset, pkey) the id of the last successful row and of the
  last attempt; ``pkey`` is the partition key or '' when unpartitioned. It is written in the same
  transaction as the history row, so "latest" queries cost one indexed join, whatever the history.
- ``check_results``: id PK, run_id, target, check_name, asset, partition_key, status
  (pass/warn/fail/error/skipped), severity, failing_rows, sample JSON (at most :data:`SAMPLE_ROWS`
  rows), duration_s, sql, message, at.
- ``ticks``: id PK, name (schedule or sensor), tick_time, status, run_ids JSON, skip_reason, error,
  recorded_at. ``sensor_cursors``: name PK, cursor, updated_at. ``run_keys``: (name, run_key) PK,
  run_id, at: the primary key is what guarantees a run key never runs twice.
- ``run_locks``: target PK, lock_id, pid, host, command, run_id, acquired_at, heartbeat_at.
- ``code_versions``: fingerprint PK, kind (sql/python), module, code, recorded_at: the code that
  built a materialization, once per fingerprint (materializations name it by their fingerprint).
- ``run_git``: run_id PK, git_commit (NULL: not a git work tree), git_dirty: the project's git
  state when the run started.
- ``op_step_code``: (run_id, step_key) PK, fingerprint: the op code (in ``code_versions``) an
  op step ran (op steps have no fingerprint of their own: it is a sha256 of the op's source).
- ``hook_runs``: id PK, run_id, phase, hook_index, name, step, status (success/error), error,
  duration_s, at.

The tables are created with the others on every writable open (``CREATE TABLE IF NOT EXISTS``),
so an older file gains them on its next write; until then a read-only store answers empty.
"""

from __future__ import annotations

from collections.abc import Sequence

from orch.state.records import HOOK_RUN_COLUMNS, OP_STEP_COLUMNS

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, command TEXT NOT NULL, selection TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
    pid INTEGER, host TEXT, args TEXT NOT NULL DEFAULT '{}', counts TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
CREATE INDEX IF NOT EXISTS runs_by_target ON runs (target, status);
CREATE TABLE IF NOT EXISTS materializations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, target TEXT NOT NULL,
    asset TEXT NOT NULL, partition_key TEXT, status TEXT NOT NULL, fingerprint TEXT,
    materialized TEXT, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
    duration_s REAL NOT NULL, rows INTEGER, metadata TEXT NOT NULL DEFAULT '{}',
    upstream TEXT NOT NULL DEFAULT '[]', error TEXT, data_version TEXT, versions TEXT
);
CREATE INDEX IF NOT EXISTS materializations_by_asset
    ON materializations (asset, partition_key, id);
CREATE INDEX IF NOT EXISTS materializations_by_run ON materializations (run_id);
CREATE TABLE IF NOT EXISTS materialization_latest (
    target TEXT NOT NULL, asset TEXT NOT NULL, pkey TEXT NOT NULL,
    success_id INTEGER, attempt_id INTEGER NOT NULL,
    PRIMARY KEY (target, asset, pkey)
);
CREATE INDEX IF NOT EXISTS materialization_latest_by_asset
    ON materialization_latest (asset, pkey);
CREATE TABLE IF NOT EXISTS check_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, target TEXT NOT NULL,
    check_name TEXT NOT NULL, asset TEXT, partition_key TEXT, status TEXT NOT NULL,
    severity TEXT NOT NULL, failing_rows INTEGER NOT NULL, sample TEXT NOT NULL DEFAULT '[]',
    duration_s REAL NOT NULL, sql TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS check_results_by_check
    ON check_results (check_name, target, partition_key, id);
CREATE INDEX IF NOT EXISTS check_results_by_run ON check_results (run_id);
CREATE TABLE IF NOT EXISTS op_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, job TEXT NOT NULL,
    step_key TEXT NOT NULL, op TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, duration_s REAL NOT NULL,
    outputs TEXT NOT NULL DEFAULT '{}', metadata TEXT NOT NULL DEFAULT '{}', error TEXT,
    path TEXT, attempt_errors TEXT NOT NULL DEFAULT '[]', reused_from TEXT
);
CREATE INDEX IF NOT EXISTS op_steps_by_run ON op_steps (run_id, id);
CREATE TABLE IF NOT EXISTS ticks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, tick_time TEXT NOT NULL,
    status TEXT NOT NULL, run_ids TEXT NOT NULL DEFAULT '[]', skip_reason TEXT, error TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ticks_by_name ON ticks (name, tick_time, id);
CREATE TABLE IF NOT EXISTS sensor_cursors (
    name TEXT PRIMARY KEY, cursor TEXT, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_keys (
    name TEXT NOT NULL, run_key TEXT NOT NULL, run_id TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (name, run_key)
);
CREATE TABLE IF NOT EXISTS source_observations (
    target TEXT NOT NULL, source TEXT NOT NULL, fingerprint TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}', observed_at TEXT NOT NULL, changed_at TEXT,
    PRIMARY KEY (target, source)
);
CREATE TABLE IF NOT EXISTS run_locks (
    target TEXT PRIMARY KEY, lock_id TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    command TEXT NOT NULL, run_id TEXT, acquired_at TEXT NOT NULL, heartbeat_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS code_versions (
    fingerprint TEXT PRIMARY KEY, kind TEXT NOT NULL, module TEXT, code TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_git (
    run_id TEXT PRIMARY KEY, git_commit TEXT, git_dirty INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS hook_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, phase TEXT NOT NULL,
    hook_index INTEGER NOT NULL, name TEXT NOT NULL, step TEXT, status TEXT NOT NULL, error TEXT,
    duration_s REAL NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS hook_runs_by_run ON hook_runs (run_id, id);
CREATE TABLE IF NOT EXISTS op_step_code (
    run_id TEXT NOT NULL, step_key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (run_id, step_key)
);
"""

# from_version -> statements that bring a file to from_version + 1 (run in one transaction).
MIGRATIONS: dict[int, list[str]] = {
    # data versions (orch.run.version); source_observations is created by the schema script
    1: [
        "ALTER TABLE materializations ADD COLUMN data_version TEXT",
        "ALTER TABLE materializations ADD COLUMN versions TEXT",
    ],
}

MAT_COLUMNS = (
    "m.id, m.run_id, m.target, m.asset, m.partition_key, m.status, m.fingerprint, m.materialized,"
    " m.started_at, m.finished_at, m.duration_s, m.rows, m.metadata, m.upstream, m.error,"
    " m.data_version, m.versions"
)
CHECK_COLUMNS = (
    "c.id, c.run_id, c.target, c.check_name, c.asset, c.partition_key, c.status, c.severity,"
    " c.failing_rows, c.sample, c.duration_s, c.sql, c.message, c.at"
)
RUN_COLUMNS = (
    "run_id, command, selection, target, started_at, finished_at, status, pid, host, args, counts"
)
LOCK_COLUMNS = "target, lock_id, pid, host, command, run_id, acquired_at, heartbeat_at"


def _insert(table: str, columns: Sequence[str], tail: str = "") -> str:
    """``INSERT INTO <table> (<columns>) VALUES (:<column>, ...)``: the values a row mapping."""
    marks = ", ".join(f":{c}" for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}){tail}"


def _names(columns: str) -> list[str]:
    """The column names of a ``_COLUMNS`` text, without their table alias and the id."""
    return [c.strip().split(".")[-1] for c in columns.split(",")][1:]


INSERT_RUN = _insert(
    "runs", [c.strip() for c in RUN_COLUMNS.split(",")], " ON CONFLICT (run_id) DO NOTHING"
)
INSERT_MATERIALIZATION = _insert("materializations", _names(MAT_COLUMNS))
INSERT_CHECK = _insert("check_results", _names(CHECK_COLUMNS))
INSERT_OP_STEP = _insert("op_steps", OP_STEP_COLUMNS[1:])
INSERT_TICK = _insert(
    "ticks", ["name", "tick_time", "status", "run_ids", "skip_reason", "error", "recorded_at"]
)
INSERT_HOOK_RUN = _insert("hook_runs", HOOK_RUN_COLUMNS[1:])
