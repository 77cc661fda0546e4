"""``orch ui`` under test: a real project folder, the real server (uvicorn in a thread), real
worker processes and DuckDB; the browser tests drive Debian's Chromium through Playwright."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from orch.config import RunOptions
from orch.ui import UiApp, build_app

from tests.conftest import run_cli, write_project

SECRET = "s3cr3t-Value-9f2c1d-that-must-never-show"
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'
XSS_END = "</script><script>alert(2)</script>"
HOSTILE = f"{XSS_SCRIPT} {XSS_IMG} {XSS_END}"
HOSTILE_CHECK = 'x"><img src=x onerror=alert(3)>'

PROJECT_YML = """\
name: shop
profile: shop
dialect: duckdb
jobs:
  nightly:
    select: "orders"
    description: builds orders
schedules:
  orders_nightly:
    job: nightly
    cron: "0 2 * * *"
"""

FIXED_BROKEN = "select id, amount * 2 as doubled from {{ ref('orders') }}\n"
BROKEN = "select id, cast('not a number' as integer) as doubled from {{ ref('orders') }}\n"
SLOW = "-- a long query, to cancel\nselect sum(hash(i) % 7) as s from range(200000000000) t(i)\n"


def project_files() -> dict[str, str]:
    """Seeds, models (one that fails until fixed, one slow), hostile strings, a secret."""
    return {
        "seeds/raw_orders.csv": "id,customer_id,amount\n1,1,10\n2,1,20\n3,2,30\n",
        "models/orders.sql": (
            "{{ config(materialized='table') }}\n"
            f"-- {HOSTILE}\n"
            "select id, customer_id, amount, '{{ env_var(\"ORCH_UI_SECRET\") }}' = '' as flag\n"
            "from {{ ref('raw_orders') }}\n"
        ),
        "models/customers.sql": (
            "select customer_id, count(*) as order_count, sum(amount) as revenue\n"
            "from {{ ref('orders') }} group by customer_id\n"
        ),
        "models/broken.sql": FIXED_BROKEN,
        "models/slow.sql": SLOW,
        "models/_models.yml": f"""\
            version: 2
            models:
              - name: orders
                description: '{HOSTILE.replace("'", "''")}'
                tags: ['{XSS_SCRIPT}']
                meta:
                  owner_note: '{XSS_IMG}'
                columns:
                  - name: id
                    description: '{XSS_END}'
                    tests:
                      - not_null:
                          name: '{HOSTILE_CHECK}'
                      - unique
              - name: slow
                tags: [slow]
            """,
    }


@dataclass
class LiveServer:
    """A running ``orch ui``: its URL, token and project."""

    url: str
    token: str
    project: Path
    ui: UiApp

    def get(
        self, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        """GET ``path``: (status, decoded JSON or text, headers)."""
        return self.request("GET", path, None, headers)

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        token: str | None = "default",
        raw: bytes | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """POST JSON with the server's token (``token=None``: without one)."""
        headers = {"Content-Type": "application/json"}
        if token == "default":
            headers["X-Orch-Token"] = self.token
        elif token is not None:
            headers["X-Orch-Token"] = token
        data = raw if raw is not None else json.dumps(body or {}).encode()
        return self.request("POST", path, data, headers)

    def request(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str] | None
    ) -> tuple[int, Any, dict[str, str]]:
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, body, hdrs = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            status, body, hdrs = err.code, err.read(), dict(err.headers)
        text = body.decode("utf-8")
        try:
            return status, json.loads(text), hdrs
        except ValueError:
            return status, text, hdrs

    def wait_run(self, run_id: str, timeout: float = 90) -> dict[str, Any]:
        """Poll until the launched run's worker exited; its detail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, detail, _ = self.get(f"/api/runs/{run_id}")
            if isinstance(detail, dict) and not detail.get("live") and detail.get("events"):
                if any(e.get("event") == "WorkerExited" for e in detail["events"]):
                    return detail
            time.sleep(0.2)
        raise AssertionError(f"run {run_id} did not finish in {timeout}s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(project: Path, *, loopback: bool = True) -> Iterator[LiveServer]:
    """Serve ``project`` on a free port until the generator is closed."""
    ui = build_app(RunOptions(project_dir=project), loopback=loopback)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(ui.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise AssertionError("the server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", ui.token, project, ui)
    finally:
        ui.close()
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def ui_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small shop project, built once (so assets have history)."""
    monkeypatch.setenv("ORCH_UI_SECRET", SECRET)
    root = write_project(tmp_path / "shop", project_files(), project_yml=PROJECT_YML)

    built = run_cli("build", "--project-dir", root, "--exclude", "slow")
    assert built.exit_code == 0, built.output
    return root


@pytest.fixture
def live(ui_project: Path) -> Iterator[LiveServer]:
    """``orch ui`` serving ``ui_project``."""
    yield from start_server(ui_project)
