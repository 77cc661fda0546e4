"""@success_hook / @failure_hook on assets, ops and jobs: called with the step's context."""

from __future__ import annotations

import json
from pathlib import Path

ASSETS = """\
from pathlib import Path

import polars as pl

import orch
from orch import asset

OUT = Path(__file__).resolve().parent.parent / "hooks.log"


def note(text: str) -> None:
    with OUT.open("a") as f:
        f.write(text + "\\n")


@orch.success_hook
def on_ok(context: orch.HookContext) -> None:
    note(f"ok {context.kind} {context.step} {context.run_id != ''}")


@orch.failure_hook
def on_fail(context: orch.HookContext) -> None:
    context.log.info("alerting about %s", context.step)
    note(f"failed {context.step}: {type(context.error).__name__}: {context.error_message}")


@orch.failure_hook
def broken_hook(context: orch.HookContext) -> None:
    raise RuntimeError("the pager is down")


@orch.success_hook
def broken_ok_hook(context: orch.HookContext) -> None:
    raise RuntimeError("cannot say thanks")


@asset(hooks=[on_ok, on_fail])
def good() -> pl.DataFrame:
    return pl.DataFrame({"x": [1]})


@asset(hooks=[on_ok, broken_hook, on_fail])
def bad() -> pl.DataFrame:
    raise ValueError("no data today")


@asset(hooks=[broken_ok_hook, on_ok])
def fine() -> pl.DataFrame:
    return pl.DataFrame({"x": [2]})
"""


def lines(root: Path) -> list[str]:
    path = root / "hooks.log"
    return path.read_text().splitlines() if path.exists() else []


def test_asset_success_and_failure_hooks_get_the_step_and_error(
    make_project, tmp_path, orch
) -> None:
    root = make_project(tmp_path, {"models/assets.py": ASSETS})
    run = orch("build", "--project-dir", root, "--select", "good", "bad", "--threads", "1")
    assert run.exit_code == 1
    got = lines(root)
    assert "ok asset good True" in got
    assert not any(line.startswith("ok asset bad") for line in got)
    failed = [line for line in got if line.startswith("failed bad")]
    assert len(failed) == 1 and "ModelFailedError" in failed[0] and "no data today" in failed[0]
    # the raising hook is recorded as a hook failure; the next hook still ran
    assert "failure-hook hook 1 (broken_hook of bad) failed: RuntimeError: the pager is down" in (
        run.output
    )
    events = [json.loads(x) for x in (root / "logs/orch.jsonl").read_text().splitlines()]
    assert any("alerting about bad" in str(e.get("message")) for e in events)


def test_a_raising_success_hook_leaves_the_step_successful(make_project, tmp_path, orch) -> None:
    root = make_project(tmp_path, {"models/assets.py": ASSETS})
    run = orch("build", "--project-dir", root, "--select", "fine")
    assert run.exit_code == 0, run.output
    assert "success-hook hook 1 (broken_ok_hook of fine) failed: RuntimeError" in run.output
    assert lines(root) == ["ok asset fine True"]


def test_hooks_must_be_decorated(make_project, tmp_path, orch) -> None:
    text = """\
import polars as pl
from orch import asset


def plain(context):
    pass


@asset(hooks=[plain])
def a() -> pl.DataFrame:
    return pl.DataFrame({"x": [1]})
"""
    root = make_project(tmp_path, {"models/a.py": text})
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 2
    assert "asset 'a': hooks= takes functions decorated with @orch.success_hook" in run.output
    assert "'plain'" in run.output and "Traceback" not in run.output


JOB = """\
from pathlib import Path

import orch
from orch import job, op

OUT = Path(__file__).resolve().parent.parent / "hooks.log"


def note(text: str) -> None:
    with OUT.open("a") as f:
        f.write(text + "\\n")


@orch.failure_hook
def page(context: orch.HookContext) -> None:
    note(f"page {context.job} {context.step}: {context.error_message}")


@orch.success_hook
def done(context: orch.HookContext) -> None:
    note(f"done {context.kind} {context.step}")


@orch.failure_hook
def op_alarm(context: orch.HookContext) -> None:
    raise OSError("alarm broken")


@op(hooks=[op_alarm])
def extract() -> int:
    return 1


@op(hooks=[op_alarm])
def load(n: int) -> None:
    raise ValueError(f"cannot load {n}")


@job(hooks=[page, done])
def nightly():
    load(extract())
"""


def test_op_and_job_hooks(make_project, tmp_path, orch) -> None:
    root = make_project(tmp_path, {"jobs/nightly.py": JOB})
    run = orch("job", "run", "nightly", "--project-dir", root)
    assert run.exit_code == 1
    assert lines(root) == ["done op extract", "page nightly load: ValueError: cannot load 1"]
    assert "failure-hook hook 1 (op_alarm of load) failed: OSError: alarm broken" in run.output


def test_op_hooks_in_process(tmp_path) -> None:
    import orch

    seen: list[str] = []

    @orch.failure_hook
    def record(context: orch.HookContext) -> None:
        seen.append(f"{context.step} {type(context.error).__name__}")

    @orch.op
    def boom() -> None:
        raise KeyError("x")

    @orch.job(hooks=[record])
    def j():
        boom()

    result = j.execute_in_process(raise_on_error=False)
    assert not result.success
    assert seen == ["boom KeyError"]
