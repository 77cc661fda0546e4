"""The manifest: everything later stages and the docs site need, as one versioned pydantic model.

Written to ``target/manifest.json``. Output is deterministic (sorted keys, no timestamps), so the
same project always gives a byte-identical file. It never holds a secret value: SQL that used
``env_var()`` carries a placeholder (see :mod:`orch.redaction`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import orch
from orch.config import ModelConfig, SourceFreshness
from orch.dag import DAG
from orch.errors import ProjectError
from orch.names import Relation
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = "orch/manifest/v1"
#: A check's ``warn_if`` / ``error_if`` (``!=0``, ``>10``): checked at compile, read by the run.
THRESHOLD = re.compile(r"^\s*(==|=|!=|<>|>=|<=|>|<)\s*(\d+)\s*$")

ResourceType = Literal["model", "seed", "source"]
Language = Literal["sql", "python"]


class ArtifactModel(BaseModel):
    """Base of artifact models: strict keys, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RelationInfo(ArtifactModel):
    """Where an asset lives in the warehouse."""

    database: str | None
    schema_name: str
    identifier: str

    def to_relation(self) -> Relation:
        """As a :class:`Relation` value."""
        return Relation(self.database, self.schema_name, self.identifier)

    @classmethod
    def from_relation(cls, rel: Relation) -> RelationInfo:
        """From a :class:`Relation` value."""
        return cls(database=rel.database, schema_name=rel.schema, identifier=rel.name)


class ColumnRef(ArtifactModel):
    """One column of one asset."""

    asset: str
    column: str


class ColumnInfo(ArtifactModel):
    """A column: its type when known, description and tags from YAML."""

    name: str
    data_type: str | None = None
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class PythonInfo(ArtifactModel):
    """How to call a Python asset: where its function lives and what each parameter loads."""

    module_path: str
    function: str
    inputs: dict[str, str] = Field(default_factory=dict)  # parameter -> upstream asset
    input_types: dict[str, str] = Field(default_factory=dict)  # parameter -> polars|lazy|arrow
    context_param: str | None = None
    config_param: str | None = None
    resource_params: dict[str, str] = Field(default_factory=dict)  # parameter -> resource name
    io_manager: str | None = None  # what stores its output; None: by type, at run time
    output_kind: str | None = None  # table | none | object, from the return annotation


# ``invocation_id`` in a hook's SQL: the run's id, put in when the hook runs (orch.run.hooks)
INVOCATION_MARKER = "__orch_invocation_id__"


class HookSql(ArtifactModel):
    """One hook, rendered: SQL run before or after a step, or at the start or end of a run.

    ``transaction``: dbt's ``transaction: true`` (the default) runs a model's hook inside the
    step's transaction; ``false`` (``before_begin()``/``after_commit()``) runs it outside.
    """

    sql: str
    transaction: bool = True
    origin: str = ""  # where it was declared, for messages: dbt_project.yml, a model's config()
    # the hook queries the warehouse while rendering (run_query, a statement block, graph...):
    # ``raw_code`` is rendered right before it runs (orch.run.live_render), as dbt renders it
    rendered_at_run_time: bool = False
    raw_code: str = ""


class Node(ArtifactModel):
    """An asset: a SQL model, a Python asset, a seed or a source table."""

    name: str
    unique_id: str
    resource_type: ResourceType
    language: Language | None = None
    path: str | None = None  # relative to the project folder
    patch_path: str | None = None  # the YAML file that described it
    raw_code: str = ""
    compiled_code: str = ""  # full build (is_incremental() false)
    compiled_code_incremental: str | None = None  # when the model uses is_incremental()
    uses_partition: bool = False  # the SQL reads {{ partition.* }}: rendered per partition
    # the template queries the warehouse (run_query, statement, execute...): rendered again right
    # before it runs (orch.run.live_render); compiled_code is then dbt's parse-time render and the
    # columns and lineage are unknown until then
    rendered_at_run_time: bool = False
    relation: RelationInfo | None = None  # None for ephemeral models
    config: ModelConfig = Field(default_factory=ModelConfig)
    depends_on: list[str] = Field(default_factory=list)
    columns: dict[str, ColumnInfo] = Field(default_factory=dict)
    column_lineage: dict[str, list[ColumnRef]] = Field(default_factory=dict)
    # change classification (orch.run.change): a hash per output column of its resolved
    # expression and row clauses, and every upstream column the SQL references (None: unknown)
    column_versions: dict[str, str] = Field(default_factory=dict)
    reads: dict[str, list[str]] | None = None
    description: str = ""
    fingerprint: str = ""
    python: PythonInfo | None = None
    source_name: str | None = None
    source_table: str | None = None
    source_freshness: SourceFreshness | None = None  # a source table's freshness rule (dbt's)
    observe: str | None = None  # a source's observation query (orch.run.observe)
    pre_hook: list[HookSql] = Field(default_factory=list)  # in dbt's order (project file first)
    post_hook: list[HookSql] = Field(default_factory=list)
    deprecation_date: str | None = (
        None  # dbt's, ISO 8601 with its offset (orch.compiler.deprecation)
    )

    @property
    def materialized(self) -> str:
        """The materialization in force (seeds are tables, sources are external)."""
        if self.resource_type == "seed":
            return "table"
        if self.resource_type == "source":
            return "external"
        return self.config.materialized

    @property
    def tags(self) -> list[str]:
        """The asset's tags."""
        return self.config.tags


