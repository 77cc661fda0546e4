"""Partitioned models end to end: real projects, the real CLI, rows in DuckDB files.

Covers the faults of issue 4: a failing partition, a killed backfill, a model whose SQL changes,
a key outside the range, a range that starts after it ends; and an incremental sequence of runs
compared row for row with a from-scratch build.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import Run, write_project

DAYS = 20  # 2024-01-01 .. 2024-01-20


def events_csv() -> str:
    rows = ["id,ordered_at,customer_id,amount"]
    for i in range(DAYS * 5):
        day, hour = divmod(i, 5)
        rows.append(
            f"{i + 1},2024-01-{day + 1:02d} {hour * 4 + 1:02d}:15:00,{i % 7 + 1},{i % 13 + 1}"
        )
    return "\n".join(rows) + "\n"


FCT = """\
{{{{ config(materialized='incremental', partitioned_by={{'grain': 'daily', 'start': '2024-01-01',
    'end': '2024-01-21', 'column': 'ordered_at'{extra}}}) }}}}
select e.id, e.ordered_at, e.amount, e.amount{amount_expr} as amount2, c.name
from raw_events e
join dim_customers c on c.customer_id = e.customer_id
where e.ordered_at >= {{{{ partition.start }}}} and e.ordered_at < {{{{ partition.end }}}}
{fail}
"""

FAIL_FILTER = (
    "and case when {{ partition.key }} in (select cast(day as varchar) from fail_days)"
    " then error('boom on ' || {{ partition.key }}) else true end"
)

MONTHLY = """\
{{ config(materialized='incremental', partitioned_by={'grain': 'monthly', 'start': '2024-01-01',
    'end': '2024-02-01', 'column': 'month'}) }}
select cast(date_trunc('month', ordered_at) as date) as month, count(*) as n, sum(amount) as total
from fct_events
group by 1
"""

OTHER = """\
{{ config(materialized='incremental', partitioned_by={'grain': 'daily', 'start': '2024-01-01',
    'end': '2024-01-21', 'column': 'ordered_at'}) }}
