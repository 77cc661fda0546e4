"""``io_manager_config``: an asset's or op's settings for its IO manager, handed over as
``OutputContext.config`` (and ``InputContext.upstream_output.config``); the built-ins take their
own fields from it. Real project folders, files, DuckDB, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

STORAGE = Path(".orch", "storage", "dev")

JSON_IO = '''\
import json
from pathlib import Path

from orch import InputContext, IOManager, OutputContext


class JsonFiles(IOManager):
    """One JSON file per output; its indent and name come from the output's config."""

    base_dir: str = "json"

    def path(self, key, config) -> Path:
        return Path(self.base_dir, *key).with_suffix(config.get("suffix", ".json"))

    def handle_output(self, context: OutputContext, obj) -> None:
        path = self.path(context.key, context.config)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=context.config.get("indent")))
        context.add_output_metadata({"config": dict(context.config)})

    def load_input(self, context: InputContext):
        up = context.upstream_output
        return json.loads(self.path(up.key, up.config).read_text())
'''

ASSETS = """\
from orch import asset


@asset(io_manager="json_io", io_manager_config={"indent": 2, "suffix": ".pretty.json"})
def settings() -> dict:
    return {"a": 1}


@asset(io_manager="json_io")
def summary(settings: dict) -> dict:
    return {"keys": sorted(settings)}
"""

PROJECT = """\
name: shop
profile: shop
resources:
  json_io:
    type: JsonFiles
    base_dir: {base}
"""


def test_asset_io_manager_config_reaches_handle_output_and_load_input(
    make_project, tmp_path: Path, orch
) -> None:
    root = tmp_path / "p"
    make_project(
        root,
        {"models/json_io.py": JSON_IO, "models/assets.py": ASSETS},
        project_yml=PROJECT.format(base=root / "out"),
    )
    run = orch("build", "--project-dir", root, "--log-format", "json")
    assert run.exit_code == 0, run.output
    assert (root / "out" / "settings.pretty.json").read_text() == '{\n  "a": 1\n}'
    assert json.loads((root / "out" / "summary.json").read_text()) == {"keys": ["a"]}
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    done = {e["asset"]: e for e in events if e.get("metadata") and e.get("asset")}
    assert done["settings"]["metadata"]["config"] == {"indent": 2, "suffix": ".pretty.json"}
    assert done["summary"]["metadata"]["config"] == {}
    manifest = orch("compile", "--project-dir", root)
    assert manifest.exit_code == 0
    nodes = json.loads((root / "target" / "manifest.json").read_text())["nodes"]
    assert nodes["settings"]["config"]["io_manager_config"] == {
        "indent": 2,
        "suffix": ".pretty.json",
    }
    assert "io_manager_config" not in nodes["summary"]["config"]  # none set: left out


def test_folder_io_manager_config_sets_parquet_compression(make_project, tmp_path, orch) -> None:
    root = make_project(
        tmp_path / "p",
        {
            "models/lake/events.py": """\
                import polars as pl
                from orch import asset

                @asset(io_manager="parquet")
                def events() -> pl.DataFrame:
                    return pl.DataFrame({"a": list(range(100))})
            """,
            "models/plain.py": """\
                import polars as pl
                from orch import asset

                @asset(io_manager="parquet")
                def plain() -> pl.DataFrame:
                    return pl.DataFrame({"a": [1]})
            """,
        },
        project_yml="""\
            name: shop
            profile: shop
            models:
              shop:
                lake:
                  +io_manager_config: {compression: snappy}
        """,
    )
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 0, run.output
    lake = root / STORAGE / "parquet"
    meta = pq.ParquetFile(lake / "events" / "data.parquet").metadata
    assert meta.row_group(0).column(0).compression == "SNAPPY"
    plain = pq.ParquetFile(lake / "plain" / "data.parquet").metadata
    assert plain.row_group(0).column(0).compression == "ZSTD"  # the IO manager's own setting


def test_a_built_in_refuses_keys_it_does_not_take(make_project, tmp_path, orch) -> None:
    root = make_project(
        tmp_path / "p",
        {
            "models/events.py": """\
                import polars as pl
                from orch import asset

                @asset(io_manager="parquet", io_manager_config={"compresion": "snappy"})
                def events() -> pl.DataFrame:
                    return pl.DataFrame({"a": [1]})
            """,
        },
    )
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 2
    assert (
        "models/events.py:5: asset 'events': io_manager_config key(s) compresion are not "
        "settings of the parquet IO manager (it takes: compression). Did you mean 'compression'?"
    ) in run.stderr
    assert "Traceback" not in run.stderr


def test_a_bad_value_fails_the_step_naming_the_asset(make_project, tmp_path, orch) -> None:
    root = make_project(
        tmp_path / "p",
        {
            "models/events.py": """\
                import polars as pl
                from orch import asset

                @asset(io_manager="parquet", io_manager_config={"compression": "zip"})
                def events() -> pl.DataFrame:
                    return pl.DataFrame({"a": [1]})
            """,
        },
    )
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 1
    assert "asset 'events': io_manager_config {'compression': 'zip'} is not valid for " in (
        run.output
    )
    assert not (root / STORAGE / "parquet" / "events" / "data.parquet").exists()


OP_JOB = """\
from orch import Out, job, op


@op(out=Out(dict, io_manager="json_io", io_manager_config={"indent": 4}))
def produce() -> dict:
    return {"rows": 3}


@op
def consume(data: dict) -> int:
    return data["rows"] * 2


@job
def json_job():
    consume(produce())
"""


def test_op_out_io_manager_config_reaches_the_io_manager(make_project, tmp_path, orch) -> None:
    root = tmp_path / "p"
    make_project(
        root,
        {"models/json_io.py": JSON_IO, "jobs/json_job.py": OP_JOB},
        project_yml=PROJECT.format(base=root / "out"),
    )
    run = orch("job", "run", "json_job", "--project-dir", root)
    assert run.exit_code == 0, run.output
    (written,) = (root / "out").rglob("result.json")
    assert written.read_text() == '{\n    "rows": 3\n}'


def test_an_io_manager_set_on_a_sql_model_is_refused_where_it_is_set(
    make_project, tmp_path, orch
) -> None:
    root = make_project(
        tmp_path / "p",
        {
            "models/totals.sql": (
                "{{ config(io_manager_config={'compression': 'zstd'}) }}\nselect 1 as n\n"
            )
        },
    )
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 2
    assert (
        "models/totals.sql:1:11: 'io_manager_config' is set on the SQL model 'totals', whose "
        "result is always a warehouse relation"
    ) in run.stderr
    assert "materialized='external'" in run.stderr and "Traceback" not in run.stderr

    root = make_project(
        tmp_path / "q",
        {
            "models/totals.sql": "select 1 as n\n",
            "models/props.yml": """\
                models:
                  - name: totals
                    config:
                      io_manager: parquet
            """,
        },
    )
    run = orch("build", "--project-dir", root)
    assert run.exit_code == 2
    assert "models/props.yml:4" in run.stderr
    assert "'io_manager' is set on the SQL model 'totals'" in run.stderr
