"""Every configuration model a user writes (or passes on the command line), in one place.

``orch_project.yml`` is dbt's ``dbt_project.yml`` format with orch's additions, so one loader serves
both. Precedence of model settings is decided in exactly one function, :func:`merge_model_config`:

    CLI > ``config()`` in the model > YAML properties > folder defaults > built-in defaults

YAML errors are turned into :class:`ConfigError` naming file, key path and line by
:func:`validate_doc`.
"""

from __future__ import annotations

import pkgutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from orch.errors import ConfigError, ErrorGroup, UserError, suggestion
from orch.yamldoc import KeyPath, YamlDoc
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint


def _dash(name: str) -> str:
    return name.replace("_", "-")


class OrchModel(BaseModel):
    """Base of user-facing config: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


# --------------------------------------------------------------------------- partitions

Grain = Literal["hourly", "daily", "weekly", "monthly"]


class PartitionConfig(OrchModel):
    """How a model is split into partitions: time windows of a grain, or a static list of keys."""

    column: str | None = None
    grain: Grain | None = None
    start: str | None = None
    end: str | None = None
    timezone: str = "UTC"
    lookback: int = Field(default=0, ge=0)
    keys: list[str] | None = None
    out_of_window: Literal["error", "drop"] = "error"
    # True: filter every time-partitioned upstream to the window; False: none; a list: only those
    filter_upstream: bool | list[str] = True

    @model_validator(mode="after")
    def _one_kind(self) -> PartitionConfig:
        if (self.grain is None) == (self.keys is None):
            raise ValueError("give either 'grain' (hourly/daily/weekly/monthly) or 'keys' (a list)")
        if self.grain is not None and self.start is None:
            raise ValueError("a time partition needs a 'start' (e.g. start: '2024-01-01')")
        return self

    @classmethod
    def parse_shorthand(cls, value: Any) -> Any:
        """``"daily"`` → ``{"grain": "daily"}``; a list → static keys; dicts pass through."""
        if isinstance(value, str):
            return {"grain": value}
        if isinstance(value, list):
            return {"keys": [str(v) for v in value]}
        return value


# --------------------------------------------------------------------------- models

Materialization = Literal[
    "view", "table", "incremental", "ephemeral", "none", "external", "snapshot"
]
IncrementalStrategy = Literal["append", "merge", "delete+insert"]

# dbt settings orch accepts and keeps (in ``ModelConfig.extra``) without acting on them.
DBT_PASSTHROUGH_KEYS = frozenset(
    {
        "docs",
        "persist_docs",
        "pre_hook",
        "post_hook",
        "pre-hook",
        "post-hook",
        "grants",
        "quoting",
        "full_refresh",
        "on_schema_change",
        "sql_header",
        "transient",
        "copy_grants",
        "cluster_by",
        "labels",
        "packages",
        "access",
        "version",
        "latest_version",
        "snowflake_warehouse",
        "query_tag",
        "column_types_override",
        "omit_default_schema",
        "delimiter",
        "quote_columns",
        # materialized='external' (dbt-duckdb's settings, acted on by orch.run.io.external)
        "location",
        "format",
        "partition_by",
    }
)


class ModelConfig(OrchModel):
    """The resolved settings of one asset (model, Python asset or seed)."""

    materialized: Materialization = "view"
    enabled: bool = True
    schema_: str | None = Field(default=None, alias="schema")
    database: str | None = None
    alias: str | None = None
    tags: list[str] = Field(default_factory=list)
    group: str | None = None
    owner: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    unique_key: str | list[str] | None = None
    incremental_strategy: IncrementalStrategy | None = None
    partitioned_by: PartitionConfig | None = None
    contract: bool = False
    dialect: str | None = None
    column_types: dict[str, str] = Field(default_factory=dict)
    code_version: str | None = None
    io_manager: str | None = None
    # settings for the IO manager of this asset's output (OutputContext.config)
    io_manager_config: dict[str, Any] = Field(default_factory=dict)
    # an automation condition's canonical text (orch.conditions), checked by the compiler
    automation: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("partitioned_by", mode="before")
    @classmethod
    def _partition_shorthand(cls, v: Any) -> Any:
        return PartitionConfig.parse_shorthand(v)

    @field_validator("contract", mode="before")
    @classmethod
    def _contract(cls, v: Any) -> Any:
        if isinstance(v, dict):  # dbt: contract: {enforced: true}
            return bool(v.get("enforced", False))
        if v == "enforced":
            return True
        return v

    @model_serializer(mode="wrap")
    def _without_empty_io_config(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        """Leave an empty ``io_manager_config`` out: manifests of projects that set none stay
        as they were."""
        data = handler(self)
        if isinstance(data, dict) and not data.get("io_manager_config"):
            data.pop("io_manager_config", None)
        return data

    @property
    def strategy(self) -> IncrementalStrategy:
        """The incremental strategy in force: merge when a unique key is given, else append."""
        if self.incremental_strategy:
            return self.incremental_strategy
        return "merge" if self.unique_key else "append"

    @property
    def unique_key_columns(self) -> list[str]:
        """``unique_key`` as a list of column names."""
        if self.unique_key is None:
            return []
        return [self.unique_key] if isinstance(self.unique_key, str) else list(self.unique_key)


MODEL_CONFIG_KEYS = frozenset(
    (f.alias or name) for name, f in ModelConfig.model_fields.items() if name != "extra"
)

# Every setting dbt (core and its common adapters) accepts as a ``+key`` in a project file's
# ``models:``/``seeds:``/``data_tests:``/``snapshots:``/``sources:`` folder config, with ``_`` for
# ``-``. orch acts on MODEL_CONFIG_KEYS, keeps DBT_PASSTHROUGH_KEYS and accepts the rest unread, so
# a dbt project builds unchanged; any other ``+key`` in ``orch_project.yml`` is an error.
DBT_FOLDER_KEYS = frozenset(
    {
        # every resource
        "enabled", "tags", "pre_hook", "post_hook", "database", "schema", "alias", "meta",
        "docs", "persist_docs", "full_refresh", "grants", "group", "access", "contract",
        "materialized", "sql_header", "quoting", "event_time", "static_analysis", "freshness",
        # incremental models, microbatch, materialized views
        "unique_key", "incremental_strategy", "on_schema_change", "on_configuration_change",
        "incremental_predicates", "merge_update_columns", "merge_exclude_columns", "batch_size",
        "begin", "lookback", "concurrent_batches",
        # seeds
        "column_types", "quote_columns", "delimiter",
        # data tests
        "severity", "error_if", "warn_if", "fail_calc", "limit", "store_failures",
        "store_failures_as", "where",
        # snapshots
        "strategy", "check_cols", "updated_at", "invalidate_hard_deletes", "hard_deletes",
        "target_schema", "target_database", "snapshot_meta_column_names", "dbt_valid_to_current",
        # sources
        "loaded_at_field", "loaded_at_query",
        # Python models
        "packages", "submission_method", "python_version",
        # dbt-snowflake
        "transient", "cluster_by", "automatic_clustering", "copy_grants", "snowflake_warehouse",
        "query_tag", "secure", "target_lag", "refresh_mode", "initialize", "table_format",
        "external_volume", "base_location_root", "base_location_subpath", "tmp_relation_type",
        "row_access_policy", "table_tag",
        # dbt-duckdb
        "location", "format", "options", "glue_register", "glue_database", "plugin",
        "overwrite_existing",
        # dbt-bigquery, dbt-postgres, dbt-redshift, dbt-databricks / dbt-spark
        "partition_by", "labels", "kms_key_name", "hours_to_expiration", "require_partition_filter",
        "partition_expiration_days", "policy_tags", "indexes", "unlogged", "dist", "sort",
        "sort_type", "bind", "backup", "auto_refresh", "file_format", "location_root",
        "clustered_by", "buckets", "tblproperties", "liquid_clustered_by", "compression",
    }
)  # fmt: skip
FOLDER_CONFIG_KEYS = (
    MODEL_CONFIG_KEYS
    | frozenset(k.replace("-", "_") for k in DBT_PASSTHROUGH_KEYS)
    | DBT_FOLDER_KEYS
)

_ADDITIVE = ("tags",)
_MERGED = ("meta", "column_types", "extra")
# dbt's hooks accumulate over the layers (project file folders, YAML, config()), in that order;
# each spelling is kept under one name in ``extra``.
HOOK_NAMES = {"pre-hook": "pre_hook", "pre_hook": "pre_hook", "post-hook": "post_hook",
              "post_hook": "post_hook"}  # fmt: skip


def _hook_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def normalize_config_keys(raw: dict[str, Any], *, strict: bool) -> tuple[dict[str, Any], list[str]]:
    """Strip dbt's ``+`` prefixes, move pass-through dbt keys into ``extra``.

    Returns the normalized dict and the unknown keys (kept in ``extra`` when not ``strict``; the
    caller reports them as errors when ``strict``).
    """
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in raw.items():
        name = key[1:] if isinstance(key, str) and key.startswith("+") else key
        if name in MODEL_CONFIG_KEYS or name == "schema_":
            out["schema" if name == "schema_" else name] = value
        elif name in HOOK_NAMES:
            hooks = out.setdefault("extra", {}).setdefault(HOOK_NAMES[name], [])
            hooks.extend(_hook_list(value))
        elif name in DBT_PASSTHROUGH_KEYS or not strict:
            out.setdefault("extra", {})[name] = value
            if name not in DBT_PASSTHROUGH_KEYS:
                unknown.append(name)
        else:
            unknown.append(name)
    return out, unknown


def merge_model_config(layers: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge config layers, lowest precedence first: later layers win key by key.

    ``tags`` accumulate (as in dbt), ``meta``/``column_types``/``extra`` merge by key, every other
    setting is replaced. The result is ready for ``ModelConfig.model_validate``.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key in _ADDITIVE:
                values = [value] if isinstance(value, str) else list(value or [])
                merged[key] = list(dict.fromkeys([*merged.get(key, []), *values]))
            elif key in HOOK_NAMES:  # folder layers, before normalize_config_keys
                name = HOOK_NAMES[key]
                merged[name] = [*merged.get(name, []), *_hook_list(value)]
            elif key == "extra" and isinstance(value, dict):
                extra = {**merged.get(key, {}), **value}
                for name in ("pre_hook", "post_hook"):
                    if name in value and name in merged.get(key, {}):
                        extra[name] = [*merged[key][name], *_hook_list(value[name])]
                merged[key] = extra
            elif key in _MERGED and isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return merged


# --------------------------------------------------------------------------- YAML properties


class ColumnProperties(OrchModel):
    """A column described in a YAML property file."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)

    name: str
    description: str = ""
    data_type: str | None = None
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)
    checks: list[Any] = Field(
        default_factory=list, validation_alias=AliasChoices("checks", "tests", "data_tests")
    )
    quote: bool | None = None
    constraints: list[Any] = Field(default_factory=list)


