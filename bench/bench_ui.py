"""Benchmark ``orch ui`` on a generated 10,000-asset project (issue 16).

Usage: ``python bench/bench_ui.py [--assets 10000] [--repeat 5] [--requests 100] [--project DIR]``

Starts the real server (``orch ui`` in a subprocess, loopback only) on a project written by
``bench/generate.py`` and measures, with Playwright on Debian's ``/usr/bin/chromium``:

- **first paint of the graph page**: navigation start to the frame after the graph was drawn
  (``performance.mark('orch:graph-painted')``, set by app.js), median of ``--repeat`` fresh page
  loads (the first load after start, which builds the server's caches, reported apart);
- **asset list API**: ``GET /api/assets`` ``--requests`` times over one keep-alive connection,
  median and p99 (the first, cold request reported apart);
- **a live run page of 1,000 steps**: a build of ``path:models/layer_00`` (the 1,000 layer-0
  models) launched through ``POST /api/launch`` and watched on its run page while its events
  stream: every long task (PerformanceObserver ``longtask``) and the longest gap between two
  animation frames (the step list is virtualised: the steps shown are its `data-step-count`).

Every request goes to 127.0.0.1; the server stops at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]  # fmt: skip
# installed before any page script: long tasks and frame gaps from navigation on
OBSERVE = """
window.__longTasks = [];
window.__maxFrameGap = 0;
try {
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (e) { window.__longTasks.push([e.startTime, e.duration]); });
  }).observe({ type: "longtask", buffered: true });
} catch (e) {}
(function () {
  var last = null;
  function tick(t) {
    if (last !== null && window.__watching)
      window.__maxFrameGap = Math.max(window.__maxFrameGap, t - last);
    last = t; requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(project: Path, port: int) -> tuple[subprocess.Popen[str], float]:
    """``orch ui`` on ``port``; (process, seconds until ``/`` answered)."""
    orch = Path(sys.executable).with_name("orch")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(orch), "ui", "--port", str(port), "--project-dir", str(project)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"orch ui exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                return proc, time.perf_counter() - started
        except OSError:
            time.sleep(0.2)
    raise SystemExit("orch ui did not answer in 10 minutes")


def token_of(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", "/")
    html = conn.getresponse().read().decode()
    found = re.search(r'<meta name="orch-live" content="([^"]+)"', html)
    assert found, "no token in the page"
    return found.group(1)


def asset_api(port: int, requests: int) -> dict[str, float]:
    """``GET /api/assets`` latencies in ms: the cold first one, then median and p99."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def one() -> float:
        t0 = time.perf_counter()
        conn.request("GET", "/api/assets")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200 and body, resp.status
        return (time.perf_counter() - t0) * 1000

    cold = one()
    times = sorted(one() for _ in range(requests))
    p99 = times[min(len(times) - 1, int(round(0.99 * len(times))) - 1)]
    size = len(json.dumps(json.loads(_get(port, "/api/assets"))["assets"]))
    return {"cold_ms": cold, "median_ms": statistics.median(times), "p99_ms": p99,
            "max_ms": times[-1], "bytes": size}  # fmt: skip


def _get(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path)
    return conn.getresponse().read().decode()


def first_paint(browser: Any, url: str, repeat: int) -> dict[str, Any]:
    """Navigation start to the graph painted, in ms, per fresh load."""
    loads = []
    for _ in range(repeat + 1):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(url)
        deadline = time.monotonic() + 120  # polled from here: the page's CSP forbids eval
        while not page.evaluate("performance.getEntriesByName('orch:graph-painted').length"):
            if time.monotonic() > deadline:
                raise SystemExit("the graph page did not paint in 2 minutes")
            time.sleep(0.02)
        ms = page.evaluate("performance.getEntriesByName('orch:graph-painted')[0].startTime")
        nodes = page.locator("#graph g.node").count()
        parts = page.evaluate("""() => {
          const nav = performance.getEntriesByType('navigation')[0];
          const data = performance.getEntriesByType('resource')
            .find(r => r.name.endsWith('/data.js'));
          return { data_js_ms: data ? data.responseEnd : null,
                   data_js_kb: data ? data.encodedBodySize / 1024 : null,
                   dom_ready_ms: nav.domContentLoadedEventEnd,
                   drawn_ms: performance.getEntriesByName('orch:graph-drawn')[0].startTime };
        }""")
        loads.append((ms, nodes, parts))
        context.close()
    warm = sorted(loads[1:], key=lambda x: x[0])
    mid = warm[len(warm) // 2]
    return {"first_ms": loads[0][0], "median_ms": statistics.median(x[0] for x in warm),
            "max_ms": warm[-1][0], "nodes_drawn": mid[1], "parts": mid[2]}  # fmt: skip


def run_page(browser: Any, port: int, token: str) -> dict[str, Any]:
    """Launch the 1,000 layer-0 models, watch the run page until the run ends."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(OBSERVE)
    page = context.new_page()
    base = f"http://127.0.0.1:{port}/"
    page.goto(base + "#/runs")
    page.wait_for_selector("body[data-ready]")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = json.dumps({"select": ["path:models/layer_00"]})
    conn.request("POST", "/api/launch", body, {"Content-Type": "application/json",
                                               "X-Orch-Token": token})  # fmt: skip
    resp = conn.getresponse()
    launched = json.loads(resp.read())
    assert resp.status == 202, launched
    run_id = launched["run"]
    t0 = time.perf_counter()
    page.evaluate("window.__longTasks = []; window.__maxFrameGap = 0; window.__watching = true")
    page.evaluate(f"location.hash = '#/run/{run_id}'")
    done = ", ".join(f"body[data-run-status={s}]" for s in ("success", "failed", "interrupted"))
    page.wait_for_selector(done, timeout=900_000)
    seconds = time.perf_counter() - t0
    got = page.evaluate("""() => ({ tasks: window.__longTasks, gap: window.__maxFrameGap,
        steps: Number(document.getElementById('run-steps').getAttribute('data-step-count'))
          || document.querySelectorAll('#run-steps tr[data-step]').length,
        status: document.body.getAttribute('data-run-status') })""")
    context.close()
    durations = [d for _, d in got["tasks"]]
    return {"status": got["status"], "steps_shown": got["steps"], "run_s": seconds,
            "long_tasks": len(durations), "over_100ms": sum(d > 100 for d in durations),
            "longest_task_ms": max(durations, default=0.0),
            "max_frame_gap_ms": got["gap"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--project", type=Path, help="reuse (or keep) the generated project here")
    parser.add_argument("--no-run", action="store_true", help="skip the 1,000-step run page")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = None
    project = args.project
    if project is None:
        tmp = Path(tempfile.mkdtemp(prefix="orch_bench_ui_"))
        project = tmp / "project"
    if not (project / "orch_project.yml").exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), str(args.assets), str(project)],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    for stale in ("warehouse.duckdb", ".orch", "target"):
        path = project / stale
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()
    port = free_port()
    proc, start_s = start_server(project, port)
    try:
        token = token_of(port)
        api = asset_api(port, args.requests)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            paint = first_paint(browser, f"http://127.0.0.1:{port}/", args.repeat)
            run = None if args.no_run else run_page(browser, port, token)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"orch ui, {args.assets} assets (machine: {os.cpu_count()} cores)")
    print(f"  server start (compile + first page): {start_s:.1f} s")
    print(f"  graph page first paint: median {paint['median_ms']:.0f} ms, max {paint['max_ms']:.0f}"
          f" ms over {args.repeat} loads (first load after start {paint['first_ms']:.0f} ms;"
          f" {paint['nodes_drawn']} nodes drawn)")  # fmt: skip
    parts = paint["parts"]
    print(f"    (median load: data.js {parts['data_js_kb']:.0f} KB received at"
          f" {parts['data_js_ms']:.0f} ms, DOMContentLoaded {parts['dom_ready_ms']:.0f} ms,"
          f" graph drawn {parts['drawn_ms']:.0f} ms)")  # fmt: skip
    print(f"  GET /api/assets: median {api['median_ms']:.1f} ms, p99 {api['p99_ms']:.1f} ms, max"
          f" {api['max_ms']:.1f} ms over {args.requests} (cold first {api['cold_ms']:.0f} ms;"
          f" {api['bytes'] / 1e6:.1f} MB)")  # fmt: skip
    if run is not None:
        print(f"  run page, {run['steps_shown']} steps ({run['status']}, {run['run_s']:.0f} s):"
              f" {run['long_tasks']} long tasks, {run['over_100ms']} over 100 ms, longest"
              f" {run['longest_task_ms']:.0f} ms; longest frame gap"
              f" {run['max_frame_gap_ms']:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
