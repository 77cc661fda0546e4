"""Resources for Python checks, sensors and schedules: a parameter typed as an orch.Resource
subclass gets the resource of its name, set up once (per run for checks, per evaluation for
sensors and schedules) and torn down after, also when setup fails elsewhere."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from orch.cli import cli
from orch.state import SQLiteStateStore

PROJECT_YML = """\
name: shop
profile: shop
resources:
  client:
    type: Client
    limit: 5
  broken:
    type: Broken
jobs:
  nightly:
    select: orders
"""

RESOURCES = """\
from pathlib import Path

import orch

LOG = Path(__file__).resolve().parent.parent / "lifecycle.log"


def note(text: str) -> None:
    with LOG.open("a") as f:
        f.write(text + "\\n")


class Client(orch.Resource):
    limit: int

    def setup(self) -> None:
        note("setup client")

    def teardown(self) -> None:
        note("teardown client")


class Broken(orch.Resource):
    def setup(self) -> None:
        raise RuntimeError("cannot reach the server")

    def teardown(self) -> None:
        note("teardown broken")
"""

MODELS = (
    RESOURCES
    + """

import polars as pl
from orch import asset, check


@asset
def orders() -> pl.DataFrame:
    return pl.DataFrame({"amount": [1, 7, 3]})


@check(asset="orders")
def amounts_within_limit(data: pl.DataFrame, client: Client) -> int:
    note(f"check with limit {client.limit}")
    return int((data["amount"] > client.limit).sum())


@check(asset="orders")
def needs_broken(data: pl.DataFrame, broken: Broken) -> bool:
    return True
"""
)

SENSORS = (
    RESOURCES
    + """

from orch import RunRequest, SkipReason, sensor


@sensor(job="nightly")
def big_orders(context, client: Client):
    note(f"sensor with limit {client.limit}")
    if client.limit > 3:
        return RunRequest(run_key=f"limit-{client.limit}")
    return SkipReason("limit too low")


@sensor(job="nightly")
def unreachable(context, broken: Broken):
    return RunRequest()
"""
)

SCHEDULE = (
    RESOURCES
    + """

from orch import schedule


@schedule(cron="@daily", job="nightly")
def daily(context, client: Client):
    note(f"schedule at {context.scheduled_time:%Y-%m-%d} with limit {client.limit}")
    return {"limit": client.limit}
"""
)


def make(make_project, tmp_path: Path) -> Path:
    return make_project(
        tmp_path, {"models/orders.py": MODELS, "sensors/automation.py": SENSORS},
        project_yml=PROJECT_YML,
    )  # fmt: skip


def log_lines(root: Path) -> list[str]:
    path = root / "lifecycle.log"
    return path.read_text().splitlines() if path.exists() else []


def test_a_python_check_gets_a_resource_set_up_once_and_torn_down(
    make_project, tmp_path, orch
) -> None:
    root = make(make_project, tmp_path)
    build = orch("build", "--project-dir", root, "-s", "orders")
    assert build.exit_code == 1  # amounts_within_limit finds 1 row above 5; needs_broken errs
    with SQLiteStateStore.for_project(root, readonly=True) as state:
        run_id = state.recent_runs(1)[0].run_id
        results = {r.check: r for r in state.run_check_results(run_id)}
        steps = {m.asset: m.status for m in state.run_materializations(run_id)}
    assert steps == {"orders": "success"}
    assert results["amounts_within_limit"].status == "fail"
    assert results["amounts_within_limit"].failing_rows == 1
    assert results["needs_broken"].status == "error"
    assert "resource 'broken' (Broken) failed to set up: RuntimeError: cannot reach the server" in (
        results["needs_broken"].message
    )
    assert log_lines(root) == ["setup client", "check with limit 5", "teardown client"]

    (root / "lifecycle.log").unlink()
    test = orch("test", "--project-dir", root, "-s", "orders")
    assert test.exit_code == 1
    assert log_lines(root) == ["setup client", "check with limit 5", "teardown client"]


def test_a_sensor_gets_a_resource_per_evaluation(make_project, tmp_path) -> None:
    root = make(make_project, tmp_path)
    result = CliRunner().invoke(cli, ["sensor", "test", "big_orders", "--project-dir", str(root)])
    assert result.exit_code == 0, result.output
    assert "limit-5" in result.output
    assert log_lines(root) == ["setup client", "sensor with limit 5", "teardown client"]


def test_a_sensor_whose_resource_fails_to_set_up_fails_naming_it(make_project, tmp_path) -> None:
    root = make(make_project, tmp_path)
    result = CliRunner().invoke(cli, ["sensor", "test", "unreachable", "--project-dir", str(root)])
    assert "resource 'broken' (Broken) failed to set up: RuntimeError: cannot reach the server" in (
        result.output
    )
    assert "sensor 'unreachable' is evaluated again at its next tick" in result.output
    assert "Traceback" not in result.output
    assert "teardown broken" not in log_lines(root)  # never set up: never torn down


def test_a_schedule_gets_a_resource_per_tick(make_project, tmp_path) -> None:
    orders = "import polars as pl\nfrom orch import asset\n\n\n@asset\ndef orders():\n"
    root = make_project(
        tmp_path,
        {"models/orders.py": orders + "    return pl.DataFrame({'x': [1]})\n",
         "sensors/daily.py": SCHEDULE},
        project_yml=PROJECT_YML,
    )  # fmt: skip
    result = CliRunner().invoke(
        cli, ["schedule", "tick", "--project-dir", str(root), "--now", "2024-01-02T00:30:00Z"]
    )
    assert result.exit_code == 0, result.output
    lines = log_lines(root)
    assert lines[:3] == ["setup client", "schedule at 2024-01-02 with limit 5", "teardown client"]
    with SQLiteStateStore.for_project(root, readonly=True) as state:
        [tick] = state.ticks("daily")
        run = state.get_run(tick.run_ids[0])
    assert tick.status == "success"
    assert run is not None and run.args["vars"] == {"limit": 5}


def test_resources_ls_names_the_checks_sensors_and_schedules_using_them(
    make_project, tmp_path, orch
) -> None:
    root = make_project(
        tmp_path,
        {
            "models/orders.py": MODELS,
            "sensors/automation.py": SENSORS,
            "sensors/daily.py": SCHEDULE,
        },
        project_yml=PROJECT_YML,
    )
    listed = orch("resources", "ls", "--project-dir", root)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[1:] == [
        "  broken           Broken           (no settings)  ← check needs_broken,"
        " sensor unreachable",
        "  client           Client           limit=5  ← check amounts_within_limit, schedule daily,"
        " sensor big_orders",
    ]
    assert log_lines(root) == []  # listing sets nothing up
