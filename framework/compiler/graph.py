"""Table references -> asset graph edges, with unknown, ambiguous, self and cycle errors.

A reference resolves, in order: a ``ref()``/``source()`` marker to what it names; ``{{ this }}`` to
the model itself (no edge); a bare name to a model or seed, else to a uniquely named source table;
``schema.name`` to a declared source (by source name or schema) or a model in that schema.
In a workspace, ``ref('finance', 'revenue')`` and a bare ``finance.revenue`` name a public model of
the member ``finance``: it joins the graph as a source table ``finance.revenue`` of this project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from orch.config import ColumnProperties, SourceProperties, SourceTableProperties
from orch.dag import DAG
from orch.errors import (
    AmbiguousReferenceError,
    CycleError,
    DuplicateNameError,
    Location,
    ProjectError,
    UnknownReferenceError,
    UserError,
    raise_collected,
    suggestion,
)
from orch.load.dbt_packages import package_of
from orch.load.parsing import ParsedModel
from orch.load.project import Project, SourceTable
from orch.load.rendering import THIS_MARKER
from orch.load.workspace import ForeignModel, attach_alias, attach_path
from orch.sql import TableRef

SELF = "<this>"


@dataclass(frozen=True)
class ResolvedRef:
    """A table reference and the asset it names (``SELF`` for ``{{ this }}``)."""

    ref: TableRef
    asset: str


@dataclass
class AssetGraph:
    """Assets and their dependencies; ``refs`` says which asset each table reference names."""

    dag: DAG[str]
    refs: dict[str, dict[str, list[ResolvedRef]]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def parents(self, name: str) -> set[str]:
        """Direct upstream assets."""
        return self.dag.parents(name)


class _Resolver:
    def __init__(self, project: Project, extra_assets: dict[str, list[str]]) -> None:
        self.project = project
        self.extra_assets = extra_assets
        self.by_table: dict[str, list[str]] = {}
        self.by_schema: dict[tuple[str, str], str] = {}
        for name, src in project.sources.items():
            ident = src.table.identifier or src.table.name
            for key in {src.table.name.lower(), ident.lower()}:
                self.by_table.setdefault(key, []).append(name)
            for qualifier in filter(None, {src.source.name, src.source.schema_}):
                for table in {src.table.name, ident}:
                    self.by_schema[(qualifier.lower(), table.lower())] = name
        self.models_lower = {n.lower(): n for n in [*project.models, *project.seeds, *extra_assets]}
        self.foreign_ok: dict[str, str] = {}  # marker -> the foreign asset it names

    def known(self) -> list[str]:
        return [
            *self.project.models,
            *self.project.seeds,
            *self.project.sources,
            *self.extra_assets,
        ]

    def foreign_refs(self, model: ParsedModel) -> dict[str, UserError]:
        """marker -> the error for each ``ref('project', 'model')`` that cannot be read.

        ``ref('<this project>', 'model')`` is ``ref('model')``. Another project must be a member
        of this project's workspace and the model public there; orch installs no dbt packages,
        so outside a workspace any other project is an error rather than a silent read of the
        local model of that name.
        """
        errors: dict[str, UserError] = {}
        foreign = self.project.foreign
        for marker, other in sorted(model.recording.ref_projects.items()):
            target = model.recording.refs[marker]
            where = _marker_location(model, "ref", target, project=other)
            if other == self.project.name or other in self.project.packages:
                owner = self.project.models.get(target) or self.project.seeds.get(target)
                if owner is None or (owner.package or self.project.name) == other:
                    continue  # an unknown name is reported by resolve()
                twin = next((path for path in self.project.disabled_duplicates.get(target, [])
                             if _package_name(self.project, path) == other), None)  # fmt: skip
                if twin is not None:
                    errors[marker] = UnknownReferenceError(
                        f"ref('{other}', '{target}') names a node of '{other}' which is disabled "
                        f"(enabled: false, {twin})",
                        location=where,
                        hint=f"Write ref('{target}') to read '{target}' of "
                        f"'{owner.package or self.project.name}', or enable it",
                    )
                    continue
                errors[marker] = UnknownReferenceError(
                    f"ref('{other}', '{target}'): '{target}' is not in '{other}' but in "
                    f"'{owner.package or self.project.name}'",
                    location=where,
                    hint=f"Write ref('{owner.package or self.project.name}', '{target}') or "
                    f"ref('{target}')",
                )
                continue
            if foreign is not None and other in foreign.members:
                try:
                    self.foreign_ok[marker] = self.foreign_model(other, target, where)
                except UserError as err:
                    errors[marker] = err
                continue
            known = sorted(foreign.members) if foreign is not None else []
            errors[marker] = UnknownReferenceError(
                f"ref('{other}', '{target}') names the project '{other}', which orch does not know",
                location=where,
                hint=(
                    suggestion(other, known, closest=True)
                    or f"Workspace members: {', '.join(known)}; or write ref('{target}')"
                )
                if known
                else suggestion(other, [self.project.name, *self.project.packages])
                or (
                    f"Known: '{self.project.name}' (this project) and the packages installed in "
                    f"dbt_packages/ ({', '.join(sorted(self.project.packages)) or 'none'})"
                    if self.project.flavor == "dbt"
                    else f"The only known project is '{self.project.name}' (this one; orch does "
                    f"not install dbt packages): write ref('{target}')"
                ),
            )
        return errors

    def foreign_model(self, project: str, name: str, where: Location) -> str:
        """The asset a public model of member ``project`` is in this graph (a source table)."""
        assert self.project.foreign is not None
        models = self.project.foreign.models_of(project, where)
        found = models.get(name)
        if found is None:
            raise UnknownReferenceError(
                f"project '{project}' has no model '{name}'",
                location=where,
                hint=suggestion(name, models, closest=True) or "Check the model's name",
            )
        if found.access != "public":
            raise ProjectError(
                f"model '{found.asset}' is {found.access}: only public models can be read from "
                "another project",
                location=where,
                hint=f"Set 'access: public' on '{name}' in project '{project}' "
                f"({found.path}), or read one of its public models",
            )
        here = self.project.foreign.warehouse()
        attach = None
        if found.warehouse != here:
            attach = attach_path(here, found.warehouse)
            if attach is None:
                raise ProjectError(
                    f"model '{found.asset}' lives in another warehouse ({found.warehouse}) than "
                    f"project '{self.project.name}' ({here}); orch reads across warehouses "
                    "only from one DuckDB file to another (by ATTACH, read-only)",
                    location=where,
                    hint="Point both profiles at the same warehouse (members may use different "
                    f"schemas), or have '{project}' write the data where "
                    f"'{self.project.name}' can read it",
                )
        existing = self.project.sources.get(found.asset)
        if existing is not None and existing.source.meta.get("workspace_member") != project:
            raise DuplicateNameError(
                f"source '{found.asset}' has the name of model '{name}' of member '{project}'",
                location=Location(existing.path),
                hint="Rename the source: a workspace member's name is taken by its models",
            )
        if existing is None:
            self.project.sources[found.asset] = foreign_source(found, where.path, attach)
        return found.asset

    def resolve(self, model: ParsedModel, ref: TableRef) -> str:
        rec = model.recording
        if ref.name in self.foreign_ok:
            return self.foreign_ok[ref.name]
        if ref.name in rec.refs:
            target = rec.refs[ref.name]
            if target in self.project.models or target in self.project.seeds:
                return target
            if target in self.extra_assets:
                return target
            if target in self.project.disabled:
                raise _disabled_error(f"ref('{target}')", target, self.project,
                                      _marker_location(model, "ref", target))  # fmt: skip
            raise UnknownReferenceError(
                f"ref('{target}') names no model or seed",
                location=_marker_location(model, "ref", target),
                hint=suggestion(target, [*self.project.models, *self.project.seeds], closest=True)
                or "Check the name: models are named after their file",
            )
        if ref.name in rec.sources:
            source, table = rec.sources[ref.name]
            name = f"{source}.{table}"
            if name in self.project.sources:
                return name
            if name in self.project.disabled:
                raise _disabled_error(f"source('{source}', '{table}')", name, self.project,
                                      _marker_location(model, "source", table))  # fmt: skip
            raise UnknownReferenceError(
                f"source('{source}', '{table}') is not declared",
                location=_marker_location(model, "source", table),
                hint=suggestion(name, self.project.sources, closest=True)
                or "Declare it under 'sources:' in a YAML file in models/",
            )
        if ref.name == THIS_MARKER:
            return SELF
        if ref.db is None:
            found = self.models_lower.get(ref.name.lower())
            if found is not None:
                if found == model.name:
                    raise ProjectError(
                        f"model '{model.name}' reads itself",
                        location=_bare_location(model, ref),
                        hint="Use {{ this }} to read the existing table in an incremental model",
                    )
                return found
            sources = self.by_table.get(ref.name.lower(), [])
            if len(sources) == 1:
                return sources[0]
            if len(sources) > 1:
                raise AmbiguousReferenceError(
                    f"table '{ref.name}' is ambiguous: it matches sources "
                    + ", ".join(f"'{s}'" for s in sorted(sources)),
                    location=_bare_location(model, ref),
                    hint="Qualify it (e.g. " + sorted(sources)[0] + ") or use source()",
                )
        else:
            found_src = self.by_schema.get((ref.db.lower(), ref.name.lower()))
            member = self.member_named(ref)
            if found_src is not None and member is not None:
                raise AmbiguousReferenceError(
                    f"table '{ref.dotted}' is ambiguous: it is the source '{found_src}' and a "
                    f"model of workspace member '{member}'",
                    location=_bare_location(model, ref),
                    hint=f"Use ref('{member}', '{ref.name}') or source()",
                )
            if found_src is not None:
                return found_src
            if member is not None:
                return self.foreign_model(member, ref.name, _bare_location(model, ref))
            schemas = {self.project.target.schema_.lower(), "main"}
            if ref.db.lower() in schemas and ref.name.lower() in self.models_lower:
                return self.models_lower[ref.name.lower()]
        raise UnknownReferenceError(
            f"unknown table '{ref.dotted}'",
            location=_bare_location(model, ref),
            hint=suggestion(ref.dotted, self.known(), closest=True)
            or suggestion(ref.name, self.known(), closest=True)
            or "It is neither a model, a seed nor a declared source: add a model file, or declare "
            "the source in YAML",
        )

    def member_named(self, ref: TableRef) -> str | None:
        """The workspace member a bare ``member.table`` name reads, if ``member`` is one."""
        foreign = self.project.foreign
        if foreign is None or ref.db is None or ref.catalog is not None:
            return None
        return next((m for m in sorted(foreign.members) if m.lower() == ref.db.lower()), None)


def _package_name(project: Project, path: str) -> str:
    """The name of the dbt package a file belongs to: the root project's name for its own."""
    package = package_of(project.packages, path)
    return package.name if package is not None else project.name


