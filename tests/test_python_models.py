"""Python models: @asset in models/*.py, inputs/outputs as Arrow, context, resources, config,
fingerprints, faults, the orch.testing helpers. Real folders, real DuckDB files, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from orch.config import RunOptions
from orch.errors import ProjectError
from orch.manifest import Manifest
from orch.run.workflow import run_command
from orch.testing import build_context, materialize, orch_project  # noqa: F401  (fixture)

PROJECT_YML = """\
name: shop
profile: shop
resources:
  api:
    base_url: http://dev.example
    token: "{{ env_var('ORCH_TEST_TOKEN', 'dev-token') }}"
    targets:
      prod:
        base_url: http://prod.example
"""

PROFILES_YML = """\
shop:
  target: dev
  outputs:
    dev: {type: duckdb, path: warehouse.duckdb, schema: analytics}
    prod: {type: duckdb, path: prod.duckdb, schema: analytics}
"""

ORDERS = """\
select * from (values (1, 10, 5.0), (2, 10, 7.5), (3, 20, 100.0))
    as t(order_id, customer_id, amount)
"""
CUSTOMERS = """\
select * from (values (10, 'ann'), (20, 'bob'), (30, 'cy')) as t(customer_id, name)
"""
SEGMENTS = '''\
import polars as pl
import pyarrow as pa
from pydantic import SecretStr

from orch import AssetContext, Config, Resource, asset


class Api(Resource):
    base_url: str
    token: SecretStr


class SegmentConfig(Config):
    vip_threshold: float = 50.0


@asset(columns={"customer_id": "integer", "segment": "varchar"}, tags=["ml"])
def segments(
    context: AssetContext,
    orders: pl.LazyFrame,
    customers: pa.Table,
    api: Api,
    config: SegmentConfig,
) -> pl.DataFrame:
    """Customers with their spend and a segment."""
    spend = orders.group_by("customer_id").agg(pl.col("amount").sum().alias("spend"))
    out = (
        pl.from_arrow(customers)
        .join(spend.collect(), on="customer_id", how="left")
        .with_columns(pl.col("spend").fill_null(0.0))
        .with_columns(
            pl.when(pl.col("spend") >= config.vip_threshold)
            .then(pl.lit("vip"))
            .otherwise(pl.lit("regular"))
            .alias("segment")
        )
        .sort("customer_id")
    )
    context.log.info("segmented %d customers via %s", out.height, api.base_url)
    context.add_output_metadata({"vips": int((out["segment"] == "vip").sum())})
    return out
'''
VIPS = "select customer_id, name from segments where segment = 'vip'\n"


def base_files(**extra: str) -> dict[str, str]:
    files = {
        "models/orders.sql": ORDERS,
        "models/customers.sql": CUSTOMERS,
        "models/segments.py": SEGMENTS,
        "models/vips.sql": VIPS,
    }
    files.update(extra)
    return files


@pytest.fixture
def project(make_project, tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", base_files(), PROJECT_YML, PROFILES_YML)


def rows(path: Path, sql: str, db: str = "warehouse.duckdb") -> list[tuple]:
    with duckdb.connect(str(path / db), read_only=True) as con:
        return con.sql(sql).fetchall()


def manifest_of(path: Path) -> Manifest:
    return Manifest.read(path / "target" / "manifest.json")


# --------------------------------------------------------------------------- graph and compile


def test_compile_python_asset_node_and_sql_downstream(project: Path, orch) -> None:
    run = orch("compile", "--project-dir", project)
    assert run.exit_code == 0, run.output
    m = manifest_of(project)
    node = m.nodes["segments"]
    assert node.language == "python"
    assert node.description == "Customers with their spend and a segment."
    assert node.tags == ["ml"]
    assert node.python is not None
    assert node.python.inputs == {"orders": "orders", "customers": "customers"}
    assert node.python.input_types == {"orders": "lazy", "customers": "arrow"}
    assert node.python.context_param == "context"
    assert node.python.config_param == "config"
    assert node.python.resource_params == {"api": "api"}
    assert m.parents["segments"] == ["customers", "orders"]
    assert m.parents["vips"] == ["segments"]
    assert node.columns["segment"].data_type == "varchar"
    assert '"analytics"."segments"' in m.nodes["vips"].compiled_code


def test_deps_and_name_option(make_project, tmp_path: Path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/a.sql": "select 1 as x",
            "models/export.py": """\
                from orch import asset

                @asset(name="exported", deps=["a"], materialized="none")
                def export_a():
                    return None
            """,
        },
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 0, run.output
    m = manifest_of(path)
    assert m.parents["exported"] == ["a"]
    assert m.nodes["exported"].python.inputs == {}  # type: ignore[union-attr]
    assert m.nodes["exported"].materialized == "none"
    results = json.loads((path / "target" / "run_results.json").read_text())
    statuses = {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in results["results"]}
    assert statuses.get("exported") in ("success", "materialized"), results


def test_unknown_parameter_names_file_line_and_closest(make_project, tmp_path: Path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/orders.sql": ORDERS,
            "models/b.py": """\
                import polars as pl
                from orch import asset

                @asset
                def b(ordrs: pl.DataFrame) -> pl.DataFrame:
                    return ordrs
            """,
        },
    )
    run = orch("compile", "--project-dir", path)
    assert run.exit_code == 2
    assert (
        "models/b.py:5: asset 'b': parameter 'ordrs' is not a known asset. "
        "Did you mean 'orders'?" in run.stderr
    )


# --------------------------------------------------------------------------- build


def test_build_reads_sql_writes_table_and_sql_reads_it(project: Path, orch) -> None:
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert rows(project, "select customer_id, spend, segment from analytics.segments") == [
        (10, 12.5, "regular"),
        (20, 100.0, "vip"),
        (30, 0.0, "regular"),
    ]
    assert rows(project, "select * from analytics.vips") == [(20, "bob")]
    log = [json.loads(line) for line in (project / "logs" / "orch.jsonl").read_text().splitlines()]
    emitted = [e for e in log if e["event"] == "LogEmitted"]
    assert emitted[0]["asset"] == "segments"
    assert emitted[0]["message"] == "segmented 3 customers via http://dev.example"
    done = [e for e in log if e["event"] == "StepMaterialized" and e["asset"] == "segments"]
    assert done[0]["rows"] == 3
    assert done[0]["metadata"]["vips"] == 1
    assert done[0]["metadata"]["language"] == "python"


def test_metadata_in_state_store(project: Path, orch) -> None:
    assert orch("build", "--project-dir", project).exit_code == 0
    from orch.state import SQLiteStateStore

    with SQLiteStateStore.for_project(project, readonly=True) as state:
        latest = state.latest_materializations(["segments"], target="dev")
    assert latest[("segments", None)].metadata["vips"] == 1


def test_config_from_vars_and_resource_per_target(project: Path, orch, monkeypatch) -> None:
    monkeypatch.setenv("ORCH_TEST_TOKEN", "s3cret")
    run = orch(
        "build", "--project-dir", project, "--target", "prod",
        "--vars", '{"segments": {"vip_threshold": 10}}',
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert rows(project, "select segment from analytics.segments order by 1", "prod.duckdb") == [
        ("regular",),
        ("vip",),
        ("vip",),
    ]
    log = (project / "logs" / "orch.jsonl").read_text()
    assert "via http://prod.example" in log
    assert "s3cret" not in log


def test_bad_config_value_names_the_field(project: Path, orch) -> None:
    run = orch("build", "--project-dir", project, "--vars", '{"vip_threshold": "lots"}')
    assert run.exit_code == 2
    assert "models/segments.py:18: config of asset 'segments' (SegmentConfig): field " in run.stderr
    assert "'vip_threshold' is invalid" in run.stderr
    assert not (project / "warehouse.duckdb").exists()


def test_missing_resource_field_names_it(make_project, tmp_path: Path, orch) -> None:
    project_yml = PROJECT_YML.replace("    base_url: http://dev.example\n", "")
    path = make_project(tmp_path / "p", base_files(), project_yml, PROFILES_YML)
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 2
    assert "orch_project.yml:4:3: resource 'api' field 'base_url' is missing" in run.stderr


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_ignores_comments_and_formatting(project: Path, orch) -> None:
    assert orch("compile", "--project-dir", project).exit_code == 0
    before = manifest_of(project).nodes["segments"].fingerprint
    py = project / "models" / "segments.py"
    text = py.read_text()
    reformatted = text.replace(
        '    """Customers with their spend and a segment."""\n',
        '    """Another docstring."""\n    # a comment\n\n',
    ).replace('on="customer_id", how="left"', 'on = "customer_id",   how = "left"')
    py.write_text(reformatted)
    assert orch("compile", "--project-dir", project).exit_code == 0
    assert manifest_of(project).nodes["segments"].fingerprint == before
    py.write_text(reformatted.replace("fill_null(0.0)", "fill_null(-1.0)"))
    assert orch("compile", "--project-dir", project).exit_code == 0
    changed = manifest_of(project).nodes["segments"].fingerprint
    assert changed != before
    py.write_text(py.read_text().replace('tags=["ml"]', 'tags=["ml"], code_version="2"'))
    assert orch("compile", "--project-dir", project).exit_code == 0
    assert manifest_of(project).nodes["segments"].fingerprint not in (before, changed)


def test_code_change_makes_it_stale(project: Path, orch) -> None:
    assert orch("build", "--project-dir", project).exit_code == 0
    run = orch("build", "--project-dir", project, "--changed", "--dry-run")
    assert "segments" in run.output and "code changed" not in run.output
    py = project / "models" / "segments.py"
    py.write_text(py.read_text().replace("fill_null(0.0)", "fill_null(-1.0)"))
    run = orch("build", "--project-dir", project, "--changed", "--dry-run")
    assert "segments" in run.stdout and "code changed" in run.stdout, run.output


# --------------------------------------------------------------------------- scoped loading


def test_scoped_load_imports_only_needed_files(project: Path, orch) -> None:
    (project / "models" / "broken.py").write_text("import polars as pl\nraise RuntimeError('x')\n")
    run = orch("build", "--project-dir", project, "-s", "+vips")
    assert run.exit_code == 0, run.output
    assert rows(project, "select * from analytics.vips") == [(20, "bob")]
    full = orch("compile", "--project-dir", project)
    assert full.exit_code == 2
    assert "models/broken.py:2: importing the model file failed: RuntimeError: x" in full.stderr


# --------------------------------------------------------------------------- faults


def test_exception_in_asset_trims_traceback_and_skips_downstream(
    make_project, tmp_path: Path, orch
) -> None:
    bad = SEGMENTS.replace(
        "    return out\n", "    return helper(out)\n\n\ndef helper(df):\n    return df / 0\n"
    ).replace("def segments(", "def segments(\n")
    path = make_project(tmp_path / "p", base_files(**{"models/segments.py": bad}), PROJECT_YML)
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 1
    assert "asset 'segments' raised" in run.output
    assert "Traceback (in models/segments.py, most recent call last):" in run.output
    assert "in helper" in run.output and "return df / 0" in run.output
    assert "site-packages" not in run.output and "python_runner" not in run.output
    log = [json.loads(x) for x in (path / "logs" / "orch.jsonl").read_text().splitlines()]
    skipped = [e["asset"] for e in log if e["event"] == "StepSkipped"]
    assert skipped == ["vips"]
    failed = [e for e in log if e["event"] == "StepFailed"][0]
    assert failed["error"].startswith("models/segments.py:")


def test_import_error_names_file_and_line(make_project, tmp_path: Path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/a.sql": "select 1 as x",
            "models/b.py": "import polars as pl\n\nimport not_a_module_xyz\n",
            "models/c.py": "def f(:\n    pass\n",
        },
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 2
    assert (
        "models/b.py:3: importing the model file failed: ModuleNotFoundError: No module named "
        "'not_a_module_xyz'. Install 'not_a_module_xyz'" in run.stderr
    )
    assert "models/c.py:1:7: syntax error" in run.stderr
    assert "Traceback" not in run.output
    assert not (path / "warehouse.duckdb").exists()


def test_wrong_return_type(make_project, tmp_path: Path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/a.sql": "select 1 as x",
            "models/b.py": """\
                from orch import asset

                @asset(io_manager="warehouse")
                def b(a):
                    return {"x": [1]}
            """,
            "models/c.py": """\
                from orch import asset

                @asset
                def c(a):
                    pass
            """,
        },
    )
    run = orch("build", "--project-dir", path)
    assert run.exit_code == 1
    assert (
        "models/b.py:4: asset 'b' returned a builtins.dict, which its IO manager 'warehouse' "
        "does not store (it stores tables). Return a polars/pandas DataFrame or a pyarrow "
        "Table, or store the object with io_manager='objects'" in run.output
    )
    assert "models/c.py:4: asset 'c' returned None" in run.output


def test_schema_break_fails_before_replacing(project: Path, orch) -> None:
    assert orch("build", "--project-dir", project).exit_code == 0
    py = project / "models" / "segments.py"
    py.write_text(
        py.read_text()
        .replace('.alias("segment")', '.alias("seg")')
        .replace('int((out["segment"] == "vip").sum())', "0")
    )
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 1
    assert (
        "asset 'segments' returned a table that breaks its declared columns: column 'segment' "
        "is missing" in run.output
    )
    assert rows(project, "select count(*), min(segment) from analytics.segments") == [
        (3, "regular")
    ]
    py.write_text(
        py.read_text().replace('.alias("seg")', '.alias("segment")')
        .replace('pl.lit("vip")', "pl.lit(1)").replace('pl.lit("regular")', "pl.lit(0)")
    )  # fmt: skip
    run = orch("build", "--project-dir", project)
    assert run.exit_code == 1
    assert "column 'segment' is int32, declared varchar" in run.output
    assert rows(project, "select count(*), min(segment) from analytics.segments") == [
        (3, "regular")
    ]


# --------------------------------------------------------------------------- materializations


def test_incremental_merge_and_append(make_project, tmp_path: Path, orch) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/src.sql": "select 1 as id, 'a' as v",
            "models/m.py": """\
                import polars as pl
                from orch import asset

                @asset(materialized="incremental", unique_key="id")
                def m(src: pl.DataFrame) -> pl.DataFrame:
                    return src
            """,
            "models/ap.py": """\
                import polars as pl
                from orch import asset

                @asset(materialized="incremental")
                def ap(src: pl.DataFrame) -> pl.DataFrame:
                    return src
            """,
        },
    )
    assert orch("build", "--project-dir", path).exit_code == 0
    (path / "models" / "src.sql").write_text("select 1 as id, 'b' as v union all select 2, 'c'")
    assert orch("build", "--project-dir", path).exit_code == 0
    assert rows(path, "select * from analytics.m order by id") == [(1, "b"), (2, "c")]
    assert rows(path, "select * from analytics.ap order by id, v") == [
        (1, "a"),
        (1, "b"),
        (2, "c"),
    ]


def test_partitioned_python_asset_reads_only_its_window(make_project, tmp_path: Path) -> None:
    path = make_project(
        tmp_path / "p",
        {
            "models/events.sql": """\
                {{ config(materialized='table') }}
                select * from (values
                  (timestamp '2024-01-01 10:00', 1), (timestamp '2024-01-02 11:00', 2),
                  (timestamp '2024-01-02 23:00', 3), (timestamp '2024-01-03 01:00', 4)
                ) as t(ts, v)
            """,
            "models/daily.py": """\
                import polars as pl
                from orch import AssetContext, asset

                PARTS = {"grain": "daily", "start": "2024-01-01", "column": "day"}

                @asset(partitioned_by=PARTS)
                def daily(context: AssetContext, events: pl.DataFrame) -> pl.DataFrame:
                    return pl.DataFrame(
                        {"day": [context.partition.start], "total": [events["v"].sum()],
                         "n": [events.height]}
                    )
            """,
            "models/events.yml": """\
                models:
                  - name: events
                    config:
                      partitioned_by:
                        {grain: daily, start: '2024-01-01', column: ts, out_of_window: drop}
            """,
        },
    )
    keys = ["2024-01-02", "2024-01-03", "2024-01-02"]
    for key in keys:
        options = RunOptions(project_dir=path, select=("+daily",), partition=key)
        result = run_command(options, "run")
        assert result.exit_code == 0, result.summary
    assert rows(
        path, "select strftime(day, '%Y-%m-%d'), total, n from analytics.daily order by 1"
    ) == [
        ("2024-01-02", 5, 2),
        ("2024-01-03", 4, 1),
    ]


# --------------------------------------------------------------------------- test helpers


def test_build_context_for_unit_tests() -> None:
    ctx = build_context(partition="2024-01-31", resources={"api": object()}, run_config=1)
    assert ctx.partition is not None
    assert str(ctx.partition.start) == "2024-01-31 00:00:00"
    assert str(ctx.partition.end) == "2024-02-01 00:00:00"
    assert build_context(partition="eu").partition.start is None  # type: ignore[union-attr]
    ctx.log.info("hello %s", "you")
    ctx.add_output_metadata({"n": 3})
    assert ctx.log.records == [("info", "hello you")]
    assert ctx.output_metadata == {"n": 3}
    assert ctx.config == 1


def test_materialize_helper_runs_subset_with_resource_override(project: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("seg_mod", project / "models" / "segments.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    api = module.Api(base_url="http://fake", token="t")
    result = materialize(
        ["vips"], project_dir=project, resources={"api": api}, vars={"vip_threshold": 10}
    )
    assert result.success, result.failures
    out = result.output_for("segments")
    assert out.filter(pl.col("segment") == "vip")["customer_id"].to_list() == [10, 20]
    assert result.output_for("vips")["name"].to_list() == ["ann", "bob"]
    assert ("segments", "info", "segmented 3 customers via http://fake") in result.logs
    assert not (project / "warehouse.duckdb").exists()  # the project itself is untouched
    bad = materialize([module.segments], project_dir=project, vars={"vip_threshold": "x"})
    assert not bad.success and "vip_threshold" in str(bad.error)


def test_orch_project_fixture_copies_and_calls_function(orch_project, project: Path) -> None:  # noqa: F811
    copy = orch_project(project)
    assert copy.path != project and (copy.path / "models" / "segments.py").exists()
    result = copy.materialize(["segments"])
    assert result.success, result.failures
    assert result.output_for("segments").height == 3
    assert (copy.path / "orch_test.duckdb").exists()


def test_import_error_is_project_error_type(make_project, tmp_path: Path) -> None:
    from orch.load.python_files import import_model_file

    path = make_project(tmp_path / "p", {"models/x.py": "x = 1\ny = 1 / 0\n"})
    with pytest.raises(ProjectError) as info:
        import_model_file("models/x.py", path / "models" / "x.py")
    assert info.value.format_message().startswith("models/x.py:2: importing the model file failed")


def test_example_project_python_assets(example_project: Path, orch) -> None:
    run = orch("build", "--project-dir", example_project)
    assert run.exit_code == 0, run.output
    segments = rows(example_project, "select segment, count(*) from customer_segments group by 1")
    assert sum(n for _, n in segments) == 200
    assert {s for s, _ in segments} <= {
        "champion", "loyal", "new", "at_risk", "hibernating", "prospect"
    }  # fmt: skip
    assert rows(example_project, "select count(distinct month) from monthly_channel_revenue") == [
        (12,)
    ]
    assert rows(example_project, "select sum(customers) from segment_summary") == [(200,)]
    synced = rows(example_project, "select count(*) from crm_vip_sync")[0][0]
    assert (
        synced
        == rows(
            example_project,
            "select count(*) from customer_segments where segment in ('champion', 'loyal')",
        )[0][0]
    )
    assert "synced" in run.output and "crm.example.test" in run.output


def test_status_shows_output_metadata(make_project, tmp_path: Path, orch) -> None:
    long_text = "x" * 200
    segments = SEGMENTS.replace(
        'context.add_output_metadata({"vips": int((out["segment"] == "vip").sum())})',
        'context.add_output_metadata({"vips": int((out["segment"] == "vip").sum()), '
        f'"top": {{"name": "bob", "spend": 100.0}}, "long": "{long_text}", "mode": "mine"}})',
    )
    assert segments != SEGMENTS
    project = make_project(
        tmp_path / "p", base_files(**{"models/segments.py": segments}), PROJECT_YML, PROFILES_YML
    )
    assert orch("build", "--project-dir", project).exit_code == 0
    run = orch("status", "--project-dir", project)
    assert run.exit_code == 0, run.output
    section = run.output.split("Output metadata (last materialization):\n", 1)[1]
    line = section.strip().splitlines()[0]
    assert line.startswith('segments: long="xxxx')
    assert line.endswith('…, top={"name":"bob","spend":100.0}, vips=1')  # long value cut
    assert len(line) < 140
    # orch's own keys are not user metadata; a user key named like one is ignored with a warning
    assert "language" not in section and "materialized=" not in section and "mode" not in section
    from orch.state import SQLiteStateStore

    with SQLiteStateStore.for_project(project, readonly=True) as state:
        md = state.latest_materializations(["segments"], target="dev")[("segments", None)].metadata
    assert md["language"] == "python" and "mode" not in md
    log = (project / "logs" / "orch.jsonl").read_text()
    assert "output metadata key 'mode' is reserved by orch" in log


def test_status_without_output_metadata_has_no_section(project: Path, orch) -> None:
    assert orch("seed", "--project-dir", project).exit_code == 0
    run = orch("status", "--project-dir", project)
    assert run.exit_code == 0, run.output
    assert "Output metadata" not in run.output
