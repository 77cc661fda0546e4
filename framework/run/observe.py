"""Source observations: a cheap fingerprint of each declared source, so late data is noticed.

A source's observation query (``Node.observe``: the user's ``observe:`` SQL, else its row count
and, with a ``loaded_at_field``, the newest load time) returns one row; its hash is the source's
data version. The state store keeps the latest per source with ``changed_at``, moved when the
hash differs from the one before (the first observation is the baseline).
:class:`orch.run.freshness.FreshnessMap` then finds an asset reading a changed source stale
(``source raw.orders changed``). ``orch build`` observes the sources its selection reads before
it plans; ``orch source observe`` and the daemon call :func:`observe_sources`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from orch.adapters.base import Adapter
from orch.errors import OrchError, WarehouseError
from orch.manifest import Manifest
from orch.state.base import StateStore
from orch.state.records import ObservationRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observation:
    """One source observed: the stored record and whether it differs from the previous one."""

    record: ObservationRecord
    changed: bool


def sources_upstream(manifest: Manifest, names: Iterable[str]) -> list[str]:
    """The declared sources that ``names`` (or anything upstream of them) read."""
    out: set[str] = set()
    stack, seen = list(names), set()
    while stack:
        name = stack.pop()
        if name in seen or name not in manifest.nodes:
            continue
        seen.add(name)
        if manifest.nodes[name].resource_type == "source":
            out.add(name)
        stack.extend(manifest.parents.get(name, []))
    return sorted(out)


def observe_sources(
    manifest: Manifest,
    adapter: Adapter,
    state: StateStore,
    *,
    target: str,
    sources: Iterable[str] | None = None,
    known: Mapping[str, str] | None = None,
    strict: bool = True,
) -> list[Observation]:
    """Observe ``sources`` (None: every declared source) and record each observation.

    ``known``: sources whose fingerprint is known without a query (another workspace
    member's model: its data version there, :mod:`orch.run.foreign_state`).
    Raises WarehouseError naming the source when its query fails; with ``strict=False`` (a dbt
    project's build: dbt never queries a source before running, and an ``on-run-start`` hook may
    create its table) the source is left unobserved and the models reading it fail, if they do,
    as in dbt.
    """
    names = (
        sorted(n for n, node in manifest.nodes.items() if node.resource_type == "source")
        if sources is None
        else sorted(sources)
    )
    before = state.latest_observations(target=target)
    out = []
    for name in names:
        node = manifest.nodes[name]
        given = (known or {}).get(name)
        if given is not None:
            record = state.record_observation(
                target=target, source=name, fingerprint=given, detail={"owner_version": given}
            )
            previous = before.get(name)
            out.append(Observation(record, previous is not None and previous.fingerprint != given))
            continue
        if not node.observe:
            continue
        try:
            rows = adapter.fetch_rows(node.observe)
        except OrchError as err:
            if not strict:
                log.debug("source %s not observed: %s", name, err.message)
                continue
            raise WarehouseError(
                f"observing source '{name}' failed: {err.message}",
                sql=node.observe,
                location=err.location,
                hint=f"Check the source's table exists and its `observe:` query ({node.path})",
            ) from err
        values = [str(v) for v in rows[0]] if rows else []
        fingerprint = hashlib.sha256(json.dumps(values).encode()).hexdigest()[:16]
        record = state.record_observation(
            target=target, source=name, fingerprint=fingerprint, detail={"values": values}
        )
        previous = before.get(name)
        out.append(
            Observation(record, previous is not None and previous.fingerprint != fingerprint)
        )
    return out


__all__ = ["Observation", "observe_sources", "sources_upstream"]
