"""The live site data of ``orch ui``: the static site's payloads, rebuilt when the state changes.

The page is the static site's (``templates/docs``): ``data.js`` and ``data/a<N>.js`` are the
same payloads :func:`orch.docs.generate_site` writes, computed here from the state store as it
is now. A cheap signature of the state (the newest runs, their status, the newest check result
and tick) decides when to rebuild; the graph layout is kept while the manifest is the same.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from orch.compiler.artifacts import CompileResult
from orch.docs import CHUNK_SIZE, DATA_GLOBAL, SiteBuilder, detail_chunk_js, dump_js, kind_of
from orch.docs.automation import automation_data
from orch.docs.catalog import read_catalog, saved_columns
from orch.manifest import Manifest
from orch.run.source_freshness import latest_results
from orch.state import StateReader
from orch.state.snapshot import StateSnapshot

Compiler = Callable[[], CompileResult]
ReaderOpener = Callable[[], StateReader]
SIGNATURE_EVERY_S = 0.5


def state_signature(reader: StateReader, target: str) -> tuple[Any, ...]:
    """What changes whenever a run, a step, a check or a tick is recorded."""
    runs = reader.recent_runs(3, target=target)
    return tuple((r.run_id, r.status, r.finished_at, tuple(sorted(r.counts.items()))) for r in runs)


class LiveSite:
    """Holds the compiled project and a :class:`SiteBuilder` over the current state."""

    def __init__(
        self, compiled: CompileResult, compile_project: Compiler, open_reader: ReaderOpener
    ) -> None:
        self.compile_project = compile_project
        self.open_reader = open_reader
        self._lock = threading.RLock()
        self.compiled = compiled
        self._builder: SiteBuilder | None = None
        self._signature: tuple[Any, ...] | None = None
        self._checked_at = 0.0
        self._index_js: str | None = None
        self._chunks: dict[int, str] = {}
        self._assets: list[dict[str, Any]] | None = None
        self._assets_body: tuple[int, bytes] | None = None
        self.version = 0
        self.catalog = self._read_catalog(compiled)

    @property
    def manifest(self) -> Manifest:
        """The compiled manifest."""
        return self.compiled.manifest

    @property
    def target(self) -> str:
        """The target's name."""
        return self.compiled.project.target_name

    def graph_info(self) -> dict[str, Any]:
        """What ``/api/version`` adds to the version (a workspace: its graph and load errors)."""
        return {}

    def recompile(self) -> None:
        """Compile the project again (after a run: files may have changed) and drop caches."""
        compiled = self.compile_project()
        # column types after a run: as its worker saved them (the server never opens the warehouse
        # after a run, which would refuse the user's next build or query of a DuckDB file)
        catalog = saved_columns(compiled.project, compiled.manifest)
        with self._lock:
            self.compiled = compiled
            self.catalog = catalog
            self._signature = None
            self._checked_at = 0.0

    def _read_catalog(self, compiled: CompileResult) -> dict[str, list[list[str]]]:
        """The warehouse's column types of the built assets (the last saved ones when the
        warehouse is busy)."""
        target = compiled.project.target_name
        with self.open_reader() as reader:
            built = {a for a, _ in reader.latest_materializations(target=target)}
        return read_catalog(compiled.project, compiled.manifest, built).columns

    def builder(self) -> SiteBuilder:
        """The builder over the state as it is now (rebuilt when the state changed)."""
        with self._lock:
            now = time.monotonic()
            if self._builder is not None and now - self._checked_at < SIGNATURE_EVERY_S:
                return self._builder
            self._checked_at = now
            with self.open_reader() as reader:
                signature = state_signature(reader, self.target)
                if self._builder is not None and signature == self._signature:
                    return self._builder
                snap = StateSnapshot.read(
                    reader, self.target, detail=True, known=set(self.manifest.nodes)
                )
                sources = latest_results(reader, self.target)
            old = self._builder
            keep = old.layout if old is not None and old.m is self.manifest else None
            self._builder = SiteBuilder(self.manifest, snap, catalog=self.catalog, layout=keep)
            self._builder.source_results = sources
            self._signature = signature
            self._index_js = None
            self._chunks = {}
            self._assets = None
            self.version += 1
            return self._builder

    def automation(self) -> dict[str, Any] | None:
        """Jobs, schedules and sensors with next and recent ticks (None: the project has none)."""
        with self.open_reader() as reader:
            return automation_data(self.compiled.project, reader)

    def index_js(self) -> str:
        """``data.js``: the index payload, with the automation view's data."""
        builder = self.builder()
        with self._lock:
            if self._index_js is None:
                index = builder.build_index()
                index["automation"] = self.automation()
                index["live"] = True
                self._index_js = f"window.{DATA_GLOBAL}={dump_js(index)};\n"
            return self._index_js

    def chunk_js(self, chunk: int) -> str | None:
        """``data/a<chunk>.js``, or None past the last chunk."""
        builder = self.builder()
        if chunk < 0 or chunk * CHUNK_SIZE >= len(builder.order):
            return None
        with self._lock:
            if chunk not in self._chunks:
                self._chunks[chunk] = detail_chunk_js(builder, chunk)
            return self._chunks[chunk]

    def detail(self, name: str) -> dict[str, Any] | None:
        """An asset's details (what its page shows), or None for an unknown asset."""
        builder = self.builder()
        if name not in self.manifest.nodes:
            return None
        return builder.build_detail(name)

    def assets(self) -> list[dict[str, Any]]:
        """The asset catalog: one row per asset with status and last materialization."""
        builder = self.builder()
        with self._lock:
            if self._assets is None:
                self._assets = [self._asset_row(builder, n) for n in builder.order]
            return self._assets

    def assets_json(self) -> tuple[int, bytes]:
        """``(version, the /api/assets body)``: encoded once per state version (10,000 rows are
        ~2 MB of JSON, too slow to encode per request)."""
        rows = self.assets()
        with self._lock:
            if self._assets_body is None or self._assets_body[0] != self.version:
                body = json.dumps({"assets": rows, "version": self.version}, separators=(",", ":"))
                self._assets_body = (self.version, body.encode("utf-8"))
            return self._assets_body

    def _asset_row(self, builder: SiteBuilder, name: str) -> dict[str, Any]:
        node = self.manifest.nodes[name]
        history = builder.snap.history.get(name, [])
        last = max(history, key=lambda r: r.started_at) if history else None
        return {
            "name": name,
            "kind": kind_of(node),
            "group": node.config.group,
            "materialized": node.materialized,
            "status": builder.status[name],
            "check": builder.asset_check_status(name),
            "last_materialization": _iso(last.started_at) if last else None,
            "rows": last.rows if last else None,
            "duration": round(last.duration_s, 3) if last else None,
            "tags": list(node.tags),
        }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds") if value else None
