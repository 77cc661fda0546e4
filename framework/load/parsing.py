"""Render and parse SQL model files, once each, with results cached by content hash.

``parse_models`` can be scoped: given the names a command needs, it parses those files and then
only the models they read, walking upstream, without touching the rest of the project.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orch import redaction
from orch.errors import ErrorGroup, UserError, raise_collected
from orch.load.cache import ResultCache, content_key, env_digest
from orch.load.project import ModelFile, Project
from orch.load.rendering import REF_PREFIX, THIS_MARKER, Recording, Renderer
from orch.sql import TableRef, fingerprint_sql, parse_query, table_references
from sqlglot import exp


@dataclass
class Variant:
    """One rendering of a model (full build, or incremental) and the tables it reads."""

    rendered: str
    table_refs: list[TableRef]
    query: exp.Expr | None = None  # not cached: re-parsed from ``rendered`` on demand
    # the external tables' nodes in ``query`` as parsed (orch.sql.qualify_tables), or None
    tables: list[exp.Table] | None = field(default=None, repr=False, compare=False)

    def ast(self, dialect: str, path: str) -> exp.Expr:
        """The parsed query (parsing the cached text only when needed)."""
        if self.query is None:
            self.query = parse_query(self.rendered, dialect, path)
            self.tables = None
        return self.query


@dataclass
class ParsedModel:
    """A SQL model after rendering and parsing."""

    name: str
    path: str
    raw: str
    dialect: str
    recording: Recording
    full: Variant
    incremental: Variant | None
    sql_fingerprint: str
    cache_key: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def upstream_names(self) -> set[str]:
        """Names this model may read: refs, and bare table names (resolved later)."""
        names = set(self.recording.refs.values())
        for variant in (self.full, self.incremental):
            if variant is None:
                continue
            for ref in variant.table_refs:
                if ref.name.startswith(REF_PREFIX) or ref.name == THIS_MARKER:
                    continue
                names.add(ref.name)
        return names


def render_context_key(project: Project, renderer: Renderer) -> str:
    """Everything outside a model file that its rendering depends on."""
    t = renderer.target
    return content_key(
        project.name,
        project.config.dialect,
        project.macros_hash(),
        json.dumps(project.variables, sort_keys=True, default=str),
        f"{t.name}|{t.type}|{t.schema}|{t.database}|{t.dialect}",
        json.dumps(sorted(renderer.docs.items())),
    )


class ParseElsewhere(Protocol):
    """Another process that renders and parses some of the models (orch.compiler.helper)."""

    def share(self, names: list[str]) -> Iterator[str]:
        """Start it on ``names`` (SQL models, sorted): the ones to parse here, claimed as this
        process goes (the other process claims the others meanwhile)."""
        ...

    def parsed(self) -> dict[str, tuple[str, dict[str, Any]] | None]:
        """Wait for it: the cache key and entry of each model it claimed, or None (parse it
        here); a model in neither is parsed here too."""
        ...


def parse_models(
    project: Project,
    renderer: Renderer,
    cache: ResultCache,
    names: set[str] | None = None,
    elsewhere: ParseElsewhere | None = None,
) -> dict[str, ParsedModel]:
    """Render and parse SQL models: all of them, or ``names`` and everything upstream of them.

    Collects every user error and raises them together. ``elsewhere`` (all models only) parses
    some of them in another process at the same time.
    """
    context_key = render_context_key(project, renderer)
    if elsewhere is not None and names is None:
        return _parse_split(project, renderer, cache, context_key, elsewhere)
    parsed: dict[str, ParsedModel] = {}
    errors: list[UserError] = []
    queue = deque(sorted(project.models) if names is None else sorted(names))
    seen: set[str] = set()
    while queue:
        name = queue.popleft()
        if name in seen:
            continue
        seen.add(name)
        model_file = project.models.get(name)
        if model_file is None or model_file.language != "sql":
            continue
        try:
            model = _parse_one(project, renderer, cache, model_file, context_key)
        except ErrorGroup as group:
            errors.extend(group.errors)
            continue
        except UserError as err:
            errors.append(err)
            continue
        parsed[name] = model
        if names is not None:
            queue.extend(n for n in model.upstream_names() if n not in seen)
    raise_collected(errors)
    return parsed


def _parse_split(
    project: Project,
    renderer: Renderer,
    cache: ResultCache,
    context_key: str,
    elsewhere: ParseElsewhere,
) -> dict[str, ParsedModel]:
    """``parse_models`` of every model, some of them parsed by ``elsewhere`` meanwhile.

    The result, the errors and the cache are what parsing them all here gives: the other
    process's results are cache entries, read back as a warm load reads them, in name order.
    """
    sql = [n for n in sorted(project.models) if project.models[n].language == "sql"]
    outcome: dict[str, ParsedModel | list[UserError]] = {}
    for name in elsewhere.share(sql):
        outcome[name] = _parse_or_errors(project, renderer, cache, name, context_key)
    entries = elsewhere.parsed()
    for name in sql:
        if name in outcome:
            continue
        model_file = project.models[name]
        entry = entries.get(name)
        model = None
        if entry is not None:
            key, data = entry
            cache.get(key)  # counted as the miss it is
            model = _from_cache(data, model_file, model_file.read(), key, project.root)
            if model is not None:
                cache.put(key, data)
        if model is None:  # it failed there (a user error): here, for the same error
            outcome[name] = _parse_or_errors(project, renderer, cache, name, context_key)
        else:
            outcome[name] = model
    parsed: dict[str, ParsedModel] = {}
    errors: list[UserError] = []
    for name in sql:
        result = outcome[name]
        if isinstance(result, list):
            errors.extend(result)
        else:
            parsed[name] = result
    raise_collected(errors)
    return parsed


def _parse_or_errors(
    project: Project, renderer: Renderer, cache: ResultCache, name: str, context_key: str
) -> ParsedModel | list[UserError]:
    try:
        return _parse_one(project, renderer, cache, project.models[name], context_key)
    except ErrorGroup as group:
        return list(group.errors)
    except UserError as err:
        return [err]


def parse_for_cache(
    project: Project, renderer: Renderer, names: Iterable[str]
) -> tuple[dict[str, ParsedModel], dict[str, tuple[str, dict[str, Any]] | None]]:
    """Parse ``names`` for another process: the models, and each one's cache key and entry
    (None for a model with a user error, which that process reports itself)."""
    context_key = render_context_key(project, renderer)
    cache = ResultCache(None)
    models: dict[str, ParsedModel] = {}
    entries: dict[str, tuple[str, dict[str, Any]] | None] = {}
    for name in names:
        try:
            model = _parse_one(project, renderer, cache, project.models[name], context_key)
        except Exception:  # a user error or a bug: that process meets it again, and reports it
            entries[name] = None
            continue
        models[name] = model
        entries[name] = (model.cache_key, _to_cache(model, project.root))
    return models, entries


def _parse_one(
    project: Project,
    renderer: Renderer,
    cache: ResultCache,
    model_file: ModelFile,
    context_key: str,
) -> ParsedModel:
    raw = model_file.read()
    key = content_key(context_key, model_file.path, raw)
    cached = cache.get(key)
    if cached is not None:
        model = _from_cache(cached, model_file, raw, key, project.root)
        if model is not None:
            return model
    dialect_hint = project.config.dialect
    if "{" in raw:
        text, recording = renderer.render(raw, model_file.path, node=model_file.name)
    else:  # no Jinja at all: compiling a template would cost more than parsing the SQL
        text, recording = raw, Recording()
    dialect = str(recording.config.get("dialect") or dialect_hint)
    live = recording.uses_warehouse
    try:
        full = _variant(text, dialect, model_file.path, raw, live)
    except UserError as err:
        if project.flavor != "dbt" or recording.uses_is_incremental:
            raise _as_written(err, recording) from None
        return _unparsed(model_file, raw, text, dialect, recording, _as_written(err, recording))
    incremental = None
    if recording.uses_is_incremental:
        inc_text, inc_recording = renderer.render(
            raw, model_file.path, incremental=True, node=model_file.name
        )
        # refs called only in the incremental branch still count as dependencies
        for marker, target in inc_recording.refs.items():
            recording.refs.setdefault(marker, target)
        for marker, other in inc_recording.ref_projects.items():
            recording.ref_projects.setdefault(marker, other)
        for marker, table in inc_recording.sources.items():
            recording.sources.setdefault(marker, table)
        recording.uses_warehouse = live = live or inc_recording.uses_warehouse
        try:
            incremental = _variant(inc_text, dialect, model_file.path, raw, live)
        except UserError as err:
            raise _as_written(err, recording) from None
    fingerprint = _sql_fingerprint(full, incremental, recording, dialect, model_file.path, raw)
    model = ParsedModel(
        name=model_file.name,
        path=model_file.path,
        raw=raw,
        dialect=dialect,
        recording=recording,
        full=full,
        incremental=incremental,
        sql_fingerprint=fingerprint,
        cache_key=key,
    )
    cache.put(key, _to_cache(model, project.root))
    return model


PARSE_ERROR = "parse_error"  # ParsedModel.extra: the error of a dbt model that is not SQL


def _unparsed(
    model_file: ModelFile,
    raw: str,
    text: str,
    dialect: str,
    recording: Recording,
    error: UserError,
) -> ParsedModel:
    """A dbt model whose SQL does not parse, kept with its error (not cached): dbt never
    compiles an ephemeral model that nothing reads (dbt-project-evaluator's fake models), so
    the compiler raises ``error`` only when the model is built or read."""
    return ParsedModel(
        name=model_file.name,
        path=model_file.path,
        raw=raw,
        dialect=dialect,
        recording=recording,
        full=Variant(rendered=text, table_refs=marker_references(text)),
        incremental=None,
        sql_fingerprint=content_key("unparsed", raw, json.dumps(sorted(recording.refs.items()))),
        extra={PARSE_ERROR: error},
    )


def _as_written(err: UserError, recording: Recording) -> UserError:
    """``err`` with the ``ref()``/``source()`` markers of its message spelled as the model wrote
    them (``near '__orch_ref_2'`` is ``near ref('stg_orders')``)."""
    calls = {m: f"ref('{a}')" for m, a in recording.refs.items()}
    calls.update({m: f"source('{s}', '{t}')" for m, (s, t) in recording.sources.items()})
    calls[THIS_MARKER] = "this"
    if REF_PREFIX not in err.message and THIS_MARKER not in err.message:
        return err
    message = MARKER.sub(lambda m: calls.get(m.group(0), m.group(0)), err.message)
    return type(err)(message, location=err.location, hint=err.hint)


def _variant(text: str, dialect: str, path: str, raw: str, live: bool = False) -> Variant:
    if live:
        # rendered at run time: the parse-time SQL holds placeholders (dbt's execute=False), and
        # may not even be SQL (an empty column list); its ref()/source() markers are the deps
        return Variant(rendered=text, table_refs=marker_references(text))
    query = parse_query(text, dialect, path)
    tables: list[exp.Table] = []
    refs = table_references(query, text, tables)
    return Variant(rendered=text, table_refs=refs, query=query, tables=tables)


MARKER = re.compile(rf"\b(?:{REF_PREFIX}\d+|{THIS_MARKER})\b")  # ref(), source(), this


def marker_references(text: str) -> list[TableRef]:
    """The ref()/source()/this markers of a text, found without parsing it."""
    refs = []
    for match in MARKER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
        refs.append(TableRef(match.group(0), None, None, match.start(), match.end() - 1, line, col))
    return refs


def _sql_fingerprint(
    full: Variant,
    incremental: Variant | None,
    recording: Recording,
    dialect: str,
    path: str,
    raw: str,
) -> str:
    h = hashlib.sha256()
    if recording.uses_warehouse:  # what runs is known only at run time: the template is it
        h.update(b"live\0" + raw.encode())
    else:
        h.update(fingerprint_sql(full.ast(dialect, path), dialect).encode())
    if incremental is not None and not recording.uses_warehouse:
        h.update(fingerprint_sql(incremental.ast(dialect, path), dialect).encode())
    # markers are positional: the names they stand for are part of the meaning
    h.update(
        json.dumps([sorted(recording.refs.items()), sorted(recording.sources.items())]).encode()
    )
    return h.hexdigest()


# ------------------------------------------------------------------------- cache (de)serialization


def _to_cache(model: ParsedModel, root: Path) -> dict[str, Any]:
    rec = model.recording
    return {
        "dialect": model.dialect,
        "recording": {
            "refs": rec.refs,
            "ref_projects": rec.ref_projects,
            "sources": {k: list(v) for k, v in rec.sources.items()},
            "config": rec.config,
            "vars_used": sorted(rec.vars_used),
            "env_vars_used": sorted(rec.env_vars_used),
            "uses_is_incremental": rec.uses_is_incremental,
            "uses_partition": rec.uses_partition,
            "uses_warehouse": rec.uses_warehouse,
        },
        "env": env_digest(rec.env_vars_used, root),
        "full": _variant_to_cache(model.full),
        "incremental": _variant_to_cache(model.incremental) if model.incremental else None,
        "fingerprint": model.sql_fingerprint,
    }


def _variant_to_cache(variant: Variant) -> dict[str, Any]:
    # vars(), not asdict(): the same dict (flat fields, in order) without asdict's deep copies
    return {"rendered": variant.rendered, "refs": [dict(vars(r)) for r in variant.table_refs]}


def _from_cache(
    data: dict[str, Any], model_file: ModelFile, raw: str, key: str, root: Path
) -> ParsedModel | None:
    try:
        rec_data = data["recording"]
        if data["env"] != env_digest(rec_data["env_vars_used"], root):
            return None  # an env var it reads changed: render again
        for name in rec_data["env_vars_used"]:
            value = os.environ.get(name)
            if value is not None:
                redaction.register(name, value)
        recording = Recording(
            refs=dict(rec_data["refs"]),
            ref_projects=dict(rec_data["ref_projects"]),
            sources={k: (v[0], v[1]) for k, v in rec_data["sources"].items()},
            config=dict(rec_data["config"]),
            vars_used=set(rec_data["vars_used"]),
            env_vars_used=set(rec_data["env_vars_used"]),
            uses_is_incremental=bool(rec_data["uses_is_incremental"]),
            uses_partition=bool(rec_data["uses_partition"]),
            uses_warehouse=bool(rec_data.get("uses_warehouse", False)),
        )
        inc = data["incremental"]
        return ParsedModel(
            name=model_file.name,
            path=model_file.path,
            raw=raw,
            dialect=data["dialect"],
            recording=recording,
            full=_variant_from_cache(data["full"]),
            incremental=_variant_from_cache(inc) if inc else None,
            sql_fingerprint=data["fingerprint"],
            cache_key=key,
        )
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def _variant_from_cache(data: dict[str, Any]) -> Variant:
    return Variant(rendered=data["rendered"], table_refs=[TableRef(**r) for r in data["refs"]])
