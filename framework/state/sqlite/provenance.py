"""The SQLite store's code provenance and hook runs: the tables ``code_versions``,
``run_git``, ``op_step_code`` and ``hook_runs`` of :mod:`orch.state.sqlite.schema`.

The tables are created with the others on every writable open (``CREATE TABLE IF NOT EXISTS``),
so an older file gains them on its next write; until then a read-only store answers empty.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from orch.events import utcnow
from orch.state.records import (
    HOOK_RUN_COLUMNS,
    CodeVersion,
    GitState,
    HookRunRecord,
    _ts,
    hook_run_from_row,
)
from orch.state.sqlite.connection import SQLiteConnection
from orch.state.sqlite.schema import INSERT_HOOK_RUN

_BATCH = 500  # values per IN (...): below SQLite's variable limit


def _missing_table(err: sqlite3.OperationalError) -> bool:
    return "no such table" in str(err)


class SQLiteProvenance(SQLiteConnection):
    """Code versions, git states and hook runs in the SQLite file."""

    def record_code(self, version: CodeVersion) -> bool:
        """Store the code of a fingerprint unless stored already; True when it was new."""
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO code_versions (fingerprint, kind, module, code, recorded_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING",
                (version.fingerprint, version.kind, version.module, version.code, _ts(utcnow())),
            )
            return cur.rowcount > 0

    def code_versions(self, fingerprints: Sequence[str]) -> dict[str, CodeVersion]:
        """The code stored for each of these fingerprints."""
        wanted = sorted(set(fingerprints))
        out: dict[str, CodeVersion] = {}
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            marks = ", ".join("?" for _ in batch)
            try:
                with self._read() as conn:
                    rows = conn.execute(
                        "SELECT fingerprint, kind, module, code FROM code_versions"
                        f" WHERE fingerprint IN ({marks})",
                        batch,
                    ).fetchall()
            except sqlite3.OperationalError as err:
                if _missing_table(err):
                    return {}
                raise
            out.update({r[0]: CodeVersion(r[0], r[1], r[2], r[3]) for r in rows})
        return out

    def record_op_code(self, run_id: str, step_key: str, fingerprint: str) -> None:
        """Record which op code (a ``code_versions`` fingerprint) an op step ran."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO op_step_code (run_id, step_key, fingerprint) VALUES (?, ?, ?)"
                " ON CONFLICT (run_id, step_key) DO NOTHING",
                (run_id, step_key, fingerprint),
            )

    def op_step_code(self, run_id: str) -> dict[str, str]:
        """step key -> the fingerprint of the op code each op step of a run ran."""
        try:
            with self._read() as conn:
                rows = conn.execute(
                    "SELECT step_key, fingerprint FROM op_step_code WHERE run_id = ?", (run_id,)
                ).fetchall()
        except sqlite3.OperationalError as err:
            if _missing_table(err):
                return {}
            raise
        return {r[0]: r[1] for r in rows}

    def record_git(self, run_id: str, git: GitState) -> None:
        """Record the project's git state for a run."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO run_git (run_id, git_commit, git_dirty) VALUES (?, ?, ?)"
                " ON CONFLICT (run_id) DO NOTHING",
                (run_id, git.commit, int(git.dirty)),
            )

    def git_states(self, run_ids: Sequence[str]) -> dict[str, GitState]:
        """The git state recorded for each of these runs."""
        ids = sorted(set(run_ids))
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        try:
            with self._read() as conn:
                rows = conn.execute(
                    f"SELECT run_id, git_commit, git_dirty FROM run_git WHERE run_id IN ({marks})",
                    ids,
                ).fetchall()
        except sqlite3.OperationalError as err:
            if _missing_table(err):
                return {}
            raise
        return {r[0]: GitState(r[1], bool(r[2])) for r in rows}

    def _insert_hook_run(self, row: dict[str, Any]) -> int:
        with self._write() as conn:
            return int(conn.execute(INSERT_HOOK_RUN, row).lastrowid or 0)

    def run_hook_runs(self, run_id: str) -> list[HookRunRecord]:
        """Every hook that ran in one run, in the order they ran."""
        try:
            with self._read() as conn:
                rows = conn.execute(
                    f"SELECT {', '.join(HOOK_RUN_COLUMNS)} FROM hook_runs WHERE run_id = ?"
                    " ORDER BY id",
                    (run_id,),
                ).fetchall()
        except sqlite3.OperationalError as err:
            if _missing_table(err):
                return []
            raise
        return [hook_run_from_row(r) for r in rows]
