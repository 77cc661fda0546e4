"""Where a model's settings are decided, once: its config, its declared columns, its relation.

Precedence, lowest first: built-in defaults < folder defaults (``+key`` in the project file, nested
folders over their parents) < YAML properties (the ``tags``/``group``/``owner``/``meta``
shorthands, then ``config:``) < ``config()`` in the model (or ``@asset(...)`` options). The
command line (``--full-refresh``, ``--vars``) is applied by the run stage on top. Layers merge in
:func:`orch.config.merge_model_config`: ``tags`` accumulate, ``meta`` merges by key, every other
setting is replaced. SQL models and Python assets both go through :class:`ModelSettings`.

A relation follows dbt's schema rule (``<target schema>_<custom schema>``, or the project's own
``generate_schema_name`` macro) and the target's name rules (Snowflake stores unquoted names in
upper case).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, get_args

from orch.conditions import ConditionSyntaxError, parse_condition
from orch.config import (
    MODEL_CONFIG_KEYS,
    ColumnProperties,
    IncrementalStrategy,
    ModelConfig,
    SourceFreshness,
    SourceFreshnessConfig,
    merge_model_config,
    normalize_config_keys,
)
from orch.errors import (
    ConfigError,
    DuplicateNameError,
    Location,
    SqlSyntaxError,
    UnsupportedFeatureError,
    UserError,
    raise_collected,
    suggestion,
)
from orch.load import dbt_packages
from orch.load.project import Project, Properties, SourceTable, folder_config
from orch.manifest import ColumnInfo, Manifest, Node, RelationInfo
from orch.names import Relation, normalize_name
from orch.sql import parse_query
from orch.storage import (
    builtin_base_dir,
    builtin_of,
    external_files,
    filesystem_problem,
    is_remote,
    parquet_files_placeholder,
    parquet_glob,
    scan_select,
)
from pydantic import ValidationError
from sqlglot import exp

# Settings that change what a build writes; descriptive ones (tags, owner...) don't.
FINGERPRINT_CONFIG_KEYS = (
    "materialized", "schema_", "database", "alias", "unique_key", "incremental_strategy",
    "partitioned_by", "contract", "column_types", "code_version",
)  # fmt: skip
# Python assets hash their code_version with their source, and have no column_types.
PYTHON_FINGERPRINT_KEYS = FINGERPRINT_CONFIG_KEYS[:8]


def target_dialect(project: Project) -> str:
    """The sqlglot dialect of the target (a third-party target may set ``dialect``)."""
    return str(getattr(project.target, "dialect", None) or project.target.type)


def fingerprint_of(*parts: str) -> str:
    """A node's fingerprint: a hash of its normalized code and the settings that matter."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:32]


def settings_fingerprint(
    config: ModelConfig, keys: tuple[str, ...] = FINGERPRINT_CONFIG_KEYS
) -> str:
    """The part of a fingerprint that comes from settings: only those that change the data."""
    data = config.model_dump(include=set(keys))
    return json.dumps(data, sort_keys=True, default=str)


def external_fingerprint(config: ModelConfig) -> list[str]:
    """Where an external model writes (changing it rebuilds the model); nothing for others, so
    their fingerprints stay as they were."""
    if config.materialized != "external":
        return []
    keys = ("location", "format", "partition_by")
    return [json.dumps({k: config.extra.get(k) for k in keys}, sort_keys=True, default=str)]


def declared_columns(columns: Iterable[ColumnProperties]) -> dict[str, ColumnInfo]:
    """Columns as YAML properties declare them (a model's or a source table's)."""
    return {
        c.name: ColumnInfo(
            name=c.name,
            data_type=c.data_type,
            description=c.description,
            tags=c.tags,
            meta=c.meta,
        )  # fmt: skip
        for c in columns
    }


