"""Build the dbt fixture projects with the real dbt and with orch, and print what differs.

    python bench/compare_dbt.py /work/dbtvenv/bin/dbt [--orch .venv/bin/orch] [--keep DIR]
        [--project coffee_dbt --project bakery_dbt]

dbt is NOT one of orch's dependencies: install it in a venv of its own
(``python3 -m venv /tmp/dbtvenv && /tmp/dbtvenv/bin/pip install dbt-core dbt-duckdb``).

Each fixture (``tests/dbt/fixtures/coffee_dbt``: models, seeds, sources, incremental, tests;
``bakery_dbt``: custom generic tests, hooks; ``shop_dbt``: two packages with dispatch, package
models, seeds and generic tests, ``dispatch:``, ``flags:``, ``target`` in dbt_project.yml;
``snap_dbt``: snapshots; ``probe_dbt``: macros that query the warehouse while rendering;
``vers_dbt``: model versions, pinned and unpinned refs, a Python model's versioned refs) is
copied twice and each copy is prepared exactly as
``tests/dbt/conftest.py`` prepares it (the source table loaded by ``load_raw_batches``, ``HOME``
isolated, ``DBT_PROFILES_DIR``/``COFFEE_*`` unset, run from the project folder). Then ``dbt build``
runs in one, ``orch build --project-dir`` in the other, and the two DuckDB files and the two
``run_results.json`` are compared: relations (schema, name, table or view), column names and types,
row counts and full contents (sorted rows), and the status of every model, seed and test (tests
matched by name: dbt's ``unique_id`` without its hash suffix; hooks as dbt's ``operation.``
results). Each build's wall time is measured for both tools, side by side.

orch's ``manifest.json`` and ``run_results.json`` are then loaded with dbt-core's own artifact
classes (``WritableManifest`` v12, ``RunResultsArtifact`` v6) in dbt's venv; a failure to load
counts as a difference.

After each fixture's first build, ``dbt ls -s state:modified --state <orch's artifacts>`` runs in
dbt's copy: each node it lists (models, seeds, snapshots, sources, tests) counts as a
difference. Then one model's SQL, one macro and one config value are edited in turn in dbt's
copy, and what ``state:modified`` lists against orch's artifacts must equal what it lists
against dbt's own (see :func:`state_modified`).

Exit status: 0 when nothing differs, 1 otherwise. Not collected by pytest (it lives in bench/).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from tests.dbt.conftest import FIXTURES, load_raw_batches, write_snap_build  # noqa: E402


@dataclass(frozen=True)
class Fixture:
    """A fixture project: its DuckDB file, its target-path and how a copy is prepared."""

    name: str
    database: str  # the dev output's path in the fixture's profiles.yml
    artifacts: str  # the fixture's target-path
    env_unset: tuple[str, ...] = ()
    load_sources: bool = False
    install_packages: bool = False  # run 'orch deps' in both copies (dbt deps needs the hub)


FIXTURES_COMPARED = {
    "coffee_dbt": Fixture("coffee_dbt", "coffee.duckdb", "build_artifacts",
                          ("COFFEE_REGION", "COFFEE_CI_DB"), load_sources=True),
    "bakery_dbt": Fixture("bakery_dbt", "bakery.duckdb", "target"),
    "shop_dbt": Fixture("shop_dbt", "shop.duckdb", "target", ("SHOP_TARGET_PATH",),
                        install_packages=True),
    "snap_dbt": Fixture("snap_dbt", "snap.duckdb", "target"),
    "probe_dbt": Fixture("probe_dbt", "probe.duckdb", "target"),
    "vers_dbt": Fixture("vers_dbt", "vers.duckdb", "target"),
}  # fmt: skip
STARTED = datetime.now() - timedelta(hours=12)  # later timestamps are the snapshot wall clock


DBT_EXECUTABLE = ""  # set by main(): the dbt under comparison


def prepare(workdir: Path, name: str, fixture: Fixture) -> tuple[Path, dict[str, str]]:
    """A copy of the fixture with its source loaded, and the environment the tests use."""
    project = workdir / name / fixture.name
    shutil.copytree(FIXTURES / fixture.name, project)
    home = workdir / name / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home))
    for var in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR", *fixture.env_unset):
        env.pop(var, None)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    if DBT_EXECUTABLE:  # where orch reads dbt's built-in macros (orch.compiler.dbt_macros)
        env["ORCH_DBT"] = DBT_EXECUTABLE
    if fixture.load_sources:
        load_raw_batches(project / fixture.database)
    if fixture.install_packages:
        # the local package copied into dbt_packages/ (dbt deps would symlink it; it cannot
        # reach the hub for the other, which the fixture ships installed as dbt deps leaves it)
        orch_exe = str(Path(sys.executable).parent / "orch")
        subprocess.run([orch_exe, "deps", "--project-dir", str(project)], check=True, env=env,
                       capture_output=True)  # fmt: skip
    return project, env


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    proc.wall_s = time.perf_counter() - t0  # type: ignore[attr-defined]
    print(f"$ {' '.join(cmd)}  -> exit {proc.returncode} in {proc.wall_s:.2f}s")  # type: ignore[attr-defined]
    return proc


# --------------------------------------------------------------------------- warehouse state


def snapshot(database: Path) -> dict[tuple[str, str], dict]:
    """``{(schema, name): {kind, columns: [(name, type)], rows: sorted rows}}`` of a DuckDB file."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        out: dict[tuple[str, str], dict] = {}
        relations = con.execute(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            "WHERE table_catalog = current_database()"
        ).fetchall()
        for schema, name, kind in relations:
            ref = f'"{schema}"."{name}"'
            columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {ref}").fetchall()]
            rows = con.execute(f"SELECT * FROM {ref}").fetchall()
            out[(schema, name)] = {
                "kind": "VIEW" if kind == "VIEW" else "TABLE",
                "columns": columns,
                "rows": sorted(wall_clock_free(rows, [c[0] for c in columns]), key=repr),
            }
        return out
    finally:
        con.close()


