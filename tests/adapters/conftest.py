"""Fixtures for the adapter contract suite: one ``adapter`` fixture per warehouse.

To run the suite on another warehouse, add its name to ``ADAPTER_TYPES`` and a branch to
:func:`make_adapter` that returns an unopened adapter (e.g. ``snowflake`` on fakesnow).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from orch.adapters.base import Adapter
from orch.adapters.duckdb import DuckDBAdapter
from orch.config import DuckDBTargetConfig
from orch.names import Relation

ADAPTER_TYPES = ["duckdb"]
TEST_SCHEMA = "orch_test"


def make_adapter(adapter_type: str, tmp_path: Path) -> Adapter:
    """A new, unopened adapter of ``adapter_type`` whose data lives under ``tmp_path``."""
    if adapter_type == "duckdb":
        return DuckDBAdapter(DuckDBTargetConfig(path="warehouse.duckdb"), tmp_path)
    raise ValueError(f"no test adapter for {adapter_type!r}")


@pytest.fixture(params=ADAPTER_TYPES)
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Adapter]:
    """An opened adapter with the schema ``TEST_SCHEMA`` created."""
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
