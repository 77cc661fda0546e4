"""What reading a project as a dbt project costs: ``orch compile`` of the same models both ways.

Usage: ``python bench/bench_dbt.py [--size 1000] [--reps 5] [--seed-rows 100000]``

1. The generated project of ``--size`` models (``bench/out/project_N``, see generate.py) is copied
   twice: as it is (``orch_project.yml``) and as a dbt project (the same file renamed
   ``dbt_project.yml``). Each is compiled cold (no parse cache) and warm, as fresh subprocesses;
   the dbt flavor adds the unsupported-feature scan over every file and dbt's YAML handling.
2. A seed of ``--seed-rows`` rows (int, decimal, date, text, bool columns) is loaded with
   ``orch seed`` in both flavors, in a project with one model: the dbt flavor first infers
   dbt's column types in Python, then casts in the warehouse.

Prints medians (wall seconds) of each measurement.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

from measure import DEFAULT_OUT, Sample, ensure_project, median, remove_paths, run_measured


def copy_as(src: Path, dest: Path, project_file: str) -> Path:
    """A copy of ``src`` whose project file is named ``project_file``; no artifacts."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("target", ".orch", "*.duckdb"))
    if project_file != "orch_project.yml":
        (dest / "orch_project.yml").rename(dest / project_file)
    return dest


def compile_samples(project: Path, reps: int) -> dict[str, list[Sample]]:
    """Cold and warm ``orch compile`` samples."""
    out: dict[str, list[Sample]] = {"cold": [], "warm": []}
    for _ in range(reps):
        remove_paths(project / "target", project / ".orch")
        out["cold"].append(run_measured(["compile", "--project-dir", str(project)]))
        out["warm"].append(run_measured(["compile", "--project-dir", str(project)]))
    return out


def write_seed(path: Path, rows: int) -> None:
    """A CSV of ``rows`` rows with the column kinds dbt types differently."""
    rng = random.Random(0)
    lines = ["id,amount,day,label,active"]
    for i in range(rows):
        day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        label = rng.choice(["alpha", "beta", "", "gamma"])
        lines.append(f"{i},{rng.randint(0, 99999) / 100:.2f},{day},{label},{rng.random() < 0.5}")
    path.write_text("\n".join(lines).lower() + "\n", encoding="utf-8")


def seed_samples(project: Path, reps: int) -> list[Sample]:
    """``orch seed`` samples."""
    samples = []
    for _ in range(reps):
        remove_paths(project / "target", project / ".orch", project / "warehouse.duckdb")
        samples.append(run_measured(["seed", "--project-dir", str(project)]))
    return samples


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed-rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    base = ensure_project(args.size, DEFAULT_OUT, 0)
    for flavor, project_file in (("orch", "orch_project.yml"), ("dbt", "dbt_project.yml")):
        project = copy_as(base, DEFAULT_OUT / f"{flavor}_{args.size}", project_file)
        samples = compile_samples(project, args.reps)
        cold = median([s.seconds for s in samples["cold"]])
        warm = median([s.seconds for s in samples["warm"]])
        print(f"compile {args.size} models, {flavor:4}: cold {cold:.2f}s  warm {warm:.2f}s")
        small = DEFAULT_OUT / f"seed_{flavor}"
        if small.exists():
            shutil.rmtree(small)
        (small / "models").mkdir(parents=True)
        (small / "seeds").mkdir()
        (small / project_file).write_text("name: seed_bench\n", encoding="utf-8")
        (small / "models" / "one.sql").write_text("select 1 as one\n", encoding="utf-8")
        write_seed(small / "seeds" / "big_seed.csv", args.seed_rows)
        seed = median([s.seconds for s in seed_samples(small, args.reps)])
        print(f"orch seed {args.seed_rows} rows, {flavor:4}: {seed:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