class CheckNode(ArtifactModel):
    """A data-quality check: a query whose rows are failures (or a Python check)."""

    name: str
    unique_id: str
    # generic: a {% test %} of the user; unit: a unit test of a model
    kind: Literal["builtin", "generic", "singular", "python", "unit"]
    check_type: str  # not_null, unique, ..., singular, python, or the custom generic test's name
    asset: str | None  # the asset it is attached to
    column: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    severity: Literal["warn", "error"] = "error"
    blocking: bool = False
    warn_if: str = "!=0"
    error_if: str = "!=0"
    where: str | None = None
    store_failures: bool = False  # config store_failures: failing rows kept in a table
    # a dbt generic test's YAML config as dbt records it (orch.load.dbt.generic_test_config),
    # the config() call of its raw_code in dbt's manifest.json; its unrendered_config adds the
    # config() its {% test %} definition calls (dbt_unrendered_config, None: dbt_config alone)
    dbt_config: dict[str, Any] = Field(default_factory=dict)
    dbt_unrendered_config: dict[str, Any] | None = None

    # dbt's fail_calc: the failures as an aggregate over the failing rows (None: count(*))
    fail_calc: str | None = None
    sql: str = ""  # compiled query returning failing rows
    # a test whose template queries the warehouse (dbt_utils.equality): its template, rendered
    # right before it runs (orch.run.live_render), as dbt renders it; ``sql`` is empty
    rendered_at_run_time: bool = False
    raw_code: str = ""
    path: str | None = None
    description: str = ""
    depends_on: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    python: PythonInfo | None = None

    def dbt_threshold(self, which: Literal["warn_if", "error_if"]) -> str:
        """``warn_if``/``error_if`` as dbt writes it: the configured text, or dbt's default
        spelling ``!= 0`` for orch's ``!=0``."""
        written = self.dbt_config.get(which)
        if written:
            return str(written)
        value = self.warn_if if which == "warn_if" else self.error_if
        return "!= 0" if value == "!=0" else value


class ProjectInfo(ArtifactModel):
    """The project and the target the manifest was compiled for."""

    name: str
    dialect: str
    target_name: str
    target_type: str
    target_dialect: str
    database: str | None
    schema_name: str
    flavor: Literal["orch", "dbt"] = "orch"