class ModelProperties(OrchModel):
    """A model's entry under ``models:`` in a YAML property file."""

    name: str
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    columns: list[ColumnProperties] = Field(default_factory=list)
    checks: list[Any] = Field(
        default_factory=list, validation_alias=AliasChoices("checks", "tests", "data_tests")
    )
    # orch shorthands (also accepted inside config:)
    tags: list[str] = Field(default_factory=list)
    group: str | None = None
    owner: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    automation: str | None = None  # orch: an automation condition (orch.conditions)
    docs: dict[str, Any] = Field(default_factory=dict)
    access: str | None = None
    constraints: list[Any] = Field(default_factory=list)
    versions: list[Any] | None = None  # refused by orch.load.dbt (model versions)
    latest_version: Any = None
    deprecation_date: datetime | None = None  # dbt's: warnings when built or referenced
    time_spine: dict[str, Any] | None = None  # MetricFlow's; kept, builds nothing

    @field_validator("deprecation_date", mode="before")
    @classmethod
    def _deprecation_date(cls, v: Any) -> Any:
        return deprecation_datetime(v)


def deprecation_datetime(value: Any) -> datetime | None:
    """A ``deprecation_date`` as dbt normalizes it: a date is midnight, a naive value local time.

    Accepts a YAML date or date-time, or an ISO 8601 text; raises ValueError for anything else.
    """
    if value is None:
        return None
    parsed = value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    if isinstance(parsed, date) and not isinstance(parsed, datetime):
        parsed = datetime(parsed.year, parsed.month, parsed.day)
    if not isinstance(parsed, datetime):
        raise ValueError(
            f"{value!r} is not a date or a date-time (write 2025-06-30, 2025-06-30 12:00:00 "
            "or 2025-06-30T12:00:00+02:00)"
        )
    return parsed if parsed.tzinfo else parsed.astimezone()