class ModelSettings:
    """Settings and relations of a project's models for one target dialect."""

    def __init__(
        self,
        project: Project,
        dialect: str,
        schema_namer: Callable[[str | None, str], str] | None = None,
    ) -> None:
        self.project = project
        self.schema_namer = schema_namer  # a dbt project's own generate_schema_name macro
        self._dialect_name = dialect

    def config_for(
        self, name: str, path: str, tree: dict[str, Any], recorded: dict[str, Any] | None
    ) -> tuple[ModelConfig, str, str | None]:
        """The model's config merged from its layers, its description and its YAML file's path."""
        layers, props, normalized = self._layers(name, path, tree, recorded)
        merged = merge_model_config(layers)
        if self.project.flavor != "orch":
            merged = dbt_strategy(name, path, merged, self.project.root)
        try:
            config = ModelConfig.model_validate(merged)
        except ValidationError as err:
            item = err.errors()[0]
            dotted = ".".join(str(p) for p in _data_path(merged, item["loc"]))
            key = str(item["loc"][0]) if item["loc"] else ""
            hint = "Fix the setting in config(), the YAML properties or the project file"
            if key in normalized:  # set in config(): point at it in the model
                loc = _config_call_location(self.project.root / path, path, key)
                hint = "Fix the setting in config()"
            elif props is not None:
                loc = props.doc.location((*props.key_path, "config"))
            else:
                loc = Location(path)
            raise ConfigError(
                f"invalid config for '{name}': '{dotted}': {item['msg']}", location=loc, hint=hint
            ) from None
        if config.automation is not None:
            config = self._checked_automation(name, path, config, normalized, props)
        if path.endswith(".sql"):
            self._refuse_io_manager(name, path, normalized, props)
        description = props.entry.description if props is not None else ""
        return config, description, props.doc.path if props is not None else None

    def is_enabled(
        self, name: str, path: str, tree: dict[str, Any], recorded: dict[str, Any] | None
    ) -> bool:
        """dbt's ``enabled`` from the same layers as :meth:`config_for` (a disabled node does
        not exist); a value that is no boolean is an error naming where it is set."""
        layers, props, normalized = self._layers(name, path, tree, recorded)
        value = merge_model_config(layers).get("enabled", True)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"  # a rendered "{{ var('x', false) }}"
        if "enabled" in normalized:
            loc = _config_call_location(self.project.root / path, path, "enabled")
        elif props is not None and "enabled" in props.entry.config:
            loc = props.doc.location((*props.key_path, "config", "enabled"))
        else:
            loc = Location(self.project.project_file)
        raise ConfigError(
            f"invalid config for '{name}': 'enabled' must be true or false, not {value!r}",
            location=loc,
            hint="Write enabled: true or false",
        )

    def _layers(
        self, name: str, path: str, tree: dict[str, Any], recorded: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], Properties | None, dict[str, Any]]:
        """The config layers of a node, lowest first; its YAML entry; its config() settings."""
        strict = self.project.flavor == "orch"
        package = dbt_packages.package_of(self.project.packages, path)
        if package is not None:  # dbt: the package's own dbt_project.yml, then the root's
            seed = name in self.project.seeds and self.project.seeds[name].path == path
            own = package.seeds if seed else package.models
            folder = merge_model_config(
                dbt_packages.package_folder_layers(package, tree, own, path)
            )
        else:
            folder = folder_config(tree, self.project.name, path)
        layers = [normalize_config_keys(folder, strict=False)[0]]
        props = self.project.properties.get(name)
        if props is not None:
            entry = props.entry
            shorthand = {
                k: v
                for k, v in {
                    "tags": entry.tags,
                    "group": entry.group,
                    "owner": entry.owner,
                    "meta": entry.meta,
                    "automation": entry.automation,
                }.items()  # fmt: skip
                if v
            }
            layers.append(shorthand)
            layers.append(normalize_config_keys(entry.config, strict=False)[0])
        normalized: dict[str, Any] = {}
        if recorded:
            normalized, unknown = normalize_config_keys(recorded, strict=strict)
            if unknown and strict:
                key = unknown[0]
                raise ConfigError(
                    f"unknown config key '{key}' in config()",
                    location=_find_location(self.project.root / path, path, rf"\b{key}\s*="),
                    hint=suggestion(key, MODEL_CONFIG_KEYS)
                    or f"Known keys: {', '.join(sorted(MODEL_CONFIG_KEYS))}",
                )
            layers.append(normalized)
        return layers, props, normalized

    def _refuse_io_manager(
        self, name: str, path: str, recorded: dict[str, Any], props: Properties | None
    ) -> None:
        """A SQL model's result is a relation in the warehouse (or files, with
        materialized='external'): an IO manager set on the model itself would be ignored, so it
        is an error at the place that set it (a folder's ``+io_manager`` default is meant for
        its Python assets and stays quiet)."""
        for key in ("io_manager", "io_manager_config"):
            if key in recorded:
                loc = _config_call_location(self.project.root / path, path, key)
            elif props is not None and key in props.entry.config:
                loc = props.doc.location((*props.key_path, "config", key))
            else:
                continue
            raise ConfigError(
                f"'{key}' is set on the SQL model '{name}', whose result is always a warehouse "
                "relation",
                location=loc,
                hint="Remove it; to write the result as files use materialized='external' "
                "(with location and format), or make the model a Python @asset",
            )

    def _checked_automation(
        self,
        name: str,
        path: str,
        config: ModelConfig,
        recorded: dict[str, Any],
        props: Properties | None,
    ) -> ModelConfig:
        """The config with its automation condition in canonical text; a condition that does
        not parse is a ConfigError at the layer that set it (config(), YAML or the folder)."""
        text = config.automation or ""
        try:
            canonical = parse_condition(text).expression
        except ConditionSyntaxError as err:
            if "automation" in recorded:
                loc = _config_call_location(self.project.root / path, path, "automation")
            elif props is not None and props.entry.automation is not None:
                loc = props.doc.location((*props.key_path, "automation"))
            elif props is not None and "automation" in props.entry.config:
                loc = props.doc.location((*props.key_path, "config", "automation"))
            else:
                pf = self.project.project_file
                loc = _find_location(self.project.root / pf, pf, r"\+automation\s*:")
            raise ConfigError(
                f"invalid automation condition for '{name}': {err}",
                location=loc,
                hint='Write kinds eager, on_missing, on_cron("0 6 * * *"), max_lag(2h), '
                "combined with & | ~ and parentheses",
            ) from None
        return config.model_copy(update={"automation": canonical})

    def columns_for(self, name: str) -> dict[str, ColumnInfo]:
        """The columns the YAML properties declare for ``name``."""
        props = self.project.properties.get(name)
        return declared_columns(props.entry.columns) if props is not None else {}

    def relation_for(self, name: str, config: ModelConfig) -> Relation:
        """Where the asset lives: target database, dbt's schema rule, alias or name."""
        t = self.project.target
        schema = t.schema_ if not config.schema_ else f"{t.schema_}_{config.schema_}"
        if self.schema_namer is not None:  # a dbt project's own generate_schema_name macro
            schema = self.schema_namer(config.schema_, name)
        return Relation(
            self.normalize(config.database or t.database),
            self.normalize(schema),  # type: ignore[arg-type]
            self.normalize(config.alias or name),  # type: ignore[arg-type]
        )

    def file_scan(
        self, upstream: Node, reader: str, where: Location | None, per_partition: bool = False
    ) -> exp.Expr | None:
        """How SQL reads ``upstream`` when it is stored as files rather than a relation: a
        ``read_parquet``/``read_csv`` over its files (a Parquet-stored Python asset, every
        partition's file; an external model's files), else None (read its relation).

        A partitioned reader (``per_partition``) of a partitioned Parquet asset reads a
        placeholder instead of the glob: each step binds it to the files of the partitions it
        needs (orch.run.io.scan), so DuckDB never opens another partition's file.

        Raises ConfigError when ``reader`` (a SQL model) cannot read it: an asset stored as
        Python objects, or files on a target that does not scan files (Snowflake).
        """
        project = self.project
        if upstream.resource_type == "source":
            return external_source(upstream, f"model '{reader}'", where, self._dialect_name)
        resources = project.config.resources
        path: str | None = None
        fmt, hive = "parquet", False
        what = ""
        if upstream.python is not None and upstream.python.io_manager is not None:
            io_name = upstream.python.io_manager
            builtin = builtin_of(io_name, resources, project.target_name)
            if builtin in (None, "warehouse"):
                if builtin is None or upstream.relation is None:
                    raise self._unreadable(reader, upstream, io_name, where)
                return None
            if builtin != "parquet":
                raise self._unreadable(reader, upstream, io_name, where)
            base = builtin_base_dir(io_name, resources, project.target_name, project.root)
            partitioned = upstream.config.partitioned_by is not None
            path = parquet_glob(base, upstream.name, partitioned)
            if partitioned and per_partition:
                path = parquet_files_placeholder(upstream.name)
            what = f"stored as Parquet files by the IO manager '{io_name}'"
        elif upstream.materialized == "external" and upstream.resource_type == "model":
            files = external_files(
                upstream.name, upstream.config.extra, project.root, project.target_name
            )
            path, fmt, hive = files.scan_path, files.format, bool(files.partition_by)
            what = f"materialized='external' ({fmt} files)"
        if path is None:
            return None
        if self._dialect_name != "duckdb":
            if upstream.python is not None and upstream.python.io_manager is not None:
                io_name = upstream.python.io_manager
                how = (
                    f"give its IO manager a type per target (resources: {io_name}: targets: "
                    f"{project.target_name}: type: warehouse)"
                )
            else:
                how = "materialize it as a table on this target (e.g. +materialized: table "
                how += "under models: for the folder)"
            raise ConfigError(
                f"model '{reader}' reads '{upstream.name}', which is {what}; the "
                f"{self._dialect_name} target cannot read local files"
                if not is_remote(path)
                else f"model '{reader}' reads '{upstream.name}', which is {what} at {path}; "
                f"orch reads files in SQL on DuckDB only",
                location=where,
                hint=f"Store '{upstream.name}' in the warehouse on this target: {how}; or load "
                "the files into a table yourself (a Snowflake external stage and COPY INTO) and "
                "declare that table as a source",
            )
        return scan_select(path, fmt, hive).subquery()

    def check_external(self, name: str, path: str, config: ModelConfig) -> None:
        """An external model's settings must make sense (format, partition_by), on a target
        that writes files. Raises ConfigError naming the model."""
        where = Location(path)
        try:
            files = external_files(name, config.extra, self.project.root, self.project.target_name)
        except ValueError as err:
            raise ConfigError(
                f"external model '{name}': {err}",
                location=where,
                hint="Set location, format (parquet or csv) and partition_by in config() or "
                "the model's YAML",
            ) from None
        if self._dialect_name != "duckdb":
            raise ConfigError(
                f"model '{name}' is materialized='external', which the {self._dialect_name} "
                "target cannot write",
                location=where,
                hint="Use materialized='table' on this target (e.g. a +materialized override "
                "per target in a folder of its own)",
            )
        problem = filesystem_problem(files.location) if is_remote(files.location) else None
        if problem is not None:
            raise ConfigError(
                f"external model '{name}': its location {files.location} cannot be reached: "
                f"{problem}",
                location=where,
                hint="Install the fsspec filesystem package for this URL (s3fs for s3://, gcsfs "
                "for gs://, adlfs for az://) in the environment orch runs in, or use a local path",
            )
        if config.partitioned_by is not None:
            raise ConfigError(
                f"external model '{name}' cannot be partitioned_by (orch partitions)",
                location=where,
                hint="Use partition_by: [column] to split its files by a column",
            )

    def _unreadable(
        self, reader: str, upstream: Node, io_name: str, where: Location | None
    ) -> ConfigError:
        return ConfigError(
            f"model '{reader}' reads '{upstream.name}', which the IO manager '{io_name}' stores "
            "outside the warehouse in a form SQL cannot read",
            location=where,
            hint=f"Store '{upstream.name}' with io_manager='warehouse' or 'parquet', or read it "
            "from a Python asset",
        )

    def normalize(self, part: str | None) -> str | None:
        """How the target stores a name (Snowflake: upper case; see orch.names)."""
        if part is None:
            return None
        return normalize_name(part, self._dialect_name)