class Manifest(ArtifactModel):
    """The compiled project."""

    schema_version: str = SCHEMA_VERSION
    orch_version: str
    project: ProjectInfo
    nodes: dict[str, Node] = Field(default_factory=dict)
    checks: dict[str, CheckNode] = Field(default_factory=dict)
    parents: dict[str, list[str]] = Field(default_factory=dict)
    children: dict[str, list[str]] = Field(default_factory=dict)
    jobs: dict[str, Any] = Field(default_factory=dict)
    schedules: dict[str, Any] = Field(default_factory=dict)
    sensors: dict[str, Any] = Field(default_factory=dict)
    docs: dict[str, str] = Field(default_factory=dict)
    selectors: dict[str, dict[str, Any]] = Field(default_factory=dict)  # selectors.yml, resolved
    # dbt's exposures / metrics, semantic_models, saved_queries: {name: entry}, never built
    exposures: dict[str, dict[str, Any]] = Field(default_factory=dict)
    semantic_layer: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    on_run_start: list[HookSql] = Field(default_factory=list)  # dbt_project.yml's, rendered
    on_run_end: list[HookSql] = Field(default_factory=list)

    def write(self, path: Path) -> None:
        """Write deterministic JSON (atomic: a temp file renamed over the old one), and the
        index beside it that lets :meth:`read` skip scanning it (:func:`index_path`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        index = index_path(path)
        index.unlink(missing_ok=True)  # never an index of another manifest, even after a crash
        data = self.to_json().replace("\n", os.linesep).encode("utf-8")  # as write_text would
        tmp = path.with_suffix(".json.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        _write_index(path, data)

    def to_json(self) -> str:
        """The manifest as deterministic JSON text."""
        return self.model_dump_json(indent=1, by_alias=True) + "\n"

    @classmethod
    def read(cls, path: Path, *, lazy: bool = False) -> Manifest:
        """Read a manifest written by :meth:`write`.

        ``lazy``: validate each node on first access (:class:`NodeTable`) instead of all of them
        now: a command that touches a few nodes of a large project (``orch run -s one_model``)
        skips validating the rest. Only for a manifest this version of orch wrote; any other is
        validated whole, as without ``lazy``.
        """
        if not lazy:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        # each node's JSON text, not decoded yet: where the index says, else found by a scan
        raw_nodes: dict[str, Any] | None = None
        data: Any = None
        indexed = _read_indexed(path)
        if indexed is not None:
            text, raw_nodes = indexed
            data = json.loads(text)
            parents = data.get("parents") if isinstance(data, dict) else None
            if not isinstance(parents, dict) or parents.keys() != raw_nodes.keys():
                raw_nodes = data = None  # the compiler lists every node in `parents`
        if data is None:
            text = path.read_text(encoding="utf-8")
            split = _split_nodes(text)
            if split is not None:
                text, raw_nodes = split
            data = json.loads(text)
        if not isinstance(data, dict) or (
            data.get("schema_version") != SCHEMA_VERSION
            or data.get("orch_version") != orch.__version__
            or not isinstance(data.get("nodes"), dict)
        ):
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        decoded = data.pop("nodes")
        manifest = cls.model_validate(data)
        table = NodeTable(decoded if raw_nodes is None else raw_nodes, path)
        manifest.__dict__["nodes"] = table  # frozen: set once, here
        return manifest

    def _settle(self) -> None:
        """Validate every node of a lazily read manifest (before it is serialized whole)."""
        nodes = self.__dict__.get("nodes")
        if isinstance(nodes, NodeTable):
            self.__dict__["nodes"] = dict(nodes.items())

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """As pydantic's, with every node validated first (see :meth:`read`)."""
        self._settle()
        return super().model_dump(**kwargs)

    def model_dump_json(self, **kwargs: Any) -> str:
        """As pydantic's, with every node validated first (see :meth:`read`)."""
        self._settle()
        return super().model_dump_json(**kwargs)

    def topological_names(self) -> list[str]:
        """Asset names, each after all of its parents (sorted ties)."""
        return DAG({n: self.parents.get(n, []) for n in self.nodes}).topological_order()


def through_ephemerals(nodes: Mapping[str, Node], names: Iterable[str]) -> list[str]:
    """``names`` and, for each that has no relation (an ephemeral model, inlined where it is
    read), what it reads, recursively: every asset a query over ``names`` really reads, in
    the order found."""
    out: list[str] = []
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        out.append(name)
        node = nodes.get(name)
        if node is not None and node.relation is None:
            todo.extend(node.depends_on)
    return out


class NodeTable(Mapping[str, Node]):
    """A manifest's nodes, each validated the first time it is looked up.

    Holds each node's JSON (text, or decoded); iterating names, ``len`` and ``in`` validate
    nothing.
    One :class:`Node` object per name, also when threads ask for it at once.
    """

    def __init__(self, raw: dict[str, Any], path: Path) -> None:
        self._raw = raw  # name -> the node's decoded JSON, or its JSON text (str or UTF-8 bytes)
        self._path = path
        self._nodes: dict[str, Node] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Node:
        node = self._nodes.get(name)
        if node is not None:
            return node
        raw = self._raw[name]  # KeyError: no such node, as a dict
        with self._lock:
            node = self._nodes.get(name)
            if node is None:
                try:
                    node = self._nodes[name] = (
                        Node.model_validate_json(raw)
                        if isinstance(raw, (str, bytes))
                        else Node.model_validate(raw)
                    )
                except ValidationError as err:
                    raise ProjectError(
                        f"{self._path}: node '{name}' does not match this version of orch "
                        f"({err.error_count()} error(s): {err.errors()[0]['msg']})",
                        hint="Run 'orch compile' to write the manifest again",
                    ) from None
        return node

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __getstate__(self) -> dict[str, Any]:  # copy and pickle: every node, without the lock
        return {"raw": {name: self[name] for name in self._raw}, "path": self._path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["raw"], state["path"])  # type: ignore[misc]
        self._nodes.update(state["raw"])

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    @property
    def validated(self) -> int:
        """How many nodes were validated so far."""
        return len(self._nodes)


_NODES_OPEN = '\n "nodes": {\n  "'  # as Manifest.write lays it out (indent=1)
_NODES_CLOSE = "\n }"
_NODE_KEY = '\n  "'  # a key of `nodes`: the only lines indented by exactly two spaces there


