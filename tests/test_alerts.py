"""Webhook alerts against a local HTTP server on loopback: delivered, 500s and timeouts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from orch import post_webhook
from orch.automation.daemon import Daemon
from orch.config import RunOptions


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


class Server:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.bodies: list[dict] = []  # type: ignore[type-arg]
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                outer.bodies.append(json.loads(self.rfile.read(length)))
                if outer.mode == "slow":
                    time.sleep(1.0)
                code = 500 if outer.mode == "500" else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook/s3cr3t-path"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    made: list[Server] = []

    def make(mode: str) -> Server:
        made.append(Server(mode))
        return made[-1]

    yield make  # type: ignore[misc]
    for s in made:
        s.close()


def test_delivered(server) -> None:
    s = server("ok")
    d = post_webhook(s.url, {"text": "hi"}, sleep=lambda _: None)
    assert d.delivered and d.attempts == 1 and s.bodies == [{"text": "hi"}]


def test_500_is_retried_then_undelivered(server) -> None:
    s = server("500")
    d = post_webhook(s.url, {"text": "hi"}, retries=2, sleep=lambda _: None)
    assert not d.delivered and d.attempts == 3 and d.error == "HTTP 500"
    assert len(s.bodies) == 3


def test_timeout_is_retried_then_undelivered(server) -> None:
    s = server("slow")
    d = post_webhook(s.url, {"text": "hi"}, retries=1, timeout=0.2, sleep=lambda _: None)
    assert not d.delivered and d.attempts == 2 and d.error == "timed out"


SENSOR = """\
import orch

alert = orch.webhook_on_failure(
    "alert", url_env="ORCH_TEST_WEBHOOK", retries=1, timeout=2, minimum_interval_seconds=0
)
"""

YML = "name: shop\nprofile: shop\njobs:\n  boom:\n    select: broken\n"


@pytest.mark.parametrize("mode", ["ok", "500"])
def test_daemon_posts_a_failed_run_and_survives_an_undelivered_alert(
    server, make_project, tmp_path, orch, monkeypatch, mode
) -> None:
    s = server(mode)
    monkeypatch.setenv("ORCH_TEST_WEBHOOK", s.url)
    root: Path = make_project(
        tmp_path,
        {"models/broken.sql": "select cast('x' as integer) as n", "sensors/alert.py": SENSOR},
        project_yml=YML,
    )
    clock = Clock()
    d = daemon(root, clock)
    d.tick_once()
    assert orch("job", "run", "boom", "--project-dir", root).exit_code == 1
    d.tick_once()
    d.tick_once()
    d.close()
    assert s.bodies and s.bodies[0]["job"] == "boom" and s.bodies[0]["status"] == "failed"
    assert "of boom failed" in s.bodies[0]["text"]
    assert len(s.bodies) == (1 if mode == "ok" else 2)  # once per run; a 500 retried once
    records = [json.loads(x) for x in (root / "logs/alerts.jsonl").read_text().splitlines()]
    assert [r["delivered"] for r in records] == [mode == "ok"]
    for path in (root / "logs").rglob("*"):
        if path.is_file():
            assert "s3cr3t-path" not in path.read_text(errors="replace")


def test_undelivered_alert_is_recorded_in_the_state_and_shown_by_runs_show(
    server, make_project, tmp_path, orch, monkeypatch
) -> None:
    s = server("500")
    monkeypatch.setenv("ORCH_TEST_WEBHOOK", s.url)
    root: Path = make_project(
        tmp_path,
        {"models/broken.sql": "select cast('x' as integer) as n", "sensors/alert.py": SENSOR},
        project_yml=YML,
    )
    d = daemon(root, Clock())
    d.tick_once()
    assert orch("job", "run", "boom", "--project-dir", root).exit_code == 1
    d.tick_once()
    d.tick_once()
    run_id = next(r for r in d.state.recent_runs(10) if r.status == "failed").run_id
    hooks = d.state.run_hook_runs(run_id)
    d.close()
    assert [(h.phase, h.name, h.status) for h in hooks] == [("alert", "alert", "error")]
    assert hooks[0].error == "webhook undelivered after 2 attempt(s): HTTP 500"
    shown = orch("runs", "show", run_id[:8], "--project-dir", root)
    assert shown.exit_code == 0, shown.output
    assert "FAILED   alert 1: alert" in shown.output
    assert "webhook undelivered after 2 attempt(s): HTTP 500" in shown.output
    assert "s3cr3t-path" not in shown.output
