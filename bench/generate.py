"""Generate a synthetic orch project of N SQL models in a layered DAG.

Usage: ``python bench/generate.py N OUT_DIR [--seed S] [--layers L]``

``--flavour realistic`` (issue 21) makes the warehouse do real work instead: layer-0 tables of
10,000 rows, two more SQL shapes (``QUALIFY`` and ``EXISTS``), views never more than two deep (a
view's view parent reads only tables), and about 0.4 checks per model in the YAML files
(``unique``/``not_null`` on ``id``, ``not_null`` on ``grp``, ``accepted_values`` on ``flag``,
``relationships`` to the parent a filter-like model reads its rows from) — all of which pass.

The models sit in ``L`` layers (10 by default). Layer-0 models make 50 rows from nothing
(``range(50)``); every other model reads one to three models of earlier layers (mostly the layer
just before) with the kind of SQL analysts write: joins, CTEs, aggregates joined back, window
functions, case expressions, unions, explicit column lists and a few ``select *``. Every model has
the same output columns (``id, k, grp, amount, score, flag, created_at``) with ``id`` unique, so any
model can read any other and row counts stay at 50 or fewer: the warehouse's work is trivial and
the orchestrator's own overhead is what a benchmark sees.

Most models are tables (the project default); about one in six is a view (``{{ config(...) }}`` in
the model). About one reference in five uses ``{{ ref('...') }}``, the rest are bare names. A YAML
property file describes every block of 100 models. The output depends only on N, the seed and the
number of layers.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS = ("id", "k", "grp", "amount", "score", "flag", "created_at")
PREFIXES = ("src", "stg", "stg", "int", "int", "int", "fct", "fct", "agg", "rpt")
META_FILE = ".bench_meta.json"
PROPS_PER_FILE = 100


@dataclass
class ModelSpec:
    """One generated model: its name, layer, parents and materialization."""

    name: str
    layer: int
    parents: list[str] = field(default_factory=list)
    materialized: str = "table"
    kind: str = "source"
    rows: int = 50  # rows a layer-0 model makes


FLAVOURS = ("synthetic", "realistic")
REALISTIC_ROWS = 10_000
# Shapes whose rows are a subset of their first parent's (a relationships check holds).
SUBSET_SHAPES = {"filter_case", "select_star", "window", "agg_join_back", "qualify", "exists"}


def _layer_bounds(n: int, layers: int) -> list[tuple[int, int]]:
    """Split model indices 0..n-1 into ``layers`` contiguous ranges (layer 0 a bit smaller)."""
    layers = max(1, min(layers, n))
    bounds = []
    for layer in range(layers):
        start = n * layer // layers
        end = n * (layer + 1) // layers
        bounds.append((start, end))
    return bounds


def plan_models(n: int, seed: int, layers: int = 10, flavour: str = "synthetic") -> list[ModelSpec]:
    """Choose names, layers, parents, SQL shapes and materializations for ``n`` models."""
    rng = random.Random(seed)
    realistic = flavour == "realistic"
    shapes = REALISTIC_SHAPES_BY_ARITY if realistic else SHAPES_BY_ARITY
    view_depth: dict[str, int] = {}  # views stacked on top of each other, ending here
    specs: list[ModelSpec] = []
    by_layer: list[list[str]] = []
    for layer, (start, end) in enumerate(_layer_bounds(n, layers)):
        prefix = PREFIXES[min(layer * len(PREFIXES) // max(layers, 1), len(PREFIXES) - 1)]
        names = [f"{prefix}_{i:05d}" for i in range(start, end)]
        for name in names:
            spec = ModelSpec(name=name, layer=layer, rows=REALISTIC_ROWS if realistic else 50)
            if layer > 0:
                n_parents = rng.choices((1, 2, 3), weights=(35, 45, 20))[0]
                parents: list[str] = []
                for _ in range(n_parents):
                    if rng.random() < 0.7:
                        pool = by_layer[layer - 1]
                    else:
                        pool = by_layer[rng.randrange(layer)]
                    candidate = rng.choice(pool)
                    if candidate not in parents:
                        parents.append(candidate)
                spec.parents = parents
                spec.kind = rng.choice(shapes[min(len(parents), 3)])
            spec.materialized = "view" if rng.random() < 0.17 else "table"
            depth = 1 + max((view_depth[p] for p in spec.parents), default=0)
            if realistic and spec.materialized == "view" and depth > 2:
                spec.materialized = "table"
            view_depth[name] = depth if spec.materialized == "view" else 0
            specs.append(spec)
        by_layer.append(names)
    return specs


# --------------------------------------------------------------------------- SQL shapes


def _ref(name: str, rng: random.Random) -> str:
    """A reference to another model: usually the bare name, sometimes ``{{ ref() }}``."""
    return f"{{{{ ref('{name}') }}}}" if rng.random() < 0.2 else name


def _source_sql(spec: ModelSpec, rng: random.Random) -> str:
    mod = rng.choice((97, 89, 83, 79))
    groups = rng.randint(3, 9)
    return f"""select
    i as id,
    i % {mod} as k,
    'g' || (i % {groups}) as grp,
    ((i * {rng.randint(7, 97)}) % 1000) / 10.0 as amount,
    ((i * {rng.randint(3, 61)}) % 100) / 100.0 as score,
    i % {rng.randint(2, 5)} = 0 as flag,
    timestamp '2024-01-01 00:00:00' + i * interval {rng.randint(1, 24)} hour as created_at