def dbt_strategy(name: str, path: str, merged: dict[str, Any], root: Path) -> dict[str, Any]:
    """A dbt project's ``incremental_strategy`` that orch does not know is kept in ``extra``:
    dbt hands it to the adapter only on an incremental run, so the first (table) build works and
    an incremental run fails naming it (orch.run.materialize). ``microbatch`` is refused here:
    even its first build is batched by ``begin``/``batch_size``, which orch does not do."""
    strategy = merged.get("incremental_strategy")
    if strategy is None or strategy in get_args(IncrementalStrategy):
        return merged
    if strategy == "microbatch" and merged.get("materialized") == "incremental":
        raise UnsupportedFeatureError(
            f"'{name}': incremental_strategy 'microbatch' is not supported by orch",
            location=_find_location(root / path, path, r"microbatch"),
            hint="Use incremental_strategy 'delete+insert' with an is_incremental() filter, or "
            "orch's partitioned_by (time partitions built one by one)",
        )  # fmt: skip
    out = {k: v for k, v in merged.items() if k != "incremental_strategy"}
    out["extra"] = {**merged.get("extra", {}), "incremental_strategy": strategy}
    return out


def _data_path(data: Any, loc: tuple[int | str, ...]) -> list[int | str]:
    """The part of a pydantic error location that exists in the data (not ``str``, ``list[str]``:
    the union members pydantic tried)."""
    out: list[int | str] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            break
        out.append(part)
    return out or list(loc[:1])


