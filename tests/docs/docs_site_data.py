"""Build docs-site inputs for tests and screenshots: a compiled example project plus real state.

The example project is compiled with :func:`orch.compiler.models.compile_project`. Until the checks
and partitions issues land in the example, :func:`enrich` adds checks and a daily partition
definition to the compiled manifest, and :func:`record_state` writes runs, materializations (per
partition too) and check results through the state store API, so every part of the site has
something to show.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from orch.automation.schedules import schedule_cursor_name
from orch.cli import cli
from orch.compiler.models import compile_project
from orch.config import PartitionConfig, RunOptions
from orch.docs import generate_site
from orch.docs.automation import automation_data
from orch.manifest import CheckNode, Manifest
from orch.state import SQLiteStateStore, state_path

EXAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "example_project"
BAKERY = Path(__file__).resolve().parents[1] / "dbt" / "fixtures" / "bakery_dbt"  # exposures
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'
T0 = datetime(2024, 6, 1, 6, 0, tzinfo=timezone.utc)
PARTITIONED = "order_reconciliation"
PARTITION_START = "2024-01-01"
PARTITION_END = "2024-03-01"


def copy_example(dest: Path) -> Path:
    """A copy of example_project without build outputs."""
    shutil.copytree(
        EXAMPLE_PROJECT,
        dest,
        ignore=shutil.ignore_patterns("target", "*.duckdb", "*.wal", ".orch", "logs"),
    )
    return dest


def compile_example(project_dir: Path) -> Manifest:
    """Compile the project with the real compiler."""
    return compile_project(RunOptions(project_dir=project_dir)).manifest


def _check(name: str, asset: str, check_type: str, column: str | None, **kw: object) -> CheckNode:
    return CheckNode(
        name=name,
        unique_id=f"check.jaffle_commerce.{name}",
        kind="singular" if check_type == "singular" else "builtin",
        check_type=check_type,
        asset=asset,
        column=column,
        depends_on=[asset],
        sql=f"select * from {asset} where {column or 'true'} is null",
        **kw,  # type: ignore[arg-type]
    )


def enrich(manifest: Manifest, *, hostile: bool = False) -> Manifest:
    """Add checks and a partition definition; with ``hostile``, markup in user strings."""
    checks = [
        _check("not_null_customers_customer_id", "customers", "not_null", "customer_id"),
        _check("unique_orders_order_id", "orders", "unique", "order_id", blocking=True),
        _check(
            "accepted_values_orders_status",
            "orders",
            "accepted_values",
            "status",
            args={"values": ["placed", "shipped", "completed", "returned"]},
            severity="warn",
        ),
        _check(
            "assert_no_negative_revenue",
            "daily_revenue",
            "singular",
            None,
            description="Net revenue can never be **negative** on a day.",
            path="checks/assert_no_negative_revenue.sql",
        ),
    ]
    nodes = dict(manifest.nodes)
    rec = nodes[PARTITIONED]
    cfg = rec.config.model_copy(
        update={
            "partitioned_by": PartitionConfig(
                grain="daily", start=PARTITION_START, end=PARTITION_END, column="order_date"
            )
        }
    )
    nodes[PARTITIONED] = rec.model_copy(update={"config": cfg})
    if hostile:
        cust = nodes["customers"]
        cols = dict(cust.columns)
        cols["email"] = cols["email"].model_copy(
            update={"description": f"Email {XSS_SCRIPT} and {XSS_IMG}"}
        )
        meta = {**cust.config.meta, "note": XSS_IMG, XSS_SCRIPT: "key"}
        nodes["customers"] = cust.model_copy(
            update={
                "description": f"Customers {XSS_SCRIPT} {XSS_IMG} [x](javascript:alert(1))",
                "columns": cols,
                "config": cust.config.model_copy(update={"meta": meta, "owner": XSS_IMG}),
            }
        )
    return manifest.model_copy(update={"nodes": nodes, "checks": {c.name: c for c in checks}})


def record_state(project_dir: Path, manifest: Manifest, *, hostile: bool = False) -> Path:
    """Write two runs of history into ``<project>/.orch/state.db``; returns its path."""
    target = manifest.project.target_name
    store = SQLiteStateStore.for_project(project_dir)
    try:
        run1 = store.start_run("build", target=target, started_at=T0)
        at = T0
        for i, name in enumerate(manifest.topological_names()):
            node = manifest.nodes[name]
            if node.materialized in ("ephemeral", "external", "none") or name == PARTITIONED:
                continue
            dur = timedelta(milliseconds=40 + 37 * (i % 7) + (2500 if name == "customers" else 0))
            store.record_materialization(
                run_id=run1,
                asset=name,
                partition_key=None,
                status="success",
                started_at=at,
                finished_at=at + dur,
                fingerprint=node.fingerprint,
                materialized=node.materialized,
                rows=100 + 17 * i,
            )
            at += dur
        day = datetime(2024, 1, 1)
        fp = manifest.nodes[PARTITIONED].fingerprint
        for d in range(60):
            key = (day + timedelta(days=d)).strftime("%Y-%m-%d")
            if d in (20, 21):
                continue  # missing
            status = "failed" if d == 33 else "success"
            store.record_materialization(
                run_id=run1,
                asset=PARTITIONED,
                partition_key=key,
                status=status,
                started_at=at,
                finished_at=at + timedelta(milliseconds=25),
                fingerprint=fp if d < 50 else "0ldf1ngerprint",
                materialized="incremental",
                rows=None if status == "failed" else 30 + d,
                error="Binder Error: column 'x' not found" if status == "failed" else None,
            )
            at += timedelta(milliseconds=25)
        sample = [{"order_id": 7, "status": "lost"}, {"order_id": 9, "status": "unknown"}]
        if hostile:
            sample.append({"order_id": 11, "status": XSS_SCRIPT, "note": XSS_IMG})
        results = [
            ("not_null_customers_customer_id", "customers", "pass", "error", 0, []),
            ("unique_orders_order_id", "orders", "pass", "error", 0, []),
            ("accepted_values_orders_status", "orders", "warn", "warn", len(sample), sample),
            (
                "assert_no_negative_revenue",
                "daily_revenue",
                "fail",
                "error",
                1,
                [{"order_date": "2024-03-02", "net_revenue": -12.5}],
            ),
        ]
        for check, asset, status, severity, failing, rows in results:
            store.record_check(
                run_id=run1,
                check=check,
                asset=asset,
                partition_key=None,
                status=status,
                severity=severity,
                failing_rows=failing,
                sample=rows,
                duration_s=0.012,
                sql=f"select * from {asset}",
                message=f"{failing} failing rows" if failing else "",
                at=at,
            )
        store.finish_run(run1, "failed", finished_at=at, counts={"success": 14, "failed": 2})
        run2 = store.start_run(
            "build", target=target, selection="stg_orders+", started_at=at + timedelta(hours=1)
        )
        later = at + timedelta(hours=1, seconds=1)
        store.record_materialization(
            run_id=run2,
            asset="stg_orders",
            partition_key=None,
            status="success",
            started_at=later,
            finished_at=later + timedelta(milliseconds=80),
            fingerprint=manifest.nodes["stg_orders"].fingerprint,
            materialized="view",
            rows=None,
        )
        store.finish_run(
            run2, "success", finished_at=later + timedelta(seconds=1), counts={"success": 1}
        )
    finally:
        store.close()
    return state_path(project_dir)


# --------------------------------------------------------------------------- automation, metadata

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
METADATA_ASSET = "customer_segments"
SCHEDULE = "order_lines_nightly"
SENSOR = "landing_files"
HOSTILE_JOB = "xss_job"


def add_hostile_job(project_dir: Path) -> None:
    """A job whose description is markup, in the project file."""
    path = project_dir / "orch_project.yml"
    text = path.read_text(encoding="utf-8")
    job = f"jobs:\n  {HOSTILE_JOB}:\n    description: '{XSS_SCRIPT} {XSS_IMG}'\n"
    job += "    select: orders\n"
    assert text.count("jobs:\n") == 1
    path.write_text(text.replace("jobs:\n", job, 1), encoding="utf-8")


def record_automation_state(project_dir: Path, manifest: Manifest) -> str:
    """A run of the Python asset with output metadata, schedule/sensor ticks and a cursor."""
    target = manifest.project.target_name
    store = SQLiteStateStore.for_project(project_dir)
    try:
        at = NOW - timedelta(hours=11)
        run = store.start_run("job run", target=target, started_at=at)
        store.record_materialization(
            run_id=run,
            asset=METADATA_ASSET,
            partition_key=None,
            status="success",
            started_at=at,
            finished_at=at + timedelta(seconds=2),
            fingerprint=manifest.nodes[METADATA_ASSET].fingerprint,
            materialized="table",
            rows=250,
            metadata={
                "materialized": "table",
                "language": "python",
                "vips": 63,
                "segments": {"champion": 63, "loyal": 57},
                "note": XSS_SCRIPT,
                XSS_IMG: "hostile key",
            },
        )
        store.finish_run(run, "success", finished_at=at + timedelta(seconds=3))
        day = timedelta(days=1)
        tick = datetime(2024, 6, 1, 0, 0, tzinfo=timezone.utc)  # 02:00 in Amsterdam
        store.record_tick(SCHEDULE, tick - day, "failed", ["r-failed"], None, "run failed")
        store.record_tick(SCHEDULE, tick, "success", [run])
        store.set_cursor(schedule_cursor_name(SCHEDULE), tick.isoformat())  # as the daemon does
        store.record_tick(SENSOR, NOW - timedelta(minutes=5), "skipped", (), f"no new {XSS_IMG}")
        store.record_tick(
            SENSOR, NOW - timedelta(minutes=1), "failed", (), None, f"Traceback\n{XSS_SCRIPT}"
        )
        store.set_cursor(SENSOR, f"orders_2024-06-01.csv {XSS_IMG}")
    finally:
        store.close()
    return run


def build_automation_site(project_dir: Path) -> Path:
    """The example (hostile strings, state, ticks, metadata) generated with its automation data."""
    add_hostile_job(project_dir)
    result = compile_project(RunOptions(project_dir=project_dir))
    manifest = enrich(result.manifest, hostile=True)
    record_state(project_dir, manifest, hostile=True)
    record_automation_state(project_dir, manifest)
    with SQLiteStateStore.for_project(project_dir, readonly=True) as reader:
        automation = automation_data(result.project, reader, now=NOW)
        out = project_dir / "target" / "docs"
        stats = generate_site(manifest, reader, out, automation=automation)
    return stats.out_dir


def bakery_site(tmp: Path) -> Path:
    """A copy of the bakery dbt fixture (exposures, a semantic model, a metric) with its site
    generated by the real CLI (``orch docs generate``, no state); the site's folder."""
    project = tmp / "bakery_dbt"
    shutil.copytree(BAKERY, project)
    with pytest.MonkeyPatch.context() as mp:  # no real ~/.dbt/profiles.yml
        (tmp / "home").mkdir()
        mp.setenv("HOME", str(tmp / "home"))
        for variable in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR"):
            mp.delenv(variable, raising=False)
        result = CliRunner().invoke(cli, ["docs", "generate", "--project-dir", str(project)])
    assert result.exit_code == 0, result.output
    return project / "target" / "docs"
