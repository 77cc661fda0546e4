"""Selection syntax over a small analytics project whose answers are worked out by hand."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from orch.config import ModelConfig, RunOptions
from orch.errors import SelectionError
from orch.manifest import CheckNode, Manifest, Node, ProjectInfo
from orch.selection import (
    Selection,
    SelectionCriterion,
    SelectionIntersection,
    SelectionSpec,
    evaluate_selection,
    evaluation,
    names_needed_for,
    parse_selection,
    select_checks,
    select_nodes,
)

from tests.conftest import MakeProject, run_cli

#   raw.orders ──▶ stg_orders ──┬──────────────────────▶ orders ──┬─▶ customers ─▶ customer_segments
#   stripe.payments ▶ stg_payments ─▶ int_order_payments ─┘        └─▶ finance_daily ─▶ rpt_revenue
#   raw.customers ──▶ stg_customers ───────────────────────────▶ customers                ▲
#   country_codes (seed) ─▶ stg_customers, rpt_revenue ───────────────────────────────────┘
SOURCES_YML = "models/staging/_sources.yml"
DAILY = {"grain": "daily", "start": "2024-01-01"}


def _source(name: str, tags: tuple[str, ...] = ()) -> Node:
    source, table = name.split(".")
    return Node(
        name=name,
        unique_id=f"source.{name}",
        resource_type="source",
        patch_path=SOURCES_YML,
        source_name=source,
        source_table=table,
        config=ModelConfig(tags=list(tags)),
    )


def _model(name: str, path: str, parents: list[str], **config: Any) -> Node:
    return Node(
        name=name,
        unique_id=f"model.{name}",
        resource_type="model",
        language="python" if path.endswith(".py") else "sql",
        path=path,
        depends_on=parents,
        config=ModelConfig.model_validate(config),
    )


def _check(name: str, kind: str, check_type: str, asset: str, **extra: Any) -> CheckNode:
    extra.setdefault("depends_on", [asset])
    return CheckNode(
        name=name,
        unique_id=f"check.{name}",
        kind=kind,
        check_type=check_type,
        asset=asset,
        **extra,
    )


def _manifest() -> Manifest:
    nodes = [
        _source("raw.orders", tags=("raw",)),
        _source("raw.customers"),
        _source("stripe.payments"),
        Node(
            name="country_codes",
            unique_id="seed.country_codes",
            resource_type="seed",
            path="seeds/country_codes.csv",
        ),
        _model("stg_orders", "models/staging/stg_orders.sql", ["raw.orders"], tags=["staging"]),
        _model(
            "stg_customers",
            "models/staging/stg_customers.sql",
            ["raw.customers", "country_codes"],
            tags=["staging", "pii"],
        ),
        _model(
            "stg_payments", "models/staging/stg_payments.sql", ["stripe.payments"], tags="staging"
        ),
        _model(
            "int_order_payments",
            "models/intermediate/int_order_payments.sql",
            ["stg_orders", "stg_payments"],
            materialized="ephemeral",
        ),
        _model(
            "orders",
            "models/marts/orders.sql",
            ["stg_orders", "int_order_payments"],
            materialized="table",
            tags=["nightly", "finance"],
            group="finance",
            partitioned_by=DAILY,
            unique_key="order_id",
            meta={"owner": "ana"},
        ),
        _model(
            "customers",
            "models/marts/customers.sql",
            ["stg_customers", "orders"],
            materialized="table",
            tags=["nightly"],
            group="marketing",
            contract=True,
        ),
        _model(
            "customer_segments",
            "models/marts/customer_segments.py",
            ["customers"],
            materialized="incremental",
            tags=["ml"],
            group="marketing",
        ),
        _model(
            "finance_daily",
            "models/marts/finance/finance_daily.sql",
            ["orders"],
            materialized="incremental",
            tags=["finance"],
            group="finance",
            partitioned_by=DAILY,
        ),
        _model(
            "rpt_revenue",
            "models/reports/rpt_revenue.sql",
            ["finance_daily", "country_codes"],
            tags=["finance", "reporting"],
        ),
    ]
    checks = [
        _check("not_null_stg_orders_order_id", "builtin", "not_null", "stg_orders"),
        _check("unique_orders_order_id", "builtin", "unique", "orders"),
        _check("not_null_orders_customer_id", "builtin", "not_null", "orders"),
        _check(
            "relationships_orders_customer_id__customers",
            "builtin",
            "relationships",
            "orders",
            depends_on=["orders", "customers"],
        ),
        _check(
            "accepted_values_customer_segments_segment",
            "builtin",
            "accepted_values",
            "customer_segments",
        ),
        _check("not_null_raw_orders_id", "builtin", "not_null", "raw.orders"),
        _check(
            "assert_revenue_positive",
            "singular",
            "singular",
            "finance_daily",
            path="checks/assert_revenue_positive.sql",
            tags=["finance"],
        ),
        # only `asset`, no depends_on: still attached to its asset
        _check(
            "segments_not_empty",
            "python",
            "python",
            "customer_segments",
            depends_on=[],
            path="models/marts/customer_segments.py",
        ),
    ]
    parents = {n.name: list(n.depends_on) for n in nodes}
    children: dict[str, list[str]] = {n.name: [] for n in nodes}
    for child, ups in parents.items():
        for up in ups:
            children[up].append(child)
    return Manifest(
        orch_version="0.0.0",
        project=ProjectInfo(
            name="shop",
            dialect="duckdb",
            target_name="dev",
            target_type="duckdb",
            target_dialect="duckdb",
            database=None,
            schema_name="main",
        ),
        nodes={n.name: n for n in nodes},
        checks={c.name: c for c in checks},
        parents=parents,
        children=children,
    )


MANIFEST = _manifest()
SOURCES = {"raw.orders", "raw.customers", "stripe.payments"}
STAGING = {"stg_orders", "stg_customers", "stg_payments"}
MODELS = STAGING | {
    "int_order_payments",
    "orders",
    "customers",
    "customer_segments",
    "finance_daily",
    "rpt_revenue",
}
ALL_BUT_SOURCES = MODELS | {"country_codes"}
UP_ORDERS = {"orders", "stg_orders", "raw.orders", "int_order_payments"} | {
    "stg_payments",
    "stripe.payments",
}
DOWN_ORDERS = {"orders", "customers", "customer_segments", "finance_daily", "rpt_revenue"}
ALL_CHECKS = set(MANIFEST.checks)
ORDERS_CHECKS = {
    "unique_orders_order_id",
    "not_null_orders_customer_id",
    "relationships_orders_customer_id__customers",
}
NOT_NULL = {"not_null_stg_orders_order_id", "not_null_orders_customer_id", "not_null_raw_orders_id"}

NODE_CASES: list[tuple[str, list[str], list[str], set[str]]] = [
    # id, select, exclude, expected
    ("default-no-sources", [], [], ALL_BUT_SOURCES),
    ("star-same-as-default", ["*"], [], ALL_BUT_SOURCES),
    ("name", ["orders"], [], {"orders"}),
    ("source-by-exact-name", ["raw.orders"], [], {"raw.orders"}),
    ("check-name-selects-no-asset", ["not_null_orders_customer_id"], [], set()),
    ("ancestors", ["+orders"], [], UP_ORDERS),
    ("descendants", ["orders+"], [], DOWN_ORDERS),
    ("both", ["+orders+"], [], UP_ORDERS | DOWN_ORDERS),
    ("ancestors-depth-1", ["1+orders"], [], {"orders", "stg_orders", "int_order_payments"}),
    (
        "ancestors-depth-2",
        ["2+orders"],
        [],
        {"orders", "stg_orders", "int_order_payments", "raw.orders", "stg_payments"},
    ),
    ("ancestors-depth-0", ["0+orders"], [], {"orders"}),
    ("descendants-depth-1", ["orders+1"], [], {"orders", "customers", "finance_daily"}),
    ("both-depths", ["1+finance_daily+1"], [], {"orders", "finance_daily", "rpt_revenue"}),
    (
        "at-operator",
        ["@finance_daily"],
        [],
        {"finance_daily", "rpt_revenue", "country_codes"} | UP_ORDERS,
    ),
    ("at-vs-plus", ["finance_daily+"], [], {"finance_daily", "rpt_revenue"}),
    ("wildcard-prefix", ["stg_*"], [], STAGING),
    (
        "wildcard-infix-skips-sources",
        ["*order*"],
        [],
        {"stg_orders", "int_order_payments", "orders"},
    ),
    ("wildcard-no-match", ["nothing_*"], [], set()),
    ("tag", ["tag:finance"], [], {"orders", "finance_daily", "rpt_revenue"}),
    ("tag-wildcard", ["tag:night*"], [], {"orders", "customers"}),
    ("tag-on-source", ["tag:raw"], [], {"raw.orders"}),
    ("tag-no-match", ["tag:nope"], [], set()),
    ("path-folder-with-its-sources", ["path:models/staging"], [], STAGING | SOURCES),
    (
        "path-folder-trailing-slash",
        ["path:models/marts/"],
        [],
        {"orders", "customers", "customer_segments", "finance_daily"},
    ),
    ("path-file", ["path:models/marts/orders.sql"], [], {"orders"}),
    ("path-glob", ["path:models/marts/*.py"], [], {"customer_segments"}),
    ("path-dot-slash", ["path:./seeds"], [], {"country_codes"}),
    ("path-partial-folder-name", ["path:models/stag"], [], set()),
    ("group", ["group:finance"], [], {"orders", "finance_daily"}),
    ("source", ["source:raw"], [], {"raw.orders", "raw.customers"}),
    ("source-table", ["source:raw.orders"], [], {"raw.orders"}),
    ("source-glob", ["source:raw.*"], [], {"raw.orders", "raw.customers"}),
    ("source-all", ["source:*"], [], SOURCES),
    (
        "source-descendants",
        ["source:raw+"],
        [],
        {"raw.orders", "raw.customers", "stg_orders", "stg_customers", "int_order_payments"}
        | DOWN_ORDERS,
    ),
    (
        "config-materialized-seed-is-table",
        ["config.materialized:table"],
        [],
        {
            "orders",
            "customers",
            "country_codes",
        },
    ),
    (
        "config-materialized-incremental",
        ["config.materialized:incremental"],
        [],
        {"customer_segments", "finance_daily"},
    ),
    ("config-nested", ["config.partitioned_by.grain:daily"], [], {"orders", "finance_daily"}),
    ("config-meta", ["config.meta.owner:ana"], [], {"orders"}),
    ("config-str", ["config.unique_key:order_id"], [], {"orders"}),
    ("config-bool", ["config.contract:true"], [], {"customers"}),
    ("config-list", ["config.tags:pii"], [], {"stg_customers"}),
    ("resource-type-seed", ["resource_type:seed"], [], {"country_codes"}),
    ("resource-type-source", ["resource_type:source"], [], SOURCES),
    ("resource-type-model", ["resource_type:model"], [], MODELS),
    ("test-type-selects-no-asset", ["test_type:not_null"], [], set()),
    (
        "operator-on-method",
        ["+tag:nightly"],
        [],
        UP_ORDERS | {"customers", "stg_customers", "raw.customers", "country_codes"},
    ),
    ("check-ancestors", ["+not_null_orders_customer_id"], [], UP_ORDERS),
    (
        "intersection",
        ["tag:finance,config.materialized:incremental"],
        [],
        {"finance_daily"},
    ),
    ("intersection-wildcard", ["tag:staging,stg_c*"], [], {"stg_customers"}),
    ("intersection-operator", ["orders+,group:marketing"], [], {"customers", "customer_segments"}),
    ("union-space", ["stg_orders customers"], [], {"stg_orders", "customers"}),
    ("union-list", ["stg_orders", "customers"], [], {"stg_orders", "customers"}),
    (
        "union-methods",
        ["tag:finance tag:nightly"],
        [],
        {"orders", "finance_daily", "rpt_revenue", "customers"},
    ),
    (
        "exclude",
        ["orders+"],
        ["customer_segments"],
        {"orders", "customers", "finance_daily", "rpt_revenue"},
    ),
    ("exclude-from-default", [], ["tag:staging"], ALL_BUT_SOURCES - STAGING),
    (
        "exclude-sources",
        ["+rpt_revenue"],
        ["resource_type:source"],
        {"rpt_revenue", "finance_daily", "country_codes"} | UP_ORDERS - SOURCES,
    ),
    ("exclude-descendants", ["stg_*"], ["stg_orders+"], {"stg_customers", "stg_payments"}),
    ("exclude-everything", ["orders"], ["orders"], set()),
]


@pytest.mark.parametrize(
    ("select", "exclude", "expected"),
    [c[1:] for c in NODE_CASES],
    ids=[c[0] for c in NODE_CASES],
)
def test_select_nodes(select: list[str], exclude: list[str], expected: set[str]) -> None:
    assert select_nodes(MANIFEST, select, exclude) == expected


CHECK_CASES: list[tuple[str, list[str], list[str], set[str]]] = [
    ("default-all", [], [], ALL_CHECKS),
    ("attached", ["orders"], [], ORDERS_CHECKS),
    ("eager-any-dependency", ["customers"], [], {"relationships_orders_customer_id__customers"}),
    (
        "asset-without-depends-on",
        ["customer_segments"],
        [],
        {"accepted_values_customer_segments_segment", "segments_not_empty"},
    ),
    (
        "ancestors-checks",
        ["+stg_orders"],
        [],
        {"not_null_stg_orders_order_id", "not_null_raw_orders_id"},
    ),
    ("source", ["source:raw"], [], {"not_null_raw_orders_id"}),
    ("by-name", ["unique_orders_order_id"], [], {"unique_orders_order_id"}),
    ("by-wildcard", ["not_null_*"], [], NOT_NULL),
    ("test-type", ["test_type:not_null"], [], NOT_NULL),
    ("test-type-singular", ["test_type:singular"], [], {"assert_revenue_positive"}),
    ("test-type-python", ["test_type:python"], [], {"segments_not_empty"}),
    (
        "test-type-generic",
        ["test_type:generic"],
        [],
        ALL_CHECKS - {"assert_revenue_positive", "segments_not_empty"},
    ),
    ("resource-type-check", ["resource_type:check"], [], ALL_CHECKS),
    ("resource-type-test", ["resource_type:test"], [], ALL_CHECKS),
    ("path", ["path:checks"], [], {"assert_revenue_positive"}),
    ("tag-direct-and-attached", ["tag:finance"], [], ORDERS_CHECKS | {"assert_revenue_positive"}),
    ("intersection", ["orders,test_type:unique"], [], {"unique_orders_order_id"}),
    (
        "exclude-test-type",
        ["orders"],
        ["test_type:relationships"],
        {"unique_orders_order_id", "not_null_orders_customer_id"},
    ),
    (
        "exclude-asset-drops-its-checks",
        [],
        ["customers"],
        ALL_CHECKS - {"relationships_orders_customer_id__customers"},
    ),
    ("exclude-by-name", ["tag:finance"], ["assert_revenue_positive"], ORDERS_CHECKS),
]


@pytest.mark.parametrize(
    ("select", "exclude", "expected"),
    [c[1:] for c in CHECK_CASES],
    ids=[c[0] for c in CHECK_CASES],
)
def test_select_checks(select: list[str], exclude: list[str], expected: set[str]) -> None:
    assets = select_nodes(MANIFEST, select, exclude)
    assert select_checks(MANIFEST, assets, select, exclude) == expected


def test_select_checks_follows_given_assets() -> None:
    assert select_checks(MANIFEST, {"orders"}, ["stg_orders"]) == ORDERS_CHECKS | {
        "not_null_stg_orders_order_id"
    }


def test_unmatched_criteria_are_reported() -> None:
    result = evaluate_selection(MANIFEST, ["tag:nope orders", "nothing_*"], ["tag:also_nope"])
    assert result.assets == {"orders"}
    assert result.checks == ORDERS_CHECKS
    assert result.unmatched == ("tag:nope", "nothing_*")


def test_parse_selection_tree() -> None:
    spec = parse_selection(["2+tag:nightly+1,stg_*", "@orders config.partitioned_by.grain:daily"])
    assert spec == SelectionSpec(
        (
            SelectionIntersection(
                "2+tag:nightly+1,stg_*",
                (
                    SelectionCriterion(
                        raw="2+tag:nightly+1",
                        method="tag",
                        value="nightly",
                        parents=True,
                        parents_depth=2,
                        children=True,
                        children_depth=1,
                    ),
                    SelectionCriterion(raw="stg_*", method="name", value="stg_*"),
                ),
            ),
            SelectionIntersection(
                "@orders",
                (
                    SelectionCriterion(
                        raw="@orders", method="name", value="orders", childrens_parents=True
                    ),
                ),
            ),
            SelectionIntersection(
                "config.partitioned_by.grain:daily",
                (
                    SelectionCriterion(
                        raw="config.partitioned_by.grain:daily",
                        method="config",
                        value="daily",
                        args=("partitioned_by", "grain"),
                    ),
                ),
            ),
        )
    )
    assert spec.criteria[1].is_wildcard
    assert parse_selection(["", "  "]).is_empty
    assert parse_selection("a b") == parse_selection(["a", "b"])  # type: ignore[arg-type]


ALLOWED = "Allowed methods: config.<key>, group, path, resource_type, source, tag, test_type"
ERROR_CASES: list[tuple[str, list[str], list[str], str]] = [
    (
        "bare-plus",
        ["+"],
        [],
        "invalid selector '+': it names nothing. Put a name or a method next to the graph "
        "operator, e.g. '+orders' or '2+tag:nightly'",
    ),
    (
        "empty-value",
        ["tag:"],
        [],
        "invalid selector 'tag:': no value after 'tag:'. Write e.g. 'tag:nightly'",
    ),
    (
        "plus-in-middle",
        ["1+2+x"],
        [],
        "invalid selector '1+2+x': '+' may only start or end a selector and '@' only start it. "
        "Write e.g. '+orders', '2+orders', 'orders+1', '+tag:nightly+' or '@orders'",
    ),
    (
        "plus-after-method",
        ["tag:+x"],
        [],
        "invalid selector 'tag:+x': '+' may only start or end a selector and '@' only start it. "
        "Write e.g. '+orders', '2+orders', 'orders+1', '+tag:nightly+' or '@orders'",
    ),
    (
        "at-with-plus",
        ["@+orders"],
        [],
        "invalid selector '@+orders': '@' and a leading '+' cannot be combined. "
        "'@orders' already includes every ancestor",
    ),
    ("unknown-method", ["foo:x"], [], f"unknown selection method 'foo' in 'foo:x'. {ALLOWED}"),
    (
        "unknown-method-close",
        ["tags:x"],
        [],
        f"unknown selection method 'tags' in 'tags:x'. Did you mean 'tag'? {ALLOWED}",
    ),
    (
        "method-with-args",
        ["tag.x:y"],
        [],
        f"unknown selection method 'tag.x' in 'tag.x:y'. Did you mean 'tag'? {ALLOWED}",
    ),
    (
        "config-without-key",
        ["config:table"],
        [],
        "invalid selector 'config:table': 'config' needs a key. "
        "Write e.g. 'config.materialized:table'",
    ),
    (
        "unknown-config-key",
        ["config.materialised:table"],
        [],
        "unknown config key 'materialised' in 'config.materialised:table'. "
        "Did you mean 'materialized'?",
    ),
    (
        "unknown-resource-type",
        ["resource_type:modle"],
        [],
        "unknown resource type 'modle' in 'resource_type:modle'. Did you mean 'model'? "
        "Allowed: check, model, seed, source, test, unit_test",
    ),
    (
        "empty-intersection-part",
        ["orders,"],
        [],
        "invalid selector 'orders,': empty criterion around ','. "
        "Join criteria with single commas and no spaces, e.g. 'tag:nightly,stg_*'",
    ),
    (
        "unknown-name",
        ["stg_order"],
        [],
        "selector 'stg_order' matches no asset or check. "
        "Did you mean 'stg_orders' or 'orders' or 'stg_customers'?",
    ),
    (
        "unknown-name-with-operator",
        ["+finance_dialy+"],
        [],
        "selector '+finance_dialy+' matches no asset or check. Did you mean 'finance_daily'?",
    ),
    (
        "unknown-name-nothing-close",
        ["zzz"],
        [],
        "selector 'zzz' matches no asset or check. "
        "Run 'orch ls' to list assets, or use a wildcard such as 'zzz*'",
    ),
    (
        "unknown-name-in-exclude",
        ["orders+"],
        ["custmers"],
        "selector 'custmers' matches no asset or check. "
        "Did you mean 'customers' or 'stg_customers' or 'raw.customers'?",
    ),
]


@pytest.mark.parametrize(
    ("select", "exclude", "message"),
    [c[1:] for c in ERROR_CASES],
    ids=[c[0] for c in ERROR_CASES],
)
def test_selection_errors(select: list[str], exclude: list[str], message: str) -> None:
    with pytest.raises(SelectionError) as info:
        select_nodes(MANIFEST, select, exclude)
    assert info.value.format_message() == message
    assert info.value.exit_code == 2


NEEDED_CASES: list[tuple[str, list[str], list[str], set[str] | None]] = [
    ("name", ["m"], [], {"m"}),
    ("ancestors", ["+m"], [], {"m"}),
    ("ancestors-depth", ["2+m"], [], {"m"}),
    ("several", ["m", "+n"], [], {"m", "n"}),
    ("intersection-of-names", ["m,+n"], [], {"m", "n"}),
    ("empty-is-everything", [], [], None),
    ("descendants", ["m+"], [], None),
    ("at", ["@m"], [], None),
    ("tag", ["m", "tag:x"], [], None),
    ("path", ["path:models"], [], None),
    ("wildcard", ["stg_*"], [], None),
    ("source-name", ["raw.orders"], [], None),
    ("exclusion", ["m"], ["n"], None),
]


@pytest.mark.parametrize(
    ("select", "exclude", "expected"),
    [c[1:] for c in NEEDED_CASES],
    ids=[c[0] for c in NEEDED_CASES],
)
def test_names_needed_for(select: list[str], exclude: list[str], expected: set[str] | None) -> None:
    assert names_needed_for(select, exclude) == expected


def test_names_needed_for_rejects_malformed() -> None:
    with pytest.raises(SelectionError):
        names_needed_for(["+"])


# --------------------------------------------------------------------------- one parse per run


def test_equal_options_share_one_selection() -> None:
    one = Selection.from_options(RunOptions(project_dir=Path("."), select=("+orders",)))
    assert Selection.parse(["+orders"]) is one
    assert one.select == parse_selection(["+orders"])
    assert one.names_needed() == {"orders"}
    assert one.evaluate(MANIFEST) is one.evaluate(MANIFEST)  # evaluated once per manifest


SHOP = {
    "models/a.sql": "select 1 as x",
    "models/b.sql": "select x from a",
    "models/c.sql": "select x from b",
    "models/schema.yml": """\
        models:
          - name: a
            columns: [{name: x, checks: [not_null]}]
          - name: b
            columns: [{name: x, checks: [not_null, unique]}]
        """,
}


def test_a_build_parses_and_evaluates_its_selection_once(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path, SHOP)
    parsed: list[tuple[str, ...]] = []
    evaluated: list[SelectionSpec] = []
    real_parse, real_evaluate = evaluation.parse_selection, evaluation._evaluate

    def parse_spy(texts: Sequence[str]) -> SelectionSpec:
        parsed.append(tuple(texts))
        return real_parse(texts)

    def evaluate_spy(manifest: Manifest, spec: SelectionSpec, excluded: SelectionSpec) -> Any:
        evaluated.append(spec)
        return real_evaluate(manifest, spec, excluded)

    monkeypatch.setattr(evaluation, "parse_selection", parse_spy)
    monkeypatch.setattr(evaluation, "_evaluate", evaluate_spy)
    evaluation._parsed.cache_clear()
    run = run_cli("build", "--project-dir", root, "-s", "+b", "--exclude", "unique_b_x")
    assert run.exit_code == 0, run.output
    assert parsed == [("+b",), ("unique_b_x",)]  # -s and --exclude, each once
    assert len(evaluated) == 1  # the assets and the checks of the build: one evaluation
    results = json.loads((root / "target" / "run_results.json").read_text())
    ids = sorted(r["unique_id"].rsplit(".", 1)[-1] for r in results["results"])
    assert ids == ["a", "b", "not_null_a_x", "not_null_b_x"]


def test_a_selection_matching_nothing_builds_nothing(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(tmp_path, SHOP)
    run = run_cli("build", "--project-dir", root, "-s", "tag:nonexistent")
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines()[0] == (
        "orch build on target dev: 0 steps (selection: tag:nonexistent)"
    )
    assert "nothing to do" in run.stdout


def test_a_malformed_selector_fails_before_loading(tmp_path: Path) -> None:
    run = run_cli("build", "--project-dir", tmp_path / "missing", "-s", "orders+,")
    assert run.exit_code == 2, run.output
    assert run.stderr.strip() == (
        "Error: invalid selector 'orders+,': empty criterion around ','. Join criteria with "
        "single commas and no spaces, e.g. 'tag:nightly,stg_*'"
    )
