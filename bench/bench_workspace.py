"""Time loading a workspace of 10 projects x 1,000 models, warm and cold (issue 20).

Usage: ``python bench/bench_workspace.py [--members 10] [--size 1000] [--reps 3] [--out DIR]``

The generated 1,000-model project (``bench/out/project_1000``) is copied into ten members
``m0``..``m9`` of ``bench/out/workspace_10x1000`` (each with its own schema in one DuckDB file);
``m1``..``m9`` each add a model reading ``m0``'s public model through ``ref('m0', ...)``, so the
members are compiled in reference order. Measured as fresh subprocesses:

- **one project cold**: ``orch compile --project-dir project_1000`` without target/ and .orch/;
- **workspace cold**: ``orch ls --workspace DIR`` after deleting every member's target/ and .orch/
  (and the workspace cache);
- **workspace warm**: the same command again (the workspace cache, ``.orch/workspace_cache.json``
  at the workspace root, reused);
- **warm without the workspace cache**: the cache deleted, every member's manifest reused (what a
  warm load cost before the cache; also what the first command after a member changed pays).

Goals: warm <= 1.5 s; cold <= 10 x one project's cold compile (ratio from the same run).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from measure import DEFAULT_OUT, ensure_project, median, remove_paths, run_measured


def build_workspace(base: Path, root: Path, members: int) -> Path:
    """Copy ``base`` into ``members`` member folders under ``root`` with cross-project refs."""
    if (root / "orch_workspace.yml").is_file() and (root / f"m{members - 1}").is_dir():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    first_sql = sorted((base / "models").rglob("*.sql"))[0]
    first_model = first_sql.stem
    for i in range(members):
        member = root / f"m{i}"
        shutil.copytree(base / "models", member / "models")
        (member / "orch_project.yml").write_text(
            f"name: m{i}\nprofile: m{i}\ndialect: duckdb\n"
            f"models:\n  m{i}:\n    +materialized: table\n"
        )
        (member / "profiles.yml").write_text(
            f"m{i}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
            f"      path: ../warehouse.duckdb\n      schema: m{i}\n"
        )
        if i == 0:  # public through config(): the generated YAML already describes it
            public = member / first_sql.relative_to(base)
            public.write_text("{{ config(access='public') }}\n" + public.read_text())
        else:
            (member / "models" / "reads_m0.sql").write_text(
                f"select * from {{{{ ref('m0', '{first_model}') }}}}\n"
            )
    listed = "".join(f"  - path: m{i}\n" for i in range(members))
    (root / "orch_workspace.yml").write_text(f"members:\n{listed}")
    return root


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--warm-only", action="store_true", help="skip the cold compiles (minutes each)"
    )
    args = parser.parse_args(argv)
    base = ensure_project(args.size, args.out, 0)
    root = build_workspace(base, args.out / f"workspace_{args.members}x{args.size}", args.members)
    one, cold, warm, uncached = [], [], [], []
    ls = ["ls", "--workspace", str(root)]
    cache = root / ".orch" / "workspace_cache.json"
    for rep in range(args.reps):
        if not args.warm_only:
            remove_paths(base / "target", base / ".orch")
            one.append(run_measured(["compile", "--project-dir", str(base)]).seconds)
            remove_paths(*(p for m in root.glob("m*") for p in (m / "target", m / ".orch")))
            remove_paths(cache)
            cold.append(run_measured(ls).seconds)
        remove_paths(cache)
        uncached.append(run_measured(ls).seconds)  # writes the cache again
        warm.append(run_measured(ls).seconds)
        print(
            f"  rep {rep + 1}/{args.reps}: one project cold {one[-1] if one else 0:.2f}s | "
            f"workspace cold {cold[-1] if cold else 0:.2f}s | warm, no workspace cache "
            f"{uncached[-1]:.2f}s | warm {warm[-1]:.2f}s",
            flush=True,
        )
    print(
        f"{args.members} x {args.size} models: warm {median(warm):.2f}s (goal <= 1.5 s); "
        f"without the workspace cache {median(uncached):.2f}s "
        f"({median(uncached) / median(warm):.1f} x)"
    )
    if cold:
        ratio = median(cold) / median(one)
        print(
            f"cold {median(cold):.2f}s = {ratio:.1f} x one project's cold compile "
            f"{median(one):.2f}s (goal <= {args.members})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
