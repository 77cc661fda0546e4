"""Compile the members of a workspace: each on demand, each once, reading the others' models.

:class:`WorkspaceCompiler` gives each member a view of the others (:class:`MemberView`, the
:class:`~orch.load.workspace.ForeignModels` of its project). A member is compiled the first time
another reads it, so the compile order follows the cross-project references, and a member asked
for while it is still being compiled closes a reference cycle (an error naming the path). A
member's manifest is reused as usual, and also checked against the models it read from the
others last time (``target/workspace_reads.json``).

The contract check compares each public model with ``contract: true`` to the columns it last
shipped with (``target/contracts.json``, written after a build) and refuses a removed column or
a changed type while other members read the model.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from orch.compiler.artifacts import CompileResult, project_key, reuse_manifest
from orch.config import DuckDBAttachConfig, DuckDBTargetConfig, RunOptions, TargetConfig
from orch.errors import (
    ConfigError,
    ContractBrokenError,
    CycleError,
    ErrorGroup,
    Location,
    ProjectError,
    UserError,
)
from orch.load.project import Project, load_project
from orch.load.workspace import (
    ACCESS_LEVELS,
    DEFAULT_ACCESS,
    ForeignModel,
    Member,
    Workspace,
    find_workspace_file,
    load_workspace,
)
from orch.manifest import Manifest

READS_FILE = "workspace_reads.json"
READERS_FILE = "workspace_readers.json"  # 'member.model' -> the files of this member reading it
CONTRACTS_FILE = "contracts.json"


@dataclass
class MemberView:
    """What one member sees of the others (attached to its Project as ``foreign``)."""

    compiler: WorkspaceCompiler
    member: str
    warehouse_key: str
    reads: dict[str, str] = field(default_factory=dict)  # member -> digest of what was read

    @property
    def members(self) -> frozenset[str]:
        """The other members' names."""
        return frozenset(m for m in self.compiler.workspace.members if m != self.member)

    def models_of(self, project: str, where: Location | None) -> dict[str, ForeignModel]:
        """The models of member ``project``; compiles it first if needed."""
        models = self.compiler.catalog(project, reader=self.member, where=where)
        self.reads[project] = self.compiler.digest(project)
        for name in models:
            self.compiler.readers.setdefault(f"{project}.{name}", set())
        return models

    def note_read(self, asset: str, path: str) -> None:
        """Record that this member's ``path`` reads ``asset`` (for the contract check)."""
        shown = self.compiler.prefix(self.member) + path
        self.compiler.readers.setdefault(asset, set()).add(f"{self.member}|{shown}")

    def owner(self, project: str) -> Project:
        """The loaded project of member ``project`` (compiled if it was not yet)."""
        return self.compiler.compile(project).project

    def warehouse(self) -> str:
        """The warehouse the asking member writes to."""
        return self.warehouse_key

    def identity(self) -> str:
        """What the member's manifest depends on beyond its files: the workspace's members."""
        ws = self.compiler.workspace
        return f"{ws.path}:{','.join(sorted(ws.members))}"