def _disabled_error(call: str, name: str, project: Project, where: Location) -> UserError:
    """dbt's "depends on a node which is disabled", naming the file that disables it."""
    return UnknownReferenceError(
        f"{call} names '{name}', which is disabled (enabled: false, {project.disabled[name]})",
        location=where,
        hint="Enable it, or disable this model too",
    )


def foreign_source(model: ForeignModel, path: str, attach: str | None = None) -> SourceTable:
    """Another member's model as a source table of the consumer (it is built over there).

    ``attach``: the owner's DuckDB file, when it is not the consumer's: the source is then read
    through the alias that file is attached as (:func:`orch.load.workspace.attach_alias`).
    """
    meta: dict[str, str] = {"workspace_member": model.project}
    if attach is not None:
        meta |= {"attach_path": attach, "attach_alias": attach_alias(model.project)}
    table = SourceTableProperties(
        name=model.name,
        identifier=model.identifier,
        description=model.description,
        columns=[ColumnProperties(name=c, data_type=t) for c, t in model.columns.items()],
    )
    source = SourceProperties.model_validate(
        {
            "name": model.project,
            "database": attach_alias(model.project) if attach is not None else model.database,
            "schema": model.schema_name,
            "tables": [table],
            "meta": meta,
        }
    )
    return SourceTable(source=source, table=table, path=path)