def wall_clock_free(rows: list[tuple], names: list[str]) -> list[tuple]:
    """Rows with the snapshot wall clock made comparable: dbt and orch snapshot at different
    instants, so each timestamp from this run becomes ``T<k>`` (its rank among the relation's
    wall-clock values: the k-th snapshot build) and a scd id hashed from one (a column named
    ``*scd_id``/``version_id`` on such a row, or whose row is a deletion record) ``<scd>``. Every
    other value (the timestamp strategy's dbt_scd_id included) is compared as it is."""
    clock = sorted({v for r in rows for v in r if isinstance(v, datetime) and _recent(v)},
                   key=lambda v: v.timestamp())  # fmt: skip
    if not clock:
        return rows
    rank = {v: f"T{i}" for i, v in enumerate(clock, 1)}
    scd = [i for i, n in enumerate(names) if n.endswith("scd_id") or n == "version_id"]
    out = []
    for r in rows:
        timed = any(v in rank for v in r if isinstance(v, datetime))
        out.append(tuple("<scd>" if i in scd and timed else rank.get(v, v) if
                         isinstance(v, datetime) else v for i, v in enumerate(r)))  # fmt: skip
    return out


def _recent(value: datetime) -> bool:
    """Whether a timestamp (naive: local time; or with a time zone) is after STARTED."""
    local = value if value.tzinfo is None else value.astimezone().replace(tzinfo=None)
    return local > STARTED


def compare_warehouses(dbt: dict, orch: dict, report: list[str]) -> None:
    for key in sorted(set(dbt) | set(orch)):
        name = ".".join(key)
        if key not in orch:
            report.append(f"relation {name}: built by dbt ({dbt[key]['kind']}), missing in orch")
            continue
        if key not in dbt:
            report.append(f"relation {name}: built by orch ({orch[key]['kind']}), not by dbt")
            continue
        a, b = dbt[key], orch[key]
        if a["kind"] != b["kind"]:
            report.append(f"relation {name}: dbt {a['kind']}, orch {b['kind']}")
        if a["columns"] != b["columns"]:
            report.append(
                f"relation {name}: columns differ\n    dbt:  {a['columns']}\n"
                f"    orch: {b['columns']}"
            )
        if len(a["rows"]) != len(b["rows"]):
            report.append(f"relation {name}: dbt {len(a['rows'])} rows, orch {len(b['rows'])}")
        if a["rows"] != b["rows"]:
            only_dbt = [r for r in a["rows"] if r not in b["rows"]]
            only_orch = [r for r in b["rows"] if r not in a["rows"]]
            report.append(
                f"relation {name}: contents differ\n    only dbt:  {only_dbt}\n"
                f"    only orch: {only_orch}"
            )