class SourceTableProperties(OrchModel):
    """One table of a declared source."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)

    name: str
    identifier: str | None = None
    description: str = ""
    columns: list[ColumnProperties] = Field(default_factory=list)
    checks: list[Any] = Field(
        default_factory=list, validation_alias=AliasChoices("checks", "tests", "data_tests")
    )
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)
    loaded_at_field: str | None = None
    freshness: Any = None
    observe: str | None = None  # a SQL query whose result fingerprints the table (run/observe)


FreshnessPeriod = Literal["minute", "hour", "day"]
_PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class FreshnessThreshold(OrchModel):
    """dbt's ``warn_after``/``error_after``: ``{count: 12, period: hour}``."""

    count: int = Field(gt=0)
    period: FreshnessPeriod

    @property
    def seconds(self) -> int:
        """The threshold in seconds."""
        return self.count * _PERIOD_SECONDS[self.period]

    def __str__(self) -> str:
        return f"{self.count} {self.period}{'s' if self.count != 1 else ''}"


class SourceFreshnessConfig(OrchModel):
    """dbt's ``freshness:`` block of a source or source table (merged by the compiler)."""

    warn_after: FreshnessThreshold | None = None
    error_after: FreshnessThreshold | None = None
    filter: str | None = None


class SourceFreshness(OrchModel):
    """A source table's resolved freshness rule (what ``orch source freshness`` checks);
    without a ``loaded_at_field`` the table is reported as skipped."""

    loaded_at_field: str | None = None
    warn_after: FreshnessThreshold | None = None
    error_after: FreshnessThreshold | None = None
    filter: str | None = None


