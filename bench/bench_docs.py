"""Benchmark the docs site: generation time and size at 1,000 and 10,000 assets, and how soon the
index page of the 10,000-asset site is interactive in headless Chromium.

Usage: ``python bench/bench_docs.py [--sizes 1000 10000] [--repeat 3] [--no-browser]
[--exposures N]``

The manifests are built in code (no compile step, so only the docs generator is timed): assets in
10 layers, each model reading 1-3 earlier ones, 7 columns with column lineage, ~1 KB of SQL, a
Markdown description, tags and groups, like the projects ``bench/generate.py`` writes. The site
is generated without state (the state adds one history query per attempted asset).

*Interactive* = from ``page.goto`` until the graph has drawn its nodes and the search box has
answered a typed query with results (measured with Playwright on ``/usr/bin/chromium``).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from orch.docs import generate_site
from orch.manifest import ColumnInfo, ColumnRef, Manifest, Node, ProjectInfo, RelationInfo

COLUMNS = ("id", "k", "grp", "amount", "score", "flag", "created_at")
PREFIXES = ("src", "stg", "stg", "int", "int", "int", "fct", "fct", "agg", "rpt")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _sql(parents: list[str]) -> str:
    if not parents:
        return "select range as id, range % 7 as k, 'g' || (range % 5) as grp,\n" + (
            "  range * 1.5 as amount, range / 3 as score, range % 2 = 0 as flag,\n"
            "  timestamp '2024-01-01' + range * interval 1 hour as created_at\nfrom range(50)\n"
        )
    first = parents[0]
    joins = "".join(
        f"left join {{{{ ref('{p}') }}}} as p{i} on p{i}.id = a.id\n"
        for i, p in enumerate(parents[1:], 1)
    )
    return (
        f"-- {first} joined with its other parents, one row per id\n"
        "with base as (\n"
        f"    select * from {first}\n"
        "    where amount is not null\n"
        "),\n"
        "totals as (\n"
        "    select grp, sum(amount) as total_amount, count(*) as n\n"
        "    from base group by grp\n"
        ")\n"
        "select\n"
        "    a.id, a.k, a.grp,\n"
        "    coalesce(a.amount, 0) + coalesce(t.total_amount, 0) / nullif(t.n, 0) as amount,\n"
        "    round(a.score * 1.1, 2) as score,\n"
        "    case when a.flag then true else false end as flag,\n"
        "    a.created_at\n"
        "from base as a\n"
        "left join totals as t on t.grp = a.grp\n" + joins
    )


def synthetic_exposures(
    by_layer: list[list[str]], count: int, rng: random.Random
) -> dict[str, dict[str, object]]:
    """``count`` dbt exposures (as the loader keeps them), each on 1-3 models of the last layers."""
    out: dict[str, dict[str, object]] = {}
    for i in range(count):
        pool = by_layer[-1] + by_layer[-2] if len(by_layer) > 1 else by_layer[-1]
        deps = sorted({rng.choice(pool) for _ in range(rng.choice((1, 2, 3)))})
        name = f"exposure_{i:04d}"
        out[name] = {
            "name": name, "path": "models/exposures.yml", "depends_on": deps,
            "type": ("dashboard", "notebook", "analysis", "ml", "application")[i % 5],
            "owner": {"name": f"Team {i % 8}", "email": f"team{i % 8}@example.com"},
            "label": f"Exposure {i}", "url": f"https://bi.example.com/{i}", "maturity": "high",
            "description": f"Uses **{', '.join(deps)}**.", "tags": ["bi"], "meta": {"i": i},
        }  # fmt: skip
    return out


def synthetic_manifest(n: int, seed: int = 0, layers: int = 10, exposures: int = 0) -> Manifest:
    """A manifest of ``n`` SQL models in ``layers`` layers with column lineage (and
    ``exposures`` dbt exposures on the last layers' models)."""
    rng = random.Random(seed)
    by_layer: list[list[str]] = []
    nodes: dict[str, Node] = {}
    parents_of: dict[str, list[str]] = {}
    for layer in range(layers):
        start, end = n * layer // layers, n * (layer + 1) // layers
        prefix = PREFIXES[layer * len(PREFIXES) // layers]
        names = [f"{prefix}_{i:05d}" for i in range(start, end)]
        for name in names:
            parents: list[str] = []
            if layer:
                for _ in range(rng.choice((1, 2, 2, 3))):
                    pool = (
                        by_layer[layer - 1]
                        if rng.random() < 0.7
                        else by_layer[rng.randrange(layer)]
                    )
                    candidate = rng.choice(pool)
                    if candidate not in parents:
                        parents.append(candidate)
            parents_of[name] = parents
            sql = _sql(parents)
            lineage = {
                c: [ColumnRef(asset=p, column=c) for p in parents[:1]]
                + (
                    [ColumnRef(asset=parents[1], column="amount")]
                    if c == "amount" and len(parents) > 1
                    else []
                )
                for c in COLUMNS
            }
            nodes[name] = Node(
                name=name,
                unique_id=f"model.bench.{name}",
                resource_type="model",
                language="sql",
                path=f"models/layer_{layer}/{name}.sql",
                patch_path=f"models/layer_{layer}/_props_{int(name[-5:]) // 100}.yml",
                raw_code=sql,
                compiled_code=sql.replace("{{ ref('", '"main"."').replace("') }}", '"'),
                relation=RelationInfo(database=None, schema_name="main", identifier=name),
                config={
                    "materialized": "view" if rng.random() < 0.17 else "table",
                    "tags": [prefix, f"team_{rng.randrange(8)}"],
                    "group": f"domain_{rng.randrange(12)}",
                    "owner": f"team{rng.randrange(8)}@example.com",
                },
                depends_on=parents,
                columns={
                    c: ColumnInfo(
                        name=c, data_type="varchar", description=f"The **{c}** of the row."
                    )
                    for c in COLUMNS
                },
                column_lineage=lineage,
                description=f"Model `{name}` in layer {layer}: reads "
                f"{', '.join(parents) or 'nothing'}.\n\n- one row per id\n- amounts in dollars",
                fingerprint=f"{rng.getrandbits(64):016x}",
            )
        by_layer.append(names)
    children: dict[str, list[str]] = {k: [] for k in nodes}
    for name, parents in parents_of.items():
        for p in parents:
            children[p].append(name)
    return Manifest(
        orch_version="bench",
        project=ProjectInfo(
            name=f"bench_{n}",
            dialect="duckdb",
            target_name="dev",
            target_type="duckdb",
            target_dialect="duckdb",
            database=None,
            schema_name="main",
        ),
        nodes=nodes,
        parents={k: sorted(v) for k, v in parents_of.items()},
        children={k: sorted(v) for k, v in children.items()},
        exposures=synthetic_exposures(by_layer, exposures, rng),
    )


def time_generation(
    n: int, repeat: int, out: Path, exposures: int = 0
) -> tuple[float, float, int, int]:
    """Median wall and CPU seconds, bytes and files of generating the site of ``n`` assets."""
    manifest = synthetic_manifest(n, exposures=exposures)
    times, cpu = [], []
    stats = None
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        started, started_cpu = time.perf_counter(), time.process_time()
        stats = generate_site(manifest, None, out)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    assert stats is not None
    return statistics.median(times), statistics.median(cpu), stats.bytes, stats.files


def time_interactive(site: Path, repeat: int) -> list[float]:
    """Seconds from navigation until the graph is drawn and the search box answers."""
    from playwright.sync_api import sync_playwright

    url = (site / "index.html").as_uri()
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(repeat):
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            page = context.new_page()
            errors: list[str] = []

            def on_error(err: Exception, errors: list[str] = errors) -> None:
                errors.append(str(err))

            page.on("pageerror", on_error)
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("#graph .node")
            page.fill("#search", "fct_0")
            page.wait_for_selector("#search-results li[role=option]")
            out.append(time.perf_counter() - started)
            if errors:
                raise RuntimeError(f"page errors: {errors}")
            context.close()
        browser.close()
    return out


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--exposures", type=int, default=0, help="dbt exposures in each graph")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="orch-bench-docs-"))
    print("| assets | generate, wall (median) | CPU | site size | files | bytes per asset |")
    print("|---:|---:|---:|---:|---:|---:|")
    largest = None
    for n in args.sizes:
        out = tmp / f"site_{n}"
        seconds, cpu, size, files = time_generation(n, args.repeat, out, args.exposures)
        largest = out
        print(
            f"| {n:,} | {seconds:.2f} s | {cpu:.2f} s | {size / 1e6:.1f} MB | {files} "
            f"| {size // n:,} |"
        )
    if not args.no_browser and largest is not None:
        times = time_interactive(largest, args.repeat)
        print(
            f"\nIndex page of the {args.sizes[-1]:,}-asset site interactive in Chromium: "
            f"median {statistics.median(times):.2f} s (runs: "
            + ", ".join(f"{t:.2f}" for t in times)
            + ")"
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