def _config_call_location(abs_path: Path, path: str, key: str) -> Location:
    """Where ``key`` is set in the model's ``config(...)`` call, else the call itself."""
    call = _find_location(abs_path, path, r"\bconfig\s*\(")
    if not call.line:
        return call
    names = "|".join(re.escape(k) for k in dict.fromkeys((key, key.rstrip("_"))))
    setting = _find_location(abs_path, path, rf"\b(?:{names})\s*=", after=r"\bconfig\s*\(")
    return setting if setting.line else call


def _find_location(abs_path: Path, path: str, pattern: str, after: str | None = None) -> Location:
    try:
        text = abs_path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return Location(path)
    start = 0
    if after is not None:
        first = re.search(after, text)
        if first is None:
            return Location(path)
        start = first.end()
    match = re.compile(pattern).search(text, start)
    if not match:
        return Location(path)
    line = text.count("\n", 0, match.start()) + 1
    col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
    return Location(path, line, col)


# --------------------------------------------------------------------------- source freshness


def source_freshness(src: SourceTable, root: Path) -> SourceFreshness | None:
    """A source table's freshness rule, with dbt's inheritance.

    ``loaded_at_field`` and ``freshness`` (``warn_after``, ``error_after``, ``filter``) set on the
    source (or in its ``config:``) apply to each of its tables; a table's own ``freshness`` keys
    replace the source's key by key, and ``freshness: null`` on a table turns the check off.
    None when no threshold applies. Raises ConfigError naming the source table and the key.
    """
    source, table = src.source, src.table
    entry = rf"(?m)^\s*-\s*name:\s*['\"]?{re.escape(table.name)}['\"]?\s*$"
    where = (src.name, _find_location(root / src.path, src.path, entry))
    base = source.config.get("freshness", source.freshness)
    loaded_at = table.loaded_at_field or source.config.get("loaded_at_field")
    loaded_at = loaded_at or source.loaded_at_field
    table_config = (table.model_extra or {}).get("config")
    table_config = table_config if isinstance(table_config, dict) else {}
    if "freshness" in table.model_fields_set or "freshness" in table_config:
        own = table_config["freshness"] if "freshness" in table_config else table.freshness
        if own is None:
            return None  # dbt: freshness: null on a table (or its config:) turns the rule off
        merged = {**(base if isinstance(base, dict) else {}), **_mapping(own, where)}
    else:
        merged = _mapping(base, where) if base is not None else {}
    if not merged:
        return None
    try:
        rule = SourceFreshnessConfig.model_validate(merged)
    except ValidationError as err:
        item = err.errors()[0]
        dotted = ".".join(str(p) for p in item["loc"])
        raise ConfigError(
            f"invalid freshness for source '{src.name}': 'freshness.{dotted}': {item['msg']}",
            location=where[1],
            hint="Write warn_after/error_after as {count: 12, period: minute|hour|day}, and "
            "filter as a SQL condition",
        ) from None
    if rule.warn_after is None and rule.error_after is None:
        return None
    return SourceFreshness(
        loaded_at_field=str(loaded_at) if loaded_at else None,
        warn_after=rule.warn_after,
        error_after=rule.error_after,
        filter=rule.filter,
    )


