"""Helpers for users' tests of their assets, in plain pytest.

- :func:`build_context` makes an :class:`~orch.AssetContext` to call an asset function directly;
  :func:`build_op_context` an :class:`~orch.OpContext` to call an op function directly.
- :func:`materialize` builds some assets of a project (and what they read: SQL, seeds, Python) into
  a throw-away DuckDB copy, and returns their outputs as polars DataFrames.
- :func:`unit_test` runs a SQL model or a Python asset on given rows or frames in an in-memory
  DuckDB and compares what it returns (the YAML ``unit_tests:`` from pytest).
- the ``orch_project`` pytest fixture (registered through the ``pytest11`` entry point, or
  ``from orch.testing import orch_project`` in a ``conftest.py``) copies a project to ``tmp_path``.

Example::

    from orch.testing import build_context, materialize

    def test_segments_unit():
        out = customer_segments(build_context(), customers=pl.DataFrame({...}))
        assert out["segment"].to_list() == ["vip"]

    def test_segments_in_project(orch_project):
        result = orch_project().materialize(["customer_segments"], vars={"vip_threshold": 100})
        assert result.success
        assert result.output_for("customer_segments").height == 100
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch import partitions
from orch.adapters import get_adapter
from orch.assets import ASSET_ATTR, AssetContext, PartitionWindow
from orch.config import RunOptions
from orch.errors import Location, OrchError
from orch.events import CheckEvaluated, EventList, LogEmitted, StepFailed
from orch.load.project import load_project
from orch.load.unit_tests import GivenInput, Rows, UnitTestSpec
from orch.ops import OpContext
from orch.run.io.external import read_external
from orch.run.python import RESOURCE_OVERRIDES, PythonRuntime
from orch.run.unit_tests import UnitTestRunner
from orch.run.workflow import RunResult, run_command
from orch.storage import InputContext, OutputContext, stored_outside_warehouse

if TYPE_CHECKING:
    import polars as pl

IGNORED = ("target", "*.duckdb", "*.duckdb.wal", ".orch", "logs", "__pycache__")
TEST_TARGET = "orch_test"


def build_context(
    asset: str = "test_asset",
    *,
    partition: str | PartitionWindow | None = None,
    resources: Mapping[str, Any] | None = None,
    run_config: Any = None,
    target: str = "test",
    run_id: str = "test",
) -> AssetContext:
    """An AssetContext for calling an asset function directly in a unit test.

    Args:
        partition: a partition key (``"2024-01-31"``, ``"2024-01"``, ``"2024-W05"``,
            ``"2024-01-31T05"`` get their time window; any other string is a static key) or a
            :class:`~orch.assets.PartitionWindow`.
        resources: resource objects by name (``context.resources``).
        run_config: the asset's Config object (``context.config``).

    Returns:
        The context; ``context.log.records`` and ``context.output_metadata`` hold what the
        asset logged and attached.
    """
    window = partition if isinstance(partition, PartitionWindow) else _window(partition)
    return AssetContext(
        asset,
        run_id=run_id,
        partition=window,
        resources=resources,
        target=target,
        config=run_config,
    )


def build_op_context(
    op: str = "test_op",
    *,
    config: Any = None,
    resources: Mapping[str, Any] | None = None,
    run_id: str = "test",
    job: str = "test_job",
    mapping_key: str | None = None,
    retry_number: int = 0,
) -> OpContext:
    """An OpContext for calling an op function directly in a unit test.

    Args:
        config: the op's Config object (``context.op_config``; pass it as the op's config
            parameter too).
        resources: resource objects by name (``context.resources``).

    Returns:
        The context; ``context.log.records`` and ``context.output_metadata`` hold what the op
        logged and attached.
    """
    return OpContext(
        op, job=job, run_id=run_id, op_config=config, resources=resources,
        mapping_key=mapping_key, retry_number=retry_number,
    )  # fmt: skip


def _window(key: str | None) -> PartitionWindow | None:
    if key is None:
        return None
    grain = partitions.key_grain(key)
    if grain is None:
        return PartitionWindow(key)
    _, start = partitions.parse_time_key(key, grain)
    end: datetime = partitions.advance(grain, start)
    return PartitionWindow(key, start, end)


@dataclass
class TestRun:
    """What :func:`materialize` did: success, the outputs, check results, logs and errors."""

    __test__ = False  # not a pytest test class

    project_dir: Path
    result: RunResult | None
    events: EventList
    options: RunOptions
    error: OrchError | None = None
    _outputs: dict[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)  # the overrides it ran with

    @property
    def success(self) -> bool:
        """True when every step succeeded (and the project loaded)."""
        return self.error is None and self.result is not None and self.result.exit_code == 0

    @property
    def failures(self) -> dict[str, str]:
        """Failed steps and their error messages."""
        return {e.step_id: e.error for e in self.events.of(StepFailed)}

    @property
    def check_results(self) -> list[CheckEvaluated]:
        """The checks evaluated in the run."""
        return list(self.events.of(CheckEvaluated))

    @property
    def logs(self) -> list[tuple[str | None, str, str]]:
        """``(asset, level, message)`` of every ``context.log`` line."""
        return [(e.asset, e.level, e.message) for e in self.events.of(LogEmitted)]

    def output_for(self, name: str) -> Any:
        """The asset's output: its table as a polars DataFrame (read from the test warehouse),
        or, for an asset stored by another IO manager, what that IO manager loads (a DataFrame
        from Parquet files, the object stored by ``objects``; every partition of a partitioned
        one)."""
        import polars as pl

        if name not in self._outputs:
            if self.result is None:
                raise KeyError(f"the run did not happen: {self.error}")
            node = self.result.manifest.nodes.get(name)
            if node is None or node.relation is None:
                raise KeyError(f"'{name}' is not an asset with a table")
            project = self.result.compiled.project
            io = node.python.io_manager if node.python else None
            declared = project.config.resources
            if node.materialized == "external":
                with get_adapter(project.target, project.root) as adapter:
                    self._outputs[name] = read_external(
                        node, project.root, project.target_name, "output_for", name, adapter
                    )
                return self._outputs[name]
            if stored_outside_warehouse(node.materialized, io, declared, project.target_name):
                assert io is not None
                runtime = PythonRuntime.from_project(project)
                runtime.resource_overrides = dict(self.resources)
                partitioned = node.config.partitioned_by is not None
                context = InputContext(
                    name=name,
                    upstream_output=OutputContext(
                        key=(name,), asset=name, config=dict(node.config.io_manager_config)
                    ),
                    all_partitions=partitioned,
                )
                self._outputs[name] = runtime.io.get(io).load_input(context)
                return self._outputs[name]
            adapter = get_adapter(project.target, project.root)
            with adapter:
                table = adapter.read_arrow(node.relation.to_relation())
            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            self._outputs[name] = frame
        return self._outputs[name]


def materialize(
    assets: Iterable[str | Callable[..., Any]],
    *,
    project_dir: str | Path = ".",
    resources: Mapping[str, Any] | None = None,
    vars: Mapping[str, Any] | None = None,  # noqa: A002  (dbt's name)
    partition: str | None = None,
    copy: bool = True,
    with_upstream: bool = True,
) -> TestRun:
    """Build ``assets`` (names or ``@asset`` functions) of a project into a throw-away DuckDB.

    The project is copied to a temporary folder (unless ``copy=False``, when it is built in
    place: use that on a copy such as the ``orch_project`` fixture's) and built against a DuckDB
    file there, with the assets' upstream assets (SQL models, seeds, Python) first.

    Args:
        resources: resource objects by name, used instead of ``resources:`` in the project file.
        vars: like ``--vars``.
        partition: build this partition of partitioned assets.
        with_upstream: also build what the assets read (default); False builds only them.

    Returns:
        A :class:`TestRun`; ``.success``, ``.output_for(name)``, ``.check_results``,
        ``.failures``. A project that does not load gives ``success == False`` and ``.error``.
    """
    source = Path(project_dir)
    root = Path(tempfile.mkdtemp(prefix="orch_test_")) / source.resolve().name if copy else source
    if copy:
        shutil.copytree(source, root, ignore=shutil.ignore_patterns(*IGNORED))
    names = [_asset_name(a) for a in assets]
    profiles_dir = _write_test_profile(root)
    options = RunOptions(
        project_dir=root,
        profiles_dir=profiles_dir,
        target=TEST_TARGET,
        vars=dict(vars or {}),
        select=tuple(f"+{n}" if with_upstream else n for n in names),
        partition=partition,
        threads=1,
    )
    events = EventList()
    token = RESOURCE_OVERRIDES.set(dict(resources or {}))
    try:
        result = run_command(options, "build", sinks=[events])
    except OrchError as err:
        return TestRun(root, None, events, options, error=err)
    finally:
        RESOURCE_OVERRIDES.reset(token)
    return TestRun(root, result, events, options, resources=dict(resources or {}))


def _asset_name(item: str | Callable[..., Any]) -> str:
    if isinstance(item, str):
        return item
    spec = getattr(item, ASSET_ATTR, None)
    if spec is None:
        raise TypeError(f"{item!r} is neither an asset name nor an @asset function")
    return str(spec.name)


def _write_test_profile(root: Path) -> Path:
    """A profiles.yml (in ``root/.orch/test``) whose test target is a DuckDB file in ``root``."""
    import yaml
    from orch.config import ProjectConfig

    project_file = root / "orch_project.yml"
    if not project_file.exists():
        project_file = root / "dbt_project.yml"
    raw = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}
    profile = raw.get("profile") or raw.get("name") or ProjectConfig.model_fields["name"]
    folder = root / ".orch" / "test"
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        {
            str(profile): {
                "target": TEST_TARGET,
                "outputs": {
                    TEST_TARGET: {
                        "type": "duckdb",
                        "path": str(root / "orch_test.duckdb"),
                        "schema": _default_schema(root, str(profile)),
                        "threads": 1,
                    }
                },
            }
        }
    )
    (folder / "profiles.yml").write_text(text, encoding="utf-8")
    return folder


def _default_schema(root: Path, profile: str) -> str:
    """The schema of the project's default target, so schema-qualified SQL keeps working."""
    import yaml

    path = root / "profiles.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        prof = data[profile]
        return str(prof["outputs"][prof.get("target", "dev")].get("schema", "main"))
    except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError):
        return "main"