class SourceProperties(OrchModel):
    """A source (tables loaded by something other than orch) declared in YAML."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)

    name: str
    description: str = ""
    database: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    tables: list[SourceTableProperties] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)
    loader: str | None = None
    loaded_at_field: str | None = None
    freshness: Any = None
    observe: str | None = None  # the default of its tables' ``observe``
    config: dict[str, Any] = Field(default_factory=dict)


class UnitTestRowsProperties(OrchModel):
    """The rows of a unit test's ``given`` input, ``expect`` or ``this`` (dbt's formats)."""

    input: str | None = None  # given only: ref('x'), source('s', 't'), a bare name, or this
    format: Literal["dict", "csv", "sql"] = "dict"
    rows: Any = None  # dict: a list of mappings; csv and sql: text
    fixture: str | None = None  # a file in <test-path>/fixtures/ (csv or sql formats)
    ordered: bool = False  # expect only: compare in order (orch)


class UnitTestOverridesProperties(OrchModel):
    """What a unit test changes in the model's rendering: vars, macros, env vars."""

    vars: dict[str, Any] = Field(default_factory=dict)
    macros: dict[str, Any] = Field(default_factory=dict)
    env_vars: dict[str, Any] = Field(default_factory=dict)


class UnitTestConfigProperties(OrchModel):
    """A unit test's ``config:`` (dbt): tags, meta, enabled."""

    tags: list[str] | str = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class UnitTestProperties(OrchModel):
    """One entry of ``unit_tests:`` in a YAML property file (dbt's spelling, orch's additions)."""

    name: str
    model: str
    description: str = ""
    given: list[UnitTestRowsProperties] = Field(default_factory=list)
    expect: UnitTestRowsProperties
    overrides: UnitTestOverridesProperties = Field(default_factory=UnitTestOverridesProperties)
    config: UnitTestConfigProperties = Field(default_factory=UnitTestConfigProperties)
    versions: Any = None
    # orch: the rows in the model's table before the run (expect is the table after it)
    this: UnitTestRowsProperties | None = None
    partition: str | None = None  # orch: the partition key a partitioned model is built for
    resources: dict[str, Any] = Field(default_factory=dict)  # orch: Python assets' resources