# --------------------------------------------------------------------------- run results


def statuses(path: Path) -> dict[str, str]:
    """``{resource.name: status}`` from a run_results.json (dbt's test hash suffix dropped)."""
    results = json.loads(path.read_text())["results"]
    out = {}
    for r in results:
        parts = r["unique_id"].split(".")
        # a model version (model.p.m.v1) or a unit test (unit_test.p.model.test) keeps its 4th part
        fourth = len(parts) == 4 and parts[0] in ("model", "unit_test")
        out[f"{parts[0]}.{parts[2]}" + (f".{parts[3]}" if fourth else "")] = r["status"]
    return out


def compare_results(dbt: dict[str, str], orch: dict[str, str], report: list[str]) -> None:
    for key in sorted(set(dbt) | set(orch)):
        a, b = dbt.get(key, "(absent)"), orch.get(key, "(absent)")
        if a != b:
            report.append(f"result {key}: dbt {a}, orch {b}")


def add_order(project: Path) -> None:
    """A new order row: the incremental fct_orders' second build merges it."""
    with (project / "reference_data" / "orders.csv").open("a", encoding="utf-8") as f:
        f.write("16,2,2024-03-11,placed,21.00,false\n")


def warn_to_error(project: Path) -> None:
    """The marts' warn-severity test becomes an error: it fails, the build exits 1."""
    schema = project / "transform" / "marts" / "schema.yml"
    schema.write_text(
        schema.read_text().replace("severity: warn\n", "severity: error\n"), encoding="utf-8"
    )


def change_sales(project: Path) -> None:
    """An eclair sale drops to 0 units (the post-hook deletes it) and a new sale arrives."""
    sales = project / "seeds" / "sales.csv"
    text = sales.read_text().replace("104,4,3,", "104,4,0,") + "105,3,4,2024-02-04\n"
    sales.write_text(text, encoding="utf-8")


def tighten_share(project: Path) -> None:
    """The error-severity at_most_share test fails (its rows stored), the build exits 1."""
    schema = project / "models" / "schema.yml"
    schema.write_text(schema.read_text().replace("max_share: 0.9", "max_share: 0.4"))


def new_shop_orders(project: Path) -> None:
    """Two new orders (one in a currency the package seed lacks, one without a customer)."""
    with (project / "seeds" / "orders.csv").open("a", encoding="utf-8") as f:
        f.write("5,dee,CHF,2000,2024-03-12\n6,,USD,100,2024-03-15\n")


def tighten_at_least(project: Path) -> None:
    """The package's generic test on stg_orders fails (exit 1, order_summary skipped)."""
    schema = project / "models" / "schema.yml"
    schema.write_text(schema.read_text().replace("min_value: 0\n", "min_value: 5\n", 1))


def new_probe_orders(project: Path) -> None:
    """Orders with a status never seen before: orders_by_status, rendered at run time, gains a
    column (its values come from a statement block, queried right before it runs)."""
    with (project / "seeds" / "orders.csv").open("a", encoding="utf-8") as f:
        f.write("6,dee,lost,4.0,2024-01-05\n7,ana,placed,2.5,2024-01-03\n")


def probe_skip_amount(project: Path) -> None:
    """stg_orders skips one more column: the models below read its new columns at run time."""
    model = project / "models" / "staging" / "stg_orders.sql"
    model.write_text(
        model.read_text()
        .replace("skip=['customer']", "skip=['customer', 'ordered_on']")
        .replace("upper(customer) as customer", "upper(customer) as customer, ordered_on")
    )


def snap_build(number: int) -> Callable[[Path], None]:
    """The seeds of the ``number``-th build: rows updated, deleted, added back."""

    def change(project: Path) -> None:
        write_snap_build(project, number)

    change.__doc__ = f"build {number}'s seeds"
    return change


