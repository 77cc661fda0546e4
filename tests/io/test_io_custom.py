"""Custom IO managers (a JSON-lines file per partition), and the faults: an IO manager raising in
handle_output / load_input, an unwritable location, SIGKILL during a Parquet write, a Parquet
partition deleted by hand. Real project folders, DuckDB, the CLI, a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

STORAGE = Path(".orch", "storage", "dev")

JSONL_IO = '''\
import json
from pathlib import Path

from orch import InputContext, IOManager, OutputContext


class JsonLines(IOManager):
    """One JSON-lines file per partition: <base_dir>/<asset>/<partition>.jsonl."""

    base_dir: str = "jsonl"
    fail_on_write: bool = False
    fail_on_read: bool = False

    def path(self, asset: str, partition: str | None) -> Path:
        return Path(self.base_dir, asset, f"{partition or 'all'}.jsonl")

    def handle_output(self, context: OutputContext, obj: list[dict]) -> None:
        if self.fail_on_write:
            raise RuntimeError("disk quota exceeded")
        path = self.path(context.asset, context.partition_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\\n" for r in obj))
        tmp.replace(path)
        context.add_output_metadata({"uri": path.resolve().as_uri(), "rows": len(obj)})

    def load_input(self, context: InputContext) -> list[dict]:
        if self.fail_on_read:
            raise ValueError("corrupt line 3")
        up = context.upstream_output
        rows = []
        for key in context.partition_keys or [None]:
            text = self.path(up.asset, key).read_text()
            rows.extend(json.loads(line) for line in text.splitlines())
        if up.metadata.get("rows") != len(rows):  # what handle_output recorded
            raise ValueError(f"recorded {up.metadata.get('rows')} rows, read {len(rows)}")
        return rows
'''

ASSETS = """\
import polars as pl
from orch import AssetContext, asset


@asset(
    io_manager="events_io",
    partitioned_by={"keys": ["nl", "be"]},
)
def signups(context: AssetContext) -> list:
    return [{"country": context.partition_key, "n": i} for i in range(3)]


@asset(partitioned_by={"keys": ["nl", "be"], "column": "country"})
def signup_count(context: AssetContext, signups: list) -> pl.DataFrame:
    return pl.DataFrame({"country": [context.partition_key], "n": [len(signups)]})
"""


def project_yml(**fields: bool) -> str:
    extra = "".join(f"    {k}: {str(v).lower()}\n" for k, v in fields.items())
    return f"""\
name: shop
profile: shop
resources:
  events_io:
    type: JsonLines
    base_dir: {{placeholder}}
{extra}"""


@pytest.fixture
def project(make_project, tmp_path: Path) -> Path:
    root = tmp_path / "p"
    make_project(
        root,
        {"models/io_managers.py": JSONL_IO, "models/signups.py": ASSETS},
        project_yml=project_yml().replace("{placeholder}", str(root / "jsonl")),
    )
    return root


def _set_flags(root: Path, **flags: bool) -> None:
    text = project_yml(**flags).replace("{placeholder}", str(root / "jsonl"))
    (root / "orch_project.yml").write_text(text)


def test_custom_io_manager_one_file_per_partition(project: Path, orch) -> None:
    for key in ("nl", "be"):
        run = orch("build", "--project-dir", project, "--partition", key)
        assert run.exit_code == 0, run.output
    lines = (project / "jsonl" / "signups" / "nl.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [{"country": "nl", "n": i} for i in range(3)]
    with duckdb.connect(str(project / "warehouse.duckdb"), read_only=True) as con:
        got = con.execute("select country, n from analytics.signup_count order by 1").fetchall()
    assert got == [("be", 3), ("nl", 3)]
    # a later run reads what the earlier one recorded (from the state)
    again = orch("build", "--project-dir", project, "-s", "signup_count", "--partition", "nl")
    assert again.exit_code == 0, again.output
    status = orch("status", "--project-dir", project)
    uri = (project / "jsonl" / "signups" / "be.jsonl").resolve().as_uri()
    assert f"signups [be]: events_io: {uri} (3 rows)" in status.output


def test_handle_output_raising_fails_the_step_and_keeps_old_files(project: Path, orch) -> None:
    assert orch("build", "--project-dir", project, "--partition", "nl").exit_code == 0
    before = (project / "jsonl" / "signups" / "nl.jsonl").read_text()
    _set_flags(project, fail_on_write=True)
    run = orch("build", "--project-dir", project, "-s", "signups", "--partition", "nl")
    assert run.exit_code == 1
    assert (
        "asset 'signups': its IO manager 'events_io' (JsonLines) failed to store the output: "
        "RuntimeError: disk quota exceeded" in run.output
    )
    assert "Traceback" not in run.output
    assert (project / "jsonl" / "signups" / "nl.jsonl").read_text() == before


def test_load_input_raising_fails_downstream_naming_the_input(project: Path, orch) -> None:
    assert (
        orch("build", "--project-dir", project, "-s", "signups", "--partition", "be").exit_code == 0
    )
    _set_flags(project, fail_on_read=True)
    run = orch("build", "--project-dir", project, "-s", "signup_count", "--partition", "be")
    assert run.exit_code == 1
    assert (
        "asset 'signup_count': input 'signups' (from 'signups', IO manager 'events_io') cannot "
        "be loaded: ValueError: corrupt line 3" in run.output
    )


def test_unwritable_location_names_asset_and_path_and_records_nothing(
    make_project, tmp_path: Path, orch
) -> None:
    root = tmp_path / "p"
    make_project(
        root,
        {
            "models/lake.py": """\
                import polars as pl
                from orch import asset

                @asset(io_manager="parquet")
                def lake() -> pl.DataFrame:
                    return pl.DataFrame({"a": [1]})
            """
        },
        project_yml="""\
            name: shop
            profile: shop
            resources:
              parquet:
                base_dir: blocked/lake
        """,
    )
    (root / "blocked").write_text("a file where the folder should be")
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 1
    assert f"asset 'lake': cannot write {root / 'blocked' / 'lake' / 'lake' / 'data.parquet'}" in (
        run.output
    )
    status = orch("status", "--project-dir", root, "--output", "json")
    (asset,) = json.loads(status.stdout)["assets"]
    assert asset["status"] == "last run failed"
    assert asset["finished_at"] is None  # no successful materialization recorded


SLOW_WRITE = """\
import polars as pl
from orch import asset

