"""Run-status sensors: each finished run handled once by the daemon, also across restarts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from orch.automation.daemon import Daemon
from orch.config import RunOptions

PROJECT_YML = """\
name: shop
profile: shop
jobs:
  boom:
    select: broken
  ok:
    select: fine
"""

SENSORS = """\
from pathlib import Path

import orch

OUT = Path(__file__).resolve().parent.parent / "alerts.log"


@orch.run_failure_sensor(minimum_interval_seconds=0)
def on_any_failure(context: orch.RunStatusContext) -> None:
    with OUT.open("a") as f:
        f.write(f"failed {context.job} {context.run.run_id}\\n")


@orch.run_status_sensor(status="success", jobs=["ok"], minimum_interval_seconds=0)
def on_ok(context: orch.RunStatusContext) -> None:
    with OUT.open("a") as f:
        f.write(f"success {context.job}\\n")
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def daemon(root: Path, clock: Clock) -> Daemon:
    return Daemon(
        RunOptions(project_dir=root), clock=clock, sleep=lambda s: None, launcher="inline",
        poll_interval=3600,
    )  # fmt: skip


def alerts(root: Path) -> list[str]:
    path = root / "alerts.log"
    return path.read_text().splitlines() if path.exists() else []


def test_each_finished_run_is_handled_once_across_a_daemon_restart(
    make_project, tmp_path, orch
) -> None:
    root = make_project(
        tmp_path,
        {
            "models/broken.sql": "select cast('x' as integer) as n",
            "models/fine.sql": "select 1 as x",
            "sensors/alerts.py": SENSORS,
        },
        project_yml=PROJECT_YML,
    )
    clock = Clock()
    first = daemon(root, clock)
    first.tick_once()  # starts watching: nothing finished yet
    first.close()
    assert orch("job", "run", "boom", "--project-dir", root).exit_code == 1
    assert orch("job", "run", "ok", "--project-dir", root).exit_code == 0
    # the daemon was down when the runs finished: the next one handles them, once
    second = daemon(root, clock)
    second.tick_once()
    second.tick_once()
    second.close()
    got = alerts(root)
    assert [line.split()[:2] for line in got] == [["failed", "boom"], ["success", "ok"]]
    third = daemon(root, clock)
    third.tick_once()
    third.close()
    assert alerts(root) == got
    assert orch("job", "run", "boom", "--project-dir", root).exit_code == 1
    fourth = daemon(root, clock)
    fourth.tick_once()
    fourth.close()
    assert [line.split()[:2] for line in alerts(root)][-1] == ["failed", "boom"]
    assert len(alerts(root)) == 3


def test_runs_before_the_sensor_existed_are_not_replayed(make_project, tmp_path, orch) -> None:
    root = make_project(
        tmp_path,
        {
            "models/broken.sql": "select cast('x' as integer) as n",
            "models/fine.sql": "select 1 as x",
        },
        project_yml=PROJECT_YML,
    )
    assert orch("job", "run", "boom", "--project-dir", root).exit_code == 1
    (root / "sensors").mkdir()
    (root / "sensors/alerts.py").write_text(SENSORS)
    clock = Clock()
    d = daemon(root, clock)
    d.tick_once()
    d.tick_once()
    d.close()
    assert alerts(root) == []


def test_unknown_status_is_refused(make_project, tmp_path, orch) -> None:
    root = make_project(
        tmp_path,
        {
            "models/fine.sql": "select 1 as x",
            "sensors/s.py": "import orch\n\n\n@orch.run_status_sensor(status='FAILED_HARD')\n"
            "def s(context):\n    pass\n",
        },
        project_yml=PROJECT_YML,
    )
    run = orch("sensor", "ls", "--project-dir", root)
    assert run.exit_code == 2
    assert "unknown status 'FAILED_HARD'" in run.output and "Traceback" not in run.output


MULTI_YML = """\
name: shop
profile: shop
jobs:
  after_both:
    select: fine
  after_any:
    select: fine
"""

MULTI = """\
import orch

both = orch.multi_asset_sensor(
    "both", job="after_both", assets=["a", "b"], require="all", minimum_interval_seconds=0
)
either = orch.multi_asset_sensor(
    "either", job="after_any", assets=["a", "b"], require="any", minimum_interval_seconds=0
)
"""


def job_runs(root: Path) -> list[str]:
    from orch.state import SQLiteStateStore

    with SQLiteStateStore.for_project(root, readonly=True) as s:
        return sorted(str(r.args.get("job")) for r in s.recent_runs(100) if r.args.get("job"))


def test_multi_asset_sensor_all_and_any(make_project, tmp_path, orch) -> None:
    root = make_project(
        tmp_path,
        {
            "models/a.sql": "select 1 as x",
            "models/b.sql": "select 2 as x",
            "models/fine.sql": "select 3 as x",
            "sensors/multi.py": MULTI,
        },
        project_yml=MULTI_YML,
    )
    clock = Clock()
    d = daemon(root, clock)
    d.tick_once()
    assert job_runs(root) == []
    assert orch("build", "-s", "a", "--project-dir", root).exit_code == 0
    d.tick_once()
    assert job_runs(root) == ["after_any"]  # all: still waiting for b
    assert orch("build", "-s", "b", "--project-dir", root).exit_code == 0
    d.tick_once()
    assert job_runs(root) == ["after_any", "after_any", "after_both"]
    d.tick_once()
    d.close()
    assert job_runs(root) == ["after_any", "after_any", "after_both"]


def test_multi_asset_sensor_refuses_a_bad_require() -> None:
    import orch
    import pytest
    from orch.errors import ConfigError

    with pytest.raises(ConfigError, match="require='most' is not 'all' or 'any'"):
        orch.multi_asset_sensor("s", job="j", assets=["a"], require="most")