class PropertiesFile(OrchModel):
    """A ``models/**/*.yml`` (or ``seeds/*.yml``) property file."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)

    version: int | None = None
    models: list[ModelProperties] = Field(default_factory=list)
    seeds: list[ModelProperties] = Field(default_factory=list)
    sources: list[SourceProperties] = Field(default_factory=list)
    unit_tests: list[UnitTestProperties] = Field(default_factory=list)


# --------------------------------------------------------------------------- project


class JobConfig(OrchModel):
    """A named selection runnable with ``orch job run NAME``."""

    select: str = "*"
    exclude: str | None = None
    partitions: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class ScheduleConfig(OrchModel):
    """A cron schedule that launches a job."""

    job: str
    cron: str
    timezone: str = "UTC"
    catchup: Literal["latest", "all"] = "latest"
    partition: Literal["last_closed", "current", "none"] = "last_closed"
    vars: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    description: str = ""

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        return check_timezone(value)


def check_cron(value: str) -> str:
    """``value`` when it is a valid cron expression (5 fields, or @daily/@hourly/...)."""
    from croniter import croniter  # ~35 ms to import: only when a project declares schedules

    text = str(value).strip()
    if not croniter.is_valid(text):
        raise ValueError(
            f"'{text}' is not a valid cron expression (expected 5 fields 'min hour day month "
            "weekday' such as '0 6 * * *', or @hourly, @daily, @weekly, @monthly, @yearly)"
        )
    return text


def check_timezone(value: str) -> str:
    """``value`` when it is an IANA timezone name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone '{value}' (use an IANA name such as UTC or Europe/Paris)"
        ) from None
    return str(value)


class FileSensorConfig(OrchModel):
    """A built-in sensor: new files matching ``glob`` in ``directory`` launch ``job``."""

    type: Literal["file"] = "file"
    job: str
    directory: str
    glob: str = "*"
    minimum_interval_seconds: float = Field(default=30.0, ge=0)
    vars: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    description: str = ""


class AssetSensorConfig(OrchModel):
    """A built-in sensor: a new materialization of ``asset`` launches ``job``."""

    type: Literal["asset"] = "asset"
    job: str
    asset: str
    minimum_interval_seconds: float = Field(default=30.0, ge=0)
    vars: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    description: str = ""


SensorConfig = Annotated[FileSensorConfig | AssetSensorConfig, Field(discriminator="type")]


