"""What only the DuckDB adapter does: opening files, their errors, settings, cursors, interrupts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from orch import redaction
from orch.adapters.base import TEMP_PREFIX, WriteMode
from orch.adapters.duckdb import DuckDBAdapter
from orch.config import DuckDBTargetConfig
from orch.errors import WarehouseConnectionError, WarehouseError
from orch.names import Relation


def make(tmp_path: Path, path: str = "warehouse.duckdb", **settings: Any) -> DuckDBAdapter:
    """An unopened adapter on ``path`` under ``tmp_path``."""
    return DuckDBAdapter(DuckDBTargetConfig(path=path, **settings), tmp_path)


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[DuckDBAdapter]:
    """An opened DuckDB adapter on a file in ``tmp_path``."""
    with make(tmp_path) as adapter:
        adapter.ensure_schema(None, "s")
        yield adapter  # type: ignore[misc]


def open_error(adapter: DuckDBAdapter) -> str:
    """The message of the WarehouseConnectionError that opening ``adapter`` raises."""
    with pytest.raises(WarehouseConnectionError) as info:
        adapter.open()
    assert info.value.exit_code == 2
    return info.value.format_message()


# ---------------------------------------------------------------------------- opening


def test_entry_point_finds_the_adapter(tmp_path: Path) -> None:
    (entry_point,) = [ep for ep in entry_points(group="orch.adapters") if ep.name == "duckdb"]
    adapter = entry_point.load()(DuckDBTargetConfig(), tmp_path)
    assert isinstance(adapter, DuckDBAdapter)
    assert adapter.database_path == str(tmp_path / "warehouse.duckdb")


def test_relative_path_resolves_against_project_dir(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with make(tmp_path, "data/dev.duckdb") as adapter:
        adapter.execute("CREATE TABLE t AS SELECT 42 AS x")
    with duckdb.connect(str(tmp_path / "data" / "dev.duckdb")) as con:
        assert con.execute("SELECT x FROM t").fetchall() == [(42,)]


def test_memory_database_is_shared_by_thread_cursors(tmp_path: Path) -> None:
    with make(tmp_path, ":memory:") as adapter:
        adapter.execute("CREATE TABLE t AS SELECT 1 AS x")
        result: list[Any] = []
        worker = threading.Thread(
            target=lambda: result.append(adapter.fetch_rows("SELECT x FROM t"))
        )
        worker.start()
        worker.join()
        assert result == [[(1,)]]
    assert not (tmp_path / ":memory:").exists()


def test_settings_and_memory_limit_are_applied(tmp_path: Path) -> None:
    with make(tmp_path, settings={"threads": 1}, memory_limit="512MB") as adapter:
        threads, memory = adapter.fetch_rows(
            "SELECT current_setting('threads'), current_setting('memory_limit')"
        )[0]
    assert threads == 1
    assert memory.startswith("488")  # 512 MB in MiB


def test_one_cursor_per_thread_and_one_connection(duck: DuckDBAdapter) -> None:
    assert duck.cursor() is duck.cursor()
    connection = duck.connection
    other: list[Any] = []
    worker = threading.Thread(target=lambda: other.append(duck.cursor()))
    worker.start()
    worker.join()
    assert other[0] is not duck.cursor()
    duck.open()  # already open: no reconnect
    assert duck.connection is connection


def test_unknown_setting(tmp_path: Path) -> None:
    message = open_error(make(tmp_path, settings={"no_such_option": 1}))
    assert message == (
        f"cannot open DuckDB database '{tmp_path / 'warehouse.duckdb'}': Invalid Input Error: "
        "The following options were not recognized: no_such_option. "
        "Check the profile settings `settings` and `memory_limit`."
    )


def test_missing_directory(tmp_path: Path) -> None:
    message = open_error(make(tmp_path, "nowhere/dev.duckdb"))
    assert message == (
        f"cannot open DuckDB database '{tmp_path / 'nowhere' / 'dev.duckdb'}': "
        f"directory '{tmp_path / 'nowhere'}' does not exist. "
        "Create the directory or change the profile setting `path` ('nowhere/dev.duckdb')."
    )


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("")
    message = open_error(make(tmp_path, "notes.txt/dev.duckdb"))
    assert message == (
        f"cannot open DuckDB database '{tmp_path / 'notes.txt' / 'dev.duckdb'}': "
        f"'{tmp_path / 'notes.txt'}' is not a directory. "
        "Change the profile setting `path` ('notes.txt/dev.duckdb')."
    )


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root writes into read-only folders"
)
def test_unwritable_directory(tmp_path: Path) -> None:
    locked = tmp_path / "readonly"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        message = open_error(make(tmp_path, "readonly/dev.duckdb"))
    finally:
        locked.chmod(0o755)
    assert message == (
        f"cannot create DuckDB database '{locked / 'dev.duckdb'}': "
        f"directory '{locked}' is not writable. "
        "Make the directory writable or change the profile setting `path` ('readonly/dev.duckdb')."
    )


def test_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "bad.duckdb").write_bytes(b"not a database" * 1000)
    message = open_error(make(tmp_path, "bad.duckdb"))
    path = tmp_path / "bad.duckdb"
    assert message.startswith(
        f"'{path}' is not a valid DuckDB database file (corrupt, or another format): IO Error:"
    )
    assert message.endswith(
        "Move the file away to rebuild it, or change the profile setting `path` ('bad.duckdb')."
    )


HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
time.sleep(60)
"""


