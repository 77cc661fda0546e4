"""A recording test double around the real fakesnow connection: the exact SQL orch sends.

fakesnow translates Snowflake SQL to DuckDB and is case-insensitive, so a statement that a real
account rejects (a lower-case quoted column, ``SWAP WITH``) may pass there. :func:`recording`
puts a thin wrapper around each connection ``snowflake.connector.connect`` returns under
``fakesnow.patch()``: every ``cursor.execute`` is recorded as sent (text and parameters) and then
run on fakesnow, and every ``write_pandas`` call is recorded with its arguments. The wrapper's
class is not fakesnow's, so the adapter takes its real-Snowflake paths (``SWAP WITH``, ``MERGE``
inside ``BEGIN``/``COMMIT``, ``INFORMATION_SCHEMA.TABLES`` alone); the few statements fakesnow
cannot run are recorded and then replaced for fakesnow only:

- ``BEGIN`` / ``COMMIT`` / ``ROLLBACK``: recorded, not run (fakesnow cannot create the temporary
  table it emulates ``MERGE`` with inside a transaction). Scenarios must not rely on a rollback.
- ``ALTER TABLE a SWAP WITH b``: run as three renames through a scratch name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import fakesnow
import pytest
import snowflake.connector
import snowflake.connector.pandas_tools

_TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK)\s*$", re.IGNORECASE)
_SWAP = re.compile(r"^ALTER TABLE (\S+) SWAP WITH (\S+)$")
# A temporary relation's random suffix (``__orch_tmp_ORDERS_1a2b3c4d``) -> ``_<random>``.
_RANDOM_SUFFIX = re.compile(r"(__orch_(?:tmp|stage_contract)_\w*?)_[0-9a-f]{8}\b")


@dataclass
class Recording:
    """The statements sent, in order: SQL text with its parameters, or a write_pandas call."""

    statements: list[str] = field(default_factory=list)

    def add(self, sql: str, params: Any = None) -> None:
        text = _RANDOM_SUFFIX.sub(r"\1_<random>", sql.strip())
        if params is not None:
            text += f"\n-- params: {list(params)!r}"
        self.statements.append(text)

    def clear(self) -> None:
        """Forget what was recorded so far (the set-up of a scenario)."""
        self.statements.clear()

    def take(self) -> list[str]:
        """What was recorded so far, forgotten here (a scenario's statements, before its
        assertions read the warehouse)."""
        taken, self.statements = self.statements, []
        return taken


class RecordingCursor:
    """A fakesnow cursor whose ``execute`` records first."""

    def __init__(self, cursor: Any, recording: Recording) -> None:
        self._cursor = cursor
        self._recording = recording
        self._skipped = False

    def execute(self, sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        self._recording.add(sql, params)
        self._skipped = bool(_TRANSACTION_CONTROL.match(sql))
        if self._skipped:
            return self
        swap = _SWAP.match(sql.strip())
        if swap is not None:
            a, b = swap.groups()
            scratch = re.sub(r'"[^"]*"$', '"__swap_scratch"', a)
            for step in (
                f"{b} RENAME TO {scratch}",
                f"{a} RENAME TO {b}",
                f"{scratch} RENAME TO {a}",
            ):
                self._cursor.execute(f"ALTER TABLE {step}")
            self._skipped = True
            return self
        self._cursor.execute(sql, params, *args, **kwargs)
        return self

    @property
    def description(self) -> Any:
        return None if self._skipped else self._cursor.description

    @property
    def rowcount(self) -> Any:
        return None if self._skipped else self._cursor.rowcount

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class RecordingConnection:
    """A fakesnow connection handing out recording cursors."""

    def __init__(self, conn: Any, recording: Recording) -> None:
        self.wrapped = conn
        self._recording = recording

    def cursor(self, *args: Any, **kwargs: Any) -> RecordingCursor:
        return RecordingCursor(self.wrapped.cursor(*args, **kwargs), self._recording)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


@contextmanager
def recording() -> Iterator[Recording]:
    """A fresh fakesnow whose connections record every statement orch sends."""
    found = Recording()
    with fakesnow.patch(), pytest.MonkeyPatch.context() as monkeypatch:
        fake_connect = snowflake.connector.connect
        fake_write_pandas = snowflake.connector.pandas_tools.write_pandas

        def connect(**kwargs: Any) -> RecordingConnection:
            return RecordingConnection(fake_connect(**kwargs), found)

        def write_pandas(conn: Any, df: Any, table_name: str, **kwargs: Any) -> Any:
            options = ", ".join(f"{k}={v!r}" for k, v in sorted(kwargs.items()))
            found.add(
                f"-- write_pandas(table_name={table_name!r}, {options})\n"
                f"-- columns: {list(df.columns)!r}"
            )
            return fake_write_pandas(conn.wrapped, df, table_name, **kwargs)

        monkeypatch.setattr(snowflake.connector, "connect", connect)
        monkeypatch.setattr(snowflake.connector.pandas_tools, "write_pandas", write_pandas)
        yield found