def resolve_graph(
    project: Project,
    parsed: dict[str, ParsedModel],
    extra_assets: dict[str, list[str]] | None = None,
) -> AssetGraph:
    """Build the asset graph of the parsed models (plus seeds, sources and ``extra_assets``).

    ``extra_assets`` maps other assets (Python assets) to their upstream names.
    """
    extra = extra_assets or {}
    resolver = _Resolver(project, extra)
    dag: DAG[str] = DAG()
    refs: dict[str, dict[str, list[ResolvedRef]]] = {}
    errors: list[UserError] = []
    for name in sorted(parsed):
        model = parsed[name]
        upstream: set[str] = set()
        refs[name] = {}
        foreign = resolver.foreign_refs(model)
        errors.extend(foreign.values())
        for variant_name, variant in (("full", model.full), ("incremental", model.incremental)):
            if variant is None:
                continue
            resolved = []
            for ref in variant.table_refs:
                if ref.name in foreign:
                    continue
                try:
                    asset = resolver.resolve(model, ref)
                except UserError as err:
                    errors.append(err)
                    continue
                resolved.append(ResolvedRef(ref, asset))
                if asset != SELF:
                    upstream.add(asset)
            refs[name][variant_name] = resolved
        # a ref() inside a branch that rendered to nothing still declares a dependency
        for target in model.recording.refs.values():
            if target in project.models or target in project.seeds or target in extra:
                upstream.add(target)
        for source, table in model.recording.sources.values():  # a source() in a comment too
            if f"{source}.{table}" in project.sources:
                upstream.add(f"{source}.{table}")
        dag.add(name, sorted(upstream))
    for name, upstream_names in sorted(extra.items()):
        for up in upstream_names:
            if up not in project.models and up not in project.seeds and up not in extra:
                if up not in project.sources:
                    continue  # reported by the Python asset loader
        dag.add(name, sorted(upstream_names))
    raise_collected(errors)
    for name in sorted(project.seeds):  # a seed no model reads is still an asset (orch seed)
        if name not in dag:
            dag.add(name)
    for name, src in sorted(project.sources.items()):  # so is a source with a freshness rule
        if name not in dag and _declares_freshness(src):
            dag.add(name)
    for name in list(dag.nodes):
        if name not in dag:
            dag.add(name)
    try:
        order = dag.topological_order()
    except ValueError as err:
        cycle = err.args[1]
        path = project.models[cycle[0]].path if cycle and cycle[0] in project.models else None
        raise CycleError(
            "dependency cycle: " + " -> ".join(reversed(cycle)),
            location=Location(path) if path else None,
            hint="Break the cycle: one of these models must not read the next",
        ) from None
    return AssetGraph(dag=dag, refs=refs, order=order)


