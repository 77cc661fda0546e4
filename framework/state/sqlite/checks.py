"""The SQLite store's check results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from orch.events import utcnow
from orch.state.records import (
    CHECK_STATUSES,
    CheckResultRecord,
    _json,
    _ts,
    check_from_row,
    check_status,
    sample_json,
)
from orch.state.sqlite.connection import SQLiteConnection
from orch.state.sqlite.runs import target_of
from orch.state.sqlite.schema import CHECK_COLUMNS, INSERT_CHECK


class SQLiteChecks(SQLiteConnection):
    """Check results: one at a time or a batch in one transaction, and the latest per check."""

    def record_check(
        self,
        *,
        run_id: str,
        check: str,
        asset: str | None,
        partition_key: str | None,
        status: str,
        severity: str,
        failing_rows: int = 0,
        sample: Sequence[Mapping[str, Any]] = (),
        duration_s: float = 0.0,
        sql: str = "",
        message: str = "",
        at: datetime | None = None,
        target: str | None = None,
    ) -> int:
        """Record one check result (the sample is cut to ``SAMPLE_ROWS``). Returns the row id."""
        check_status(status, CHECK_STATUSES, "check")
        with self._write() as conn:
            target = target_of(conn, run_id) if target is None else target
            cur = conn.execute(INSERT_CHECK, (
                run_id, target, check, asset, partition_key, status, severity, failing_rows,
                sample_json(sample), duration_s, sql, message, _ts(at or utcnow()),
            ))  # fmt: skip
            return int(cur.lastrowid or 0)

    def record_checks(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Record several check results in one transaction: all of them or none."""
        for result in results:
            check_status(result["status"], CHECK_STATUSES, "check")
        with self._write() as conn:
            targets: dict[str, str] = {}
            rows = []
            for r in results:
                target = r.get("target")
                if target is None:
                    run_id = r["run_id"]
                    if run_id not in targets:
                        targets[run_id] = target_of(conn, run_id)
                    target = targets[run_id]
                rows.append((
                    r["run_id"], target, r["check"], r["asset"], r["partition_key"], r["status"],
                    r["severity"], r.get("failing_rows", 0), sample_json(r.get("sample", ())),
                    r.get("duration_s", 0.0), r.get("sql", ""), r.get("message", ""),
                    _ts(r.get("at") or utcnow()),
                ))  # fmt: skip
            conn.executemany(INSERT_CHECK, rows)

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