class ProjectConfig(OrchModel):
    """``orch_project.yml`` (or ``dbt_project.yml``, read by the same model)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=_dash
    )

    name: str
    version: str | int | float | None = None
    profile: str | None = None
    config_version: int | None = None
    require_dbt_version: Any = None
    dialect: str = "duckdb"
    model_paths: list[str] = Field(default_factory=lambda: ["models"])
    seed_paths: list[str] = Field(default_factory=lambda: ["seeds"])
    test_paths: list[str] = Field(default_factory=lambda: ["checks", "tests"])
    macro_paths: list[str] = Field(default_factory=lambda: ["macros"])
    analysis_paths: list[str] = Field(default_factory=list)
    docs_paths: list[str] = Field(default_factory=list)
    snapshot_paths: list[str] = Field(default_factory=list)
    sensor_paths: list[str] = Field(default_factory=lambda: ["sensors"])
    job_paths: list[str] = Field(default_factory=lambda: ["jobs"])
    # a module holding one orch.Definitions(...) (orch.load.definitions)
    definitions: str | None = None
    target_path: str = "target"
    log_path: str = "logs"
    packages_install_path: str | None = None
    clean_targets: list[str] = Field(default_factory=list)
    vars: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, Any] = Field(default_factory=dict)
    seeds: dict[str, Any] = Field(default_factory=dict)
    data_tests: dict[str, Any] = Field(default_factory=dict)
    tests: dict[str, Any] = Field(default_factory=dict)
    sources: dict[str, Any] = Field(default_factory=dict)
    snapshots: dict[str, Any] = Field(default_factory=dict)
    jobs: dict[str, JobConfig] = Field(default_factory=dict)
    schedules: dict[str, ScheduleConfig] = Field(default_factory=dict)
    sensors: dict[str, SensorConfig] = Field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    backfill_confirm_above: int = 1000
    query_comment: Any = None
    on_run_start: Any = None
    on_run_end: Any = None
    dispatch: Any = None
    flags: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------- profiles / targets


class TargetConfig(OrchModel):
    """Settings common to every target; each adapter adds its own."""

    type: str
    schema_: str = Field(default="main", alias="schema")
    database: str | None = None
    threads: int = Field(default=4, ge=1)
    state: Literal["sqlite", "warehouse"] | None = None


class DuckDBAttachConfig(OrchModel):
    """Another DuckDB file opened beside the target's (dbt-duckdb's ``attach:`` entry)."""

    path: str
    alias: str
    read_only: bool = True


class DuckDBTargetConfig(TargetConfig):
    """An embedded DuckDB database file (the default target)."""

    type: Literal["duckdb"] = "duckdb"
    path: str = "warehouse.duckdb"
    extensions: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    memory_limit: str | None = None
    # other files ATTACHed on open: a workspace member reading another member's DuckDB file
    # gets one per such file (read-only); a profile may list its own
    attach: list[DuckDBAttachConfig] = Field(default_factory=list)


class SnowflakeTargetConfig(TargetConfig):
    """A Snowflake account reached with snowflake-connector-python."""

    type: Literal["snowflake"] = "snowflake"
    account: str
    user: str | None = None
    password: SecretStr | None = None
    role: str | None = None
    warehouse: str | None = None
    database: str | None = None
    schema_: str = Field(default="PUBLIC", alias="schema")
    authenticator: str | None = None
    private_key_path: str | None = None
    private_key_passphrase: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("private_key_passphrase", "private_key_password"),
    )
    token: SecretStr | None = None
    query_tag: str | None = None
    client_session_keep_alive: bool = False
    connect_retries: int = 1
    connect_timeout: int = 10
    retry_on_database_errors: bool = False
    retry_all: bool = False
    reuse_connections: bool | None = None
    host: str | None = None
    port: int | None = None
    protocol: str | None = None
    insecure_mode: bool | None = None
    max_retries: int = 3


class GenericTargetConfig(TargetConfig):
    """A target of a third-party adapter that declares no config class of its own: its settings
    are kept as given and validated by the adapter when it opens."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)


# The entry-point group adapters register in (``duckdb = "orch.adapters.duckdb:DuckDBAdapter"``).
ADAPTER_ENTRY_POINT_GROUP = "orch.adapters"
_adapter_entry_points: dict[tuple[str, ...], dict[str, EntryPoint]] = {}


