"""Fixtures for the adapter contract suite: one ``adapter`` fixture per warehouse.

To run the suite on another warehouse, add its name to ``ADAPTER_TYPES`` and a branch to
:func:`make_adapter` that returns an unopened adapter, plus a branch to :func:`warehouse` when the
warehouse needs a context around the test (``snowflake`` runs on fakesnow: the real connector,
its ``connect`` and ``write_pandas`` patched to run Snowflake SQL on an in-memory DuckDB).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from orch.adapters.base import Adapter
from orch.adapters.duckdb import DuckDBAdapter
from orch.config import DuckDBTargetConfig, SnowflakeTargetConfig
from orch.names import Relation

ADAPTER_TYPES = ["duckdb", "snowflake"]
TEST_SCHEMA = "orch_test"
FAKESNOW_DATABASE = "ORCH_DB"

# fakesnow reads every result through DuckDB's DB-API Arrow export, which warns about a copy.
FAKESNOW_WARNINGS = "ignore:Arrow output on a DB-API result:UserWarning"
ADAPTER_MARKS = {"snowflake": [pytest.mark.filterwarnings(FAKESNOW_WARNINGS)]}


def make_adapter(adapter_type: str, tmp_path: Path) -> Adapter:
    """A new, unopened adapter of ``adapter_type`` whose data lives under ``tmp_path``."""
    if adapter_type == "duckdb":
        return DuckDBAdapter(DuckDBTargetConfig(path="warehouse.duckdb"), tmp_path)
    if adapter_type == "snowflake":
        from orch.adapters.snowflake import SnowflakeAdapter

        config = SnowflakeTargetConfig(
            account="fakesnow", user="orch", password="fake-password", database=FAKESNOW_DATABASE
        )
        return SnowflakeAdapter(config, tmp_path, retry_base_delay=0.0)
    raise ValueError(f"no test adapter for {adapter_type!r}")


@contextlib.contextmanager
def warehouse(adapter_type: str) -> Iterator[None]:
    """The context a test of ``adapter_type`` runs in: a fresh fakesnow for ``snowflake``."""
    if adapter_type == "snowflake":
        import fakesnow

        with fakesnow.patch():
            yield
    else:
        yield


@pytest.fixture(params=[pytest.param(t, marks=ADAPTER_MARKS.get(t, [])) for t in ADAPTER_TYPES])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Adapter]:
    """An opened adapter with the schema ``TEST_SCHEMA`` created."""
    with warehouse(request.param):
        instance = make_adapter(request.param, tmp_path)
        instance.open()
        try:
            instance.ensure_schema(None, TEST_SCHEMA)
            yield instance
        finally:
            instance.close()


@pytest.fixture
def rel() -> Callable[[str], Relation]:
    """``rel("orders")`` -> the relation of that name in the test schema."""
    return lambda name: Relation(None, TEST_SCHEMA, name)


@pytest.fixture
def schema() -> str:
    """The schema the ``adapter`` fixture created for the test."""
    return TEST_SCHEMA
