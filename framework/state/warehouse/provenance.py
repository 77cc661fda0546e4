"""The warehouse store's code provenance and hook runs (mixed into WarehouseStateStore): the
tables of :mod:`orch.state.sqlite.provenance`, written as every other table of the ``_orch``
schema is (idempotent ``INSERT ... WHERE NOT EXISTS``, sqlglot literals).

The tables are created with the others on a writable open; a read-only store on a schema made by
an older orch, without them, answers empty.
"""

from __future__ import annotations

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
from orch.state.warehouse.connection import WarehouseConnection

_BATCH = 500  # values per IN (...)


class WarehouseProvenance(WarehouseConnection):
    """Code versions, git states and hook runs in the ``_orch`` schema."""

    _provenance_tables: dict[str, bool] | None = None  # read-only: which tables exist

    def _readable(self, table: str) -> bool:
        """Whether ``table`` can be read: always when writable (created on open), else if it
        exists (a schema made by an older orch lacks it)."""
        if not self.readonly:
            return True
        if self._provenance_tables is None:
            self._provenance_tables = {}
        known = self._provenance_tables
        if table not in known:
            known[table] = self.adapter.relation_exists(self.relation(table))
        return known[table]

    def record_code(self, version: CodeVersion) -> bool:
        """Store the code of a fingerprint unless stored already; True when it was new."""
        self._writable()
        with self._mutex:
            if self.code_versions([version.fingerprint]):
                return False
            row = {
                "fingerprint": version.fingerprint,
                "kind": version.kind,
                "module": version.module,
                "code": version.code,
                "recorded_at": _ts(utcnow()),
            }
            self._insert_unless("code_versions", row, ["fingerprint"])
        return True

    def code_versions(self, fingerprints: Sequence[str]) -> dict[str, CodeVersion]:
        """The code stored for each of these fingerprints."""
        wanted = sorted(set(fingerprints))
        if not wanted or not self._readable("code_versions"):
            return {}
        out: dict[str, CodeVersion] = {}
        for start in range(0, len(wanted), _BATCH):
            rows = self._select(
                "code_versions",
                ["fingerprint", "kind", "module", "code"],
                self._in("fingerprint", wanted[start : start + _BATCH]),
            )
            out.update({str(r[0]): CodeVersion(r[0], r[1], r[2], r[3]) for r in rows})
        return out

    def record_op_code(self, run_id: str, step_key: str, fingerprint: str) -> None:
        """Record which op code (a ``code_versions`` fingerprint) an op step ran."""
        self._writable()
        row = {"run_id": run_id, "step_key": step_key, "fingerprint": fingerprint}
        with self._mutex:
            self._insert_unless("op_step_code", row, ["run_id", "step_key"])

    def op_step_code(self, run_id: str) -> dict[str, str]:
        """step key -> the fingerprint of the op code each op step of a run ran."""
        if not self._readable("op_step_code"):
            return {}
        rows = self._select("op_step_code", ["step_key", "fingerprint"], self._eq("run_id", run_id))
        return {str(r[0]): str(r[1]) for r in rows}

    def record_git(self, run_id: str, git: GitState) -> None:
        """Record the project's git state for a run."""
        self._writable()
        row = {"run_id": run_id, "git_commit": git.commit, "git_dirty": int(git.dirty)}
        with self._mutex:
            self._insert_unless("run_git", row, ["run_id"])

    def git_states(self, run_ids: Sequence[str]) -> dict[str, GitState]:
        """The git state recorded for each of these runs."""
        ids = sorted(set(run_ids))
        if not ids or not self._readable("run_git"):
            return {}
        rows = self._select(
            "run_git", ["run_id", "git_commit", "git_dirty"], self._in("run_id", ids)
        )
        return {str(r[0]): GitState(r[1], bool(r[2])) for r in rows}

    def _insert_hook_run(self, row: dict[str, Any]) -> int:
        self._writable()
        row_id = self._new_id()
        with self._mutex:
            self._insert_unless("hook_runs", {"id": row_id, **row}, ["id"])
        return row_id

    def run_hook_runs(self, run_id: str) -> list[HookRunRecord]:
        """Every hook that ran in one run, in the order they ran."""
        if not self._readable("hook_runs"):
            return []
        rows = self._select(
            "hook_runs", list(HOOK_RUN_COLUMNS), self._eq("run_id", run_id), [("id", False)]
        )
        return [hook_run_from_row(r) for r in rows]
