"""The state store in the warehouse (schema ``_orch``), on DuckDB and on Snowflake (fakesnow).

The backend-neutral scenarios of ``test_state.py`` run again here against
:class:`WarehouseStateStore` (the ``store`` fixture below overrides theirs), plus what is
specific to the warehouse: table names and case, idempotent re-sent writes, the lock's messages,
takeover of a dead process's lock, concurrent acquirers, and the runner/status wiring.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakesnow
import pytest
import test_state as base
from click.testing import CliRunner
from orch.adapters.base import Adapter
from orch.adapters.duckdb import DuckDBAdapter
from orch.adapters.snowflake import SnowflakeAdapter
from orch.cli import cli
from orch.config import DuckDBTargetConfig, SnowflakeTargetConfig
from orch.errors import InternalError, LockHeldError, UserError
from orch.state import LockOwner, SQLiteStateStore, state_path
from orch.state.kind import open_state_store, state_kind
from orch.state.warehouse import WarehouseStateStore

FAKESNOW_DB = "ORCH_DB"
FAKESNOW_WARNINGS = "ignore:Arrow output on a DB-API result:UserWarning"
pytestmark = pytest.mark.filterwarnings(FAKESNOW_WARNINGS)


def make_adapter(kind: str, tmp_path: Path) -> Adapter:
    if kind == "duckdb":
        return DuckDBAdapter(
            DuckDBTargetConfig(path="warehouse.duckdb", state="warehouse"), tmp_path
        )
    config = SnowflakeTargetConfig(
        account="fakesnow", user="orch", password="fake-password", database=FAKESNOW_DB
    )
    return SnowflakeAdapter(config, tmp_path, retry_base_delay=0.0)


@pytest.fixture(params=["duckdb", "fakesnow"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "fakesnow":
        with fakesnow.patch():
            yield request.param
    else:
        yield request.param


def open_store(kind: str, tmp_path: Path, **kw: Any) -> WarehouseStateStore:
    adapter = make_adapter(kind, tmp_path)
    adapter.open()
    database = FAKESNOW_DB if kind == "fakesnow" else None
    return WarehouseStateStore(adapter, database=database, owns_adapter=True, **kw)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[WarehouseStateStore]:
    s = open_store(backend, tmp_path)
    yield s
    s.close()


# --------------------------------------------------------------------------- shared scenarios

test_run_lifecycle = base.test_run_lifecycle
test_start_run_is_idempotent_per_run_id = base.test_start_run_is_idempotent_per_run_id
test_latest_materialization_per_asset_and_partition = (
    base.test_latest_materialization_per_asset_and_partition
)
test_failure_without_any_success_shows_only_in_attempts = (
    base.test_failure_without_any_success_shows_only_in_attempts
)
test_materializations_are_kept_per_target = base.test_materializations_are_kept_per_target
test_upstream_and_metadata_round_trip = base.test_upstream_and_metadata_round_trip
test_check_results = base.test_check_results
test_one_runs_materializations_and_check_results = (
    base.test_one_runs_materializations_and_check_results
)
test_ticks_cursors_and_run_keys = base.test_ticks_cursors_and_run_keys
test_lock_is_released_when_the_holder_raises = base.test_lock_is_released_when_the_holder_raises
test_targets_lock_independently = base.test_targets_lock_independently
test_heartbeat_and_stale_heartbeat_takeover = base.test_heartbeat_and_stale_heartbeat_takeover
test_background_heartbeat_thread = base.test_background_heartbeat_thread
test_state_recorder_from_real_events = base.test_state_recorder_from_real_events


# --------------------------------------------------------------------------- warehouse specifics


def test_concurrent_writes_from_four_threads(store: WarehouseStateStore) -> None:
    """test_state's scenario, smaller: fakesnow spends ~40 ms per statement."""
    run_id = store.start_run("orch build", target="dev")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(12):
                base._mat(store, run_id, f"asset_{worker}_{i}", rows=i)
                store.record_check(
                    run_id=run_id, check=f"c_{worker}_{i}", asset=None, partition_key=None,
                    status="pass", severity="error",
                )  # fmt: skip
        except BaseException as err:  # noqa: B036 - reported to the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    latest = store.latest_materializations()
    assert len(latest) == 48 and latest["asset_3_11", None].rows == 11
    assert len(store.latest_check_results()) == 48
    ids = [r.id for r in store.materialization_history("asset_0_0")] + [
        r.id for r in latest.values()
    ]
    assert len(set(ids)) == 48  # ids are unique