def test_file_locked_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        message = open_error(make(tmp_path, "shared.duckdb"))
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    pattern = (
        re.escape(f"DuckDB database '{path}' is locked by ")
        + r"\S+"
        + re.escape(
            f" (pid {holder.pid}). Close the other program or use another path "
            "(the profile setting `path` ('shared.duckdb'))."
        )
    )
    assert re.fullmatch(pattern, message), message
    # Once the other process is gone the file opens.
    with make(tmp_path, "shared.duckdb") as adapter:
        assert adapter.fetch_rows("SELECT 1") == [(1,)]


def test_extensions(tmp_path: Path) -> None:
    with duckdb.connect() as con:
        rows = con.execute("SELECT extension_name, installed FROM duckdb_extensions()").fetchall()
    installed = [name for name, ok in rows if ok]
    missing = [name for name, ok in rows if not ok]

    with make(tmp_path, extensions=installed[:2]) as adapter:
        loaded = adapter.fetch_rows(
            "SELECT extension_name FROM duckdb_extensions() WHERE loaded ORDER BY 1"
        )
        assert set(installed[:2]) <= {name for (name,) in loaded}

    message = open_error(make(tmp_path, extensions=["jsn"]))
    assert message == (
        "unknown DuckDB extension 'jsn' in the profile setting `extensions`. Did you mean 'json'?"
    )
    if missing:
        name = missing[0]
        assert open_error(make(tmp_path, extensions=[name])) == (
            f"DuckDB extension '{name}' is not installed. Run INSTALL {name} once "
            f"(e.g. `duckdb -c 'INSTALL {name}'`) or remove it from the profile setting "
            "`extensions`."
        )


# ---------------------------------------------------------------------------- statements


def test_error_line_and_message(duck: DuckDBAdapter) -> None:
    sql = "SELECT 1\nFROM s.a\nJOIN s.missing_table USING (x)"
    duck.execute("CREATE TABLE s.a AS SELECT 1 AS x")
    with pytest.raises(WarehouseError) as info:
        duck.execute(sql)
    assert info.value.message.startswith(
        "Catalog Error: Table with name missing_table does not exist!"
    )
    assert duck.error_line(info.value.message) == 3
    assert duck.error_line("Binder Error: no position") is None
    assert info.value.sql == sql
    assert not info.value.transient


def test_secrets_are_scrubbed_from_errors(duck: DuckDBAdapter) -> None:
    redaction.register("ORCH_TEST_TOKEN", "tok-9f8e7d6c")
    with pytest.raises(WarehouseError) as info:
        duck.execute('SELECT * FROM "tok-9f8e7d6c"')
    assert "tok-9f8e7d6c" not in info.value.message
    assert "tok-9f8e7d6c" not in (info.value.sql or "")
    assert "<env_var('ORCH_TEST_TOKEN')>" in info.value.message


def test_interrupt_stops_a_running_statement(duck: DuckDBAdapter) -> None:
    errors: list[BaseException] = []

    def long_query() -> None:
        try:
            duck.fetch_rows("SELECT sum(a.range * b.range) FROM range(200000) a, range(200000) b")
        except BaseException as err:  # noqa: B036 - collected for the assertion
            errors.append(err)

    worker = threading.Thread(target=long_query)
    worker.start()
    time.sleep(0.5)
    duck.interrupt()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], WarehouseError)
    assert errors[0].message.startswith("interrupted: ")
    assert duck.fetch_rows("SELECT 1") == [(1,)]


def test_write_conflict_is_transient(duck: DuckDBAdapter) -> None:
    duck.execute("CREATE TABLE s.t AS SELECT 1 AS id, 0 AS v")
    updated, release = threading.Event(), threading.Event()

    def hold_update() -> None:
        with duck.transaction():
            duck.execute("UPDATE s.t SET v = 1 WHERE id = 1")
            updated.set()
            release.wait(10)

    worker = threading.Thread(target=hold_update)
    worker.start()
    try:
        assert updated.wait(10)
        with pytest.raises(WarehouseError) as info:
            duck.execute("UPDATE s.t SET v = 2 WHERE id = 1")
    finally:
        release.set()
        worker.join()
    assert info.value.transient
    assert duck.fetch_rows("SELECT v FROM s.t") == [(1,)]


