"""The SQLite store's check results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orch.state.records import (
    CheckResultRecord,
    _json,
    check_from_row,
)
from orch.state.sqlite.connection import SQLiteConnection
from orch.state.sqlite.runs import target_of
from orch.state.sqlite.schema import CHECK_COLUMNS, INSERT_CHECK


class SQLiteChecks(SQLiteConnection):
    """Check results: one at a time or a batch in one transaction, and the latest per check."""

    def _insert_checks(self, rows: list[dict[str, Any]]) -> int:
        with self._write() as conn:
            targets: dict[str, str] = {}
            for i, row in enumerate(rows):
                if row["target"] is None:
                    run_id = row["run_id"]
                    if run_id not in targets:
                        targets[run_id] = target_of(conn, run_id)
                    rows[i] = {**row, "target": targets[run_id]}
            if len(rows) == 1:
                return int(conn.execute(INSERT_CHECK, rows[0]).lastrowid or 0)
            conn.executemany(INSERT_CHECK, rows)
            return 0

    def latest_check_results(
        self, checks: Sequence[str] | None = None, *, target: str | None = None
    ) -> dict[tuple[str, str | None], CheckResultRecord]:
        """The last result per (check, partition_key), in one query."""
        clauses, params = [], []
        if checks is not None:
            clauses.append("check_name IN (SELECT value FROM json_each(?))")
            params.append(_json(list(checks)))
        if target is not None:
            clauses.append("target = ?")
            params.append(target)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {CHECK_COLUMNS} FROM check_results c JOIN (SELECT max(id) AS id"
                f" FROM check_results {where} GROUP BY check_name, target, partition_key) l"
                " ON c.id = l.id ORDER BY c.id",
                params,
            ).fetchall()
        return {(r[3], r[5]): check_from_row(r) for r in rows}

    def check_history(
        self, check: str, limit: int = 50, *, target: str | None = None
    ) -> list[CheckResultRecord]:
        """Results of one check, newest first."""
        where, params = "WHERE c.check_name = ?", [check]
        if target is not None:
            where, params = where + " AND c.target = ?", [check, target]
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {CHECK_COLUMNS} FROM check_results c {where} ORDER BY c.id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [check_from_row(r) for r in rows]

    def run_check_results(self, run_id: str) -> list[CheckResultRecord]:
        """Every check result of one run, in recording order, in one query."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {CHECK_COLUMNS} FROM check_results c WHERE c.run_id = ? ORDER BY c.id",
                (run_id,),
            ).fetchall()
        return [check_from_row(r) for r in rows]
