"""The SQLite store's materializations: the history, and per (target, asset, partition key) the
latest success and attempt in ``materialization_latest`` (written in the same transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orch.state.base import LatestKind
from orch.state.records import (
    MaterializationRecord,
    _json,
    materialization_from_row,
)
from orch.state.sqlite.connection import SQLiteConnection
from orch.state.sqlite.runs import target_of
from orch.state.sqlite.schema import INSERT_MATERIALIZATION, MAT_COLUMNS


class SQLiteMaterializations(SQLiteConnection):
    """Materialization attempts and the "latest" queries on them."""

    def _insert_materialization(self, row: dict[str, Any]) -> int:
        with self._write() as conn:
            if row["target"] is None:
                row = {**row, "target": target_of(conn, row["run_id"])}
            row_id = int(conn.execute(INSERT_MATERIALIZATION, row).lastrowid or 0)
            conn.execute(
                "INSERT INTO materialization_latest (target, asset, pkey, success_id, attempt_id)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (target, asset, pkey) DO UPDATE SET"
                " attempt_id = excluded.attempt_id,"
                " success_id = coalesce(excluded.success_id, materialization_latest.success_id)",
                (
                    row["target"],
                    row["asset"],
                    row["partition_key"] or "",
                    row_id if row["status"] == "success" else None,
                    row_id,
                ),
            )
        return row_id

    def _latest(
        self, kind: LatestKind, assets: Sequence[str] | None, target: str | None
    ) -> dict[tuple[str, str | None], MaterializationRecord]:
        pointer = "success_id" if kind == "success" else "attempt_id"
        failed_only = kind == "failure"
        clauses, params = ["m.status = 'failed'"] if failed_only else [], []
        if assets is not None:
            clauses.append("l.asset IN (SELECT value FROM json_each(?))")
            params.append(_json(list(assets)))
        if target is not None:
            clauses.append("l.target = ?")
            params.append(target)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ORDER BY m.id" if target is None else ""  # only several targets need ordering
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {MAT_COLUMNS} FROM materialization_latest l"
                f" JOIN materializations m ON m.id = l.{pointer} {where} {order}",
                params,
            ).fetchall()
        return {
            (r[3], r[4]): materialization_from_row(r) for r in rows
        }  # newest wins across targets

    def materialization_history(
        self, asset: str, limit: int = 50, *, target: str | None = None
    ) -> list[MaterializationRecord]:
        """Every attempt on one asset (all partitions), newest first."""
        where, params = "WHERE m.asset = ?", [asset]
        if target is not None:
            where, params = where + " AND m.target = ?", [asset, target]
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {MAT_COLUMNS} FROM materializations m {where} ORDER BY m.id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [materialization_from_row(r) for r in rows]

    def run_materializations(self, run_id: str) -> list[MaterializationRecord]:
        """Every materialization attempt of one run, in recording order, in one query."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {MAT_COLUMNS} FROM materializations m WHERE m.run_id = ? ORDER BY m.id",
                (run_id,),
            ).fetchall()
        return [materialization_from_row(r) for r in rows]