# --------------------------------------------------------------------------- unit tests


@dataclass
class UnitTestResult:
    """What :func:`unit_test` found: the verdict, the row diff and what the model returned."""

    __test__ = False

    status: str  # pass, fail or error
    message: str  # the row diff (fail) or the error (error); empty when it passed
    failing_rows: int
    output: pl.DataFrame | None

    @property
    def passed(self) -> bool:
        """True when the output matched ``expect`` (or nothing was expected)."""
        return self.status == "pass"


def unit_test(
    asset: str | Callable[..., Any],
    *,
    given: Mapping[str, Any],
    expect: Any = None,
    this: Any = None,
    partition: str | None = None,
    vars: Mapping[str, Any] | None = None,  # noqa: A002  (dbt's name)
    resources: Mapping[str, Any] | None = None,
    ordered: bool = False,
    incremental: bool | None = None,
    project_dir: str | Path = ".",
) -> UnitTestResult:
    """Run one unit test of a SQL model or a Python asset from pytest, like a YAML unit test.

    The model runs in an in-memory DuckDB on the rows given for its inputs; nothing is built in
    the project's warehouse. Frames may be polars or pandas DataFrames, pyarrow Tables, or
    lists of ``{column: value}`` rows.

    Args:
        asset: the model's name or its ``@asset`` function.
        given: upstream asset name (``stg_orders``, ``raw.orders`` for a source) -> its rows.
        expect: the rows the model must return (only the columns they name are compared);
            None: compare nothing, just return the output.
        this: the rows already in the model's table: ``expect`` is then the table after the
            run (its merge, append or partition write).
        partition: the partition key a partitioned model is built for.
        vars: project vars for this test (a Python asset's config: its fields by name, or
            ``{asset_name: {...}}``).
        resources: resource objects by name, instead of the project file's.
        ordered: compare in order.
        incremental: the ``is_incremental()`` branch (default: true when ``this`` is given).

    Returns:
        A :class:`UnitTestResult`: ``.passed``, ``.message`` (the row diff), ``.output``.

    Raises:
        UserError: a test that cannot run as written (an input that is not an upstream, a
            column the input does not have...), with the message a YAML test would get.
    """
    name = _asset_name(asset)
    options = RunOptions(project_dir=Path(project_dir), vars={})
    project = load_project(options)
    where = Location("<orch.testing.unit_test>")
    macros = {} if incremental is None else {"is_incremental": incremental}
    spec = UnitTestSpec(
        name=f"unit_test_{name}",
        model=name,
        path=where.path,
        location=where,
        model_location=where,
        given=[
            GivenInput(key, "name", key, None, _rows_of(value, ordered=False), where)
            for key, value in given.items()
        ],
        expect=None if expect is None else _rows_of(expect, ordered=ordered),
        vars=dict(vars or {}),
        macros=macros,
        this=None if this is None else _rows_of(this, ordered=False),
        partition=partition,
    )
    project.unit_tests = [spec]
    models = importlib.import_module("orch.compiler.models")
    compiled = models.compile_project(options, {name}, project=project)
    check = compiled.manifest.checks[spec.name]
    runtime = PythonRuntime.from_project(project)
    runtime.resource_overrides = dict(resources or {})
    with UnitTestRunner(compiled.manifest, project.root, python=runtime) as runner:
        outcome = runner.outcome(check, keep_output=True)
    frame = None
    if outcome.output is not None:
        import polars as pl

        converted = pl.from_arrow(outcome.output)
        frame = converted if isinstance(converted, pl.DataFrame) else converted.to_frame()
    return UnitTestResult(outcome.status, outcome.message, outcome.failing_rows, frame)


