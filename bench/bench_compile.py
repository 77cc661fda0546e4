"""Time ``orch compile`` on generated projects of 1,000 and 10,000 models, cold and warm.

Usage: ``python bench/bench_compile.py [--sizes 1000,10000] [--reps 5] [--seed 0] [--out DIR]``

For each size the project is generated under ``bench/out/project_N`` (reused when it is already
there). Each repetition runs ``orch compile --project-dir DIR`` as a fresh subprocess twice:

- **cold**: after deleting ``DIR/target`` and ``DIR/.orch`` (so no parse cache and no manifest);
- **warm**: right after, with the cache the cold run left behind.

The script prints the median wall time and the median peak RSS of the child for each.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from measure import (
    DEFAULT_OUT,
    BenchError,
    Sample,
    ensure_project,
    median,
    remove_paths,
    require_command,
    run_measured,
)


def bench_size(project: Path, reps: int) -> dict[str, list[Sample]]:
    """Cold and warm samples of ``orch compile`` on one project."""
    samples: dict[str, list[Sample]] = {"cold": [], "warm": []}
    args = ["compile", "--project-dir", str(project)]
    for rep in range(reps):
        remove_paths(project / "target", project / ".orch")
        cold = run_measured(args)
        warm = run_measured(args)
        samples["cold"].append(cold)
        samples["warm"].append(warm)
        print(
            f"  rep {rep + 1}/{reps}: cold {cold.seconds:7.2f}s {cold.peak_rss_mib:7.0f} MiB"
            f" | warm {warm.seconds:7.2f}s {warm.peak_rss_mib:7.0f} MiB",
            flush=True,
        )
    if not (project / "target" / "manifest.json").is_file():
        raise BenchError(f"'orch compile' exited 0 but wrote no {project}/target/manifest.json")
    return samples


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000,10000", help="comma-separated model counts (default 1000,10000)"
    )
    parser.add_argument("--reps", type=int, default=5, help="repetitions per size (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where projects live")
    parser.add_argument("--json", type=Path, help="also write the medians to this JSON file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    try:
        require_command(["compile"], ("--project-dir",))
        results = []
        for size in sizes:
            project = ensure_project(size, args.out, args.seed)
            print(f"orch compile, {size} models, {args.reps} reps", flush=True)
            samples = bench_size(project, args.reps)
            results.append(
                {
                    "models": size,
                    "reps": args.reps,
                    "cold_s": median([s.seconds for s in samples["cold"]]),
                    "warm_s": median([s.seconds for s in samples["warm"]]),
                    "cold_rss_mib": median([s.peak_rss_mib for s in samples["cold"]]),
                    "warm_rss_mib": median([s.peak_rss_mib for s in samples["warm"]]),
                }
            )
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    print()
    print(f"{'models':>8} {'cold (s)':>10} {'warm (s)':>10} {'cold RSS':>10} {'warm RSS':>10}")
    for r in results:
        print(
            f"{r['models']:>8} {r['cold_s']:>10.2f} {r['warm_s']:>10.2f}"
            f" {r['cold_rss_mib']:>6.0f} MiB {r['warm_rss_mib']:>6.0f} MiB"
        )
    print("(medians; RSS is the peak resident memory of the orch process)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