def _mapping(value: Any, where: tuple[str, Location]) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None or k == "filter"}
    raise ConfigError(
        f"invalid freshness for source '{where[0]}': expected a mapping with warn_after, "
        f"error_after and filter, not {value!r}",
        location=where[1],
        hint="freshness: {warn_after: {count: 12, period: hour}, error_after: {count: 1, "
        "period: day}}",
    )


# --------------------------------------------------------------------------- relation owners


def relation_key(relation: RelationInfo) -> tuple[str, str, str]:
    """A relation as the warehouse compares names: DuckDB and Snowflake ignore case."""
    return (
        (relation.database or "").casefold(),
        relation.schema_name.casefold(),
        relation.identifier.casefold(),
    )


def unenforced_constraints(project: Project, nodes: Mapping[str, Node]) -> list[str]:
    """A warning per model with an enforced contract that declares ``constraints``: dbt-duckdb
    creates them in the table's DDL (a breaking row fails the build), orch does not, so it says
    so, as dbt warns about constraints a platform does not enforce."""
    warnings = []
    for name, node in nodes.items():
        props = project.properties.get(name)
        if props is None or not node.config.contract:
            continue
        entry, base = props.entry, props.key_path
        declared = [str(c.get("type", "?")) for c in entry.constraints if isinstance(c, dict)]
        where = props.doc.location((*base, "constraints") if declared else base)
        for j, column in enumerate(entry.columns):
            kinds = [str(c.get("type", "?")) for c in column.constraints if isinstance(c, dict)]
            if kinds and not declared:
                where = props.doc.location((*base, "columns", j, "constraints"))
            declared += [f"{kind} on {column.name}" for kind in kinds]
        if declared:
            warnings.append(
                f"{where}: the constraints of '{name}' ({', '.join(declared)}) are not enforced "
                "by orch (its contract's columns and types are): add tests such as not_null or "
                "unique to check its rows"
            )
    return warnings