# project -> (label, change made to both copies before the build); the builds run in order
def new_customer(project: Path) -> None:
    """A customer signs up (vers_dbt)."""
    with (project / "seeds" / "raw_customers.csv").open("a") as handle:
        handle.write("5,Barbara,Liskov,US,2024-04-02\n")


SCENARIOS: dict[str, list[tuple[str, Callable[[Path], None] | str | None]]] = {
    "coffee_dbt": [
        ("first build", None),
        ("second build after a new orders.csv row (incremental merge)", add_order),
        ("a failing error-severity test (exit 1, downstream skipped)", warn_to_error),
    ],
    "bakery_dbt": [
        ("first build", None),
        ("second build after sales.csv changes (hooks run again, post-hook deletes)",
         change_sales),
        ("a failing error-severity custom generic test (exit 1, failures stored)",
         tighten_share),
    ],
    "shop_dbt": [
        ("first build (two packages, dispatch, package models and seeds)", None),
        ("second build after new orders.csv rows", new_shop_orders),
        ("a failing package generic test (exit 1, downstream skipped)", tighten_at_least),
    ],
    "probe_dbt": [
        ("first build (macros querying the warehouse while rendering)", None),
        ("second build: a new status (a column more, from a statement block)", new_probe_orders),
        ("third build: stg_orders' column list changes (get_columns_in_relation)",
         probe_skip_amount),
    ],
    "snap_dbt": [
        ("first build (snapshots created, Python model, relationships to an ephemeral model)",
         None),
        ("second build: rows updated, deleted and added (snapshots record them)", snap_build(2)),
        ("third build: deleted rows come back, more updates", snap_build(3)),
        ("test (on-run-start/-end hooks run, as in dbt test)", "test"),
    ],
    "vers_dbt": [
        ("first build (model versions: latest_version 1, prerelease v2, pinned refs)", None),
        ("second build after a new customer row", new_customer),
    ],
}  # fmt: skip


def modified_nodes(dbt_exe: str, dbt: tuple, state: Path) -> list[str] | str:
    """``dbt ls -s state:modified --state <state>`` in dbt's copy: the unique_ids it lists
    (models, seeds, snapshots, sources and tests), or the error text when it fails."""
    dbt_project, dbt_env = dbt
    cmd = [dbt_exe, "ls", "-q", "-s", "state:modified", "--state", str(state), "--output",
           "json", "--output-keys", "unique_id resource_type", "--profiles-dir",
           str(dbt_project), "--project-dir", str(dbt_project)]  # fmt: skip
    done = run(cmd, dbt_project, dbt_env)
    if done.returncode != 0:
        return f"dbt ls -s state:modified failed: {done.stdout[-500:]}{done.stderr[-500:]}"
    found = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return sorted(f["unique_id"] for f in found)


def state_modified(dbt_exe: str, fixture: Fixture, dbt: tuple, orch: tuple) -> list[str]:
    """``dbt ls -s state:modified --state <orch's target>`` on the same unchanged project: every
    node it lists (tests too) is a difference. Then each edit of :data:`STATE_EDITS` is made in
    dbt's copy, ``state:modified`` is listed against orch's artifacts and against dbt's own
    (copied right after the build), and the edit is undone: both lists must be equal."""
    (dbt_project, _), (orch_project, _) = dbt, orch
    own = dbt_project.parent / "dbt_state"
    shutil.rmtree(own, ignore_errors=True)
    shutil.copytree(dbt_project / fixture.artifacts, own)
    listed = modified_nodes(dbt_exe, dbt, orch_project / fixture.artifacts)
    if isinstance(listed, str):
        return [listed]
    print(f"state:modified against orch's artifacts, unchanged project: {len(listed)} node(s)")
    report = [f"state:modified lists {uid} (unchanged project)" for uid in listed]
    manifest = json.loads((own / "manifest.json").read_text())
    for label, edit in STATE_EDITS:
        undo = edit(dbt_project, manifest)
        if undo is None:
            print(f"state:modified after {label}: nothing to edit in {fixture.name}")
            continue
        against_orch = modified_nodes(dbt_exe, dbt, orch_project / fixture.artifacts)
        against_dbt = modified_nodes(dbt_exe, dbt, own)
        undo()
        if isinstance(against_orch, str) or isinstance(against_dbt, str):
            report.append(
                f"after {label}: {against_orch if isinstance(against_orch, str) else against_dbt}"
            )
            continue
        same = "the same" if against_orch == against_dbt else "DIFFERENT"
        print(f"state:modified after {label}: {len(against_dbt)} node(s) against dbt's "
              f"artifacts, {len(against_orch)} against orch's ({same})")  # fmt: skip
        if against_orch != against_dbt:
            only_orch = sorted(set(against_orch) - set(against_dbt))
            only_dbt = sorted(set(against_dbt) - set(against_orch))
            report.append(f"after {label}: state:modified lists {only_orch} only against "
                          f"orch's artifacts, {only_dbt} only against dbt's")  # fmt: skip
    return report


