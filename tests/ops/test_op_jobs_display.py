"""Op jobs in orch status and in the docs site's data: their graph and their recent runs."""

from __future__ import annotations

import json
from pathlib import Path

from orch.config import RunOptions
from orch.docs.automation import automation_data
from orch.load.project import load_project
from orch.state import SQLiteStateStore

JOB = """\
from orch import job, op


@op
def fetch() -> list[int]:
    return [1, 2]


@op
def publish(rows: list[int]) -> int:
    if len(rows) > 1:
        raise RuntimeError("channel closed")
    return len(rows)


@job(description="Fetch and publish.")
def notify():
    publish(fetch())
"""


def _project(make_project, tmp_path: Path) -> Path:
    return make_project(tmp_path, {"models/orders.sql": "select 1 as id", "jobs/notify.py": JOB})


def test_status_lists_op_jobs_with_their_last_runs(make_project, tmp_path, orch) -> None:
    project = _project(make_project, tmp_path)
    assert orch("build", "--project-dir", project).exit_code == 0
    before = orch("status", "--project-dir", project)
    assert "notify                       ops: fetch → publish\n      never run" in before.stdout
    assert orch("job", "run", "notify", "--project-dir", project).exit_code == 1
    after = orch("status", "--project-dir", project)
    assert after.exit_code == 0, after.output
    lines = after.stdout.split("Op jobs (orch job run NAME):\n")[1].splitlines()
    assert lines[0] == "  notify                       ops: fetch → publish"
    assert lines[1].startswith("      failed      ") and "1 ok, 1 failed, 0 skipped" in lines[1]
    assert (
        lines[2] == "        failed      publish: RuntimeError: channel closed (jobs/notify.py:12)"
    )


def test_site_data_has_op_jobs_graph_runs_and_steps(make_project, tmp_path, orch) -> None:
    project = _project(make_project, tmp_path)
    assert orch("job", "run", "notify", "--project-dir", project).exit_code == 1
    loaded = load_project(RunOptions(project_dir=project))
    with SQLiteStateStore.for_project(project, readonly=True) as state:
        data = automation_data(loaded, state)
    assert data is not None and data["error"] is None
    (job,) = data["op_jobs"]
    assert job["name"] == "notify" and job["description"] == "Fetch and publish."
    assert job["order"] == ["fetch", "publish"] and job["edges"] == [["fetch", "publish"]]
    assert job["location"] == "jobs/notify.py:17"
    assert [r["status"] for r in job["runs"]] == ["failed"]
    assert [(s["step"], s["status"]) for s in job["last_steps"]] == [
        ("fetch", "success"),
        ("publish", "failed"),
    ]
    assert job["last_steps"][0]["outputs"] == {"result": {"type": "list", "size": "2 items"}}
    site = orch("docs", "generate", "--project-dir", project)
    assert site.exit_code == 0, site.output
    text = (project / "target/docs/data.js").read_text()
    index = json.loads(text[len("window.ORCH_DOCS=") : -2])
    assert index["automation"]["op_jobs"][0]["name"] == "notify"
