"""What an op run needs before its first step: each node's config and resources, validated.

Everything here runs before any op does, so a missing or invalid config field, an unknown op in
the run config or an undeclared resource stops the run with exit 2 and nothing executed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orch.assets import Config, Resource
from orch.errors import ConfigError, Location, suggestion
from orch.ops import JobDefinition, Node
from pydantic import ValidationError

# Builds a resource the job's own resources do not provide: (name, class, op) -> instance.
ResourceFactory = Callable[[str, type[Resource], str], Resource]


def merge_config(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, nested mappings merged key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


def _example(job: str, node: str, field: str) -> str:
    return json.dumps({"ops": {node: {"config": {field: "..."}}}})


def relative_to(root: Path | None, where: Location) -> Location:
    """``where`` with its path relative to the project folder ``root`` when it is inside it."""
    if root is None:
        return where
    try:
        rel = Path(where.path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return where
    return Location(rel, where.line, where.col)


def node_configs(
    job: JobDefinition, run_config: Mapping[str, Any] | None, *, root: Path | None = None
) -> dict[str, Config | None]:
    """Each node's config object, from the job's defaults and ``run_config``.

    Raises:
        ConfigError: an unknown key, an unknown op, config for an op that takes none, or a
            missing/invalid field (naming the job, the op and the field).
    """
    merged = merge_config(job.config, run_config or {})
    unknown = set(merged) - {"ops"}
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"run config of job '{job.name}': unknown key '{key}'",
            hint='The run config has one key, "ops": {"<op>": {"config": {...}}}',
        )
    ops = merged.get("ops") or {}
    if not isinstance(ops, Mapping):
        raise ConfigError(f"run config of job '{job.name}': 'ops' must be a mapping of op names")
    nodes = job.graph.nodes
    for name in ops:
        if name not in nodes:
            raise ConfigError(
                f"run config of job '{job.name}': no op '{name}' in the job",
                hint=suggestion(name, nodes) or f"Its ops are: {', '.join(nodes)}",
            )
    configs: dict[str, Config | None] = {}
    for name, node in nodes.items():
        entry = ops.get(name)
        cls = node.op.config_class
        if entry is not None and (not isinstance(entry, Mapping) or set(entry) - {"config"}):
            raise ConfigError(
                f"run config of job '{job.name}': op '{name}' must be given as "
                '{"config": {...}}',
                hint=f"Write --config '{_example(job.name, name, 'field')}'",
            )
        values = (entry or {}).get("config") or {}
        if cls is None:
            if values:
                raise ConfigError(
                    f"run config of job '{job.name}': op '{name}' takes no config",
                    hint="Declare a parameter annotated with an orch.Config subclass in the op",
                )
            configs[name] = None
            continue
        try:
            configs[name] = cls.model_validate(values)
        except ValidationError as err:
            item = err.errors()[0]
            key = ".".join(str(p) for p in item["loc"]) or "?"
            what = "missing" if item["type"] == "missing" else f"invalid: {item['msg']}"
            raise ConfigError(
                f"job '{job.name}': config of op '{name}' ({cls.__name__}): field '{key}' is "
                f"{what}",
                location=relative_to(root, node.op.location),
                hint=f"Pass it with --config '{_example(job.name, name, key)}'",
            ) from None
    return configs


def node_resources(
    job: JobDefinition,
    given: Mapping[str, Any] | None,
    factory: ResourceFactory | None = None,
    *,
    root: Path | None = None,
) -> dict[str, dict[str, Any]]:
    """The resources each node's op takes, by parameter name (given > the job's > factory).

    Raises:
        ConfigError: a resource nobody provides, or one of the wrong class.
    """
    pool: dict[str, Any] = {**job.resources, **(given or {})}
    out: dict[str, dict[str, Any]] = {}
    for name, node in job.graph.nodes.items():
        out[name] = _resources_of(job, node, pool, factory, root)
    return out


def _resources_of(
    job: JobDefinition,
    node: Node,
    pool: dict[str, Any],
    factory: ResourceFactory | None,
    root: Path | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pname, cls in node.op.resource_params.items():
        if pname not in pool:
            if factory is None:
                raise ConfigError(
                    f"job '{job.name}': op '{node.name}' needs resource '{pname}' "
                    f"({cls.__name__}), which is not given",
                    location=relative_to(root, node.op.location),
                    hint=f"Pass resources={{'{pname}': {cls.__name__}(...)}} or set it in the job",
                )
            pool[pname] = factory(pname, cls, node.name)
        value = pool[pname]
        if not isinstance(value, cls):
            raise ConfigError(
                f"job '{job.name}': resource '{pname}' of op '{node.name}' is a "
                f"{type(value).__name__}, not {cls.__name__}",
                location=relative_to(root, node.op.location),
            )
        values[pname] = value
    return values