def adapter_entry_points() -> dict[str, EntryPoint]:
    """The ``orch.adapters`` entry points by name: package metadata, no adapter imported.

    Scanning every installed distribution's metadata costs milliseconds; the loader and
    ``get_adapter`` both ask, so the answer is kept for as long as ``sys.path`` is the same.
    """
    # imported here: with orch's own adapters (BUILTIN_ADAPTERS) a command never scans, and
    # importing importlib.metadata alone costs milliseconds of every command's start
    from importlib.metadata import entry_points

    key = tuple(sys.path)
    found = _adapter_entry_points.get(key)
    if found is None:
        found = {ep.name: ep for ep in entry_points(group=ADAPTER_ENTRY_POINT_GROUP)}
        _adapter_entry_points.clear()
        _adapter_entry_points[key] = found
    return dict(found)


# orch's own adapters, as its package registers them in the group (pyproject.toml): found by
# name, without scanning every installed distribution's metadata. The group is scanned for any
# other type, and to list the known types.
BUILTIN_ADAPTERS: dict[str, str] = {
    "duckdb": "orch.adapters.duckdb:DuckDBAdapter",
    "snowflake": "orch.adapters.snowflake:SnowflakeAdapter",
}


def adapter_types() -> list[str]:
    """Every adapter type: orch's own and the ``orch.adapters`` entry points, sorted."""
    return sorted({*BUILTIN_ADAPTERS, *adapter_entry_points()})


def is_adapter_type(adapter_type: str) -> bool:
    """Whether an adapter is registered for ``adapter_type`` (orch's own: no metadata scan)."""
    return adapter_type in BUILTIN_ADAPTERS or adapter_type in adapter_entry_points()


def adapter_reference(adapter_type: str) -> str:
    """The ``module:Class`` registered for ``adapter_type``. Raises KeyError for an unknown type."""
    builtin = BUILTIN_ADAPTERS.get(adapter_type)
    return builtin if builtin is not None else adapter_entry_points()[adapter_type].value


def load_adapter_class(adapter_type: str) -> Any:
    """Import the class registered for ``adapter_type`` (what its entry point's ``load()`` gives).

    Raises:
        KeyError: no adapter has that type.
        ImportError, AttributeError: its module or class cannot be imported.
    """
    builtin = BUILTIN_ADAPTERS.get(adapter_type)
    if builtin is not None:
        return pkgutil.resolve_name(builtin)
    return adapter_entry_points()[adapter_type].load()


# Which target config class validates each ``type:``. Adapters own their class
# (``Adapter.target_config_class``); the loader passes the adapter registry's mapping in, so this
# module never imports an adapter. A lazy mapping is fine: only the profile's own type is looked up.
TargetConfigClasses = Mapping[str, type[TargetConfig]]


def validate_target(
    raw: Any, doc: YamlDoc, key_path: KeyPath, config_classes: TargetConfigClasses
) -> TargetConfig:
    """Validate one target of ``profiles.yml`` with the config class its adapter declares.

    Raises:
        ConfigError: naming the file and line of the target when its ``type`` is missing or no
            installed adapter has that type (the hint lists the known types), or of the key at
            fault when a setting is invalid.
    """
    target_type = raw.get("type") if isinstance(raw, dict) else None
    if not isinstance(target_type, str) or not target_type:
        known = sorted(config_classes)
        raise ConfigError(
            f"target '{key_path[-1]}' has no 'type'",
            location=doc.location(key_path),
            hint=f"Set type: to one of the known adapter types: {', '.join(known)}",
        )
    if target_type not in config_classes:
        known = sorted(config_classes)
        close = suggestion(target_type, known)
        raise ConfigError(
            f"unknown target type '{target_type}'",
            location=doc.location((*key_path, "type")),
            hint=f"{close + ' ' if close else ''}Known adapter types: {', '.join(known) or 'none'}"
            " (a third-party adapter registers in the 'orch.adapters' entry-point group)",
        )
    try:
        cls = config_classes[target_type]
    except ConfigError as err:  # the adapter could not be loaded: say which target needs it
        raise ConfigError(
            err.message, location=doc.location((*key_path, "type")), hint=err.hint
        ) from None
    result: TargetConfig = validate_doc(cls, doc, raw, key_path)
    return result


