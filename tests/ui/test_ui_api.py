"""The JSON API of ``orch ui`` on the real server: every endpoint, the token, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pytest
from orch.state import LockOwner, SQLiteStateStore

from tests.conftest import run_cli
from tests.ui.conftest import (
    BROKEN,
    FIXED_BROKEN,
    HOSTILE_CHECK,
    SECRET,
    XSS_SCRIPT,
    LiveServer,
    free_port,
    start_server,
)


def rows(project: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_page_carries_the_token_and_a_strict_policy(live: LiveServer) -> None:
    status, page, headers = live.get("/")
    assert status == 200
    assert f'<meta name="orch-live" content="{live.token}">' in page
    assert '<script src="static/live.js"></script>' in page
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    status, script, _ = live.get("/static/live.js")
    assert status == 200 and "X-Orch-Token" in script
    assert live.get("/data/a0.js")[0] == 200
    assert live.get("/data/a99.js")[0] == 404
    assert live.get("/data/evil.js")[0] == 404


def test_asset_list_and_detail(live: LiveServer) -> None:
    status, body, _ = live.get("/api/assets")
    assert status == 200
    by_name = {a["name"]: a for a in body["assets"]}
    assert by_name["orders"]["status"] == "fresh"
    assert by_name["orders"]["rows"] == 3
    assert by_name["slow"]["status"] == "never"
    status, detail, _ = live.get("/api/assets/customers")
    assert status == 200 and detail["name"] == "customers" and detail["runs"]
    status, body, _ = live.get("/api/assets/nope")
    assert status == 404 and body["error"] == "unknown asset 'nope'"
    status, body, _ = live.get("/api/unknown")
    assert status == 404 and "no such endpoint" in body["error"]


def test_no_secret_reaches_any_answer(live: LiveServer) -> None:
    answers = [live.get(p)[1] for p in ("/", "/data.js", "/data/a0.js", "/api/assets",
                                        "/api/assets/orders", "/api/runs")]  # fmt: skip
    run = live.post("/api/launch", {"select": ["orders"]})[1]["run"]
    answers.append(live.wait_run(run))
    text = json.dumps(answers)
    assert SECRET not in text
    assert "env_var" in text  # the placeholder is what the compiled SQL shows


def test_changing_requests_need_the_token(live: LiveServer) -> None:
    status, body, _ = live.post("/api/launch", {"select": ["orders"]}, token=None)
    assert status == 403 and body["error"] == "missing or wrong X-Orch-Token header"
    assert live.post("/api/launch", {"select": ["orders"]}, token="wrong")[0] == 403
    assert (
        live.post("/api/automation/orders_nightly/toggle", {"enabled": False}, token=None)[0] == 403
    )
    assert live.post("/api/runs/x/cancel", token=None)[0] == 403
    # a GET never changes anything
    assert live.get("/api/launch")[0] in (404, 405)
    assert (
        SQLiteStateStore.for_project(live.project, readonly=True).recent_runs(10)[0].selection == ""
    )


def test_a_rebinding_host_is_refused(live: LiveServer) -> None:
    status, body, _ = live.get("/api/assets", headers={"Host": "evil.example:80"})
    assert status == 400 and "unexpected Host header" in body["error"]


@pytest.mark.parametrize(
    ("body", "raw", "message"),
    [
        (None, b"{not json", "request body is not JSON"),
        (None, b"[1, 2]", "request body must be a JSON object"),
        ({"select": []}, None, "nothing selected"),
        ({"select": [""]}, None, "'select' must be a list of non-empty strings"),
        ({"select": ["nope"]}, None, "selector 'nope' matches no asset or check"),
        (
            {"select": ["orders"], "partition": "2024-01-01", "start": "2024-01-01"},
            None,
            "give a partition or a range (start/end), not both",
        ),
        ({"select": ["orders"], "vars": "{bad"}, None, "'vars' is not JSON"),
        ({"kind": "rm -rf"}, None, "unknown launch kind 'rm -rf'"),
        ({"kind": "job"}, None, "'job' names the job to run"),
    ],
    ids=["not-json", "not-object", "empty", "blank", "unknown", "both", "vars", "kind", "job"],
)
def test_bad_launches_are_400(
    live: LiveServer, body: object, raw: bytes | None, message: str
) -> None:
    status, answer, _ = live.post("/api/launch", body, raw=raw)
    assert status == 400, answer
    assert message in answer["error"]


def test_launch_builds_through_the_run_workflow(live: LiveServer) -> None:
    rows(live.project, "select 1")  # the warehouse exists
    status, body, _ = live.post("/api/launch", {"select": ["orders", "customers"]})
    assert status == 202 and body["label"] == "materialize orders customers"
    detail = live.wait_run(body["run"])
    kinds = [e["event"] for e in detail["events"]]
    assert kinds[0] == "RunStarted" and "RunFinished" in kinds
    done = [e["step_id"] for e in detail["events"] if e["event"] == "StepMaterialized"]
    assert sorted(done) == ["customers", "orders"]
    checks = {e["check"]: e["status"] for e in detail["events"] if e["event"] == "CheckEvaluated"}
    assert checks[HOSTILE_CHECK] == "pass"
    assert detail["run"]["status"] == "success" and detail["run"]["counts"] == {"success": 2}
    # recorded like a CLI build: the state store, the warehouse
    record = SQLiteStateStore.for_project(live.project, readonly=True).get_run(body["run"])
    assert (
        record is not None and record.command == "build" and record.selection == "orders customers"
    )
    assert rows(live.project, "select count(*) from analytics.customers") == [(2,)]
    # the run list and its filters
    listed = live.get("/api/runs?asset=customers")[1]["runs"]
    assert [r["run"] for r in listed][0] == body["run"]
    assert all(r["status"] == "success" for r in live.get("/api/runs?status=success")[1]["runs"])
    assert live.get("/api/runs?status=bogus")[0] == 400
    assert "not an ISO 8601 time" in live.get("/api/runs?since=yesterday")[1]["error"]
    assert live.get("/api/runs?since=2999-01-01")[1]["runs"] == []
    assert live.get("/api/runs?limit=x")[0] == 400
    assert live.get("/api/runs/nope")[0] == 404


def test_server_sent_events_stream_a_run(live: LiveServer) -> None:
    run = live.post("/api/launch", {"select": ["orders"]})[1]["run"]
    with urllib.request.urlopen(f"{live.url}/api/runs/{run}/events", timeout=60) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        text = resp.read().decode()
    events = [e for line in text.splitlines() if line.startswith("data: [")
              for e in json.loads(line[6:])]  # fmt: skip
    assert [e["event"] for e in events if e["event"].startswith("Step")] == [
        "StepQueued", "StepStarted", "StepMaterialized"]  # fmt: skip
    assert text.rstrip().endswith("event: end\ndata: {}")
    assert live.get("/api/runs/nope/events")[0] == 404


def test_a_locked_target_refuses_naming_the_holder(live: LiveServer) -> None:
    with SQLiteStateStore.for_project(live.project) as store:
        with store.acquire_lock("dev", LockOwner("backfill", "holder-run-1")):
            status, body, _ = live.post("/api/launch", {"select": ["orders"]})
            assert live.get("/api/lock")[1]["locked"] is True
    assert status == 409 and body["locked"] is True
    assert re.search(r"target 'dev' is locked by `backfill` \(pid \d+ on host .*run holder-run-1\)",
                     body["error"])  # fmt: skip
    assert live.get("/api/lock")[1] == {"locked": False, "holder": None}


def test_cancel_interrupts_and_records(live: LiveServer) -> None:
    run = live.post("/api/launch", {"select": ["slow"]})[1]["run"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = live.get(f"/api/runs/{run}")[1]["events"]
        if any(e["event"] == "StepStarted" for e in events):
            break
        time.sleep(0.2)
    again = live.post("/api/launch", {"select": ["orders"]})
    assert again[0] == 409 and "is still running" in again[1]["error"]
    assert live.post(f"/api/runs/{run}/cancel")[0] == 202
    detail = live.wait_run(run, timeout=60)
    assert detail["run"]["status"] == "interrupted"
    assert detail["cancelled"] is True
    assert live.post("/api/runs/unknown/cancel")[0] == 404


def test_retry_reexecutes_only_what_failed(live: LiveServer) -> None:
    (live.project / "models" / "broken.sql").write_text(BROKEN, encoding="utf-8")
    first = live.post("/api/launch", {"select": ["orders+"], "exclude": ["slow"]})[1]["run"]
    detail = live.wait_run(first)
    assert detail["run"]["status"] == "failed"
    failed = [e["step_id"] for e in detail["events"] if e["event"] == "StepFailed"]
    assert failed == ["broken"]
    (live.project / "models" / "broken.sql").write_text(FIXED_BROKEN, encoding="utf-8")
    status, body, _ = live.post(f"/api/runs/{first}/retry")
    assert status == 202
    retried = live.wait_run(body["run"])
    assert retried["run"]["status"] == "success" and retried["run"]["retry_of"] == first
    assert [e["step_id"] for e in retried["events"] if e["event"] == "StepMaterialized"] == [
        "broken"
    ]
    assert rows(live.project, "select sum(doubled) from analytics.broken") == [(120,)]
    # only the last build can be re-executed from failure
    status, body, _ = live.post(f"/api/runs/{first}/retry")
    retry_again = live.wait_run(body["run"])
    refused = [e for e in retry_again["events"] if e["event"] == "LaunchFailed"]
    assert (
        "nothing to re-execute" in refused[0]["error"]
        or "not the last build" in refused[0]["error"]
    )
    assert live.post("/api/runs/nope/retry")[0] == 404


def test_job_launch_with_config(live: LiveServer) -> None:
    status, body, _ = live.post(
        "/api/launch", {"kind": "job", "job": "nightly", "vars": '{"x": 1}'}
    )
    assert status == 202 and body["label"] == "job nightly"
    detail = live.wait_run(body["run"])
    assert detail["run"]["status"] == "success" and detail["run"]["job"] == "nightly"
    assert [r["run"] for r in live.get("/api/runs?job=nightly")[1]["runs"]] == [body["run"]]
    status, body, _ = live.post("/api/launch", {"kind": "job", "job": "nightlx"})
    refused = live.wait_run(body["run"])
    assert "unknown job 'nightlx'" in refused["events"][0]["error"]


def test_toggle_is_stored_and_honoured(live: LiveServer) -> None:
    assert live.post("/api/automation/nope/toggle", {"enabled": False})[0] == 404
    assert live.post("/api/automation/orders_nightly/toggle", {"enabled": "no"})[0] == 400
    status, body, _ = live.post("/api/automation/orders_nightly/toggle", {"enabled": False})
    assert status == 200 and body == {"name": "orders_nightly", "enabled": False}
    schedules = live.get("/api/automation")[1]["schedules"]
    assert schedules[0]["enabled"] is False
    listed = run_cli("schedule", "ls", "--project-dir", live.project)
    assert "next: disabled" in listed.output
    ticked = run_cli("schedule", "tick", "--project-dir", live.project, "--now", "2024-03-02T03:00")
    assert ticked.exit_code == 0 and "orders_nightly" not in ticked.output
    live.post("/api/automation/orders_nightly/toggle", {"enabled": True})
    ticked = run_cli("schedule", "tick", "--project-dir", live.project, "--now", "2024-03-02T03:00")
    assert "orders_nightly" in ticked.output, ticked.output


def test_another_host_needs_the_token_for_everything(ui_project: Path) -> None:
    for server in start_server(ui_project, loopback=False):
        status, body, _ = server.get("/api/assets")
        assert status == 401 and "needs its token" in body["error"]
        assert server.get("/")[0] == 401
        req = urllib.request.Request(f"{server.url}/?token={server.token}")
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(req)
        except urllib.error.HTTPError as err:
            assert err.code == 303
            cookie = err.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        status, _, _ = server.get("/api/assets", headers={"Cookie": cookie.split(";")[0]})
        assert status == 200
        assert server.get("/api/assets", headers={"X-Orch-Token": server.token})[0] == 200


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_hostile_strings_are_json_not_markup(live: LiveServer) -> None:
    _, data_js, _ = live.get("/data.js")
    assert "<script>" not in data_js and "\\u003cscript\\u003e" in data_js
    _, page, _ = live.get("/")
    assert XSS_SCRIPT not in page


def test_orch_ui_refuses_a_bad_port(ui_project: Path) -> None:
    result = run_cli("ui", "--project-dir", ui_project, "--port", "0")
    assert result.exit_code == 2 and "--port" in result.output


def test_orch_ui_on_another_host_warns_and_prints_the_token_url(ui_project: Path) -> None:
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-c", "from orch.cli import main; main()", "ui", "--project-dir",
         str(ui_project), "--host", "0.0.0.0", "--port", str(port), "--token", "tok-123"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stderr is not None
        line = child.stdout.readline()
        warning = child.stderr.readline()
    finally:
        child.terminate()
        child.wait(timeout=30)
    assert line.strip() == f"orch ui for shop: open http://0.0.0.0:{port}/?token=tok-123"
    assert warning.startswith("Warning: --host 0.0.0.0 is reachable from other machines")


OP_JOB = """\
from orch.ops import job, op


@op
def count_to() -> int:
    return 3


@op
def double(value: int) -> int:
    return value * 2


@job
def doubling():
    double(count_to())
"""


def test_an_op_job_launches_from_the_page(ui_project: Path) -> None:
    """An op job (jobs/*.py) is launched like an asset job: same lock, state and run page."""
    (ui_project / "jobs").mkdir()
    (ui_project / "jobs" / "doubling.py").write_text(OP_JOB)
    for live in start_server(ui_project):
        status, body, _ = live.post("/api/launch", {"kind": "job", "job": "doubling"})
        assert status == 202, body
        detail = live.wait_run(body["run"])
        assert detail["run"]["status"] == "success", detail
        steps = SQLiteStateStore.for_project(ui_project, readonly=True).run_op_steps(body["run"])
        assert sorted((s.step_key, s.status) for s in steps) == [
            ("count_to", "success"),
            ("double", "success"),
        ]
