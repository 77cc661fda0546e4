"""Build a real dbt project (outside the repo) with dbt and with orch, and print what differs.

    python bench/compare_real.py /work/dbtvenv/bin/dbt --project /work/real/jaffle_shop_duckdb
        [--vars '{load_source_data: true}'] [--seed-first] [--keep DIR] [--orch .venv/bin/orch]
        [--threads 4] [--setup-sql FILE]

The project folder (with its packages already in ``dbt_packages/``: neither tool can reach the
hub here) is copied twice into a scratch folder, one copy per tool (``target/``, ``logs/`` and
DuckDB files left out). Each copy gets a ``profiles.yml`` of its own, in a folder next to it, for
the project's ``profile``: one DuckDB output (``real.duckdb`` in the copy, schema ``main``), with
``HOME`` isolated and ``DBT_PROFILES_DIR`` unset. ``--setup-sql FILE`` runs that SQL in each
copy's DuckDB file first, from the copy's folder (a project whose sources a script loads). With
``--seed-first``, ``dbt seed`` and ``orch
seed`` run first (for projects whose sources are tables their own seeds load, when ``--vars``
enables them). Then ``dbt build`` and ``orch build`` run, each from its copy's folder, and the
two DuckDB files and the two ``run_results.json`` are compared with ``bench/compare_dbt.py``'s
functions: relations (schema, name, table or view), column names and types, row counts and full
contents (sorted rows), the status of every result, and the exit status of each step. orch's
``manifest.json`` and ``run_results.json`` are also loaded with dbt-core's artifact classes.

Prints the differences and the wall time of each tool (seed + build). Exit status: 0 when
nothing differs, 1 otherwise. Not collected by pytest (it lives in bench/).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_dbt import (  # noqa: E402
    compare_results,
    compare_warehouses,
    run,
    snapshot,
    statuses,
    validate_artifacts,
)

DATABASE = "real.duckdb"
LEFT_OUT = shutil.ignore_patterns("target", "logs", "*.duckdb", "*.duckdb.wal", ".user.yml", ".git")


def project_settings(project: Path) -> tuple[str, str]:
    """The profile name and the target-path of a dbt project (plain YAML values only)."""
    config = yaml.safe_load((project / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    profile = str(config.get("profile") or config["name"])
    target = str(config.get("target-path") or "target")
    if "{" in profile or "{" in target:
        raise SystemExit(f"{project}/dbt_project.yml: a templated profile or target-path")
    return profile, target


def prepare(source: Path, workdir: Path, tool: str, threads: int) -> tuple[Path, Path, dict]:
    """A copy of the project for one tool, its profiles folder and its environment."""
    copy = workdir / tool / source.name
    shutil.copytree(source, copy, ignore=LEFT_OUT, symlinks=False)
    profile, _ = project_settings(copy)
    profiles = workdir / tool / "profiles"
    profiles.mkdir()
    output = {"type": "duckdb", "path": str(copy / DATABASE), "schema": "main",
              "threads": threads}  # fmt: skip
    (profiles / "profiles.yml").write_text(
        yaml.safe_dump({profile: {"target": "dev", "outputs": {"dev": output}}}), encoding="utf-8"
    )
    home = workdir / tool / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    for var in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR"):
        env.pop(var, None)
    return copy, profiles, env


def step(
    command: str, exes: dict[str, str], copies: dict, vars_: str | None, times: dict
) -> list[str]:
    """Run one command (seed, build) with both tools; the exit statuses' difference, if any."""
    codes = {}
    for tool, exe in exes.items():
        copy, profiles, env = copies[tool]
        cmd = [exe, command, "--project-dir", str(copy), "--profiles-dir", str(profiles)]
        if vars_:
            cmd += ["--vars", vars_]
        done = run(cmd, copy, env)
        times[tool] += done.wall_s  # type: ignore[attr-defined]
        codes[tool] = done.returncode
        if done.returncode not in (0, 1) or (done.returncode and tool == "orch"):
            tail = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            print(f"--- {tool} {command} output (tail)\n{tail}")
    if codes["dbt"] != codes["orch"]:
        return [f"{command} exit status: dbt {codes['dbt']}, orch {codes['orch']}"]
    return []