Undo = Callable[[], None]


def _rewrite(path: Path, text: str) -> Undo:
    """Write ``text`` to ``path``; the returned function puts the old text back."""
    old = path.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")

    def undo() -> None:
        path.write_text(old, encoding="utf-8")

    return undo


def edit_model_sql(project: Path, manifest: dict) -> Undo | None:
    """A line more in the first SQL model of the root project."""
    root = manifest["metadata"]["project_name"]
    models = sorted(n["original_file_path"] for n in manifest["nodes"].values()
                    if n["resource_type"] == "model" and n["package_name"] == root
                    and n.get("language") == "sql")  # fmt: skip
    if not models:
        return None
    path = project / models[0]
    return _rewrite(path, path.read_text(encoding="utf-8") + "\n-- edited\n")


def edit_macro(project: Path, manifest: dict) -> Undo | None:
    """A Jinja comment in the first project or package macro a node calls."""
    called = sorted({m for n in manifest["nodes"].values()
                     for m in n.get("depends_on", {}).get("macros", [])
                     if manifest["macros"].get(m, {}).get("package_name") not in
                     (None, "dbt", "dbt_duckdb")})  # fmt: skip
    for uid in called:
        sql = manifest["macros"][uid]["macro_sql"]
        for path in sorted(project.rglob("*.sql")):
            text = path.read_text(encoding="utf-8")
            if sql in text and "%}" in sql:
                edited = sql.replace("%}", "%}{# edited #}", 1)
                return _rewrite(path, text.replace(sql, edited, 1))
    return None


def edit_config(project: Path, manifest: dict) -> Undo | None:
    """``+full_refresh: false`` for every model of the root project (dbt_project.yml)."""
    path = project / "dbt_project.yml"
    text = path.read_text(encoding="utf-8")
    root = manifest["metadata"]["project_name"]
    marker = f"\nmodels:\n  {root}:\n"
    if marker not in text:
        return None
    return _rewrite(path, text.replace(marker, marker + "    +full_refresh: false\n", 1))


STATE_EDITS: list[tuple[str, Callable[[Path, dict], Undo | None]]] = [
    ("editing one model's SQL", edit_model_sql),
    ("editing one macro", edit_macro),
    ("a config value in dbt_project.yml", edit_config),
]


def compare_build(
    dbt_exe: str,
    orch_exe: str,
    fixture: Fixture,
    dbt: tuple,
    orch: tuple,
    times: list,
    command: str = "build",
) -> list[str]:
    """Build (or test) both copies and return the differences."""
    (dbt_project, dbt_env), (orch_project, orch_env) = dbt, orch
    cmd = [dbt_exe, command, "--profiles-dir", str(dbt_project), "--project-dir", str(dbt_project)]
    dbt_run = run(cmd, dbt_project, dbt_env)
    orch_run = run([orch_exe, command, "--project-dir", str(orch_project)], orch_project, orch_env)
    times.append((dbt_run.wall_s, orch_run.wall_s))  # type: ignore[attr-defined]
    for label, proc in (("dbt", dbt_run), ("orch", orch_run)):
        if proc.returncode not in (0, 1):
            print(f"--- {label} output\n{proc.stdout}\n{proc.stderr}")

    report: list[str] = []
    if dbt_run.returncode != orch_run.returncode:
        report.append(f"exit status: dbt {dbt_run.returncode}, orch {orch_run.returncode}")
    dbt_state = snapshot(dbt_project / fixture.database)
    orch_state = snapshot(orch_project / fixture.database)
    compare_warehouses(dbt_state, orch_state, report)
    dbt_results = statuses(dbt_project / fixture.artifacts / "run_results.json")
    orch_results = statuses(orch_project / fixture.artifacts / "run_results.json")
    compare_results(dbt_results, orch_results, report)
    validate_artifacts(dbt_exe, orch_project / fixture.artifacts, report)
    counts: dict[str, int] = {}
    for status in dbt_results.values():
        counts[status] = counts.get(status, 0) + 1
    print(
        f"relations: dbt {len(dbt_state)}, orch {len(orch_state)}; "
        f"results: dbt {len(dbt_results)}, orch {len(orch_results)} "
        f"(dbt: {', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"
    )
    return report