def test_tables_live_in_the_orch_schema_named_by_the_warehouse_rules(
    store: WarehouseStateStore, backend: str
) -> None:
    names = {r.name for r in store.adapter.list_relations(store.database, store.schema)}
    if backend == "fakesnow":  # unquoted names are upper case on Snowflake
        assert store.schema == "_ORCH"
        assert {"RUNS", "MATERIALIZATIONS", "CHECK_RESULTS", "RUN_LOCKS", "TICKS"} <= names
        assert [c.name for c in store.adapter.columns(store.relation("runs"))][:2] == [
            "RUN_ID",
            "COMMAND",
        ]
    else:
        assert store.schema == "_orch"
        assert {"runs", "materializations", "check_results", "run_locks", "ticks"} <= names
    run_id = store.start_run("orch build", target="dev")
    rows = store.adapter.fetch_rows(
        f"SELECT COUNT(*) FROM {store.adapter.render(store.relation('runs'))}"
    )
    assert rows == [(1,)] and store.get_run(run_id) is not None


def test_values_are_literals_not_pasted_text(store: WarehouseStateStore) -> None:
    name = "o'brien; DROP TABLE runs; --"
    run_id = store.start_run("orch build", target="it's", selection=name)
    base._mat(store, run_id, name, "2026-01-01 'q'", metadata={"quote": "'\"\\"})
    (rec,) = store.materialization_history(name)
    assert (rec.asset, rec.partition_key, rec.target) == (name, "2026-01-01 'q'", "it's")
    assert rec.metadata == {"quote": "'\"\\"}
    assert store.recent_runs(target="it's")[0].selection == name


class ResendingAdapter:
    """Wraps an adapter and sends every write twice, as a retry after a lost response would."""

    def __init__(self, inner: Adapter) -> None:
        self._inner = inner
        self.sent: list[str] = []

    def execute(self, sql: str) -> int | None:
        self.sent.append(sql)
        if sql.startswith(("INSERT", "UPDATE")):
            self._inner.execute(sql)
        return self._inner.execute(sql)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_re_sent_writes_apply_once(store: WarehouseStateStore) -> None:
    resending = ResendingAdapter(store.adapter)
    store.adapter = resending  # type: ignore[assignment]
    run_id = store.start_run("orch build", target="dev")
    base._mat(store, run_id, "orders", rows=3)
    store.record_check(
        run_id=run_id, check="c", asset="orders", partition_key=None, status="pass",
        severity="error",
    )  # fmt: skip
    store.record_tick("nightly", base.T0, "success")
    store.set_cursor("s", "1")
    assert store.record_run_key("s", "k", run_id) is True  # the re-sent claim is still ours
    store.finish_run(run_id, "success")
    assert any(s.startswith("INSERT") for s in resending.sent)
    assert len(store.recent_runs()) == 1
    assert len(store.materialization_history("orders")) == 1
    assert len(store.check_history("c")) == 1
    assert len(store.ticks("nightly")) == 1 and store.get_cursor("s") == "1"
    assert store.record_run_key("s", "k", "another") is False


def test_second_acquire_says_who_holds_it_and_how_to_clear(
    store: WarehouseStateStore, backend: str
) -> None:
    with store.acquire_lock("dev", LockOwner("orch build", run_id="r1")) as lock:
        with pytest.raises(LockHeldError) as info:
            store.acquire_lock("dev", LockOwner("orch run"))
        since = lock.info.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        table = '"ORCH_DB"."_ORCH"."RUN_LOCKS"' if backend == "fakesnow" else '"_orch"."run_locks"'
        column = '"TARGET"' if backend == "fakesnow" else '"target"'
        assert str(info.value) == (
            f"target 'dev' is locked by `orch build` (pid {os.getpid()} on host "
            f"{socket.gethostname()}, since {since}, run r1). Wait for it to finish. If that "
            f"process is gone, remove the lock in the warehouse: DELETE FROM {table} WHERE "
            f"{column} = 'dev'"
        )
        assert info.value.exit_code == 2
    assert store.lock_holder("dev") is None


def test_lock_of_a_dead_process_is_taken_over(store: WarehouseStateStore) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_id = store.start_run("orch build", target="dev", pid=dead.pid)
    store.acquire_lock("dev", LockOwner("orch build", run_id=run_id, pid=dead.pid),
                       heartbeat_interval=None)  # fmt: skip
    with store.acquire_lock("dev", LockOwner("orch build"), heartbeat_interval=None) as lock:
        holder = store.lock_holder("dev")
        assert holder is not None and holder.lock_id == lock.info.lock_id
    killed = store.get_run(run_id)
    assert killed is not None and killed.status == "interrupted"


def test_a_live_lock_on_another_host_is_not_taken_over(store: WarehouseStateStore) -> None:
    store.acquire_lock("dev", LockOwner("orch build", pid=999_999, host="ci-runner-7"),
                       heartbeat_interval=None)  # fmt: skip
    with pytest.raises(LockHeldError, match=r"pid 999999 on host ci-runner-7"):
        store.acquire_lock("dev", LockOwner("orch build"))