def load_sources(copy: Path, sql: str) -> None:
    """Run ``sql`` in a copy's DuckDB file, from the copy's folder (relative paths in it resolve
    there): the tables a project's sources read, loaded as its README says."""
    import duckdb

    cwd = os.getcwd()
    os.chdir(copy)
    try:
        con = duckdb.connect(DATABASE)
        con.execute(sql)
        con.close()
    finally:
        os.chdir(cwd)


def warehouse(copy: Path, report: list[str]) -> dict:
    """The relations of a copy's DuckDB file (none, and a difference, when it was not written)."""
    if (copy / DATABASE).is_file():
        return snapshot(copy / DATABASE)
    report.append(f"{copy.parent.name} wrote no {DATABASE}")
    return {}


def results(target: Path) -> dict[str, str]:
    """The statuses of a copy's run_results.json (none when it was not written)."""
    path = target / "run_results.json"
    return statuses(path) if path.is_file() else {}


def compare(args: argparse.Namespace, workdir: Path) -> int:
    """Prepare both copies, run the steps, print the differences; their number."""
    source = args.project.resolve()
    exes = {"dbt": args.dbt, "orch": args.orch}
    copies = {tool: prepare(source, workdir, tool, args.threads) for tool in exes}
    _, target = project_settings(source)
    times = {tool: 0.0 for tool in exes}
    report: list[str] = []
    if args.setup_sql:
        for copy, _, _ in copies.values():
            load_sources(copy, args.setup_sql.read_text(encoding="utf-8"))
    if args.seed_first:
        report += step("seed", exes, copies, args.vars, times)
    report += step("build", exes, copies, args.vars, times)

    dbt_copy, orch_copy = copies["dbt"][0], copies["orch"][0]
    dbt_state, orch_state = warehouse(dbt_copy, report), warehouse(orch_copy, report)
    compare_warehouses(dbt_state, orch_state, report)
    dbt_results, orch_results = results(dbt_copy / target), results(orch_copy / target)
    compare_results(dbt_results, orch_results, report)
    if orch_results:
        validate_artifacts(args.dbt, orch_copy / target, report)

    counts: dict[str, int] = {}
    for status in dbt_results.values():
        counts[status] = counts.get(status, 0) + 1
    print(f"\n{source.name}: relations: dbt {len(dbt_state)}, orch {len(orch_state)}; "
          f"results: dbt {len(dbt_results)}, orch {len(orch_results)} "
          f"(dbt: {', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})")  # fmt: skip
    print(f"wall time ({'seed + ' if args.seed_first else ''}build): dbt {times['dbt']:.2f}s, "
          f"orch {times['orch']:.2f}s (orch/dbt = {times['orch'] / times['dbt']:.2f})")  # fmt: skip
    if report:
        print(f"{len(report)} difference(s):")
        for line in report:
            print(f"- {line}")
    else:
        print("no differences")
    return len(report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dbt", help="the dbt executable (from a venv of its own)")
    parser.add_argument("--project", type=Path, required=True, help="the dbt project folder")
    parser.add_argument("--orch", default=str(Path(sys.executable).parent / "orch"))
    parser.add_argument("--vars", help="passed to every dbt and orch command")
    parser.add_argument("--seed-first", action="store_true", help="run seed before build")
    parser.add_argument("--setup-sql", type=Path, help="SQL that loads the sources, run first")
    parser.add_argument("--threads", type=int, default=4, help="the profile's threads")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args(argv)
    if not (args.project / "dbt_project.yml").is_file():
        parser.error(f"{args.project}: no dbt_project.yml")

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="compare_real_"))
    if args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
    version = subprocess.run([args.dbt, "--version"], capture_output=True, text=True)
    print(version.stdout.strip().splitlines()[:2], f"load: {os.getloadavg()[0]:.2f}")
    try:
        differences = compare(args, workdir)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