from range({spec.rows}) as t(i)
"""


def _filter_case_sql(spec: ModelSpec, rng: random.Random) -> str:
    p = _ref(spec.parents[0], rng)
    threshold = rng.randint(5, 60)
    return f"""-- filter and derive
select
    id,
    k,
    case
        when amount >= {threshold} then grp || '_high'
        when amount >= {threshold // 2} then grp || '_mid'
        else grp || '_low'
    end as grp,
    round(amount * {rng.choice(("1.1", "0.9", "1.25", "1.0"))}, 2) as amount,
    coalesce(score, 0) as score,
    flag and amount > {threshold // 3} as flag,
    created_at
from {p}
where id % {rng.randint(7, 13)} <> {rng.randint(0, 6)}
"""


def _select_star_sql(spec: ModelSpec, rng: random.Random) -> str:
    p = _ref(spec.parents[0], rng)
    return f"""select *
from {p}
where amount > {rng.randint(0, 20)} or flag
"""


def _window_sql(spec: ModelSpec, rng: random.Random) -> str:
    p = _ref(spec.parents[0], rng)
    return f"""with ranked as (
    select
        id,
        k,
        grp,
        amount,
        score,
        flag,
        created_at,
        row_number() over (partition by grp order by amount desc, id) as rank_in_grp,
        sum(amount) over (partition by grp order by created_at, id) as running_amount,
        lag(score) over (order by id) as previous_score
    from {p}
)

select
    id,
    k,
    grp,
    running_amount / 10.0 as amount,
    coalesce(previous_score, score) as score,
    rank_in_grp <= {rng.randint(2, 6)} as flag,
    created_at
from ranked
"""


def _agg_join_back_sql(spec: ModelSpec, rng: random.Random) -> str:
    p = _ref(spec.parents[0], rng)
    return f"""with base as (
    select id, k, grp, amount, score, flag, created_at
    from {p}
),

per_group as (
    select
        grp,
        count(*) as row_count,
        sum(amount) as total_amount,
        avg(score) as mean_score,
        max(created_at) as last_created_at
    from base
    group by grp
)

select
    base.id,
    base.k,
    base.grp,
    round(base.amount / nullif(per_group.total_amount, 0) * 100, 3) as amount,
    per_group.mean_score as score,
    per_group.row_count > {rng.randint(3, 10)} as flag,
    per_group.last_created_at as created_at
from base
inner join per_group
    on base.grp = per_group.grp
"""


def _join2_sql(spec: ModelSpec, rng: random.Random) -> str:
    a, b = (_ref(p, rng) for p in spec.parents[:2])
    how = rng.choice(("inner", "left"))
    return f"""-- combine two upstream models on id
select
    a.id,
    a.k,
    coalesce(b.grp, a.grp) as grp,
    a.amount + coalesce(b.amount, 0) as amount,
    greatest(a.score, coalesce(b.score, 0)) as score,
    a.flag or coalesce(b.flag, false) as flag,
    least(a.created_at, coalesce(b.created_at, a.created_at)) as created_at
from {a} as a
{how} join {b} as b
    on a.id = b.id
"""


def _union_sql(spec: ModelSpec, rng: random.Random) -> str:
    a, b = (_ref(p, rng) for p in spec.parents[:2])
    cut = rng.randint(spec.rows // 5, spec.rows * 4 // 5)
    return f"""select id, k, grp, amount, score, flag, created_at
from {a}
where id < {cut}

union all

select id, k, grp, amount, score, flag, created_at
from {b}
where id >= {cut}
"""


def _join3_sql(spec: ModelSpec, rng: random.Random) -> str:
    a, b, c = (_ref(p, rng) for p in spec.parents[:3])
    return f"""with left_side as (
    select id, k, grp, amount, score, flag, created_at
    from {a}
),

totals as (
    select k, sum(amount) as k_amount, count(*) as k_rows
    from {b}
    group by k
),

flags as (
    select id, flag, score
    from {c}
    where score > {rng.randint(0, 50) / 100}
)

select
    left_side.id,
    left_side.k,
    left_side.grp,
    left_side.amount + coalesce(totals.k_amount, 0) / greatest(totals.k_rows, 1) as amount,
    coalesce(flags.score, left_side.score) as score,
    case when flags.id is null then left_side.flag else flags.flag end as flag,
    left_side.created_at
from left_side
left join totals
    on left_side.k = totals.k
left join flags
    on left_side.id = flags.id
"""


def _qualify_sql(spec: ModelSpec, rng: random.Random) -> str:
    p = _ref(spec.parents[0], rng)
    return f"""-- the top rows of each group, by amount
select
    id,
    k,
    grp,
    amount,
    score,
    flag,
    created_at
from {p}
qualify row_number() over (partition by grp, k % {rng.randint(2, 9)} order by amount desc, id)
    <= {rng.randint(20, 400)}
"""


def _exists_sql(spec: ModelSpec, rng: random.Random) -> str:
    a, b = (_ref(p, rng) for p in spec.parents[:2])
    negate = rng.choice(("", "not "))
    return f"""-- rows of one model that {negate}have a flagged match in another
select a.id, a.k, a.grp, a.amount, a.score, a.flag, a.created_at
from {a} as a
where {negate}exists (
    select 1
    from {b} as b
    where b.id = a.id
        and b.flag
)
"""


ShapeFn = Callable[[ModelSpec, random.Random], str]

SHAPES: dict[str, ShapeFn] = {
    "source": _source_sql,
    "filter_case": _filter_case_sql,
    "select_star": _select_star_sql,
    "window": _window_sql,
    "agg_join_back": _agg_join_back_sql,
    "join2": _join2_sql,
    "union": _union_sql,
    "join3": _join3_sql,
    "qualify": _qualify_sql,
    "exists": _exists_sql,
}

# Weighted by repetition: a few ``select *``, mostly explicit column lists.
SHAPES_BY_ARITY: dict[int, tuple[str, ...]] = {
    1: ("filter_case", "filter_case", "window", "window", "agg_join_back", "agg_join_back",
        "select_star"),
    2: ("join2", "join2", "join2", "union"),
    3: ("join3",),
}  # fmt: skip


REALISTIC_SHAPES_BY_ARITY: dict[int, tuple[str, ...]] = {
    1: ("filter_case", "window", "window", "agg_join_back", "qualify", "qualify", "select_star"),
    2: ("join2", "join2", "union", "exists"),
    3: ("join3",),
}  # fmt: skip


def render_model(spec: ModelSpec, rng: random.Random) -> str:
    """The SQL file text of one model."""
    body = SHAPES[spec.kind](spec, rng)
    if spec.materialized != "table":
        body = f"{{{{ config(materialized='{spec.materialized}') }}}}\n" + body
    return body


def _column_checks(spec: ModelSpec, rng: random.Random) -> dict[str, list[str]]:
    """About 0.4 passing checks per model (realistic flavour), by column."""
    checks: dict[str, list[str]] = {}
    draw = rng.random()
    if draw < 0.09:
        checks["id"] = ["unique", "not_null"]
    elif draw < 0.19:
        checks["id"] = ["unique"]
    elif draw < 0.27:
        checks["grp"] = ["not_null"]
    elif draw < 0.30:
        checks["flag"] = ["{accepted_values: {values: [true, false], quote: false}}"]
    elif draw < 0.34 and spec.kind in SUBSET_SHAPES:
        checks["id"] = [f"{{relationships: {{to: ref('{spec.parents[0]}'), field: id}}}}"]
    return checks


def render_properties(
    block: list[ModelSpec], rng: random.Random, flavour: str = "synthetic"
) -> str:
    """A YAML property file describing a block of models (columns for some of them)."""
    lines = ["version: 2", "", "models:"]
    for spec in block:
        upstream = ", ".join(spec.parents) if spec.parents else "nothing (generated rows)"
        lines.append(f"  - name: {spec.name}")
        lines.append(f"    description: Synthetic {spec.kind} model in layer {spec.layer}; reads "
                     f"{upstream}.")  # fmt: skip
        if rng.random() < 0.3:
            lines.append(f"    tags: [layer_{spec.layer}]")
        described = rng.random() < 0.25
        checks = _column_checks(spec, rng) if flavour == "realistic" else {}
        columns = {c: "" for c in checks}
        if described:
            columns = {"id": "Row identifier, unique within the model.",
                       "amount": "A synthetic measure.", **columns}  # fmt: skip
        if columns:
            lines.append("    columns:")
        for column, text in columns.items():
            lines.append(f"      - name: {column}")
            if text:
                lines.append(f"        description: {text}")
            if column in checks:
                lines.append(f"        data_tests: [{', '.join(checks[column])}]")
    return "\n".join(lines) + "\n"


PROJECT_YML = """name: {name}
profile: {name}
dialect: duckdb
vars:
  bench_seed: {seed}
models:
  {name}:
    +materialized: table
"""

PROFILES_YML = """{name}:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: warehouse.duckdb
      schema: main
      threads: 4
"""


def generate_project(
    n: int, out_dir: Path, seed: int = 0, layers: int = 10, flavour: str = "synthetic"
) -> list[ModelSpec]:
    """Write a project of ``n`` models to ``out_dir``; ``models/`` is replaced, the rest is kept."""
    specs = plan_models(n, seed, layers, flavour)
    rng = random.Random(seed * 1_000_003 + n)
    out_dir.mkdir(parents=True, exist_ok=True)
    models_dir = out_dir / "models"
    if models_dir.exists():
        shutil.rmtree(models_dir)
    name = f"bench_{n}"
    (out_dir / "orch_project.yml").write_text(PROJECT_YML.format(name=name, seed=seed))
    (out_dir / "profiles.yml").write_text(PROFILES_YML.format(name=name))
    layer_dirs: dict[int, Path] = {}
    for spec in specs:
        folder = layer_dirs.get(spec.layer)
        if folder is None:
            folder = models_dir / f"layer_{spec.layer:02d}"
            folder.mkdir(parents=True)
            layer_dirs[spec.layer] = folder
        (folder / f"{spec.name}.sql").write_text(render_model(spec, rng))
    for start in range(0, len(specs), PROPS_PER_FILE):
        block = specs[start : start + PROPS_PER_FILE]
        folder = layer_dirs[block[0].layer]
        path = folder / f"_models_{start // PROPS_PER_FILE:04d}.yml"
        path.write_text(render_properties(block, rng, flavour))
    meta = _meta(n, seed, layers, flavour)
    (out_dir / META_FILE).write_text(json.dumps(meta, sort_keys=True) + "\n")
    return specs


def _meta(n: int, seed: int, layers: int, flavour: str) -> dict[str, object]:
    meta: dict[str, object] = {"models": n, "seed": seed, "layers": layers}
    if flavour != "synthetic":  # projects generated before flavours existed stay valid
        meta["flavour"] = flavour
    return meta


def is_generated(
    out_dir: Path, n: int, seed: int = 0, layers: int = 10, flavour: str = "synthetic"
) -> bool:
    """True when ``out_dir`` already holds the project ``generate_project`` would write."""
    meta_path = out_dir / META_FILE
    if not meta_path.is_file():
        return False
    meta = json.loads(meta_path.read_text())
    return bool(meta == _meta(n, seed, layers, flavour))


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of models")
    parser.add_argument("out_dir", type=Path, help="project folder to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--layers", type=int, default=10, help="DAG depth (default 10)")
    parser.add_argument("--flavour", choices=FLAVOURS, default="synthetic", help="SQL and sizes")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("N must be at least 1")
    started = time.perf_counter()
    specs = generate_project(args.n, args.out_dir, args.seed, args.layers, args.flavour)
    views = sum(s.materialized == "view" for s in specs)
    edges = sum(len(s.parents) for s in specs)
    print(
        f"wrote {len(specs)} models ({views} views, {edges} edges) to {args.out_dir} "
        f"in {time.perf_counter() - started:.2f}s"
    )


if __name__ == "__main__":
    main()