select id, ordered_at from raw_events
where ordered_at >= {{ partition.start }} and ordered_at < {{ partition.end }}
"""


def project_files(**fmt: Any) -> dict[str, str]:
    fct = FCT.format(
        extra=fmt.get("extra", ""),
        amount_expr=fmt.get("amount_expr", ""),
        fail=FAIL_FILTER if fmt.get("fail", True) else "",
    )
    return {
        "seeds/raw_events.csv": events_csv(),
        "seeds/fail_days.csv": "day\n" + "".join(f"{d}\n" for d in fmt.get("fail_days", [])),
        "seeds/_seeds.yml": "seeds:\n  - name: fail_days\n    config:\n"
        "      column_types: {day: varchar}\n",
        "models/dim_customers.sql": "select distinct customer_id, 'c' || customer_id as name"
        " from raw_events\n",
        "models/fct_events.sql": fct,
        "models/monthly_events.sql": MONTHLY,
        "models/other_daily.sql": OTHER,
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "p", project_files())


def rows(root: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def state_rows(root: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(root / ".orch" / "state.db")
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def last_run_steps(root: Path) -> set[tuple[str, str | None]]:
    """(asset, partition) of every successful materialization of the newest run."""
    return {
        (a, p)
        for a, p in state_rows(
            root,
            "SELECT asset, partition_key FROM materializations WHERE status = 'success'"
            " AND run_id = (SELECT run_id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1)",
        )
    }


ALL_FCT = "SELECT id, ordered_at, amount, amount2, name FROM analytics.fct_events ORDER BY id"


def test_build_writes_each_partition_then_does_nothing(
    project: Path, orch: Callable[..., Run]
) -> None:
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert rows(project, "SELECT count(*), count(DISTINCT cast(ordered_at AS date)) FROM "
                "analytics.fct_events") == [(DAYS * 5, DAYS)]  # fmt: skip
    assert rows(project, "SELECT month, n FROM analytics.monthly_events") == [
        (__import__("datetime").date(2024, 1, 1), DAYS * 5)
    ]
    partitions = state_rows(
        project, "SELECT count(*) FROM materializations WHERE asset = 'fct_events'"
    )
    assert partitions == [(DAYS,)]
    again = orch("build", "--project-dir", project, "--dry-run")
    assert "fct_events[" not in again.stdout and "monthly_events[" not in again.stdout
    assert "fct_events" in again.stdout and "up to date (skipped)" in again.stdout


def test_compiled_sql_filters_partitioned_upstream(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    root = write_project(tmp_path / "p", project_files())
    run = orch("compile", "--project-dir", root, "-s", "monthly_events")
    assert run.exit_code == 0, run.output
    assert (
        '(SELECT * FROM "analytics"."fct_events" WHERE "ordered_at" >= '
        "CAST('__orch_partition_start__' AS TIMESTAMP) AND \"ordered_at\" < "
        "CAST('__orch_partition_end__' AS TIMESTAMP)) AS fct_events"
    ) in run.stdout
    files = project_files()
    files["models/monthly_events.sql"] = MONTHLY.replace(
        "'column': 'month'", "'column': 'month', 'filter_upstream': False"
    )
    opted_out = write_project(tmp_path / "q", files)
    run = orch("compile", "--project-dir", opted_out, "-s", "monthly_events")
    assert 'from "analytics"."fct_events"' in run.stdout
    assert "__orch_partition_start__" not in run.stdout


def test_failing_partition_others_complete_and_it_is_retried(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    root = write_project(tmp_path / "p", project_files(fail_days=["2024-01-05"]))
    run = orch("build", "--project-dir", root, "--threads", "4")
    assert run.exit_code == 1
    assert "boom on 2024-01-05" in run.output
    days = rows(root, "SELECT DISTINCT cast(ordered_at AS date)::varchar FROM analytics.fct_events")
    assert len(days) == DAYS - 1 and ("2024-01-05",) not in days
    # the month reads the failed day: it waits, skipped (its table was never created)
    tables = "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'monthly%'"
    assert rows(root, tables) == []
    status = orch("status", "--project-dir", root, "-s", "fct_events")
    assert (
        "fct_events (daily from 2024-01-01 until 2024-01-21): 20 partitions: 19 ok, 1 failed"
        in (status.stdout)
    )
    assert "2024-01-01..2024-01-04 ok, 2024-01-05 failed, 2024-01-06..2024-01-20 ok" in (
        status.stdout
    )

    (root / "seeds" / "fail_days.csv").write_text("day\n", encoding="utf-8")
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    steps = last_run_steps(root)
    # fail_days, a seed every partition reads, changed: a pending change upstream makes every
    # partition stale (the failed one included)
    assert {s for s in steps if s[1] is not None} == {
        *(("fct_events", f"2024-01-{d:02d}") for d in range(1, DAYS + 1)),
        ("monthly_events", "2024-01"),
    }
    assert rows(root, "SELECT count(*) FROM analytics.fct_events") == [(DAYS * 5,)]
    assert rows(root, "SELECT n FROM analytics.monthly_events") == [(DAYS * 5,)]


def test_changed_sql_reruns_only_its_partitions_and_downstream(
    project: Path, orch: Callable[..., Run]
) -> None:
    assert orch("build", "--project-dir", project).exit_code == 0
    (project / "models" / "fct_events.sql").write_text(
        FCT.format(extra="", amount_expr=" * 10", fail=FAIL_FILTER), encoding="utf-8"
    )
    plan = orch("build", "--project-dir", project, "--dry-run")
    assert len(re.findall(r"^  fct_events\[.* code changed$", plan.stdout, re.M)) == DAYS
    assert re.search(
        r"^  monthly_events\[2024-01\] .* upstream fct_events\[2024-01-01\] code changed$",
        plan.stdout,
        re.M,
    )
    assert "other_daily[" not in plan.stdout
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    partition_steps = {s for s in last_run_steps(project) if s[1] is not None}
    assert {a for a, _ in partition_steps} == {"fct_events", "monthly_events"}
    assert len(partition_steps) == DAYS + 1
    assert rows(project, "SELECT sum(amount2) = 10 * sum(amount) FROM analytics.fct_events") == [
        (True,)
    ]
    # reformatting the SQL changes nothing
    text = (project / "models" / "fct_events.sql").read_text(encoding="utf-8")
    (project / "models" / "fct_events.sql").write_text(
        text.replace("select e.id,", "SELECT\n    e.id,"), encoding="utf-8"
    )
    plan = orch("build", "--project-dir", project, "--dry-run")
    assert "fct_events[" not in plan.stdout


def test_rows_outside_the_window_fail_or_are_dropped(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    unfiltered = OTHER.replace(
        "where ordered_at >= {{ partition.start }} and ordered_at < {{ partition.end }}", ""
    )
    root = write_project(tmp_path / "p", {**project_files(), "models/other_daily.sql": unfiltered})
    run = orch("build", "--project-dir", root, "-s", "+other_daily", "--partition", "2024-01-02")
    assert run.exit_code == 1
    assert (
        "'other_daily' partition 2024-01-02: 95 of 100 row(s) have 'ordered_at' outside the "
        "partition's window; nothing was written"
    ) in run.output
    assert rows(root, "SELECT count(*) FROM analytics.other_daily") == [(0,)]

    dropping = unfiltered.replace("'column': 'ordered_at'", "'column': 'ordered_at', "
                                  "'out_of_window': 'drop'")  # fmt: skip
    (root / "models" / "other_daily.sql").write_text(dropping, encoding="utf-8")
    run = orch("build", "--project-dir", root, "-s", "+other_daily", "--partition", "2024-01-02")
    assert run.exit_code == 0, run.output
    assert (
        "other_daily warning: other_daily[2024-01-02]: dropped 95 row(s) outside the partition's "
        "window ('ordered_at', out_of_window: drop)"
    ) in run.stdout
    assert rows(
        root, "SELECT count(*), min(ordered_at)::date::varchar FROM analytics.other_daily"
    ) == [(5, "2024-01-02")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--partition", "2023-12-31"),
            "Error: partition key '2023-12-31' is outside the definition's range (daily from "
            "2024-01-01 until 2024-01-21). Use a key from 2024-01-01 to 2024-01-20\n",
        ),
        (
            ("--partition", "2024/01/05"),
            "Error: invalid partition key '2024/01/05'. Expected YYYY-MM-DDTHH (e.g. "
            "2024-01-31T05); YYYY-MM-DD (e.g. 2024-01-31); YYYY-Www, an ISO week (e.g. 2024-W05); "
            "YYYY-MM (e.g. 2024-01)\n",
        ),
        (
            ("--start", "2024-01-10", "--end", "2024-01-03"),
            "Error: the range starts after it ends: --start 2024-01-10 --end 2024-01-03. Swap "
            "them: --start is the first partition, --end the last (included)\n",
        ),
        (
            ("--start", "2023-01-01", "--end", "2023-01-31"),
            "Error: 'fct_events' has no complete partition in 2023-01-01..2023-01-31. Its "
            "partitions: daily from 2024-01-01 until 2024-01-21, last complete: 2024-01-20\n",
        ),
    ],
    ids=["key-outside-range", "bad-key-format", "start-after-end", "range-outside"],
)
def test_bad_partition_arguments_write_nothing(
    project: Path, orch: Callable[..., Run], args: tuple[str, ...], message: str
) -> None:
    run = orch("build", "--project-dir", project, "-s", "fct_events", *args)
    assert run.exit_code == 2
    assert run.stderr == message
    assert not (project / "warehouse.duckdb").exists()
    backfill = orch("backfill", "--project-dir", project, "-s", "fct_events", *args[-4:])
    if "--start" in args:
        assert backfill.exit_code == 2 and backfill.stderr == message


def test_incremental_sequence_equals_from_scratch(tmp_path: Path, orch: Callable[..., Run]) -> None:
    scratch = write_project(tmp_path / "scratch", project_files())
    assert orch("build", "--project-dir", scratch).exit_code == 0
    inc = write_project(tmp_path / "inc", project_files())
    steps = [
        ("build", "--end", "2024-01-07"),
        ("build", "--end", "2024-01-14", "--threads", "4"),
        ("backfill", "-s", "fct_events+", "--start", "2024-01-03", "--end", "2024-01-04"),
        ("build", "-s", "fct_events", "--partition", "2024-01-10"),
        ("build", "--threads", "4"),
    ]
    for args in steps:
        run = orch(*args[:1], "--project-dir", inc, *args[1:])
        assert run.exit_code == 0, (args, run.output)
    for sql in (ALL_FCT, "SELECT * FROM analytics.monthly_events ORDER BY 1",
                "SELECT * FROM analytics.other_daily ORDER BY 1"):  # fmt: skip
        assert rows(inc, sql) == rows(scratch, sql)
    assert len(rows(inc, ALL_FCT)) == DAYS * 5


def test_backfill_dry_run_confirm_and_status(tmp_path: Path, orch: Callable[..., Run]) -> None:
    yml = "name: shop\nprofile: shop\ndialect: duckdb\nbackfill-confirm-above: 10\n"
    root = write_project(tmp_path / "p", project_files(), project_yml=yml)
    dry = orch("backfill", "--project-dir", root, "-s", "fct_events+", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Backfill plan: 21 partitions (dry run, nothing was run)" in dry.stdout
    assert "fct_events                           20 partitions  2024-01-01..2024-01-20" in (
        dry.stdout
    )
    assert "Estimated time: unknown" in dry.stdout
    refused = orch("backfill", "--project-dir", root, "-s", "fct_events+")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "Error: this backfill runs 21 partitions, above backfill_confirm_above (10). Pass --yes "
        "to run it (or --dry-run to see it), or narrow --start/--end\n"
    )
    assert orch("build", "--project-dir", root, "-s", "+dim_customers fail_days").exit_code == 0
    done = orch("backfill", "--project-dir", root, "-s", "fct_events+", "--yes", "--threads", "3")
    assert done.exit_code == 0, done.output
    again = orch("backfill", "--project-dir", root, "-s", "fct_events", "--start", "2024-01-05",
                 "--end", "2024-01-06", "--dry-run")  # fmt: skip
    assert "Backfill plan: 2 partitions" in again.stdout
    assert "Estimated time: " in again.stdout and "unknown" not in again.stdout
    status = orch("status", "--project-dir", root)
    assert "monthly_events (monthly from 2024-01-01 until 2024-02-01): 1 partitions: 1 ok" in (
        status.stdout
    )
    assert "other_daily (daily from 2024-01-01 until 2024-01-21): 20 partitions: 20 missing" in (
        status.stdout
    )


def test_static_keys(tmp_path: Path, orch: Callable[..., Run]) -> None:
    model = """\
    {{ config(materialized='table', partitioned_by={'keys': ['a', 'b', "o'c"], 'column': 'k'}) }}
    select {{ partition.key }} as k, count(*) as n from raw_events
    """
    root = write_project(tmp_path / "p", {"seeds/raw_events.csv": events_csv(),
                                          "models/by_key.sql": model})  # fmt: skip
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert rows(root, "SELECT k, n FROM analytics.by_key ORDER BY k") == [
        ("a", 100), ("b", 100), ("o'c", 100)
    ]  # fmt: skip
    run = orch("build", "--project-dir", root, "--partition", "z")
    assert run.exit_code == 2 and "unknown partition key 'z'. Use one of: a, b, o'c" in run.stderr


SLOW_FCT = FCT.format(extra="", amount_expr="", fail="").replace(
    "from raw_events e",
    "from raw_events e cross join (select sum(i) as pad from range(12000000) t(i)) as slow",
)


def test_killed_backfill_resumes_and_matches_from_scratch(
    tmp_path: Path, orch: Callable[..., Run]
) -> None:
    files = {**project_files(), "models/fct_events.sql": SLOW_FCT}
    root = write_project(tmp_path / "p", files)
    assert orch("build", "--project-dir", root, "-s", "+dim_customers").exit_code == 0
    cmd = [sys.executable, "-c", "from orch.cli import main; main()", "backfill",
           "--project-dir", str(root), "-s", "fct_events", "--threads", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if (root / ".orch" / "state.db").exists():
                done = state_rows(
                    root,
                    "SELECT count(*) FROM materializations WHERE asset = 'fct_events'"
                    " AND status = 'success'",
                )[0][0]
                if done >= 3:
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "the backfill finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    completed = state_rows(
        root, "SELECT count(*) FROM materializations WHERE asset = 'fct_events'"
    )[0][0]
    assert 3 <= completed < DAYS

    resumed = orch("backfill", "--project-dir", root, "-s", "fct_events", "--threads", "2")
    assert resumed.exit_code == 0, resumed.output
    assert "Resuming backfill" in resumed.stdout
    rerun = {p for a, p in last_run_steps(root) if a == "fct_events"}
    assert len(rerun) == DAYS - completed  # completed partitions were skipped
    scratch = write_project(tmp_path / "scratch", files)
    assert orch("build", "--project-dir", scratch, "-s", "+fct_events").exit_code == 0
    assert rows(root, ALL_FCT) == rows(scratch, ALL_FCT)
    assert len(rows(root, ALL_FCT)) == DAYS * 5
    # a finished backfill is not resumed: the same command runs everything again
    plan = orch("backfill", "--project-dir", root, "-s", "fct_events", "--dry-run")
    assert f"Backfill plan: {DAYS} partitions" in plan.stdout