class WorkspaceCompiler:
    """Compiles members on demand (each once), in the order their references need."""

    def __init__(
        self, workspace: Workspace, options: RunOptions, *, shown_from: Path | None = None
    ) -> None:
        self.workspace = workspace
        self.shown_from = shown_from or workspace.root  # error paths are relative to it
        self.options = options
        self.results: dict[str, CompileResult] = {}
        self.catalogs: dict[str, dict[str, ForeignModel]] = {}
        self.digests: dict[str, str] = {}
        self.order: list[str] = []  # members in the order they finished compiling
        self.readers: dict[str, set[str]] = {}  # 'member.model' -> 'reader (path)'
        self.errors: dict[str, UserError] = {}  # member -> why it did not load
        self._compiling: list[str] = []

    def options_for(self, member: Member) -> RunOptions:
        """The command's options, pointed at one member (its own profile and target)."""
        return replace(self.options, project_dir=member.root, select=(), exclude=())

    def compile(
        self, name: str, project: Project | None = None, names: set[str] | None = None
    ) -> CompileResult:
        """Compile member ``name`` (reusing its manifest when nothing it reads changed).

        ``names`` scopes the compile to those models' ancestry, as in ``compile_or_reuse``
        (for the member a command runs in; members read by others compile whole).
        """
        if name in self.results:
            return self.results[name]
        if name in self.errors:
            err = ProjectError(
                f"project '{name}' did not load (see its error)",
                location=self.workspace.members[name].location,
            )
            err.shown_in_workspace = True  # type: ignore[attr-defined]
            err.because_of = name  # type: ignore[attr-defined]
            raise err
        member = self.workspace.members[name]
        self._compiling.append(name)
        try:
            try:
                project = project or load_project(self.options_for(member))
                view = MemberView(self, name, warehouse_key(project))
                project.foreign = view
                result = _compile_with(project, self.options_for(member), view, names)
            except UserError as err:
                if not getattr(err, "shown_in_workspace", False):
                    err = in_member(err, self.prefix(name))
                    err.shown_in_workspace = True  # type: ignore[attr-defined]
                raise err from None
        finally:
            self._compiling.pop()
        result.project.target = with_attachments(result.project.target, result.manifest)
        self.results[name] = result
        self.order.append(name)
        return result

    def compile_all(self, *, keep_going: bool = False) -> dict[str, CompileResult]:
        """Every member, producers before their consumers.

        A member that fails to load raises (every member's errors together), unless
        ``keep_going``: then its error is kept in ``errors`` and the others (those that do not
        read it) are compiled all the same.
        """
        for name in self.workspace.members:
            if name in self.results or name in self.errors:
                continue
            try:
                self.compile(name)
            except UserError as err:
                self.errors[name] = err
        if self.errors and not keep_going:
            found = [e for err in self.errors.values() for e in _flat(err)]
            # "X did not load" adds nothing when X's own error is shown
            found = [e for e in found if not hasattr(e, "because_of")] or found
            unique = list({id(e): e for e in found}.values())
            raise ErrorGroup(unique) if len(unique) > 1 else unique[0]
        return {n: self.results[n] for n in self.order}

    def catalog(self, name: str, *, reader: str, where: Location | None) -> dict[str, ForeignModel]:
        """The models of member ``name`` as other members see them."""
        if name in self._compiling:
            path = [*self._compiling[self._compiling.index(name) :], name]
            raise CycleError(
                "reference cycle across projects: " + " -> ".join(path),
                location=where,
                hint=f"'{reader}' reads '{name}', which (through the others) reads '{reader}': "
                "one of these projects must stop reading the next",
            )
        if name not in self.catalogs:
            result = self.compile(name)
            self.catalogs[name] = catalog_of(result.project, result.manifest)
        return self.catalogs[name]

    def digest(self, name: str) -> str:
        """The digest of member ``name``'s catalog (computed once)."""
        if name not in self.digests:
            self.digests[name] = catalog_digest(self.catalogs[name])
        return self.digests[name]

    def prefix(self, name: str) -> str:
        """The member's folder as error paths show it ('' for the folder they are relative to)."""
        root = self.workspace.members[name].root
        if root == self.shown_from:
            return ""
        return Path(os.path.relpath(root, self.shown_from)).as_posix() + "/"

    def contract_specs(self, name: str) -> list[ContractSpec]:
        """The public models of compiled member ``name`` that have an enforced contract."""
        result = self.results[name]
        out = []
        for model in self.catalog(name, reader=name, where=None).values():
            if model.access != "public" or not model.contract:
                continue
            props = result.project.properties.get(model.name)
            where = (
                props.doc.location(props.key_path) if props is not None else Location(model.path)
            )
            shown = in_member(ProjectError("", location=where), self.prefix(name)).location
            out.append(
                ContractSpec(
                    member=name,
                    model=model.name,
                    columns=dict(model.columns),
                    location=shown or Location(model.path),
                    contracts_file=result.project.target_dir / CONTRACTS_FILE,
                )
            )
        return out

    def all_readers(self) -> dict[str, set[str]]:
        """'member.model' -> 'reader|path' of every member compiled here, and for the others
        what their last compile recorded (``target/workspace_readers.json``)."""
        out = {asset: set(found) for asset, found in self.readers.items()}
        for name, member in self.workspace.members.items():
            if name in self.results:
                continue
            for asset, paths in read_recorded_readers(member.root).items():
                out.setdefault(asset, set()).update(
                    f"{name}|{self.prefix(name)}{path}" for path in paths
                )
        return out

    def check_contracts(self, specs: list[ContractSpec] | None = None) -> None:
        """Refuse a breaking change to a public model's contract that another member reads.

        ``specs``: the contracted models to check (default: those of every compiled member).
        """
        if specs is None:
            specs = [spec for name in self.results for spec in self.contract_specs(name)]
        readers_of = self.all_readers() if specs else {}
        errors: list[UserError] = []
        for spec in specs:
            readers = sorted(readers_of.get(spec.asset, ()))
            old = read_contracts_file(spec.contracts_file).get(spec.model)
            broken = breaking_changes(old, spec.columns) if readers and old else []
            if not broken:
                continue
            by_member: dict[str, list[str]] = {}
            for reader in readers:
                member, _, path = reader.partition("|")
                by_member.setdefault(member, []).append(path)
            read_by = "; ".join(f"{m} ({', '.join(p)})" for m, p in by_member.items())
            errors.append(
                ContractBrokenError(
                    f"public model '{spec.asset}' breaks its contract "
                    f"({'; '.join(broken)}), and project"
                    f"{'s' if len(by_member) > 1 else ''} {', '.join(by_member)} "
                    f"read{'' if len(by_member) > 1 else 's'} it: {read_by}",
                    location=spec.location,
                    hint="Keep the column and its type (add new columns instead), or update "
                    "those projects first, then accept the change with 'orch contract accept "
                    f"{spec.asset}'",
                )
            )
        if errors:
            raise ErrorGroup(errors) if len(errors) > 1 else errors[0]


