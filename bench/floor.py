"""The floor of a build or of ``orch test``: the same compiled SQL run directly, no orch code.

    python bench/floor.py PLAN.json build --threads 2 --database DB_FILE
    python bench/floor.py PLAN.json build-guarded --threads 2 --database DB_FILE
    python bench/floor.py PLAN.json checks --database DB_FILE

``PLAN.json`` (written by ``bench_inner_loop.py`` from ``target/manifest.json``) holds the
database name to attach as, the schemas, one ``CREATE OR REPLACE ...`` statement per
materialized model with the indexes of the statements it depends on, and the checks' failing-rows
queries. ``build`` runs the statements with N threads (one DuckDB cursor each) in DAG order —
a statement starts as soon as all it depends on finished — which is the honest limit of a
parallel build. ``build-guarded`` adds what orch's build must do besides (each table's data
version, each view's one-row read, every check once what it reads is done): the floor of that
work with no orch code (:func:`run_build_guarded`). ``one`` runs the statement
``--statement I`` alone: the floor of ``orch run -s MODEL`` on a built warehouse (open the file,
one statement, close). ``checks`` runs ``SELECT COUNT(*) FROM (<failing rows>)`` for every check
in one connection, the way orch evaluates them on DuckDB. Run it as its own process so that its
wall time and peak memory include the interpreter and the DuckDB import, like an ``orch``
command's.
"""

from __future__ import annotations

import argparse
import json
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import duckdb


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def connect(plan: dict, database_file: Path) -> duckdb.DuckDBPyConnection:
    """A connection with the warehouse file attached under the manifest's database name."""
    con = duckdb.connect(":memory:")
    name = quote(plan["database"] or "bench_floor")
    path = str(database_file).replace("'", "''")
    con.execute(f"ATTACH '{path}' AS {name}")
    con.execute(f"USE {name}")
    return con


def run_build(plan: dict, con: duckdb.DuckDBPyConnection, threads: int) -> None:
    """Every statement, each once all it depends on finished, on ``threads`` cursors."""
    for schema in plan["schemas"]:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    statements = plan["statements"]
    waiting = [len(s["after"]) for s in statements]
    children: list[list[int]] = [[] for _ in statements]
    for i, s in enumerate(statements):
        for parent in s["after"]:
            children[parent].append(i)
    local = threading.local()

    def execute(i: int) -> int:
        cursor = getattr(local, "cursor", None)
        if cursor is None:
            cursor = local.cursor = con.cursor()
            cursor.execute(f"USE {quote(plan['database'] or 'bench_floor')}")  # not inherited
        cursor.execute(statements[i]["sql"])
        return i

    with ThreadPoolExecutor(max_workers=threads) as pool:
        running: set[Future[int]] = {
            pool.submit(execute, i) for i, count in enumerate(waiting) if count == 0
        }
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                for child in children[future.result()]:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        running.add(pool.submit(execute, child))


FINGERPRINT = (  # orch's DuckDB data version of a table (adapters/duckdb.py, same query)
    "SELECT COUNT(*), SUM(COLUMNS(*)), SUM(HASH(*COLUMNS(*)))"
    " FROM (SELECT HASH(COLUMNS(*)) FROM {target})"
)


def guarded(statement: dict, cursor: duckdb.DuckDBPyConnection) -> None:
    """One statement with the work orch's build must add to it, as plain SQL: a table's data
    version (one aggregate scan), a view created in a transaction and one row of it read (a view
    failing when read keeps the previous one)."""
    if statement.get("kind") == "VIEW":
        cursor.execute("BEGIN")
        cursor.execute(statement["sql"])
        cursor.execute(f"SELECT * FROM {statement['target']} LIMIT 1").fetchall()
        cursor.execute("COMMIT")
    else:
        cursor.execute(statement["sql"])
        cursor.execute(FINGERPRINT.format(target=statement["target"])).fetchall()


def run_build_guarded(plan: dict, con: duckdb.DuckDBPyConnection, threads: int) -> None:
    """``build`` plus what orch's build must do besides the statements (its "work floor"): each
    table's data version and each view's one-row read right after it (:func:`guarded`), and
    each check's failing-rows count once everything it reads is done, on the same N threads."""
    for schema in plan["schemas"]:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    statements = plan["statements"]
    waiting = [len(s["after"]) for s in statements]
    children: list[list[int]] = [[] for _ in statements]
    for i, s in enumerate(statements):
        for parent in s["after"]:
            children[parent].append(i)
    checks_waiting = [len(set(after)) for after in plan["check_after"]]
    checks_of: list[list[int]] = [[] for _ in statements]
    for c, after in enumerate(plan["check_after"]):
        for parent in set(after):
            checks_of[parent].append(c)
    local = threading.local()

    def cursor() -> duckdb.DuckDBPyConnection:
        cur = getattr(local, "cursor", None)
        if cur is None:
            cur = local.cursor = con.cursor()
            cur.execute(f"USE {quote(plan['database'] or 'bench_floor')}")
        return cur

    def execute(i: int) -> int:
        guarded(statements[i], cursor())
        return i

    def check(c: int) -> int:
        sql = plan["checks"][c]
        cursor().execute(f"SELECT COUNT(*) FROM ({sql}) AS failures").fetchone()
        return -1

    with ThreadPoolExecutor(max_workers=threads) as pool:
        running: set[Future[int]] = {
            pool.submit(execute, i) for i, count in enumerate(waiting) if count == 0
        }
        running |= {pool.submit(check, c) for c, n in enumerate(checks_waiting) if n == 0}
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                i = future.result()
                if i < 0:
                    continue
                for c in checks_of[i]:
                    checks_waiting[c] -= 1
                    if checks_waiting[c] == 0:
                        running.add(pool.submit(check, c))
                for child in children[i]:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        running.add(pool.submit(execute, child))


def run_checks(plan: dict, con: duckdb.DuckDBPyConnection) -> int:
    """Every check's failing-rows count, in one connection; the number of failing checks."""
    failing = 0
    for sql in plan["checks"]:
        row = con.execute(f"SELECT COUNT(*) FROM ({sql}) AS failures").fetchone()
        failing += bool(row and row[0])
    return failing


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", type=Path)
    parser.add_argument("mode", choices=("build", "build-guarded", "checks", "one"))
    parser.add_argument("--statement", type=int, default=0, help="one: the statement's index")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--database", type=Path, required=True, help="the DuckDB file")
    args = parser.parse_args()
    plan = json.loads(args.plan.read_text(encoding="utf-8"))
    con = connect(plan, args.database)
    if args.mode == "build":
        run_build(plan, con, args.threads)
    elif args.mode == "build-guarded":
        run_build_guarded(plan, con, args.threads)
    elif args.mode == "one":
        con.execute(plan["statements"][args.statement]["sql"])
    else:
        run_checks(plan, con)
    con.close()


if __name__ == "__main__":
    main()
