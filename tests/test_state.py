"""Tests for the SQLite state store, the run lock and the StateRecorder."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from orch.errors import InternalError, LockHeldError, UserError
from orch.events import CheckEvaluated, RunFinished, RunStarted, StepFailed, StepMaterialized
from orch.state import (
    SAMPLE_ROWS,
    LockOwner,
    SQLiteStateStore,
    StateRecorder,
    UpstreamRef,
    state_path,
)

T0 = datetime(2026, 11, 21, 10, 0, 3, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStateStore]:
    s = SQLiteStateStore.for_project(tmp_path)
    yield s
    s.close()


def _mat(
    store: SQLiteStateStore, run_id: str, asset: str, pk: str | None = None, **kw: object
) -> int:
    kw.setdefault("status", "success")
    kw.setdefault("fingerprint", "fp1")
    return store.record_materialization(
        run_id=run_id,
        asset=asset,
        partition_key=pk,
        started_at=T0,
        **kw,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- runs


def test_file_layout_wal_and_schema_version(tmp_path: Path) -> None:
    with SQLiteStateStore.for_project(tmp_path):
        pass
    path = state_path(tmp_path)
    assert path == tmp_path / ".orch" / "state.db"
    assert (tmp_path / ".orch" / ".gitignore").read_text() == "*\n"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert version == ("2",)
    finally:
        conn.close()


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    with SQLiteStateStore.for_project(tmp_path):
        pass
    conn = sqlite3.connect(state_path(tmp_path))
    with conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(UserError, match="schema version 99, newer than this orch"):
        SQLiteStateStore.for_project(tmp_path)


def test_run_lifecycle(store: SQLiteStateStore) -> None:
    run_id = store.start_run(
        "orch build", target="dev", selection="+orders", args={"threads": 4}, started_at=T0
    )
    assert len(run_id) == 32
    run = store.get_run(run_id)
    assert run is not None
    assert (run.command, run.target, run.selection, run.status) == (
        "orch build",
        "dev",
        "+orders",
        "running",
    )
    assert run.pid == os.getpid() and run.host == socket.gethostname()
    assert run.args == {"threads": 4}
    assert run.started_at == T0 and run.started_at.tzinfo is not None
    assert run.finished_at is None and run.duration_s is None

    store.finish_run(run_id, "success", finished_at=T0 + timedelta(seconds=90), counts={"ok": 3})
    run = store.get_run(run_id)
    assert run is not None and run.status == "success" and run.duration_s == 90.0
    assert run.counts == {"ok": 3}

    later = store.start_run("orch test", target="prod", started_at=T0 + timedelta(hours=1))
    assert [r.run_id for r in store.recent_runs()] == [later, run_id]
    assert [r.run_id for r in store.recent_runs(1)] == [later]
    assert [r.run_id for r in store.recent_runs(target="dev")] == [run_id]
    assert store.get_run("nope") is None


def test_start_run_is_idempotent_per_run_id(store: SQLiteStateStore) -> None:
    store.start_run("orch build", target="dev", run_id="r1", started_at=T0)
    store.start_run("orch build", target="dev", run_id="r1", started_at=T0 + timedelta(hours=1))
    assert [r.started_at for r in store.recent_runs()] == [T0]


# --------------------------------------------------------------------------- materializations


def test_latest_materialization_per_asset_and_partition(store: SQLiteStateStore) -> None:
    r1 = store.start_run("orch build", target="dev")
    r2 = store.start_run("orch build", target="dev")
    _mat(store, r1, "orders", fingerprint="old", rows=10)
    _mat(store, r1, "events", "2026-11-01")
    _mat(store, r1, "events", "2026-11-02")
    _mat(store, r2, "orders", fingerprint="new", rows=12)  # a newer success shadows the older
    _mat(store, r2, "events", "2026-11-02", status="failed", error="boom", fingerprint=None)

    latest = store.latest_materializations()
    assert set(latest) == {("orders", None), ("events", "2026-11-01"), ("events", "2026-11-02")}
    assert (latest["orders", None].fingerprint, latest["orders", None].rows) == ("new", 12)
    assert latest["orders", None].run_id == r2
    # the failure does not shadow the success, but it is the latest attempt
    assert latest["events", "2026-11-02"].status == "success"
    assert latest["events", "2026-11-02"].run_id == r1
    attempts = store.latest_attempts()
    assert attempts["events", "2026-11-02"].status == "failed"
    assert attempts["events", "2026-11-02"].error == "boom"
    assert attempts["orders", None].fingerprint == "new"

    assert set(store.latest_materializations(["orders"])) == {("orders", None)}
    assert store.latest_materializations([]) == {}
    parts = store.partitions_of("events")
    assert sorted(parts) == ["2026-11-01", "2026-11-02"]
    assert parts["2026-11-02"].run_id == r1
    assert store.partitions_of("orders") == {}

    history = store.materialization_history("events")
    assert [(h.partition_key, h.status) for h in history] == [
        ("2026-11-02", "failed"),
        ("2026-11-02", "success"),
        ("2026-11-01", "success"),
    ]
    assert [h.status for h in store.materialization_history("events", limit=1)] == ["failed"]


def test_failure_without_any_success_shows_only_in_attempts(store: SQLiteStateStore) -> None:
    r1 = store.start_run("orch build", target="dev")
    _mat(store, r1, "broken", status="failed", error="syntax error")
    assert store.latest_materializations() == {}
    assert store.latest_attempts()["broken", None].error == "syntax error"


def test_materializations_are_kept_per_target(store: SQLiteStateStore) -> None:
    dev = store.start_run("orch build", target="dev")
    prod = store.start_run("orch build", target="prod")
    _mat(store, dev, "orders", fingerprint="dev-fp")
    assert store.latest_materializations(target="prod") == {}
    _mat(store, prod, "orders", fingerprint="prod-fp")
    assert store.latest_materializations(target="dev")["orders", None].fingerprint == "dev-fp"
    assert store.latest_materializations(target="prod")["orders", None].target == "prod"
    assert store.latest_materializations()["orders", None].fingerprint == "prod-fp"  # newest
    assert [h.target for h in store.materialization_history("orders", target="dev")] == ["dev"]


def test_upstream_and_metadata_round_trip(store: SQLiteStateStore) -> None:
    r1 = store.start_run("orch build", target="dev")
    upstream = [
        {"asset": "raw_events", "partition": "2026-11-01", "run_id": "abc"},
        UpstreamRef("customers", None, "def"),
    ]
    metadata = {"bytes": 1024, "when": datetime(2026, 1, 1), "nested": {"a": [1, 2]}}
    _mat(store, r1, "daily", "2026-11-01", upstream=upstream, metadata=metadata, rows=5)
    (rec,) = store.materialization_history("daily")
    assert rec.upstream == (
        UpstreamRef("raw_events", "2026-11-01", "abc"),
        UpstreamRef("customers", None, "def"),
    )
    assert rec.metadata == {"bytes": 1024, "when": "2026-01-01 00:00:00", "nested": {"a": [1, 2]}}
    assert rec.key == ("daily", "2026-11-01") and rec.target == "dev"
    assert rec.started_at == T0 and rec.finished_at.tzinfo is not None
    assert rec.duration_s >= 0


# --------------------------------------------------------------------------- checks


def test_check_results(store: SQLiteStateStore) -> None:
    r1 = store.start_run("orch build", target="dev")
    r2 = store.start_run("orch build", target="dev")
    sample = [{"id": i, "email": None} for i in range(SAMPLE_ROWS + 5)]
    common = {"asset": "customers", "partition_key": None, "severity": "error"}
    store.record_check(
        run_id=r1,
        check="not_null_customers_email",
        status="fail",
        failing_rows=25,
        sample=sample,
        sql="select * from customers where email is null",
        **common,  # type: ignore[arg-type]
    )
    store.record_check(run_id=r1, check="unique_customers_id", status="pass", **common)  # type: ignore[arg-type]
    store.record_check(run_id=r2, check="not_null_customers_email", status="pass", **common)  # type: ignore[arg-type]

    latest = store.latest_check_results()
    assert set(latest) == {("not_null_customers_email", None), ("unique_customers_id", None)}
    assert latest["not_null_customers_email", None].status == "pass"
    assert latest["not_null_customers_email", None].run_id == r2
    assert set(store.latest_check_results(["unique_customers_id"])) == {
        ("unique_customers_id", None)
    }

    history = store.check_history("not_null_customers_email")
    assert [h.status for h in history] == ["pass", "fail"]
    failed = history[1]
    assert failed.failing_rows == 25 and len(failed.sample) == SAMPLE_ROWS
    assert failed.sample[0] == {"id": 0, "email": None}
    assert failed.sql.startswith("select") and failed.at.tzinfo is not None
    assert failed.target == "dev"


def test_record_checks_writes_a_batch_like_one_by_one_and_all_or_nothing(
    store: SQLiteStateStore,
) -> None:
    """``orch test`` records each batch of check results in one transaction: the rows are those
    ``record_check`` writes one at a time; a batch with a bad result writes none of them."""
    r1 = store.start_run("test", target="dev")
    r2 = store.start_run("test", target="prod")
    common = {"asset": "a", "partition_key": None, "severity": "warn"}
    sample = [{"id": i} for i in range(SAMPLE_ROWS + 2)]
    batch = [
        {"run_id": r1, "check": "c1", "status": "fail", "failing_rows": 12, "sample": sample,
         "sql": "select 1", "message": "m", **common},
        {"run_id": r1, "check": "c2", "status": "pass", "duration_s": 0.5, **common},
    ]  # fmt: skip
    store.record_checks(batch)
    for one in batch:
        store.record_check(**{**one, "run_id": r2})  # type: ignore[arg-type]

    def seen(run_id: str) -> list[tuple]:
        return [(c.check, c.status, c.severity, c.failing_rows, c.sample, c.sql, c.message,
                 c.duration_s) for c in store.run_check_results(run_id)]  # fmt: skip

    assert seen(r1) == seen(r2) and len(seen(r1)) == 2
    assert [c.target for c in store.run_check_results(r1)] == ["dev", "dev"]
    assert len(store.run_check_results(r1)[0].sample) == SAMPLE_ROWS
    with pytest.raises(InternalError):
        store.record_checks([{**batch[1], "check": "c3"}, {**batch[1], "status": "nope"}])
    assert [c.check for c in store.run_check_results(r1)] == ["c1", "c2"]


def test_one_runs_materializations_and_check_results(store: SQLiteStateStore) -> None:
    r1 = store.start_run("build", target="dev")
    r2 = store.start_run("build", target="dev")
    _mat(store, r1, "a", rows=3)
    _mat(store, r2, "a")
    _mat(store, r1, "b", "2024-01-01", status="failed", error="boom")
    common = {"asset": "a", "partition_key": None, "severity": "error"}
    store.record_check(run_id=r2, check="not_null_a_x", status="pass", **common)  # type: ignore[arg-type]
    store.record_check(run_id=r1, check="not_null_a_x", status="fail", failing_rows=2, **common)  # type: ignore[arg-type]
    mats = store.run_materializations(r1)
    assert [(m.asset, m.partition_key, m.status, m.rows, m.error) for m in mats] == [
        ("a", None, "success", 3, None),
        ("b", "2024-01-01", "failed", None, "boom"),
    ]
    assert {m.run_id for m in mats} == {r1} and mats[0].target == "dev"
    checks = store.run_check_results(r1)
    assert [(c.check, c.status, c.failing_rows, c.run_id) for c in checks] == [
        ("not_null_a_x", "fail", 2, r1)
    ]
    assert store.run_materializations("nope") == [] and store.run_check_results("nope") == []


# --------------------------------------------------------------------------- schedules


def test_ticks_cursors_and_run_keys(store: SQLiteStateStore) -> None:
    assert store.last_tick("nightly") is None
    store.record_tick("nightly", T0, "success", run_ids=["r1"])
    store.record_tick("nightly", T0 + timedelta(days=1), "skipped", skip_reason="up to date")
    store.record_tick("other", T0 + timedelta(days=5), "failure", error="boom")
    last = store.last_tick("nightly")
    assert last is not None
    assert (last.status, last.skip_reason, last.tick_time) == (
        "skipped",
        "up to date",
        T0 + timedelta(days=1),
    )
    assert [t.run_ids for t in store.ticks("nightly")] == [(), ("r1",)]
    assert len(store.ticks("nightly", limit=1)) == 1

    assert store.get_cursor("new_files") is None
    store.set_cursor("new_files", "offset=10")
    store.set_cursor("new_files", "offset=20")
    assert store.get_cursor("new_files") == "offset=20"

    assert not store.run_key_used("new_files", "file-1")
    assert store.record_run_key("new_files", "file-1", "r1") is True
    assert store.run_key_used("new_files", "file-1")
    assert store.record_run_key("new_files", "file-1", "r2") is False  # never twice
    assert store.record_run_key("other_sensor", "file-1", "r3") is True


# --------------------------------------------------------------------------- the run lock


def test_second_acquire_in_same_process_says_who_holds_it(store: SQLiteStateStore) -> None:
    with store.acquire_lock("dev", LockOwner("orch build", run_id="r1")) as lock:
        assert lock.held
        with pytest.raises(LockHeldError) as info:
            store.acquire_lock("dev", LockOwner("orch run"))
        message = str(info.value)
        since = lock.info.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        assert message.startswith(
            f"target 'dev' is locked by `orch build` (pid {os.getpid()} on host "
            f"{socket.gethostname()}, since {since}, run r1). Wait for it to finish. If that "
            "process is gone, remove the lock: sqlite3 "
        )
        assert "DELETE FROM run_locks WHERE target = 'dev'" in message
        assert info.value.exit_code == 2
        holder = store.lock_holder("dev")
        assert holder is not None and holder.command == "orch build"
    assert not lock.held
    assert store.lock_holder("dev") is None
    with store.acquire_lock("dev", LockOwner("orch run")):
        pass


def test_lock_is_released_when_the_holder_raises(store: SQLiteStateStore) -> None:
    with pytest.raises(RuntimeError), store.acquire_lock("dev", LockOwner("orch build")):
        raise RuntimeError("model failed")
    assert store.lock_holder("dev") is None


def test_targets_lock_independently(store: SQLiteStateStore) -> None:
    with store.acquire_lock("dev", LockOwner("orch build")):
        with store.acquire_lock("prod", LockOwner("orch build")):
            assert store.lock_holder("prod") is not None
        with pytest.raises(LockHeldError):
            store.acquire_lock("dev", LockOwner("orch build"))


def test_heartbeat_and_stale_heartbeat_takeover(store: SQLiteStateStore) -> None:
    old = store.acquire_lock("dev", LockOwner("orch build"), heartbeat_interval=None)
    before = old.info.heartbeat_at
    assert old.heartbeat() is True
    holder = store.lock_holder("dev")
    assert holder is not None and holder.heartbeat_at > before
    with pytest.raises(LockHeldError):
        store.acquire_lock("dev", LockOwner("orch build"), stale_after=60)
    new = store.acquire_lock("dev", LockOwner("orch build"), stale_after=0)  # heartbeat too old
    assert old.heartbeat() is False  # the old holder learns it lost the lock
    old.release()  # does not drop the new holder's lock
    holder = store.lock_holder("dev")
    assert holder is not None and holder.lock_id == new.info.lock_id
    new.release()


def test_background_heartbeat_thread(store: SQLiteStateStore) -> None:
    with store.acquire_lock("dev", LockOwner("orch build"), heartbeat_interval=0.01) as lock:
        first = lock.info.heartbeat_at
        deadline = datetime.now(timezone.utc) + timedelta(seconds=5)
        while datetime.now(timezone.utc) < deadline:
            holder = store.lock_holder("dev")
            if holder is not None and holder.heartbeat_at > first:
                break
        assert holder is not None and holder.heartbeat_at > first
    assert store.lock_holder("dev") is None


def test_close_releases_held_locks(tmp_path: Path) -> None:
    store = SQLiteStateStore.for_project(tmp_path)
    store.acquire_lock("dev", LockOwner("orch build"))
    store.close()
    with SQLiteStateStore.for_project(tmp_path) as again:
        assert again.lock_holder("dev") is None


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from orch.state import LockOwner, SQLiteStateStore
    store = SQLiteStateStore.open(sys.argv[1])
    run_id = store.start_run("orch build", target="dev")
    store.acquire_lock("dev", LockOwner("orch build", run_id=run_id))
    print(run_id, flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A separate python process holding the lock of target 'dev'; yields it and its run_id."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(state_path(tmp_path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        assert run_id, "the lock-holding subprocess did not start"
        yield proc, run_id
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_lock_held_by_another_process(
    tmp_path: Path, holder: tuple[subprocess.Popen[str], str]
) -> None:
    proc, run_id = holder
    with SQLiteStateStore.for_project(tmp_path) as store:
        with pytest.raises(LockHeldError, match=rf"`orch build` \(pid {proc.pid} on host "):
            store.acquire_lock("dev", LockOwner("orch build"))
        with store.acquire_lock("prod", LockOwner("orch build")):
            pass


def test_lock_of_a_killed_process_is_taken_over(
    tmp_path: Path, holder: tuple[subprocess.Popen[str], str]
) -> None:
    proc, run_id = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with SQLiteStateStore.for_project(tmp_path) as store:
        assert store.lock_holder("dev") is not None
        with store.acquire_lock("dev", LockOwner("orch build")) as lock:
            holder_info = store.lock_holder("dev")
            assert holder_info is not None and holder_info.lock_id == lock.info.lock_id
        killed_run = store.get_run(run_id)
        assert killed_run is not None and killed_run.status == "interrupted"


# --------------------------------------------------------------------------- readers


def test_readonly_on_missing_file_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    with SQLiteStateStore.for_project(tmp_path, readonly=True) as reader:
        assert reader.recent_runs() == []
        assert reader.latest_materializations() == {}
        assert reader.latest_attempts(["a"]) == {}
        assert reader.partitions_of("a") == {}
        assert reader.latest_check_results() == {}
        assert reader.last_tick("x") is None and reader.get_cursor("x") is None
        assert reader.lock_holder("dev") is None
    assert list(tmp_path.iterdir()) == []


def test_readonly_reads_while_a_writer_holds_the_lock_and_a_transaction(tmp_path: Path) -> None:
    with SQLiteStateStore.for_project(tmp_path) as writer:
        run_id = writer.start_run("orch build", target="dev")
        _mat(writer, run_id, "orders")
        with writer.acquire_lock("dev", LockOwner("orch build")):
            raw = sqlite3.connect(state_path(tmp_path), isolation_level=None)
            raw.execute("BEGIN IMMEDIATE")  # another writer mid-transaction
            try:
                with SQLiteStateStore.open(state_path(tmp_path), readonly=True) as reader:
                    assert set(reader.latest_materializations()) == {("orders", None)}
                    assert reader.lock_holder("dev") is not None
                    with pytest.raises(InternalError, match="read-only"):
                        reader.start_run("orch build", target="dev")
            finally:
                raw.execute("ROLLBACK")
                raw.close()


# --------------------------------------------------------------------------- threads


def test_concurrent_writes_from_four_threads(store: SQLiteStateStore) -> None:
    run_id = store.start_run("orch build", target="dev")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(50):
                _mat(store, run_id, f"asset_{worker}_{i}", rows=i)
                store.record_check(
                    run_id=run_id,
                    check=f"c_{worker}_{i}",
                    asset=None,
                    partition_key=None,
                    status="pass",
                    severity="error",
                )
                store.latest_materializations([f"asset_{worker}_{i}"])
        except BaseException as err:  # noqa: B036 - reported to the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.latest_materializations()) == 200
    assert len(store.latest_check_results()) == 200


def test_two_stores_on_one_file_write_concurrently(tmp_path: Path) -> None:
    with SQLiteStateStore.for_project(tmp_path) as a, SQLiteStateStore.for_project(tmp_path) as b:
        run_id = a.start_run("orch build", target="dev")
        threads = [
            threading.Thread(
                target=lambda s=s, n=n: [_mat(s, run_id, f"{n}{i}") for i in range(30)]
            )
            for s, n in ((a, "a"), (b, "b"))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(b.latest_materializations()) == 60


# --------------------------------------------------------------------------- StateRecorder


def test_state_recorder_from_real_events(store: SQLiteStateStore) -> None:
    recorder = StateRecorder(store)
    run_id = "run0001"
    t = T0
    upstream = [{"asset": "raw", "partition": "2026-11-01", "run_id": "earlier"}]
    events = [
        RunStarted(
            run_id,
            command="orch build",
            target="dev",
            selection="+daily",
            step_count=3,
            pid=4242,
            args={"full_refresh": False},
            at=t,
        ),
        StepMaterialized(
            run_id,
            step_id="daily[2026-11-01]",
            asset="daily",
            partition="2026-11-01",
            materialized="incremental",
            fingerprint="fp",
            rows=7,
            duration_s=2.0,
            started_at=t + timedelta(seconds=1),
            metadata={"bytes": 1},
            upstream=upstream,
            at=t + timedelta(seconds=3),
        ),
        StepFailed(
            run_id,
            step_id="orders",
            asset="orders",
            partition=None,
            error="Binder Error: column x",
            duration_s=0.5,
            fingerprint="fo",
            at=t + timedelta(seconds=4),
        ),
        CheckEvaluated(
            run_id,
            check="not_null_daily_id",
            asset="daily",
            partition="2026-11-01",
            status="fail",
            severity="warn",
            failing_rows=1,
            duration_s=0.1,
            sample=[{"id": None}],
            sql="select 1",
            message="1 row",
            at=t + timedelta(seconds=5),
        ),
        RunFinished(
            run_id,
            status="failed",
            duration_s=6.0,
            counts={"success": 1, "failed": 1},
            at=t + timedelta(seconds=6),
        ),
    ]
    for event in events:
        recorder.emit(event)

    run = store.get_run(run_id)
    assert run is not None
    assert (run.status, run.pid, run.target, run.selection) == ("failed", 4242, "dev", "+daily")
    assert run.args == {"full_refresh": False} and run.counts == {"success": 1, "failed": 1}
    assert run.duration_s == 6.0

    daily = store.partitions_of("daily", target="dev")["2026-11-01"]
    assert (daily.rows, daily.fingerprint, daily.materialized) == (7, "fp", "incremental")
    assert daily.started_at == t + timedelta(seconds=1)
    assert daily.finished_at == t + timedelta(seconds=3)
    assert daily.duration_s == 2.0
    assert daily.upstream == (UpstreamRef("raw", "2026-11-01", "earlier"),)
    assert daily.metadata == {"bytes": 1}

    failed = store.latest_attempts()["orders", None]
    assert (failed.status, failed.error, failed.fingerprint) == (
        "failed",
        "Binder Error: column x",
        "fo",
    )
    assert failed.duration_s == 0.5
    assert ("orders", None) not in store.latest_materializations()

    check = store.latest_check_results()["not_null_daily_id", "2026-11-01"]
    assert (check.status, check.severity, check.failing_rows, check.sample) == (
        "fail",
        "warn",
        1,
        ({"id": None},),
    )


def test_state_recorder_records_a_batch_of_check_results(store: SQLiteStateStore) -> None:
    """``emit_many`` (what ``orch test`` sends per batch): the run's events in order, its check
    results in one store call, with the run's target; secrets scrubbed as one by one."""
    recorder = StateRecorder(store)
    checks = [
        CheckEvaluated("r9", f"c{i}", "a", None, "pass" if i else "fail", "error", int(i == 0), 0.1,
                       sample=[{"id": i}] if not i else [], sql=f"select {i}", at=T0)
        for i in range(3)
    ]  # fmt: skip
    recorder.emit_many([
        RunStarted("r9", command="test", target="ci", selection="", step_count=3, at=T0),
        *checks,
        RunFinished("r9", status="failed", duration_s=1.0, counts={"fail": 1}, at=T0),
    ])  # fmt: skip
    run = store.get_run("r9")
    assert run is not None and run.status == "failed"
    got = [(c.check, c.status, c.failing_rows, c.sample, c.sql, c.target)
           for c in store.run_check_results("r9")]  # fmt: skip
    assert got == [
        ("c0", "fail", 1, ({"id": 0},), "select 0", "ci"),
        ("c1", "pass", 0, (), "select 1", "ci"),
        ("c2", "pass", 0, (), "select 2", "ci"),
    ]