def _split_nodes(text: str) -> tuple[str, dict[str, str]] | None:
    """``text`` with an empty ``nodes`` object, and each node's JSON text by name; None when the
    layout is not :meth:`Manifest.write`'s (the caller then decodes the whole text).

    Newlines occur in the written JSON only between items (strings escape theirs), so the keys
    of ``nodes`` are the lines that start with two spaces and a quote, up to the line that
    closes ``nodes`` with one space and a brace.
    """
    start = text.find(_NODES_OPEN)
    if start < 0:
        return None
    end = text.find(_NODES_CLOSE, start + len(_NODES_OPEN))
    if end < 0:
        return None
    nodes: dict[str, str] = {}
    key = start + len(_NODES_OPEN) - len(_NODE_KEY)
    while key >= 0:
        name_end = text.find('": ', key + len(_NODE_KEY), end)
        if name_end < 0:
            return None
        name = text[key + len(_NODE_KEY) : name_end]
        if "\\" in name or '"' in name:
            return None  # an escaped name: let the JSON decoder read it
        following = text.find(_NODE_KEY, name_end, end)
        body_end = end if following < 0 else following
        body = text[name_end + 3 : body_end]
        nodes[name] = body[:-1] if body.endswith(",") else body
        key = following
    rest = text[:start] + '\n "nodes": {}' + text[end + len(_NODES_CLOSE) :]
    return rest, nodes


# ``manifest.index.json`` beside ``manifest.json``: where each node's JSON starts and ends, so a
# lazy read slices the bytes instead of scanning megabytes of text for the node keys. Nothing in
# it is trusted: the slices must tile the ``nodes`` object exactly, each one after its own key
# and before the next (``\n  "name": `` only begins a node there: deeper lines are indented
# further, strings escape their newlines), and name exactly the nodes ``parents`` lists. Any
# mismatch and the manifest is scanned as without an index. It depends only on the manifest's
# bytes (the same project, the same index).
INDEX_FORMAT = 1


def index_path(path: Path) -> Path:
    """The index of the manifest at ``path``: ``manifest.json`` -> ``manifest.index.json``."""
    return path.with_name(path.stem + ".index.json")


def _write_index(path: Path, data: bytes) -> None:
    """Write the index of ``data``, just written to ``path`` (nothing when its layout is not
    :meth:`Manifest.write`'s)."""
    split = _node_spans(data)
    if split is None:
        return
    start, end, spans = split
    index = {"format": INDEX_FORMAT, "size": len(data), "nodes_span": [start, end],
             "nodes": spans}  # fmt: skip
    target = index_path(path)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(index, separators=(",", ":")), encoding="utf-8")
    tmp.replace(target)


def _node_spans(data: bytes) -> tuple[int, int, dict[str, list[int]]] | None:
    """Where ``nodes`` opens and closes in ``data``, and each node's ``[start, end)`` bytes."""
    open_, close, key = _NODES_OPEN.encode(), _NODES_CLOSE.encode(), _NODE_KEY.encode()
    start = data.find(open_)
    if start < 0:
        return None
    end = data.find(close, start + len(open_))
    if end < 0:
        return None
    spans: dict[str, list[int]] = {}
    at = start + len(open_) - len(key)
    while at >= 0:
        name_end = data.find(b'": ', at + len(key), end)
        if name_end < 0:
            return None
        name = data[at + len(key) : name_end].decode("utf-8")
        if "\\" in name or '"' in name:
            return None
        following = data.find(key, name_end, end)
        body_end = end if following < 0 else following - 1  # before the comma
        spans[name] = [name_end + 3, body_end]
        at = following
    return start, end, spans


def _read_indexed(path: Path) -> tuple[str, dict[str, bytes]] | None:
    """What :func:`_split_nodes` gives (node texts as UTF-8 bytes), from the index; None when
    there is no index, or it does not fit the manifest's bytes exactly."""
    try:
        index = json.loads(index_path(path).read_text(encoding="utf-8"))
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    open_, close, key = _NODES_OPEN.encode(), _NODES_CLOSE.encode(), _NODE_KEY.encode()
    try:
        if index.get("format") != INDEX_FORMAT or index.get("size") != len(data):
            return None
        start, end = index["nodes_span"]
        if data[start : start + len(open_)] != open_ or data[end : end + len(close)] != close:
            return None
        nodes: dict[str, bytes] = {}
        at = start + len(open_) - len(key)  # where the next node's key line begins
        for name, (begin, stop) in index["nodes"].items():
            head = key + name.encode("utf-8") + b'": '
            if at < 0 or begin != at + len(head) or data[at:begin] != head:
                return None
            if stop == end:
                at = -1  # the last node
            elif data[stop : stop + 1 + len(key)] == b"," + key:
                at = stop + 1
            else:
                return None
            nodes[name] = data[begin:stop]
        if at >= 0 or not nodes:
            return None
        rest = data[:start] + b'\n "nodes": {}' + data[end + len(close) :]
        return rest.decode("utf-8"), nodes
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