_VALIDATE = """
import sys
from dbt.artifacts.schemas.manifest import WritableManifest
from dbt.artifacts.schemas.run import RunResultsArtifact
m = WritableManifest.read_and_check_versions(sys.argv[1] + '/manifest.json')
r = RunResultsArtifact.read_and_check_versions(sys.argv[1] + '/run_results.json')
missing = [x.unique_id for x in r.results if x.unique_id not in m.nodes
           and x.unique_id not in m.unit_tests
           and not x.unique_id.startswith(('operation.', 'exposure.', 'saved_query.'))]
print(f'{len(m.nodes)} nodes, {len(m.unit_tests)} unit tests, {len(m.sources)} sources, '
      f'{len(r.results)} results', missing)
sys.exit(1 if missing else 0)
"""


def validate_artifacts(dbt_exe: str, artifacts: Path, report: list[str]) -> None:
    """orch's target/manifest.json and run_results.json, read by dbt-core's own artifact classes
    (WritableManifest v12, RunResultsArtifact v6) in dbt's venv."""
    python = str(Path(dbt_exe).parent / "python")
    proc = subprocess.run([python, "-c", _VALIDATE, str(artifacts)], capture_output=True,
                          text=True)  # fmt: skip
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [proc.stdout.strip()])[-1]
        report.append(f"orch's dbt artifacts do not load with dbt-core's classes: {tail}")
    else:
        print(f"orch's manifest.json + run_results.json load with dbt-core: {proc.stdout.strip()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dbt", help="the dbt executable (from a venv of its own)")
    parser.add_argument("--orch", default=str(Path(sys.executable).parent / "orch"))
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    parser.add_argument("--project", action="append", choices=sorted(FIXTURES_COMPARED),
                        help="compare only this fixture (repeatable; default: all)")  # fmt: skip
    args = parser.parse_args(argv)
    global DBT_EXECUTABLE
    DBT_EXECUTABLE = str(Path(args.dbt).absolute())

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="compare_dbt_"))
    workdir.mkdir(parents=True, exist_ok=True)
    version = run([args.dbt, "--version"], workdir, dict(os.environ))
    print(version.stdout.strip())

    total, builds = 0, 0
    for name in args.project or sorted(FIXTURES_COMPARED):
        fixture = FIXTURES_COMPARED[name]
        dbt = prepare(workdir / name, "dbt", fixture)
        orch = prepare(workdir / name, "orch", fixture)
        times: list[tuple[float, float]] = []
        for step, (label, change) in enumerate(SCENARIOS[name]):
            print(f"\n== {name}: {label}")
            command = change if isinstance(change, str) else "build"
            if callable(change):
                change(dbt[0])
                change(orch[0])
            report = compare_build(args.dbt, args.orch, fixture, dbt, orch, times, command)
            if step == 0:
                report += state_modified(args.dbt, fixture, dbt, orch)
            total += len(report)
            builds += 1
            if report:
                print(f"{len(report)} difference(s):")
                for line in report:
                    print(f"- {line}")
            else:
                print("no differences")
        dbt_s, orch_s = sum(t[0] for t in times), sum(t[1] for t in times)
        print(f"\n{name}: wall time over {len(times)} builds: dbt {dbt_s:.2f}s, orch {orch_s:.2f}s "
              f"(orch/dbt = {orch_s / dbt_s:.2f})")  # fmt: skip
    print(f"\n{total} difference(s) in {builds} builds")
    if args.keep is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