def check_relation_owners(nodes: Iterable[Node]) -> None:
    """Every relation has one owner: two assets writing one table is an error naming both.

    A model, seed or Python asset whose relation is another's (an ``alias``, names differing only
    in case, a seed and a model of one name, a model over a declared source table) would replace
    the other's data; sources may share a relation with each other (they are only read), and a
    source may be declared over a seed's table (dbt allows it: jaffle-shop's ``ecom`` sources read
    the seeds it loads with ``load_source_data``; as in dbt, the source does not wait for the seed).
    """
    owners: dict[tuple[str, str, str], Node] = {}
    errors: list[UserError] = []
    for node in sorted(nodes, key=lambda n: (n.resource_type == "source", n.path or "", n.name)):
        if node.relation is None:
            continue
        key = relation_key(node.relation)
        other = owners.get(key)
        if other is None:
            owners[key] = node
            continue
        kinds = {node.resource_type, other.resource_type}
        if node.resource_type == "source" and kinds <= {"source", "seed"}:
            continue
        first, second = sorted([other, node], key=lambda n: (n.path or "", n.name))
        rel = node.relation.to_relation()
        errors.append(
            DuplicateNameError(
                f"two assets write the relation {rel}: {_describe(first)} and {_describe(second)}",
                location=Location(second.path or first.path or ""),
                hint="Give one of them another name (its file name or alias=) or another schema",
            )
        )
    raise_collected(errors)


