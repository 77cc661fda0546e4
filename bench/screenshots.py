"""Retake the screenshots in ``docs/img/`` from the real pages (``make screenshots``).

Usage: ``python bench/screenshots.py [--out docs/img]``

Copies example_project to a temporary folder, builds it twice with ``orch build`` (so assets have
history and checks a history), starts ``orch ui`` on a free loopback port and drives Debian's
Chromium (Playwright) through the pages the README and docs show: the graph, an asset page, the
catalog, a run launched from the page, a partitioned asset's launch box and the automation view.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update"]  # fmt: skip
ORCH = Path(sys.executable).with_name("orch")


def orch(*args: str | Path) -> None:
    subprocess.run([str(ORCH), *map(str, args)], check=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="orch_shots_"))
    project = tmp / "example_project"
    skip = shutil.ignore_patterns("target", "*.duckdb", "*.wal", ".orch", "logs")
    shutil.copytree(ROOT / "example_project", project, ignore=skip)
    orch("build", "--project-dir", project)
    orch("build", "--project-dir", project)
    port = free_port()
    server = subprocess.Popen([str(ORCH), "ui", "--port", str(port), "--project-dir", str(project)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        html = ""
        for _ in range(600):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/")
                html = conn.getresponse().read().decode()
                break
            except OSError:
                time.sleep(0.1)
        found = re.search(r'<meta name="orch-live" content="([^"]+)"', html)
        assert found, "orch ui did not start"
        token = found.group(1)
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})

            def shot(route: str, name: str, ready: str, full: bool = False) -> None:
                page.goto(url + route)
                page.wait_for_selector(ready)
                page.wait_for_timeout(400)
                page.screenshot(path=str(args.out / name), full_page=full)

            shot("#/", "graph.png", "#graph g.node")
            shot("#/asset/orders", "asset.png", "#checks tr[data-check]")
            shot("#/catalog", "ui-catalog.png", "#catalog-table")
            shot("#/automation", "ui-automation.png", "#view-automation table")
            page.goto(url + "#/asset/fct_order_lines")
            page.wait_for_selector("#launch-backfill")
            page.fill("#launch-start", "2024-01-01")
            page.fill("#launch-end", "2024-01-07")
            page.wait_for_timeout(300)
            page.screenshot(path=str(args.out / "ui-partitions.png"))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/api/launch", json.dumps({"select": ["+customers"]}),
                         {"Content-Type": "application/json", "X-Orch-Token": token})  # fmt: skip
            run = json.loads(conn.getresponse().read())["run"]
            page.goto(url + f"#/run/{run}")
            page.wait_for_selector("body[data-run-status=success]", timeout=120_000)
            page.wait_for_timeout(400)
            page.screenshot(path=str(args.out / "ui-run.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {', '.join(sorted(p.name for p in args.out.glob('*.png')))} to {args.out}")


if __name__ == "__main__":
    main()
