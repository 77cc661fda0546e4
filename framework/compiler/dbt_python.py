"""dbt Python models in the compiler: their refs checked, their settings merged, their Node.

A dbt Python model (:mod:`orch.load.dbt_python`) is a node with ``language='python'`` and no
``PythonInfo`` (that is orch's ``@asset`` contract): :mod:`orch.run.dbt_python` runs it.
Settings merge like a SQL model's (folder < YAML < ``dbt.config()``); dbt-duckdb builds Python
models as tables or incremental models only, so any other materialization is refused here.
"""

from __future__ import annotations

import hashlib

from orch.compiler.graph import AssetGraph
from orch.compiler.settings import ModelSettings, fingerprint_of, settings_fingerprint
from orch.errors import (
    ConfigError,
    Location,
    UnknownReferenceError,
    UserError,
    raise_collected,
    suggestion,
)
from orch.load.dbt_python import DbtPythonModel, parse_dbt_python
from orch.load.dbt_versions import node_id_name
from orch.load.project import Project
from orch.manifest import Node, RelationInfo

PYTHON_MATERIALIZATIONS = ("table", "incremental")


def load_dbt_python(project: Project) -> dict[str, DbtPythonModel]:
    """Every dbt Python model of the project, parsed, its refs and sources checked."""
    out: dict[str, DbtPythonModel] = {}
    errors: list[UserError] = []
    known = [*project.models, *project.seeds]
    for name, file in sorted(project.models.items()):
        if file.kind != "dbt_python":
            continue
        try:
            model = parse_dbt_python(name, file.path, file.read(), project.model_versions)
        except UserError as err:
            errors.append(err)
            continue
        for ref in model.refs:
            if ref not in known or ref == name:
                errors.append(UnknownReferenceError(
                    f"dbt.ref('{ref}') in '{name}' is not a model or seed of the project",
                    location=Location(file.path, model.line),
                    hint=suggestion(ref, known, closest=True) or "Check the name"))  # fmt: skip
        for source, table in model.sources:
            if f"{source}.{table}" not in project.sources:
                errors.append(UnknownReferenceError(
                    f"dbt.source('{source}', '{table}') in '{name}' is not a declared source",
                    location=Location(file.path, model.line),
                    hint="Declare it under sources: in a YAML file"))  # fmt: skip
        out[name] = model
    raise_collected(errors)
    return out


def compile_dbt_python(
    settings: ModelSettings, graph: AssetGraph, model: DbtPythonModel, nodes: dict[str, Node]
) -> Node:
    """The Node of a dbt Python model (its upstream compiled already, in ``nodes``)."""
    project = settings.project
    file = project.models[model.name]
    config, description, patch_path = settings.config_for(
        model.name, model.path, project.config.models, model.config
    )
    if config.materialized not in PYTHON_MATERIALIZATIONS:
        raise ConfigError(
            f"dbt Python model '{model.name}' is materialized='{config.materialized}'",
            location=Location(model.path, model.line),
            hint="dbt builds Python models as table or incremental: set "
            "dbt.config(materialized='table')",
        )
    for up in model.refs:
        if up in nodes and nodes[up].relation is None:
            raise ConfigError(
                f"dbt Python model '{model.name}' reads the ephemeral model '{up}'",
                location=Location(model.path, model.line),
                hint="Materialize it as a view or table (dbt refuses this too)",
            )
    text = file.read()
    relation = settings.relation_for(model.name, config)
    return Node(
        name=model.name,
        unique_id=f"model.{project.name}.{node_id_name(project.model_versions, model.name)}",
        resource_type="model",
        language="python",
        path=model.path,
        patch_path=patch_path,
        raw_code=text,
        relation=RelationInfo.from_relation(relation),
        config=config,
        depends_on=sorted(graph.dag.parents(model.name)),
        columns=settings.columns_for(model.name),
        description=description,
        fingerprint=fingerprint_of(
            hashlib.sha256(text.encode()).hexdigest(), settings_fingerprint(config)
        ),
    )