def test_merge_without_native_merge(duck: DuckDBAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duck, "NATIVE_MERGE", False)
    stock = Relation(None, "s", "stock")
    duck.create_table_as(stock, "SELECT 'a' AS k1, 1 AS k2, 10 AS qty UNION ALL SELECT NULL, 1, 20")
    inserted = duck.merge(
        stock,
        "SELECT 'a' AS k1, 1 AS k2, 11 AS qty UNION ALL SELECT NULL, 1, 21"
        " UNION ALL SELECT 'b', 1, 30",
        ["k1", "k2"],
    )
    assert inserted == 3
    assert duck.fetch_rows("SELECT * FROM s.stock ORDER BY k1 NULLS FIRST") == [
        (None, 1, 21),
        ("a", 1, 11),
        ("b", 1, 30),
    ]
    assert duck.fetch_rows("SELECT count(*) FROM duckdb_tables() WHERE temporary") == [(0,)]


def test_write_arrow_failing_stream_keeps_old_table(duck: DuckDBAdapter) -> None:
    facts = Relation(None, "s", "facts")
    schema = pa.schema([("id", pa.int64())])
    duck.write_arrow(pa.table({"id": [1, 2, 3]}, schema=schema), facts, WriteMode.CREATE)

    def batches() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch([pa.array([7, 8])], schema=schema)
        raise RuntimeError("source broke")

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    with pytest.raises(WarehouseError, match="source broke"):
        duck.write_arrow(reader, facts, WriteMode.REPLACE)
    assert duck.fetch_rows("SELECT id FROM s.facts ORDER BY id") == [(1,), (2,), (3,)]
    assert [r for r in duck.list_relations(None, "s") if r.name.startswith(TEMP_PREFIX)] == []
    # The registered Arrow object is gone.
    assert duck.fetch_rows(
        "SELECT count(*) FROM duckdb_views() WHERE view_name LIKE '\\_\\_orch\\_arrow%' ESCAPE '\\'"
    ) == [(0,)]


def test_write_arrow_rejects_a_non_arrow_object(duck: DuckDBAdapter) -> None:
    with pytest.raises(WarehouseError, match="not suitable"):
        duck.write_arrow(42, Relation(None, "s", "x"), WriteMode.CREATE)


def test_transaction_depth_resets_after_error(duck: DuckDBAdapter) -> None:
    with pytest.raises(ValueError), duck.transaction(), duck.transaction():
        raise ValueError
    with duck.transaction():  # a fresh BEGIN works: no transaction leaked
        duck.execute("CREATE TABLE s.after AS SELECT 1 AS x")
    assert duck.relation_type(Relation(None, "s", "after")) == "table"


# ---------------------------------------------------------------------------- data versions


