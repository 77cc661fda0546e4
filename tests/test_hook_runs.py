"""Hook runs in the state store: every success/failure hook, a model's pre-/post-hooks and the
on-run hooks are recorded (name, step, status, error, duration) and shown by ``orch runs show``.

A hook raising is recorded as a hook failure; the step's own status is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

from orch.state import SQLiteStateStore
from test_step_hooks import ASSETS, JOB


def last_run(root: Path) -> str:
    with SQLiteStateStore.for_project(root, readonly=True) as state:
        return state.recent_runs(1)[0].run_id


def test_a_raising_hook_is_a_recorded_hook_failure_and_the_step_keeps_its_status(
    make_project, tmp_path, orch
) -> None:
    root = make_project(tmp_path, {"models/assets.py": ASSETS})
    run = orch("build", "--project-dir", root, "--select", "bad", "fine", "--threads", "1")
    assert run.exit_code == 1
    run_id = last_run(root)
    with SQLiteStateStore.for_project(root, readonly=True) as state:
        steps = {m.asset: m.status for m in state.run_materializations(run_id)}
        hooks = state.run_hook_runs(run_id)
    assert steps == {"bad": "failed", "fine": "success"}  # the hooks changed neither
    got = [(h.phase, h.name, h.step, h.status, h.error) for h in hooks]
    assert ("failure-hook", "broken_hook of bad", "bad", "error",
            "RuntimeError: the pager is down") in got  # fmt: skip
    assert ("failure-hook", "on_fail of bad", "bad", "success", None) in got
    assert ("success-hook", "broken_ok_hook of fine", "fine", "error",
            "RuntimeError: cannot say thanks") in got  # fmt: skip
    assert ("success-hook", "on_ok of fine", "fine", "success", None) in got
    assert all(h.duration_s >= 0 for h in hooks)

    shown = orch("runs", "show", run_id[:8], "--project-dir", root)
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert "\nHooks:\n" in text
    assert "  FAILED   failure-hook 1: broken_hook of bad" in text
    assert "      RuntimeError: the pager is down\n" in text
    assert "      (a hook failure; the step's own status is unchanged)" in text
    assert "  ok       success-hook 2: on_ok of fine" in text

    as_json = json.loads(orch("runs", "show", run_id, "--project-dir", root, "--output",
                              "json").stdout)  # fmt: skip
    broken = [h for h in as_json["hooks"] if h["name"] == "broken_hook of bad"]
    assert broken == [{"phase": "failure-hook", "index": 0, "name": "broken_hook of bad",
                       "step": "bad", "status": "error",
                       "error": "RuntimeError: the pager is down",
                       "duration_s": broken[0]["duration_s"]}]  # fmt: skip


def test_op_job_hooks_are_recorded(make_project, tmp_path, orch) -> None:
    root = make_project(tmp_path, {"jobs/nightly.py": JOB})
    assert orch("job", "run", "nightly", "--project-dir", root).exit_code == 1
    with SQLiteStateStore.for_project(root, readonly=True) as state:
        run_id = state.recent_runs(1)[0].run_id
        hooks = [(h.phase, h.name, h.step, h.status) for h in state.run_hook_runs(run_id)]
        ops = {o.step_key: o.status for o in state.run_op_steps(run_id)}
    assert ("failure-hook", "op_alarm of load", "load", "error") in hooks
    assert ("failure-hook", "page of load", "load", "success") in hooks
    assert ("success-hook", "done of extract", "extract", "success") in hooks
    assert ops["load"] == "failed" and ops["extract"] == "success"


def test_sql_model_hooks_and_on_run_hooks_are_recorded(make_project, tmp_path, orch) -> None:
    project = """\
        name: shop
        profile: shop
        dialect: duckdb
        on-run-start:
          - "create schema if not exists analytics"
          - "create table if not exists audit_log (event varchar)"
        on-run-end:
          - "insert into audit_log values ('end')"
    """
    model = """\
        {{ config(materialized='table',
                  pre_hook="insert into audit_log values ('start')",
                  post_hook=["insert into audit_log values ('built')", "select nope"]) }}
        select 1 as id
    """
    root = make_project(tmp_path, {"models/orders.sql": model}, project_yml=project)
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 1  # the failing post-hook fails its step
    with SQLiteStateStore.for_project(root, readonly=True) as state:
        run_id = state.recent_runs(1)[0].run_id
        hooks = [(h.phase, h.index, h.step, h.status) for h in state.run_hook_runs(run_id)]
        errors = [h.error for h in state.run_hook_runs(run_id) if h.status == "error"]
    assert hooks == [
        ("on-run-start", 0, None, "success"),
        ("on-run-start", 1, None, "success"),
        ("pre-hook", 0, "orders", "success"),
        ("post-hook", 0, "orders", "success"),
        ("post-hook", 1, "orders", "error"),
        ("on-run-end", 0, None, "success"),
    ]
    assert errors and "nope" in (errors[0] or "")
    shown = orch("runs", "show", run_id[:8], "--project-dir", root).stdout
    assert "  FAILED   post-hook 2: " in shown and " of orders" in shown
