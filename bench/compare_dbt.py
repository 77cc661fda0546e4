"""Build the dbt fixture project with the real dbt and with orch, and print what differs.

    python bench/compare_dbt.py /tmp/dbtvenv/bin/dbt [--orch .venv/bin/orch] [--keep DIR]

dbt is NOT one of orch's dependencies: install it in a venv of its own
(``python3 -m venv /tmp/dbtvenv && /tmp/dbtvenv/bin/pip install dbt-core dbt-duckdb``).

The fixture ``tests/dbt/fixtures/coffee_dbt`` is copied twice and each copy is prepared exactly as
``tests/dbt/conftest.py`` prepares it (the source table loaded by ``load_raw_batches``, ``HOME``
isolated, ``DBT_PROFILES_DIR``/``COFFEE_*`` unset, run from the project folder). Then ``dbt build``
runs in one, ``orch build --project-dir`` in the other, and the two DuckDB files and the two
``run_results.json`` are compared: relations (schema, name, table or view), column names and types,
row counts and full contents (sorted rows), and the status of every model, seed and test (tests
matched by name: dbt's ``unique_id`` without its hash suffix).

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
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dbt.conftest import FIXTURES, load_raw_batches  # noqa: E402

PROJECT = "coffee_dbt"
DATABASE = "coffee.duckdb"  # the dev output's path in the fixture's profiles.yml
ARTIFACTS = "build_artifacts"  # the fixture's target-path


def prepare(workdir: Path, name: str) -> tuple[Path, dict[str, str]]:
    """A copy of the fixture with its source loaded, and the environment the tests use."""
    project = workdir / name / PROJECT
    shutil.copytree(FIXTURES / PROJECT, project)
    home = workdir / name / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home))
    for var in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR", "COFFEE_REGION", "COFFEE_CI_DB"):
        env.pop(var, None)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    load_raw_batches(project / DATABASE)
    return project, env


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    print(f"$ {' '.join(cmd)}  -> exit {proc.returncode}")
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
                "rows": sorted(rows, key=repr),
            }
        return out
    finally:
        con.close()


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
        out[f"{parts[0]}.{parts[2]}"] = r["status"]
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


# (label, change made to both copies before the build); the builds run one after the other
SCENARIOS = [
    ("first build", None),
    ("second build after a new orders.csv row (incremental merge)", add_order),
    ("a failing error-severity test (exit 1, downstream skipped)", warn_to_error),
]


def compare_build(dbt_exe: str, orch_exe: str, dbt: tuple, orch: tuple) -> list[str]:
    """Build both copies and return the differences."""
    (dbt_project, dbt_env), (orch_project, orch_env) = dbt, orch
    cmd = [dbt_exe, "build", "--profiles-dir", str(dbt_project), "--project-dir", str(dbt_project)]
    dbt_run = run(cmd, dbt_project, dbt_env)
    orch_run = run([orch_exe, "build", "--project-dir", str(orch_project)], orch_project, orch_env)
    for label, proc in (("dbt", dbt_run), ("orch", orch_run)):
        if proc.returncode not in (0, 1):
            print(f"--- {label} output\n{proc.stdout}\n{proc.stderr}")

    report: list[str] = []
    if dbt_run.returncode != orch_run.returncode:
        report.append(f"exit status: dbt {dbt_run.returncode}, orch {orch_run.returncode}")
    dbt_state = snapshot(dbt_project / DATABASE)
    orch_state = snapshot(orch_project / DATABASE)
    compare_warehouses(dbt_state, orch_state, report)
    dbt_results = statuses(dbt_project / ARTIFACTS / "run_results.json")
    orch_results = statuses(orch_project / ARTIFACTS / "run_results.json")
    compare_results(dbt_results, orch_results, report)
    counts: dict[str, int] = {}
    for status in dbt_results.values():
        counts[status] = counts.get(status, 0) + 1
    print(
        f"relations: dbt {len(dbt_state)}, orch {len(orch_state)}; "
        f"results: dbt {len(dbt_results)}, orch {len(orch_results)} "
        f"(dbt: {', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dbt", help="the dbt executable (from a venv of its own)")
    parser.add_argument("--orch", default=str(Path(sys.executable).parent / "orch"))
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args(argv)

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="compare_dbt_"))
    workdir.mkdir(parents=True, exist_ok=True)
    version = run([args.dbt, "--version"], workdir, dict(os.environ))
    print(version.stdout.strip())

    dbt, orch = prepare(workdir, "dbt"), prepare(workdir, "orch")
    total = 0
    for label, change in SCENARIOS:
        print(f"\n== {label}")
        if change is not None:
            change(dbt[0])
            change(orch[0])
        report = compare_build(args.dbt, args.orch, dbt, orch)
        total += len(report)
        if report:
            print(f"{len(report)} difference(s):")
            for line in report:
                print(f"- {line}")
        else:
            print("no differences")
    print(f"\n{total} difference(s) in {len(SCENARIOS)} builds")
    if args.keep is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
