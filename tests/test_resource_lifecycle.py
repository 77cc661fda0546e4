"""Resource lifecycle: setup/teardown once per run (or per step), dependencies, faults, ops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

PROJECT_YML = """\
name: shop
profile: shop
resources:
  creds:
    type: Creds
    user: ann
    password: "{{ env_var('LIFECYCLE_PASSWORD', 'pw-dev') }}"
  client:
    type: Client
    credentials: creds
  scratch:
    type: Scratch
  broken:
    type: Broken
  noisy:
    type: Noisy
"""

RESOURCES_PY = """\
from pathlib import Path

from pydantic import SecretStr

import orch

LOG = Path(__file__).resolve().parent.parent / "lifecycle.log"


def note(text: str) -> None:
    with LOG.open("a") as f:
        f.write(text + "\\n")


class Creds(orch.Resource):
    user: str
    password: SecretStr

    def setup(self) -> None:
        note("setup creds")

    def teardown(self) -> None:
        note("teardown creds")


class Client(orch.Resource):
    credentials: Creds

    def setup(self) -> None:
        note("setup client as " + self.credentials.user)
        self._open = True

    def teardown(self) -> None:
        note("teardown client")


class Scratch(orch.Resource):
    scope = "step"

    def __enter__(self):
        note("enter scratch")
        return self

    def __exit__(self, *exc):
        note("exit scratch")
        return False


class Broken(orch.Resource):
    def setup(self) -> None:
        note("setup broken")
        raise RuntimeError("cannot reach the server")

    def teardown(self) -> None:
        note("teardown broken")


class Noisy(orch.Resource):
    def teardown(self) -> None:
        raise ValueError("close failed")
"""


def asset_file(name: str, resource: str, cls: str, body: str = "") -> str:
    return f"""

@asset
def {name}({resource}: {cls}) -> pl.DataFrame:
    {body or "pass"}
    return pl.DataFrame({{"x": [1]}})
"""


HEADER = "import time\nimport polars as pl\nfrom orch import asset\n"


def project(make_project, tmp_path: Path, files: dict[str, str]) -> Path:
    """One model file: the resource classes, then the assets of ``files``."""
    text = HEADER + RESOURCES_PY + "".join(files.values())
    return make_project(tmp_path, {"models/assets.py": text}, project_yml=PROJECT_YML)


def log_lines(root: Path) -> list[str]:
    path = root / "lifecycle.log"
    return path.read_text().splitlines() if path.exists() else []


def test_setup_once_per_run_dependencies_first_teardown_in_reverse(
    make_project, tmp_path, orch
) -> None:
    root = project(
        make_project,
        tmp_path,
        {
            "models/a.py": asset_file("a", "client", "Client"),
            "models/b.py": asset_file("b", "client", "Client"),
        },
    )
    run = orch("build", "--project-dir", root, "--select", "a", "b")
    assert run.exit_code == 0, run.output
    assert log_lines(root) == [
        "setup creds",
        "setup client as ann",
        "teardown client",
        "teardown creds",
    ]


def test_step_scoped_context_manager_resource_wraps_each_step(make_project, tmp_path, orch) -> None:
    root = project(
        make_project,
        tmp_path,
        {
            "models/a.py": asset_file("a", "scratch", "Scratch"),
            "models/b.py": asset_file("b", "scratch", "Scratch"),
        },
    )
    run = orch("build", "--project-dir", root, "--select", "a", "b", "--threads", "1")
    assert run.exit_code == 0, run.output
    assert log_lines(root) == ["enter scratch", "exit scratch", "enter scratch", "exit scratch"]


def test_failed_setup_fails_only_the_steps_needing_it_and_is_not_torn_down(
    make_project, tmp_path, orch
) -> None:
    root = project(
        make_project,
        tmp_path,
        {
            "models/a.py": asset_file("a", "broken", "Broken"),
            "models/b.py": asset_file("b", "broken", "Broken"),
            "models/c.py": asset_file("c", "client", "Client"),
        },
    )
    run = orch("build", "--project-dir", root, "--select", "a", "b", "c")
    assert run.exit_code == 1, run.output
    assert "resource 'broken' (Broken) failed to set up: RuntimeError: cannot reach the server" in (
        run.output
    )
    assert "Traceback" not in run.output
    lines = log_lines(root)
    assert lines.count("setup broken") == 1  # remembered: the second step does not retry it
    assert "teardown broken" not in lines
    assert "teardown client" in lines  # the step not needing it ran, and its resource closed
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    assert con.execute("select x from analytics.c").fetchall() == [(1,)]
    tables = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    assert "a" not in tables and "b" not in tables


def test_teardown_raising_is_logged_and_leaves_the_run_successful(
    make_project, tmp_path, orch
) -> None:
    root = project(make_project, tmp_path, {"models/a.py": asset_file("a", "noisy", "Noisy")})
    run = orch("build", "--project-dir", root, "--select", "a")
    assert run.exit_code == 0, run.output
    events = [json.loads(x) for x in (root / "logs/orch.jsonl").read_text().splitlines()]
    messages = [e.get("message", "") for e in events]
    assert "resource 'noisy' failed to tear down: ValueError: close failed" in messages
    finished = [
        e for e in events if e.get("event") == "RunFinished" or e.get("type") == "RunFinished"
    ]
    assert not finished or finished[-1].get("status") == "success"


def test_a_failing_asset_still_tears_its_resources_down(make_project, tmp_path, orch) -> None:
    body = 'raise RuntimeError("boom")'
    root = project(
        make_project, tmp_path, {"models/a.py": asset_file("a", "client", "Client", body)}
    )
    run = orch("build", "--project-dir", root, "--select", "a")
    assert run.exit_code == 1
    assert log_lines(root)[-2:] == ["teardown client", "teardown creds"]


def test_sigterm_tears_resources_down(make_project, tmp_path) -> None:
    body = "(Path(__file__).parent.parent / 'started').write_text('1'); time.sleep(2)"
    root = project(make_project, tmp_path, {"slow": asset_file("slow", "client", "Client", body)})
    orch_bin = Path(sys.executable).parent / "orch"
    proc = subprocess.Popen(
        [str(orch_bin), "build", "--project-dir", str(root), "--select", "slow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    deadline = time.monotonic() + 60
    while not (root / "started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert log_lines(root)[-2:] == ["teardown client", "teardown creds"]


OPS_JOB = """\
from orch import job, op


