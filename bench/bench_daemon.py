"""Daemon overhead: the cost of one idle evaluation, and per tick next to the run it launches.

    python bench/bench_daemon.py [--schedules 50] [--sensors 20] [--days 10] [--repeat 5]

1. *idle iteration*: a project with S hourly schedules (all handled, nothing due) and N Python
   sensors (interval 0, each returning a SkipReason, so each evaluation records a skipped tick):
   median wall time of one ``Daemon.iterate(now)``.
2. *per tick*: a one-model project with a daily schedule; ``Daemon.run`` over D simulated days
   (inline launcher) vs calling ``orch.automation.jobs.run_job`` D times directly; overhead per
   tick = (daemon − direct) / D.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from orch.automation.daemon import Daemon
from orch.automation.jobs import run_job
from orch.automation.schedules import load_automation
from orch.config import RunOptions

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
PROFILES = "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: w.duckdb}\n"


def write_project(root: Path, schedules: int, sensors: int) -> None:
    """A one-model project with ``schedules`` hourly schedules and ``sensors`` Python sensors."""
    (root / "models").mkdir(parents=True)
    (root / "sensors").mkdir()
    (root / "models" / "a.sql").write_text("select 1 as x\n")
    lines = ["name: shop", "profile: shop", "jobs:", "  j:", "    select: a", "schedules:"]
    for i in range(schedules):
        lines += [f"  s{i}:", "    job: j", '    cron: "@hourly"']
    if not schedules:
        lines[-1] = "schedules: {}"
    (root / "orch_project.yml").write_text("\n".join(lines) + "\n")
    (root / "profiles.yml").write_text(PROFILES)
    code = ["from orch import SkipReason, sensor", ""]
    for i in range(sensors):
        code += [
            "@sensor(job='j', minimum_interval_seconds=0)",
            f"def n{i}(context):",
            "    return SkipReason('nothing new')",
            "",
        ]
    (root / "sensors" / "many.py").write_text("\n".join(code))


class Clock:
    """A simulated clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=max(seconds, 1.0))


def idle_iteration(schedules: int, sensors: int, repeat: int) -> float:
    """Median ms of one iteration with nothing due."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "p"
        write_project(root, schedules, sensors)
        clock = Clock(T0 + timedelta(minutes=5))
        daemon = Daemon(RunOptions(project_dir=root), clock=clock, launcher="inline")
        daemon.iterate(clock.now)  # the first iteration runs the 00:00 ticks
        samples = []
        for i in range(repeat * 10):
            clock.now = T0 + timedelta(minutes=10, seconds=i)
            started = time.perf_counter()
            daemon.iterate(clock.now)
            samples.append(time.perf_counter() - started)
        daemon.close()
    return statistics.median(samples) * 1000


def per_tick(days: int) -> tuple[float, float]:
    """(daemon seconds, direct seconds) for ``days`` daily ticks."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "p"
        write_project(root, 0, 0)
        yml = (
            (root / "orch_project.yml")
            .read_text()
            .replace("schedules: {}", 'schedules:\n  daily:\n    job: j\n    cron: "@daily"')
        )
        (root / "orch_project.yml").write_text(yml)
        clock = Clock(T0)
        daemon = Daemon(
            RunOptions(project_dir=root), clock=clock, sleep=clock.sleep, launcher="inline",
            poll_interval=86400,
        )  # fmt: skip
        started = time.perf_counter()
        daemon.run(until=T0 + timedelta(days=days - 1, hours=1))
        daemon_s = time.perf_counter() - started
        daemon.close()
        options = RunOptions(project_dir=root)
        job = load_automation(daemon.project).jobs["j"]
        started = time.perf_counter()
        for _ in range(days):
            run_job(options, "j", job)
        direct_s = time.perf_counter() - started
        shutil.rmtree(root)
    return daemon_s, direct_s


def main() -> None:
    """Print the figures as a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=50)
    parser.add_argument("--sensors", type=int, default=20)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    idle = idle_iteration(args.schedules, args.sensors, args.repeat)
    idle_s = idle_iteration(args.schedules, 0, args.repeat)
    pairs = [per_tick(args.days) for _ in range(args.repeat)]
    daemon_s = statistics.median(p[0] for p in pairs)
    direct_s = statistics.median(p[1] for p in pairs)
    print("| measurement | median |")
    print("|---|---:|")
    print(f"| idle iteration, {args.schedules} schedules, {args.sensors} sensors | {idle:.2f} ms |")
    print(f"| idle iteration, {args.schedules} schedules, 0 sensors | {idle_s:.2f} ms |")
    print(f"| {args.days} simulated days, daemon (inline runs) | {daemon_s:.2f} s |")
    print(f"| {args.days} direct `run_job` calls | {direct_s:.2f} s |")
    print(f"| daemon overhead per tick | {(daemon_s - direct_s) / args.days * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