def test_concurrent_acquirers_on_two_stores_get_one_owner(backend: str, tmp_path: Path) -> None:
    stores = [open_store(backend, tmp_path) for _ in range(2)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def take(s: WarehouseStateStore) -> None:
        barrier.wait()
        try:
            s.acquire_lock("dev", LockOwner("orch build"), heartbeat_interval=None)
            outcomes.append("won")
        except LockHeldError:
            outcomes.append("held")

    threads = [threading.Thread(target=take, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sorted(outcomes) == ["held", "won"]
        rows = stores[0].adapter.fetch_rows(
            f"SELECT COUNT(*) FROM {stores[0].adapter.render(stores[0].relation('run_locks'))}"
        )
        assert rows == [(1,)]
    finally:
        for s in stores:
            s.close()


def test_readonly_on_a_fresh_warehouse_is_empty_and_creates_nothing(
    backend: str, tmp_path: Path
) -> None:
    with open_store(backend, tmp_path, readonly=True) as reader:
        assert reader.recent_runs() == [] and reader.latest_materializations() == {}
        assert reader.latest_check_results() == {} and reader.partitions_of("a") == {}
        assert reader.last_tick("x") is None and reader.get_cursor("x") is None
        assert reader.lock_holder("dev") is None
        assert not reader.adapter.relation_exists(reader.relation("runs"))
        with pytest.raises(InternalError, match="read-only"):
            reader.start_run("orch build", target="dev")


def test_newer_schema_version_is_refused(backend: str, tmp_path: Path) -> None:
    with open_store(backend, tmp_path) as s:
        meta = s.adapter.render(s.relation("meta"))
        value = s.adapter.quote(s.adapter.normalize_name("value"))
        s.adapter.execute(f"UPDATE {meta} SET {value} = '99'")
    with pytest.raises(UserError, match="schema version 99, newer than this orch"):
        open_store(backend, tmp_path)


# --------------------------------------------------------------------------- selection and wiring


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        (DuckDBTargetConfig(), "sqlite"),
        (DuckDBTargetConfig(state="warehouse"), "warehouse"),
        (SnowflakeTargetConfig(account="a"), "warehouse"),
        (SnowflakeTargetConfig(account="a", state="sqlite"), "sqlite"),
    ],
    ids=["duckdb-default", "duckdb-warehouse", "snowflake-default", "snowflake-sqlite"],
)
def test_state_kind(target: Any, kind: str) -> None:
    assert state_kind(target) == kind


def test_open_state_store_picks_the_store(tmp_path: Path) -> None:
    with open_state_store(tmp_path, DuckDBTargetConfig(), readonly=True) as s:
        assert isinstance(s, SQLiteStateStore)
    with open_state_store(tmp_path, DuckDBTargetConfig(state="warehouse")) as s:
        assert isinstance(s, WarehouseStateStore)


PROFILES = """\
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: warehouse.duckdb
      schema: analytics
      state: warehouse
"""


def test_build_and_status_with_state_in_duckdb(make_project: Any, tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        {
            "models/a.sql": "select 1 as id",
            "models/b.sql": "select id + 1 as id from a",
        },
        profiles_yml=PROFILES,
    )
    runner = CliRunner()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        first = runner.invoke(cli, ["build"])
        assert first.exit_code == 0, first.output
        assert not state_path(root).exists()  # nothing in .orch/state.db
        second = runner.invoke(cli, ["build", "--changed"])  # the state: up to date
        assert second.exit_code == 0, second.output
        status = runner.invoke(cli, ["status"])
        assert status.exit_code == 0, status.output
    finally:
        os.chdir(cwd)
    rows = {ln.split()[0]: ln.split()[1:3] for ln in status.output.splitlines() if ln.strip()}
    assert rows["a"] == rows["b"] == ["view", "up"], status.output  # "up to date"
    assert "0 steps" in second.output or "nothing" in second.output.lower(), second.output
    adapter = DuckDBAdapter(DuckDBTargetConfig(path="warehouse.duckdb"), root)
    with adapter:
        runs = adapter.fetch_rows('SELECT "command", "status" FROM "_orch"."runs"')
        assets = adapter.fetch_rows(
            'SELECT DISTINCT "asset" FROM "_orch"."materializations" ORDER BY 1'
        )
        assert adapter.fetch_rows('SELECT * FROM "analytics"."b"') == [(2,)]
    assert sorted(runs)[0][1] == "success" and assets == [("a",), ("b",)]
    assert len(runs) == 2  # the second build ran, with nothing to do