def _describe(node: Node) -> str:
    kind = "source table" if node.resource_type == "source" else node.resource_type
    alias = node.config.alias if node.resource_type != "source" else None
    return f"{kind} '{node.name}' ({node.path}" + (f", alias '{alias}')" if alias else ")")


# config(alias='x'), @asset(alias='x'), {'alias': 'x'} (not polars' .alias("x"))
_SETS_ALIAS = re.compile(rb"\balias\s*=|['\"]alias['\"]\s*:")


def relations_may_collide(project: Project, names: set[str]) -> bool:
    """Whether a scoped compile of ``names`` could miss another file writing the same relation.

    True when two asset names differ only in case, or when an ``alias`` may be set outside the
    scope (folder defaults, YAML properties, or a model file with ``alias=``): the
    caller then compiles everything, where :func:`check_relation_owners` decides. The other
    direction, a selected model aliased onto a file left out, is :func:`shadows_unloaded_asset`.
    """
    folded = [n.casefold() for n in (*project.models, *project.seeds)]
    if len(set(folded)) < len(folded):
        return True
    if "alias" in repr(project.config.models) or "alias" in repr(project.config.seeds):
        return True
    if any("alias" in props.entry.config for props in project.properties.values()):
        return True
    for name, model in project.models.items():
        if name in names:
            continue
        try:
            if _SETS_ALIAS.search(model.abs_path.read_bytes()):
                return True
        except OSError:
            return True
    return False


def shadows_unloaded_asset(project: Project, manifest: Manifest) -> bool:
    """Whether a scoped manifest holds an asset aliased onto the name of one it left out."""
    left_out = {n.casefold() for n in (*project.models, *project.seeds) if n not in manifest.nodes}
    return any(
        node.config.alias is not None and node.config.alias.casefold() in left_out
        for node in manifest.nodes.values()
    )


def external_source(
    source: Node, reader: str, where: Location | None, dialect: str
) -> exp.Table | None:
    """What SQL reads a source with dbt-duckdb's ``external_location`` through (a table function
    such as ``read_json(...)``, or a quoted path), as dbt-duckdb renders its ``source()``; None
    for a source in the warehouse. ``reader`` ("model 'x'", "check 'y'") names who reads it.

    Raises ConfigError on another target (the location is dbt-duckdb's) or when it is not SQL.
    """
    location = source.config.extra.get("external_location")
    if not location:
        return None
    if dialect != "duckdb":
        raise ConfigError(
            f"{reader} reads the source '{source.name}', whose external_location ({location}) is "
            f"dbt-duckdb's: the {dialect} target cannot read it",
            location=where,
            hint="Load those files into a table and declare the source without "
            "external_location on this target",
        )
    try:
        query = parse_query(f"SELECT * FROM {location}", "duckdb", source.path or source.name)
    except SqlSyntaxError as err:
        raise ConfigError(
            f"the source '{source.name}': its external_location is not SQL a FROM can read: "
            f"{location}",
            location=Location(source.path or source.name),
            hint="Give a path ('data/x.parquet') or a table function (read_csv('...'))",
        ) from err
    source_from = query.find(exp.From)
    if source_from is None or not isinstance(source_from.this, exp.Table):
        raise ConfigError(
            f"the source '{source.name}': its external_location is not a path or a table "
            f"function: {location}",
            location=Location(source.path or source.name),
            hint="Give a path ('data/x.parquet') or a table function (read_csv('...'))",
        )
    return source_from.this