class ProfileConfig(OrchModel):
    """One profile of ``profiles.yml``: the default target name and the targets."""

    target: str = "dev"
    outputs: dict[str, dict[str, Any]]


# --------------------------------------------------------------------------- run options


@dataclass(frozen=True)
class RunOptions:
    """What the command line asked for; passed explicitly, never global."""

    project_dir: Path
    profiles_dir: Path | None = None
    target: str | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    indirect_selection: str = "eager"  # which checks a selection adds: eager or cautious
    full_refresh: bool = False
    threads: int | None = None
    fail_fast: bool = False
    partition: str | None = None
    start: str | None = None
    end: str | None = None
    dry_run: bool = False
    changed_only: bool = False
    # ``--rebuild-downstream``: with ``--changed``, a code change rebuilds everything downstream
    # even when it is non-breaking for it (orch.run.change); ``full_refresh`` implies it.
    rebuild_downstream: bool = False
    # Which checks ``build`` runs: "built" — those reading an asset this run builds (and those
    # named by a criterion); checks of assets skipped as up to date keep their last result.
    # "all" — every check of the selection, even on unchanged data.
    checks: str = "built"


# --------------------------------------------------------------------------- validation helpers


def validate_doc(
    model: type[BaseModel], doc: YamlDoc, data: Any = None, prefix: KeyPath = ()
) -> Any:
    """Validate ``data`` (default: the whole document) against ``model``.

    A pydantic ``ValidationError`` becomes one :class:`ConfigError` per problem, each naming the
    file, the key path and its line.
    """
    payload = doc.data if data is None else data
    try:
        return model.model_validate(payload)
    except ValidationError as err:
        raise config_errors_from(err, doc, prefix, model) from None


def config_errors_from(
    err: ValidationError, doc: YamlDoc, prefix: KeyPath, model: type[BaseModel] | None = None
) -> UserError:
    """Turn a pydantic error into located ConfigErrors (grouped when several)."""
    errors: list[UserError] = []
    for item in err.errors():
        loc = tuple(
            p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))
        )
        key_path = (*prefix, *loc)
        dotted = ".".join(str(p) for p in key_path) or "(top level)"
        kind = item["type"]
        hint = None
        if kind == "extra_forbidden":
            known = _known_keys(model, loc[:-1]) if model else []
            msg = f"unknown key '{dotted}'"
            hint = suggestion(str(loc[-1]), known, closest=True) or (
                f"Allowed keys: {', '.join(sorted(known))}" if known else None
            )
        elif kind == "missing":
            msg = f"missing required key '{dotted}'"
            hint = "Add it"
        else:
            msg = f"invalid value for '{dotted}': {item['msg']}"
            hint = "Fix the setting"
        errors.append(ConfigError(msg, location=doc.location(key_path), hint=hint))
    return errors[0] if len(errors) == 1 else ErrorGroup(errors)


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    skip_key = False  # the part after a dict-valued field is a user's name (a job, a target...)
    for part in loc:
        if isinstance(part, int):
            continue
        if skip_key:
            skip_key = False
            continue
        fld = getattr(current, "model_fields", {}).get(part)
        if fld is None:
            for f in getattr(current, "model_fields", {}).values():
                if f.alias == part:
                    fld = f
        if fld is None:
            return []
        skip_key = getattr(fld.annotation, "__origin__", None) is dict
        current = _inner_model(fld.annotation)
        if current is None:
            return []
    names = []
    for name, f in getattr(current, "model_fields", {}).items():
        names.append(f.alias or name)
    return names


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found:
            return found
    return None
