"""``orch source freshness``: how old each declared source's newest row is (dbt's command).

Per source table with a rule (``loaded_at_field`` plus ``warn_after``/``error_after``,
resolved with dbt's inheritance by :func:`orch.compiler.settings.source_freshness`), one query
through the adapter::

    select max(<loaded_at_field>), current_timestamp from <relation> [where <filter>]

The age is the warehouse's ``current_timestamp`` minus that maximum (a time without a zone is
UTC). Status, as in dbt: ``error`` past ``error_after``, else ``warn`` past ``warn_after``, else
``pass``; ``runtime error`` when the query fails (the message names the source) or the table has
no row; ``skipped`` without a ``loaded_at_field``. The command exits 1 when any table errs.

The results are kept in the state store (one JSON document per target, under the
``source_freshness:<target>`` cursor, so both stores keep them without a schema change) for
``orch status`` and the docs site's source pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from orch.adapters import get_adapter
from orch.adapters.base import Adapter
from orch.errors import Location, OrchError
from orch.manifest import Manifest, Node
from orch.names import Relation
from orch.redaction import scrub
from orch.sql import parse_condition
from orch.state import StateReader, StateStore
from sqlglot import exp

Status = Literal["pass", "warn", "error", "runtime error", "skipped"]
FAILING: frozenset[str] = frozenset({"error", "runtime error"})


@dataclass(frozen=True)
class SourceFreshnessResult:
    """One source table's freshness at one moment."""

    source: str  # source.table
    status: Status
    checked_at: str  # ISO time of the check (UTC)
    max_loaded_at: str | None = None
    snapshotted_at: str | None = None
    age_s: float | None = None
    warn_after: str | None = None
    error_after: str | None = None
    filter: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    @property
    def message(self) -> str:
        """One line: status, age and the thresholds (or the error)."""
        if self.status == "runtime error":
            return f"{self.source}: {self.error}"
        if self.status == "skipped":
            return f"{self.source}: skipped ({self.error})"
        limits = ", ".join(
            f"{k} {v}" for k, v in (("warn after", self.warn_after),
                                    ("error after", self.error_after)) if v
        )  # fmt: skip
        return f"{self.source}: newest row {describe_age(self.age_s or 0)} old ({limits})"


def describe_age(seconds: float) -> str:
    """``3h 12m``, ``2d 4h``, ``45s``."""
    s = int(seconds)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def freshness_sources(manifest: Manifest, selected: Iterable[str] | None = None) -> list[Node]:
    """The source tables with a freshness rule (among ``selected`` when given), sorted."""
    wanted = None if selected is None else set(selected)
    return sorted(
        (
            n
            for n in manifest.nodes.values()
            if n.resource_type == "source"
            and n.source_freshness is not None
            and (wanted is None or n.name in wanted)
        ),
        key=lambda n: n.name,
    )


def freshness_query(adapter: Adapter, node: Node, dialect: str) -> str:
    """The one query: ``select max(field), current_timestamp from relation [where filter]``."""
    rule = node.source_freshness
    assert rule is not None and rule.loaded_at_field is not None and node.relation is not None
    rel = node.relation
    table = adapter.table_expression(Relation(rel.database, rel.schema_name, rel.identifier))
    column = exp.column(rule.loaded_at_field, quoted=True)
    query = exp.select(
        exp.Max(this=column).as_("max_loaded_at"),
        exp.CurrentTimestamp().as_("snapshotted_at"),
    ).from_(table)
    if rule.filter:
        where = Location(node.path or "", 0, 0)
        query = query.where(parse_condition(rule.filter, dialect, where))
    return query.sql(dialect=dialect)


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):  # a date
        value = datetime(value.year, value.month, value.day)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def check_source(
    adapter: Adapter, node: Node, dialect: str, now: datetime
) -> SourceFreshnessResult:
    """One source table's result; a failing query is a ``runtime error`` naming the source."""
    rule = node.source_freshness
    assert rule is not None
    base: dict[str, Any] = {
        "source": node.name,
        "checked_at": now.isoformat(),
        "warn_after": str(rule.warn_after) if rule.warn_after else None,
        "error_after": str(rule.error_after) if rule.error_after else None,
        "filter": rule.filter,
    }
    if rule.loaded_at_field is None:
        return SourceFreshnessResult(
            status="skipped", error="no loaded_at_field on the source or the table", **base
        )
    try:
        rows = adapter.fetch_rows(freshness_query(adapter, node, dialect))
    except Exception as err:  # noqa: BLE001 - the per-source boundary: report, go on
        text = err.format_message() if isinstance(err, OrchError) else str(err)
        first = scrub(text.strip().splitlines()[0] if text.strip() else type(err).__name__)
        return SourceFreshnessResult(
            status="runtime error",
            error=f"freshness query of source '{node.name}' failed: {first}",
            **base,
        )
    newest = _aware(rows[0][0]) if rows else None
    snapped = _aware(rows[0][1]) if rows else None
    if newest is None:
        return SourceFreshnessResult(
            status="runtime error",
            error=f"source '{node.name}' has no row with a {rule.loaded_at_field}"
            + (" matching its filter" if rule.filter else ""),
            **base,
        )
    snapped = snapped or now
    age = max(0.0, (snapped - newest).total_seconds())
    status: Status = "pass"
    if rule.error_after is not None and age > rule.error_after.seconds:
        status = "error"
    elif rule.warn_after is not None and age > rule.warn_after.seconds:
        status = "warn"
    return SourceFreshnessResult(
        status=status,
        max_loaded_at=newest.isoformat(),
        snapshotted_at=snapped.isoformat(),
        age_s=age,
        **base,
    )


def cursor_name(target: str) -> str:
    """Where a target's latest results are kept in the state store."""
    return f"source_freshness:{target}"


def check_freshness(
    manifest: Manifest,
    adapter_target: Any,
    project_root: Any,
    state: StateStore | None,
    *,
    target: str,
    selected: Iterable[str] | None = None,
    now: datetime | None = None,
) -> list[SourceFreshnessResult]:
    """Check every selected source table with a rule; store the results when ``state`` is given.

    Results merge into the stored ones by source (a selection updates only what it checked).
    """
    nodes = freshness_sources(manifest, selected)
    when = now or datetime.now(timezone.utc)
    results: list[SourceFreshnessResult] = []
    if nodes:
        with get_adapter(adapter_target, project_root) as adapter:
            results = [check_source(adapter, n, adapter.dialect, when) for n in nodes]
    if state is not None and results:
        stored = latest_results(state, target)
        stored.update({r.source: r for r in results})
        payload = {name: r.to_json() for name, r in sorted(stored.items())}
        state.set_cursor(cursor_name(target), json.dumps(payload, sort_keys=True))
    return results


def latest_results(state: StateReader | None, target: str) -> dict[str, SourceFreshnessResult]:
    """The stored results of a target, by source (empty when never checked)."""
    if state is None:
        return {}
    text = state.get_cursor(cursor_name(target))
    if not text:
        return {}
    data: Mapping[str, Any] = json.loads(text)
    return {name: SourceFreshnessResult(**item) for name, item in data.items()}


__all__ = [
    "FAILING",
    "SourceFreshnessResult",
    "check_freshness",
    "check_source",
    "describe_age",
    "freshness_query",
    "freshness_sources",
    "latest_results",
]