@dataclass(frozen=True)
class ContractSpec:
    """A public model with an enforced contract, as the contract check needs it."""

    member: str
    model: str
    columns: dict[str, str | None]
    location: Location  # where the contract is declared, as messages show it
    contracts_file: Path  # the owner's target/contracts.json (what it last shipped)

    @property
    def asset(self) -> str:
        """``member.model``."""
        return f"{self.member}.{self.model}"


def _flat(err: UserError) -> list[UserError]:
    return list(err.errors) if isinstance(err, ErrorGroup) else [err]


def _compile_with(
    project: Project, options: RunOptions, view: MemberView, names: set[str] | None = None
) -> CompileResult:
    """compile_or_reuse for a project inside a workspace (its reads checked, then recorded)."""
    key = project_key(project)
    reused = reuse_manifest(project, key) if key else None
    if reused is not None and _reads_unchanged(project, view, reused.manifest):
        return reused
    models = importlib.import_module("orch.compiler.models")
    view.reads.clear()
    result: CompileResult = models.compile_project(
        options, names, project=project, write_files=True
    )
    for node in result.manifest.nodes.values():
        member = (
            node.config.meta.get("workspace_member") if node.resource_type == "source" else None
        )
        if member is not None:
            for child in result.manifest.children.get(node.name, []):
                view.note_read(node.name, result.manifest.nodes[child].path or child)
    if not result.scoped:  # what a full manifest was compiled against (its reuse checks it)
        reads_path = project.target_dir / READS_FILE
        reads_path.parent.mkdir(parents=True, exist_ok=True)
        reads_path.write_text(json.dumps(view.reads, sort_keys=True), encoding="utf-8")
        # what it reads, for a contract check run where this member is not compiled
        (project.target_dir / READERS_FILE).write_text(
            json.dumps(foreign_readers(result.manifest), sort_keys=True), encoding="utf-8"
        )
    return result


