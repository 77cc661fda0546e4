"""Hooks, rendered: a model's ``pre-hook``/``post-hook`` and the project's
``on-run-start``/``on-run-end`` (dbt), as :class:`~orch.manifest.HookSql` in the manifest.

dbt keeps hooks as templates and renders them when they run; orch renders them when it compiles,
with the same context: ``this`` (the model's relation), ``target``, ``var``, ``env_var``,
``ref``/``source`` (to assets compiled before the model, which is every upstream one),
``invocation_id`` (the run's id, put in when the hook runs), and for on-run hooks ``schemas`` /
``database_schemas`` (those of the assets the project writes). A hook that queries the warehouse
while rendering, or reads ``results`` (on-run-end), is rendered again when it runs
(``HookSql.rendered_at_run_time``), as dbt renders every hook.

Order (dbt's): hooks accumulate over the layers, project-file folders first (outer folders before
inner), then the YAML ``config:``, then ``config()`` in the model. A hook is a string, a
``{sql: ..., transaction: false}`` mapping, or ``before_begin(...)``/``after_commit(...)``.
Running them is :mod:`orch.run.hooks`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orch.errors import ConfigError, Location, TemplateError, UnsupportedFeatureError
from orch.load.rendering import INVOCATION_MARKER, THIS_MARKER, Renderer
from orch.manifest import HookSql, Node

HOOK_PHASES = ("pre_hook", "post_hook")


class HookRelation:
    """``this`` in a model's hook: renders as the relation, with dbt's attributes."""

    def __init__(
        self,
        database: str | None,
        schema: str,
        identifier: str,
        rendered: str,
        type: str | None = None,  # noqa: A002 (dbt's name)
    ) -> None:
        self.database = database
        self.schema = schema
        self.identifier = identifier
        self.name = identifier
        self.type = type
        self._rendered = rendered

    def incorporate(self, type: str | None = None, **_: Any) -> HookRelation:  # noqa: A002
        """dbt's ``this.incorporate(type='table')``: the relation with its type set."""
        kind = type or self.type
        return HookRelation(self.database, self.schema, self.identifier, self._rendered, kind)

    def __str__(self) -> str:
        return self._rendered

    def __html__(self) -> str:
        return self._rendered


class _HookAdapter:
    """``adapter`` in a hook: dbt runs ``{% do adapter.drop_relation(rel) %}`` as the hook is
    rendered, just before its SQL; orch renders hooks at compile time, so the drop becomes a
    statement of the hook, run at the same moment. Everything else is the renderer's
    ``adapter``."""

    def __init__(self, inner: Any, origin: str) -> None:
        self._inner = inner
        self._origin = origin
        self.statements: list[str] = []

    def drop_relation(self, relation: Any) -> str:
        """``drop <type> if exists <relation>``, the way dbt's ``drop_relation`` drops it."""
        kind = getattr(relation, "type", None)
        if not isinstance(relation, HookRelation) or kind not in ("table", "view"):
            raise UnsupportedFeatureError(
                "adapter.drop_relation() in a hook of something other than {{ this }} with a "
                "known type is not supported by orch",
                location=Location(self._origin),
                hint="Write drop_relation(this.incorporate(type='table')), or the SQL itself: "
                "drop table if exists {{ this }}",
            )
        self.statements.append(f"drop {kind} if exists {relation} cascade")
        return ""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._inner, name)


class _ResultsWhileCompiling(list[Any]):
    """``results`` in an on-run hook while orch compiles it: empty, and reading it marks the
    hook rendered again when it runs, where ``results`` are the run's (orch.run.hooks)."""

    def __init__(self, mark: Callable[[], None]) -> None:
        super().__init__()
        self._mark = mark

    def __iter__(self) -> Any:
        self._mark()
        return super().__iter__()

    def __len__(self) -> int:
        self._mark()
        return 0

    def __bool__(self) -> bool:
        self._mark()
        return False


def hook_items(raw: Any, origin: str) -> list[tuple[str, bool]]:
    """A hook setting (string, mapping or list of them) as ``(sql template, in transaction)``."""
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    out: list[tuple[str, bool]] = []
    for item in items:
        if item is None or item == "":
            continue
        if isinstance(item, dict) and "sql" in item:
            transaction = item.get("transaction", True)
            if not isinstance(transaction, bool):
                raise ConfigError(
                    f"invalid hook in {origin}: transaction must be true or false",
                    location=Location(origin),
                    hint="Write {sql: '...', transaction: false}",
                )
            out.append((str(item["sql"]), transaction))
        elif isinstance(item, str):
            out.append((item, True))
        else:
            raise ConfigError(
                f"invalid hook in {origin}: {item!r}",
                location=Location(origin),
                hint="A hook is SQL text, or {sql: '...', transaction: false}",
            )
    return out


def render_hooks(
    renderer: Renderer,
    raw: Any,
    origin: str,
    *,
    this: HookRelation | None,
    relation_of: Callable[[str, str], str],
    context: dict[str, Any] | None = None,
) -> list[HookSql]:
    """Render one hook setting; ``relation_of(asset, marker)`` names what ``ref``/``source``
    point at, ``this`` the model's relation (None for on-run hooks)."""
    out: list[HookSql] = []
    for template, transaction in hook_items(raw, origin):
        ctx = {"invocation_id": INVOCATION_MARKER, **(context or {})}
        adapter = _HookAdapter(renderer.env.globals.get("adapter"), origin)
        if this is not None:
            ctx["this"] = this
            ctx["adapter"] = adapter
        try:
            text, recording = renderer.render(template, origin, context=ctx)
        except UnsupportedFeatureError:
            raise
        except TemplateError as err:
            raise TemplateError(
                f"hook cannot be rendered: {err.message}",
                location=Location(origin),
                hint=err.hint,
            ) from None
        if recording.uses_warehouse:  # rendered again when it runs, with the warehouse
            out.append(HookSql(sql="", transaction=transaction, origin=origin,
                               rendered_at_run_time=True, raw_code=template))  # fmt: skip
            continue
        if this is None and THIS_MARKER in text:
            raise TemplateError(
                "'this' in an on-run hook: there is no model there",
                location=Location(origin),
                hint="Name the relation, e.g. {{ target.schema }}.my_table",
            )
        if this is not None:
            text = text.replace(THIS_MARKER, str(this))
        markers = {**recording.refs, **{m: f"{s}.{t}" for m, (s, t) in recording.sources.items()}}
        for marker in sorted(markers, key=len, reverse=True):  # __orch_ref_10 before _1
            text = text.replace(marker, relation_of(markers[marker], origin))
        out.extend(HookSql(sql=sql, transaction=transaction, origin=origin)
                   for sql in adapter.statements)  # fmt: skip
        out.append(HookSql(sql=text.strip(), transaction=transaction, origin=origin))
    return out


def run_hook_context(nodes: dict[str, Node], renderer: Renderer) -> dict[str, Any]:
    """``schemas``, ``database_schemas`` and ``results`` as on-run hooks see them."""
    schemas = sorted({n.relation.schema_name for n in nodes.values()
                      if n.relation is not None and n.resource_type != "source"})  # fmt: skip
    pairs = sorted({(n.relation.database or "", n.relation.schema_name) for n in nodes.values()
                    if n.relation is not None and n.resource_type != "source"})  # fmt: skip
    results = _ResultsWhileCompiling(renderer.mark_rendered_at_run_time)
    return {"schemas": schemas, "database_schemas": pairs, "results": results}
