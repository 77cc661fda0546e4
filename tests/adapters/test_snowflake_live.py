"""The adapter contract suite against a real Snowflake account (``pytest -m snowflake_live``).

Runs only when ``SNOWFLAKE_ACCOUNT``, ``SNOWFLAKE_USER`` and ``SNOWFLAKE_PASSWORD`` are set
(optionally ``SNOWFLAKE_ROLE``, ``SNOWFLAKE_WAREHOUSE``, ``SNOWFLAKE_DATABASE``); otherwise every
test here is skipped with the reason. Each test gets its own schema, dropped afterwards. This is
where what fakesnow cannot emulate is exercised for real: ``ALTER TABLE ... SWAP WITH``,
``fetch_arrow_all``, the staged-Parquet ``write_pandas`` path, session parameters (``QUERY_TAG``)
and case-sensitive quoted names.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from orch.adapters.base import Adapter
from orch.adapters.snowflake import SnowflakeAdapter
from orch.config import SnowflakeTargetConfig
from orch.names import Relation
from test_contract import *  # noqa: F403 - the whole contract suite, re-collected here

REQUIRED = ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER", "SNOWFLAKE_PASSWORD")
MISSING = [name for name in REQUIRED if not os.environ.get(name)]

pytestmark = [
    pytest.mark.snowflake_live,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"no Snowflake account: set {', '.join(MISSING)} to run the live suite",
    ),
]


def live_config(**settings: object) -> SnowflakeTargetConfig:
    """A target from the ``SNOWFLAKE_*`` environment variables."""
    env = os.environ
    values: dict[str, object] = {
        "account": env["SNOWFLAKE_ACCOUNT"],
        "user": env["SNOWFLAKE_USER"],
        "password": env["SNOWFLAKE_PASSWORD"],
        "role": env.get("SNOWFLAKE_ROLE"),
        "warehouse": env.get("SNOWFLAKE_WAREHOUSE"),
        "database": env.get("SNOWFLAKE_DATABASE"),
        "query_tag": "orch-live-tests",
        **settings,
    }
    return SnowflakeTargetConfig.model_validate({k: v for k, v in values.items() if v})


@pytest.fixture(scope="module")
def live_schema() -> str:
    """One schema name per test module run (quoted lower case, as the contract suite uses)."""
    return f"orch_test_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def adapter(tmp_path: Path, live_schema: str) -> Iterator[Adapter]:  # type: ignore[no-redef]
    """An opened live adapter with a fresh schema, dropped after the test."""
    instance = SnowflakeAdapter(live_config(), tmp_path)
    instance.open()
    try:
        instance.ensure_schema(None, live_schema)
        yield instance
    finally:
        try:
            instance.execute(f"DROP SCHEMA IF EXISTS {instance.quote(live_schema)} CASCADE")
            for other in ("orch_other",):
                instance.execute(f"DROP SCHEMA IF EXISTS {instance.quote(other)} CASCADE")
        finally:
            instance.close()


@pytest.fixture
def rel(live_schema: str) -> Callable[[str], Relation]:  # type: ignore[no-redef]
    return lambda name: Relation(None, live_schema, name)


@pytest.fixture
def schema(live_schema: str) -> str:  # type: ignore[no-redef]
    return live_schema


def test_live_query_tag_and_swap(adapter: Adapter, rel: Callable[[str], Relation]) -> None:
    assert isinstance(adapter, SnowflakeAdapter)
    assert adapter.emulated is False
    tag = adapter.fetch_rows("SHOW PARAMETERS LIKE 'QUERY_TAG' IN SESSION")
    assert tag and tag[0][1] == "orch-live-tests"
    orders = rel("orders")
    adapter.replace_table_atomically(orders, "SELECT 1 AS id")
    adapter.replace_table_atomically(orders, "SELECT 2 AS id UNION ALL SELECT 3")  # SWAP WITH
    assert adapter.fetch_rows(f"SELECT id FROM {adapter.render(orders)} ORDER BY 1") == [(2,), (3,)]