def _rows_of(value: Any, *, ordered: bool) -> Rows:
    """Rows of a frame (polars, pandas, Arrow) or a list of dicts, as a YAML test holds them."""
    if isinstance(value, list):
        records = value
    elif hasattr(value, "to_pylist"):  # pyarrow
        records = value.to_pylist()
    elif hasattr(value, "to_dicts"):  # polars
        records = value.to_dicts()
    elif hasattr(value, "to_dict"):  # pandas
        records = value.to_dict(orient="records")
    else:
        raise TypeError(
            f"rows must be a DataFrame (polars or pandas), a pyarrow Table or a list of dicts, "
            f"not {type(value).__name__}"
        )
    rows = [{str(k): _cell(v) for k, v in dict(r).items()} for r in records]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    where = Location("<orch.testing.unit_test>")
    return Rows("dict", rows, columns, where, [where] * len(rows), ordered=ordered)


def _cell(value: Any) -> Any:
    """A frame's cell as a YAML test would hold it (dates as ISO text; NaN/NaT as NULL)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if value != value else value  # NaN (pandas' missing) -> NULL
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _cell(value.item())
    return str(value)


# --------------------------------------------------------------------------- pytest


@dataclass
class TestProject:
    """A copy of a project in a test's ``tmp_path``."""

    __test__ = False

    path: Path

    def materialize(self, assets: Iterable[str | Callable[..., Any]], **kwargs: Any) -> TestRun:
        """:func:`materialize` on this copy (built in place)."""
        return materialize(assets, project_dir=self.path, copy=False, **kwargs)


try:  # the fixture, re-exported for ``from orch.testing import orch_project`` in a conftest
    from orch.pytest_plugin import orch_project
except ImportError:  # pragma: no cover  (pytest not installed)
    orch_project = None  # type: ignore[assignment]

__all__ = [
    "TestProject",
    "TestRun",
    "UnitTestResult",
    "build_context",
    "materialize",
    "orch_project",
    "unit_test",
]