def _declares_freshness(src: SourceTable) -> bool:
    """Whether ``orch source freshness`` may check the table (its rule is resolved later)."""
    table, source = src.table, src.source
    if "freshness" in table.model_fields_set:
        return table.freshness is not None
    return source.freshness is not None or "freshness" in source.config


# --------------------------------------------------------------------------- positions


def _marker_location(
    model: ParsedModel, function: str, name: str, *, project: str | None = None
) -> Location:
    first = rf"['\"]{re.escape(project)}['\"]" if project is not None else r"['\"][^'\"]*['\"]"
    optional = "" if project is not None else "?"
    pattern = rf"{function}\(\s*(?:{first}\s*,\s*){optional}['\"]{re.escape(name)}['\"]"
    match = re.search(pattern, model.raw)
    if not match:
        return Location(model.path)
    line = model.raw.count("\n", 0, match.start()) + 1
    col = match.start() - (model.raw.rfind("\n", 0, match.start()) + 1) + 1
    return Location(model.path, line, col)


def _bare_location(model: ParsedModel, ref: TableRef) -> Location:
    """Map a reference's position in the rendered SQL back to the model file."""
    raw_lines = model.raw.split("\n")
    token = ref.name
    if model.full.rendered.count("\n") == model.raw.count("\n") and 0 < ref.line <= len(raw_lines):
        line_text = raw_lines[ref.line - 1]
        match = re.search(rf"\b{re.escape(token)}\b", line_text)
        if match:
            # prefer the occurrence nearest the rendered column
            cols = [m.start() + 1 for m in re.finditer(rf"\b{re.escape(token)}\b", line_text)]
            col = min(cols, key=lambda c: abs(c - ref.col))
            return Location(model.path, ref.line, col)
        return Location(model.path, ref.line, ref.col)
    match = re.search(rf"\b{re.escape(token)}\b", model.raw)
    if match:
        line = model.raw.count("\n", 0, match.start()) + 1
        col = match.start() - (model.raw.rfind("\n", 0, match.start()) + 1) + 1
        return Location(model.path, line, col)
    return Location(model.path, ref.line, ref.col)