@asset(io_manager="parquet")
def wide() -> pl.DataFrame:
    n = 20_000_000
    return pl.DataFrame({"a": pl.arange(0, n, eager=True), "b": pl.arange(0, n, eager=True) * 3})
"""


def test_sigkill_during_parquet_write_leaves_no_partial_file(make_project, tmp_path) -> None:
    root = make_project(tmp_path / "p", {"models/wide.py": SLOW_WRITE})
    folder = root / STORAGE / "parquet" / "wide"
    final = folder / "data.parquet"
    script = "import sys; from orch.cli import cli; sys.exit(cli())"
    cmd = [sys.executable, "-c", script, "build", "--project-dir", str(root)]
    env = dict(os.environ)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            temps = list(folder.glob(".orch-tmp-*")) if folder.exists() else []
            if temps and temps[0].stat().st_size > 0:
                break
            if proc.poll() is not None:
                pytest.fail("the build ended before its Parquet write could be interrupted")
            time.sleep(0.005)
        else:
            pytest.fail("no temporary file appeared")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not final.exists()  # never half a file at the final path
    assert list(folder.glob(".orch-tmp-*"))  # the killed write's temporary file
    small = SLOW_WRITE.replace("20_000_000", "10")
    (root / "models" / "wide.py").write_text(small)
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert pl.read_parquet(final).height == 10
    assert not list(folder.glob(".orch-tmp-*"))  # swept by the next write


def test_checks_on_assets_stored_outside_the_warehouse_are_refused(
    make_project, tmp_path: Path, orch
) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/lake/a.py": """\
                import polars as pl
                from orch import asset, check

                @asset
                def a() -> pl.DataFrame:
                    return pl.DataFrame({"x": [1]})

                @check(asset="a")
                def a_has_rows(data):
                    return data.height > 0
            """,
        },
        project_yml="""\
            name: shop
            profile: shop
            models:
              shop:
                lake:
                  +io_manager: parquet
        """,
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 2
    assert (
        "models/lake/a.py: check 'a_has_rows' is attached to 'a', which is stored outside the "
        "warehouse (its IO manager), where checks cannot run" in run.stderr
    )
    (path / "models" / "lake" / "a.py").write_text(
        "import polars as pl\nfrom orch import asset\n\n@asset\n"
        "def a() -> pl.DataFrame:\n    return pl.DataFrame({'x': [1]})\n"
    )
    (path / "models" / "lake" / "a.yml").write_text(
        "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: x\n"
        "        tests: [not_null]\n"
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 2
    assert "check 'not_null' on 'a': the asset is stored outside the warehouse" in run.stderr
