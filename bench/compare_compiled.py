"""Compare dbt's and orch's compiled SQL of one project, model by model (no warehouse data needed).

    cd PROJECT
    orch compile --profiles-dir P && mv target orch_target
    dbt compile --profiles-dir P
    python bench/compare_compiled.py PROJECT PROJECT_NAME [--orch-target orch_target]

For a project whose sources cannot be loaded here (an API, files not in the repository): both
tools render every model's Jinja and SQL, and the compiled files should say the same. Each file
of ``target/compiled/<project>/`` (dbt) is parsed with sqlglot (DuckDB) beside orch's file of the
same path, and the two are compared after normalizing what may differ without changing the
query: formatting and case, the database part of table names (orch leaves the default database
out), and the alias orch gives a table function or a path that a ``source()`` became
(dbt-duckdb's ``external_location``). Prints each model that differs and the counts; tests are
left out (orch compiles them under ``checks/``). Not collected by pytest (it lives in bench/).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import sqlglot
from sqlglot import exp


def normalized(sql: str) -> str:
    """The statements of ``sql`` as sqlglot writes them, without what may differ harmlessly."""
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.ParseError as err:
        return f"PARSE ERROR {str(err)[:100]}"
    out = []
    for tree in trees:
        if tree is None:
            continue
        for table in tree.find_all(exp.Table):
            table.set("catalog", None)
            if isinstance(table.this, exp.Anonymous) or "/" in table.name:
                table.set("alias", None)  # a table function or a path: orch aliases it
        out.append(tree.sql(dialect="duckdb", normalize=True, pretty=False))
    return ";".join(out)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; exit status 1 when a model differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("name", help="the dbt project's name (its folder under target/compiled)")
    parser.add_argument("--orch-target", default="orch_target")
    args = parser.parse_args(argv)
    dbt_dir = args.project / "target" / "compiled" / args.name
    orch_dir = args.project / args.orch_target / "compiled"
    same = different = missing = 0
    for dbt_file in sorted(dbt_dir.rglob("*.sql")):
        rel = dbt_file.relative_to(dbt_dir)
        if any(part.endswith((".yml", ".yaml")) for part in rel.parts) or rel.parts[0] == "tests":
            continue  # a test: orch writes tests under checks/
        orch_file = orch_dir / rel
        if not orch_file.is_file():
            missing += 1
            print(f"missing in orch: {rel}")
            continue
        a, b = normalized(dbt_file.read_text()), normalized(orch_file.read_text())
        if a == b:
            same += 1
            continue
        different += 1
        print(f"DIFF {rel}\n  dbt : {a[:300]}\n  orch: {b[:300]}")
    print(f"models: {same} the same, {different} different, {missing} missing in orch")
    return 1 if different or missing else 0


if __name__ == "__main__":
    sys.exit(main())