def foreign_readers(manifest: Manifest) -> dict[str, list[str]]:
    """'member.model' of another member -> the files of this manifest that read it."""
    out: dict[str, list[str]] = {}
    for node in manifest.nodes.values():
        if node.resource_type == "source" and node.config.meta.get("workspace_member"):
            out[node.name] = sorted(
                manifest.nodes[c].path or c for c in manifest.children.get(node.name, [])
            )
    return out


def read_recorded_readers(root: Path, target_path: str = "target") -> dict[str, list[str]]:
    """What a member's last full compile recorded of its reads of other members."""
    try:
        data = json.loads((root / target_path / READERS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _reads_unchanged(project: Project, view: MemberView, manifest: Manifest) -> bool:
    """Whether the models this member read from the others are as when it was compiled."""
    try:
        recorded = json.loads((project.target_dir / READS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict):
        return False
    for other, digest in recorded.items():
        if other not in view.members:
            return False
        view.models_of(other, None)
        if view.reads.get(other) != digest:
            return False
    for node in manifest.nodes.values():
        if node.resource_type == "source" and node.config.meta.get("workspace_member"):
            for child in manifest.children.get(node.name, []):
                view.note_read(node.name, manifest.nodes[child].path or child)
    readers_path = project.target_dir / READERS_FILE
    if not readers_path.exists():  # compiled by an orch that did not record it
        readers_path.write_text(json.dumps(foreign_readers(manifest)), encoding="utf-8")
    return True


# --------------------------------------------------------------------------- catalog


def catalog_of(project: Project, manifest: Manifest) -> dict[str, ForeignModel]:
    """Each model of a compiled member: relation, access (dbt's default: protected), contract."""
    out: dict[str, ForeignModel] = {}
    key = warehouse_key(project)
    for node in manifest.nodes.values():
        if node.resource_type != "model" or node.relation is None:
            continue
        access = node.config.extra.get("access")
        props = project.properties.get(node.name)
        if access is None and props is not None:
            access = props.entry.access
        access = access or DEFAULT_ACCESS
        if access not in ACCESS_LEVELS:
            where = (
                props.doc.location((*props.key_path, "access"))
                if props is not None
                else Location(node.path or node.name)
            )
            raise ConfigError(
                f"access '{access}' of model '{node.name}' is not one of "
                + ", ".join(ACCESS_LEVELS),
                location=where,
                hint="Write access: public (readable by other projects), protected or private",
            )
        rel = node.relation
        out[node.name] = ForeignModel(
            project=project.name,
            name=node.name,
            database=rel.database,
            schema_name=rel.schema_name,
            identifier=rel.identifier,
            access=access,  # type: ignore[arg-type]
            contract=node.config.contract,
            columns={c.name: c.data_type for c in node.columns.values()},
            description=node.description,
            path=node.path or "",
            warehouse=key,
        )
    return out


def catalog_digest(models: dict[str, ForeignModel]) -> str:
    """A hash of what a consumer compiles against."""
    h = hashlib.sha256()
    for name, m in sorted(models.items()):
        columns = json.dumps(m.columns, sort_keys=True)
        h.update(
            f"{name}|{m.database}|{m.schema_name}|{m.identifier}|{m.access}|{m.contract}|"
            f"{columns}|{m.description}|{m.path}|{m.warehouse}\n".encode()
        )
    return h.hexdigest()


def warehouse_key(project: Project) -> str:
    """Which warehouse a member writes to: DuckDB's file, or the target's type and database."""
    target = project.target
    path = getattr(target, "path", None)
    if target.type == "duckdb":
        raw = str(path or "")
        if raw and not raw.startswith((":memory:", "md:")):
            file = Path(raw).expanduser()
            return f"duckdb:{file if file.is_absolute() else (project.root / file).resolve()}"
        return f"duckdb:{raw or (project.root / 'warehouse.duckdb').resolve()}"
    account = getattr(target, "account", None) or ""
    if target.type == "snowflake":  # one account reads all its databases (names are qualified)
        return f"snowflake:{account}"
    return f"{target.type}:{account}:{target.database or ''}"


def with_attachments(target: TargetConfig, manifest: Manifest) -> TargetConfig:
    """The target, with each other member's DuckDB file its models read attached read-only
    (so every command that opens the warehouse can read them)."""
    if not isinstance(target, DuckDBTargetConfig):
        return target
    have = {a.alias for a in target.attach}
    extra: list[DuckDBAttachConfig] = []
    for node in manifest.nodes.values():
        path, alias = node.config.meta.get("attach_path"), node.config.meta.get("attach_alias")
        if node.resource_type != "source" or not isinstance(path, str):
            continue
        if isinstance(alias, str) and alias not in have:
            have.add(alias)
            extra.append(DuckDBAttachConfig(path=path, alias=alias))
    if not extra:
        return target
    return target.model_copy(update={"attach": [*target.attach, *extra]})


# --------------------------------------------------------------------------- contracts


def read_contracts(project: Project) -> dict[str, dict[str, str | None]]:
    """The columns each public contracted model last shipped with (after a build)."""
    return read_contracts_file(project.target_dir / CONTRACTS_FILE)


def read_contracts_file(path: Path) -> dict[str, dict[str, str | None]]:
    """``target/contracts.json``: model -> the columns (and types) it last shipped with."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def accept_contracts(
    compiler: WorkspaceCompiler, member: str, models: set[str] | None = None
) -> list[tuple[ContractSpec, list[str]]]:
    """Record the current columns of ``member``'s public contracted models (``models``: only
    those) as shipped: the next check compares with them. Returns each spec and what changed."""
    specs = [s for s in compiler.contract_specs(member) if models is None or s.model in models]
    out = []
    for spec in specs:
        shipped = read_contracts_file(spec.contracts_file)
        old = shipped.get(spec.model)
        if old:
            changes = breaking_changes(old, spec.columns)
            changes += [f"column '{c}' added" for c in sorted(set(spec.columns) - set(old))]
        else:  # never shipped: this is its first contract
            changes = ["first recorded: " + ", ".join(sorted(spec.columns))]
        shipped[spec.model] = dict(spec.columns)
        spec.contracts_file.parent.mkdir(parents=True, exist_ok=True)
        spec.contracts_file.write_text(
            json.dumps(shipped, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        out.append((spec, changes))
    return out


def write_contracts(project: Project, manifest: Manifest, built: set[str]) -> None:
    """Record the contract of each public contracted model this build shipped."""
    shipped = read_contracts(project)
    for model in catalog_of(project, manifest).values():
        if model.access == "public" and model.contract and model.name in built:
            shipped[model.name] = dict(model.columns)
    path = project.target_dir / CONTRACTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(shipped, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def breaking_changes(old: dict[str, str | None], new: dict[str, str | None]) -> list[str]:
    """Removed columns and changed types (a new column breaks nobody)."""
    out = []
    for column, old_type in old.items():
        if column not in new:
            out.append(f"column '{column}' removed")
        elif old_type and new[column] and str(old_type).lower() != str(new[column]).lower():
            out.append(f"column '{column}' changed type from {old_type} to {new[column]}")
    return out


# --------------------------------------------------------------------------- member mode


def attach_workspace(project: Project, options: RunOptions) -> WorkspaceCompiler | None:
    """Inside a member's folder: give the project its workspace, if one lists it."""
    found = find_workspace_file(project.root)
    if found is None:
        return None
    workspace = load_workspace(found, os.path.relpath(found, project.root))
    member = workspace.member_at(project.root)
    if member is None:
        return None
    return WorkspaceCompiler(workspace, options, shown_from=member.root)


def in_member(err: UserError, prefix: str) -> UserError:
    """The error with its location shown from the workspace root."""
    if not prefix:
        return err
    if isinstance(err, ErrorGroup):
        return ErrorGroup([in_member(e, prefix) for e in err.errors])
    loc = err.location
    if loc is not None and not loc.path.startswith(prefix) and not Path(loc.path).is_absolute():
        err.location = Location(prefix + loc.path, loc.line, loc.col)
    return err
