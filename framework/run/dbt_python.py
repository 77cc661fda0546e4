"""Running a dbt Python model: ``model(dbt, session)`` with dbt-duckdb's contract.

``dbt.ref("x")`` / ``dbt.source("s", "t")`` return a DuckDB relation over the upstream's table
(``session.sql("select * from ...")``, as dbt-duckdb does), ``dbt.config(...)`` is a no-op at run
time and ``dbt.config.get(key, default)`` reads the model's config, ``dbt.this`` is the model's
relation and ``dbt.is_incremental`` says whether this build is incremental. ``session`` is the
adapter's connection. What the function returns (a DuckDB relation, a pandas or polars DataFrame
or an Arrow table) becomes an Arrow table that the caller publishes like any Python output.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch.errors import ModelFailedError
from orch.load.dbt_python import parse_dbt_python
from orch.load.python_files import import_python_file
from orch.names import Relation
from orch.run.python import user_code_error

if TYPE_CHECKING:
    import pyarrow as pa
    from orch.adapters.base import Adapter
    from orch.manifest import Manifest, Node


class _Config:
    """``dbt.config``: callable (settings are read at parse time) and ``.get``."""

    def __init__(self, node: Node) -> None:
        self._values = {**node.config.extra, **node.config.model_dump(by_alias=True)}

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        return ""

    def get(self, key: str, default: Any = None) -> Any:
        value = self._values.get(key)
        return default if value is None else value


class _This:
    """``dbt.this``: prints as the relation; database/schema/identifier as in dbt."""

    def __init__(self, adapter: Adapter, node: Node) -> None:
        assert node.relation is not None
        rel = node.relation.to_relation()
        # dbt-duckdb's relation carries the database (the file's stem), and prints with it
        self.database = rel.database or adapter.current_database()
        self.schema = rel.schema
        self.identifier = rel.name
        self._text = adapter.render(Relation(self.database, rel.schema, rel.name))

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return self._text


class DbtContext:
    """The ``dbt`` argument of ``model(dbt, session)``."""

    def __init__(self, node: Node, manifest: Manifest, adapter: Adapter, session: Any,
                 incremental: bool) -> None:  # fmt: skip
        self._node, self._manifest, self._adapter, self._session = node, manifest, adapter, session
        self.config = _Config(node)
        self.this = _This(adapter, node)
        self.is_incremental = incremental

    def ref(self, *names: str, version: Any = None, v: Any = None) -> Any:
        """The upstream model or seed as a DuckDB relation (a dbt model version: ``version=``)."""
        return self._read(self._versioned(names[-1], v if version is None else version))

    def _versioned(self, name: str, version: Any) -> str:
        """The asset of ``dbt.ref(name, version=)``: the compile step resolved every ref into
        ``depends_on``; a pinned one is ``<name>_v<N>``, an unpinned one of a versioned model the
        version among the parents that no pinned call names."""
        if version is not None:
            return f"{name}_v{version}"
        if name in self._manifest.nodes:
            return name
        nodes = self._manifest.nodes
        pattern = re.compile(rf"^model\.[^.]+\.{re.escape(name)}\.v[^.]+$")
        found = [d for d in self._node.depends_on if d in nodes
                 and pattern.match(nodes[d].unique_id)]  # fmt: skip
        pinned = set(
            parse_dbt_python(self._node.name, self._node.path or "", self._node.raw_code).refs
        )
        return next((d for d in found if d not in pinned), found[0] if found else name)

    def source(self, source: str, table: str) -> Any:
        """The upstream source table as a DuckDB relation."""
        return self._read(f"{source}.{table}")

    def _read(self, name: str) -> Any:
        upstream = self._manifest.nodes.get(name)
        if upstream is None or upstream.relation is None:
            raise ModelFailedError(f"'{self._node.name}': dbt.ref/source('{name}') has no table")
        return self._session.sql(
            f"select * from {self._adapter.render(upstream.relation.to_relation())}"
        )


def run_dbt_python(
    node: Node, manifest: Manifest, adapter: Adapter, project_root: Path, incremental: bool
) -> pa.Table:
    """Call the model's function and return its rows as Arrow."""
    assert node.path is not None
    abs_path = project_root / node.path
    module = import_python_file(node.path, abs_path)
    try:
        session = adapter.python_session()
    except NotImplementedError as err:
        raise ModelFailedError(f"'{node.name}': {err}",
                               hint="Build dbt Python models on DuckDB") from None  # fmt: skip
    dbt = DbtContext(node, manifest, adapter, session, incremental)
    try:
        result = module.model(dbt, session)
    except Exception as err:  # noqa: BLE001 - the user's code: reported at its line
        raise user_code_error(node.name, node.path, abs_path, err) from None
    return _to_arrow(node, result)


def _to_arrow(node: Node, value: Any) -> pa.Table:
    import pyarrow as pa  # heavy: only dbt Python models need it

    if isinstance(value, pa.Table):
        return value
    # a DuckDB relation (to_arrow_table since duckdb 1.4), a polars DataFrame
    for method in ("to_arrow_table", "to_arrow", "fetch_arrow_table"):
        convert = getattr(value, method, None)
        if callable(convert):
            table = convert()
            if isinstance(table, pa.Table):
                return table
    if type(value).__module__.startswith("pandas"):
        return pa.Table.from_pandas(value, preserve_index=False)
    raise ModelFailedError(
        f"dbt Python model '{node.name}' returned {type(value).__name__}",
        hint="Return a DuckDB relation, a pandas or polars DataFrame, or an Arrow table",
    )