def test_content_fingerprint_is_one_query_with_the_general_values(
    duck: DuckDBAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's fingerprint reads its column names from the result (no catalog query) and
    gives the values of the general two-query form, so stored data versions stay valid."""
    from orch.adapters.base import Adapter

    duck.execute(
        "CREATE TABLE s.t AS SELECT range AS id, 'x' || range AS \"Odd Name\", NULL::INT AS h0,"
        " [range, 1] AS l FROM range(50)"
    )
    relation = Relation(None, "s", "t")
    general = Adapter.content_fingerprint(duck, relation)
    general_part = Adapter.content_fingerprint(duck, relation, '"id" < 10')
    statements: list[str] = []
    original = duck._run

    def counting(sql: str, params: Any = None) -> Any:
        statements.append(sql)
        return original(sql, params)

    monkeypatch.setattr(duck, "_run", counting)
    assert duck.content_fingerprint(relation) == general
    assert duck.content_fingerprint(relation, '"id" < 10') == general_part
    assert len(statements) == 2 and not any("information_schema" in s for s in statements)
    rows, columns, _ = general
    assert rows == 50 and list(columns) == ["id", "Odd Name", "h0", "l"]
    # a table with a column named like the query's row hash still gets the general values
    duck.execute("CREATE TABLE s.u AS SELECT 1 AS __orch_row_hash, 2 AS b")
    odd = Relation(None, "s", "u")
    assert duck.content_fingerprint(odd) == Adapter.content_fingerprint(duck, odd)


# The DuckDB fingerprint query before issue 21 item 7 (three query levels, sums cast to text):
# every data version stored since issue 19 was computed from its values.
PREVIOUS_FINGERPRINT = (
    'SELECT COUNT(*), CAST(SUM(COLUMNS(* EXCLUDE ("__orch_row_hash"))) AS VARCHAR),'
    ' CAST(SUM("__orch_row_hash") AS VARCHAR) FROM (SELECT *, HASH(*COLUMNS(*)) AS'
    ' "__orch_row_hash" FROM (SELECT HASH(COLUMNS(*)) FROM {table}{where}))'
)


def test_content_fingerprint_gives_the_previous_query_values(duck: DuckDBAdapter) -> None:
    """The cheaper query gives what the previous one gave: stored data versions stay valid."""
    duck.execute(
        "CREATE TABLE s.t AS SELECT range AS id, 'x' || (range % 7) AS grp, range / 3.0 AS amount,"
        " range % 2 = 0 AS flag, NULL::INT AS none, TIMESTAMP '2024-01-01' + range * INTERVAL 1"
        " HOUR AS at, [range, 1] AS l, {'a': range} AS st FROM range(3000)"
    )
    duck.execute("CREATE TABLE s.empty AS SELECT 1 AS id, 'a' AS b WHERE false")
    for table, where in (("s.t", ""), ("s.t", " WHERE id < 100"), ("s.empty", "")):
        previous = duck.fetch_rows(PREVIOUS_FINGERPRINT.format(table=table, where=where))[0]
        name = table.split(".")[1]
        rows, columns, whole = duck.content_fingerprint(
            Relation(None, "s", name), where.removeprefix(" WHERE ") or None
        )
        assert (rows, *columns.values(), whole) == tuple(
            v if i == 0 else str(v) for i, v in enumerate(previous)
        )


def test_data_version_same_data_same_version_changed_data_another(duck: DuckDBAdapter) -> None:
    """The same rows (in any order) give the same data version; a changed value another, and
    another version of the changed column only."""
    from orch.run.version import of_table

    def version_of(name: str) -> Any:
        relation = SimpleNamespace(to_relation=lambda: Relation(None, "s", name))
        node = SimpleNamespace(relation=relation)
        return of_table(duck, node)  # type: ignore[arg-type]

    duck.execute("CREATE TABLE s.a AS SELECT range AS id, range * 2 AS v FROM range(1000)")
    duck.execute("CREATE TABLE s.b AS SELECT * FROM s.a ORDER BY id DESC")
    duck.execute("CREATE TABLE s.c AS SELECT id, CASE WHEN id = 7 THEN -1 ELSE v END AS v FROM s.a")
    a, b, c = version_of("a"), version_of("b"), version_of("c")
    assert a == b
    assert c.version != a.version
    assert c.columns["id"] == a.columns["id"] and c.columns["v"] != a.columns["v"]
    duck.replace_table_atomically(Relation(None, "s", "c"), "SELECT * FROM s.a")
    assert version_of("c") == a  # rebuilt with the same data: the same version again


def test_content_fingerprint_leaves_the_cursor_ready(duck: DuckDBAdapter) -> None:
    """The next statement on the thread's cursor runs (a seed's fingerprint, then its checks)."""
    duck.execute("CREATE TABLE s.t AS SELECT range AS id FROM range(5)")
    duck.content_fingerprint(Relation(None, "s", "t"))
    # the relation API and Arrow registration refuse a cursor with an unfinished result
    assert duck.fetch_arrow("SELECT count(*) AS n FROM s.t").to_pylist() == [{"n": 5}]
    duck.write_arrow(pa.table({"x": [1, 2]}), Relation(None, "s", "t2"), WriteMode.REPLACE)
    assert duck.fetch_rows("SELECT count(*) FROM s.t2") == [(2,)]


REPLACE_THEN_HANG = """
import sys
from pathlib import Path
from orch.adapters.duckdb import DuckDBAdapter
from orch.config import DuckDBTargetConfig
from orch.names import Relation
with DuckDBAdapter(DuckDBTargetConfig(path="w.duckdb"), Path(sys.argv[1])) as adapter:
    print("ready", flush=True)
    adapter.replace_table_atomically(
        Relation(None, "s", "t"),
        "SELECT x AS id FROM range(100000000000) r(x) ORDER BY random()",  # never finishes
    )
"""


def test_killed_replace_keeps_the_old_table(tmp_path: Path) -> None:
    """CREATE OR REPLACE TABLE, autocommitted: a process killed while it builds leaves the
    previous table as it was, and nothing else behind."""
    with make(tmp_path, "w.duckdb") as adapter:
        adapter.ensure_schema(None, "s")
        adapter.create_table_as(Relation(None, "s", "t"), "SELECT 1 AS id UNION ALL SELECT 2")
    child = subprocess.Popen(
        [sys.executable, "-c", REPLACE_THEN_HANG, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # inside the statement
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    with make(tmp_path, "w.duckdb") as adapter:
        assert adapter.fetch_rows('SELECT id FROM "s"."t" ORDER BY id') == [(1,), (2,)]
        assert [r.name for r in adapter.list_relations(None, "s")] == ["t"]