@op
def fetch(client: Client) -> int:
    return 1


@op
def again(n: int, client: Client) -> int:
    return n + 1


@job
def pull():
    again(fetch())
"""


def test_op_job_sets_up_a_resource_once_and_tears_it_down(make_project, tmp_path, orch) -> None:
    root = make_project(
        tmp_path,
        {"jobs/pull.py": RESOURCES_PY + OPS_JOB},
        project_yml=PROJECT_YML,
    )
    run = orch("job", "run", "pull", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert log_lines(root) == [
        "setup creds",
        "setup client as ann",
        "teardown client",
        "teardown creds",
    ]


def test_resources_ls_shows_each_target_with_secrets_masked(
    make_project, tmp_path, orch, monkeypatch
) -> None:
    monkeypatch.setenv("LIFECYCLE_PASSWORD", "hunter2-very-secret")
    yml = (
        PROJECT_YML
        + """\
  api:
    base_url: http://dev.example
    api_key: literal-key-123
    targets:
      prod:
        base_url: http://prod.example
"""
    )
    root = make_project(
        tmp_path,
        {"models/assets.py": HEADER + RESOURCES_PY + asset_file("a", "client", "Client")},
        project_yml=yml,
        profiles_yml="""\
        shop:
          target: dev
          outputs:
            dev: {type: duckdb, path: dev.duckdb, schema: analytics}
            prod: {type: duckdb, path: prod.duckdb, schema: analytics}
        """,
    )
    run = orch("resources", "ls", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert "hunter2" not in run.output and "literal-key-123" not in run.output
    assert "password=<env_var('LIFECYCLE_PASSWORD')>" in run.output
    assert "api_key=********" in run.output
    assert "base_url=http://dev.example" in run.output
    client = next(line for line in run.stdout.splitlines() if line.strip().startswith("client"))
    assert "Client" in client and "credentials=creds" in client and "← a" in client
    run = orch("resources", "ls", "--project-dir", root, "--target", "prod", "-o", "json")
    assert run.exit_code == 0, run.output
    rows = {r["name"]: r for r in map(json.loads, run.stdout.splitlines())}
    assert rows["api"]["settings"]["base_url"] == "http://prod.example"
    assert rows["api"]["from_target"] == ["base_url"]
    assert rows["api"]["target"] == "prod"
