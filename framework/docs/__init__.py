"""The static lineage site: ``orch docs generate`` writes it, any browser opens it from ``file://``.

Layout of the output folder::

    index.html        the page (Jinja, autoescaped): header, views, templates
    static/style.css  styles; static/app.js: the hand-written script (graph, routes, search)
    data.js           ``window.ORCH_DOCS = {...}``: project, overview, the graph (names, kinds,
                      coordinates, edges, tags, groups, statuses), dbt exposures (graph nodes
                      of their own, with their pages: :mod:`orch.docs.exposures`), and
                      ``automation`` (jobs, schedules, sensors, recent ticks; null without
                      any): all the index needs
    data/a<N>.js      details of assets N*CHUNK_SIZE.. (SQL tokens, columns, lineage, checks,
                      partitions, runs), loaded with a <script> tag when an asset is opened

Data files are JSON inside a JS assignment (no fetch/XHR, which ``file://`` forbids), with ``<``,
``>``, ``&`` and U+2028/2029 escaped so no string can end the script. Every user string reaches the
page through ``textContent`` or Jinja autoescaping, never as markup. The DAG is laid out here
(:mod:`orch.docs.layout`, igraph), long edges routed through slots of their own; the script only
draws the part in view.
"""

from __future__ import annotations

import gc
import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from orch.assets import user_metadata
from orch.docs.exposures import (
    EXPOSURE_TYPES,
    exposure_detail,
    exposure_key,
    exposures_by_asset,
    semantic_overview,
)
from orch.docs.highlight import TOKEN_CLASSES, highlight
from orch.docs.layout import NODE_HEIGHT, NODE_WIDTH, Layout, layout_graph
from orch.docs.richtext import markdown_tree, plain_text
from orch.docs.status import asset_status, partition_strip, worst_check
from orch.docs.versions import DataVersions
from orch.events import utcnow
from orch.manifest import CheckNode, Manifest, Node
from orch.run.freshness import FreshnessMap
from orch.run.provenance import built_by_from, newest_successes
from orch.run.source_freshness import SourceFreshnessResult, latest_results
from orch.state import StateReader
from orch.state.records import MaterializationRecord
from orch.state.snapshot import StateSnapshot

__all__ = ["SiteBuilder", "SiteStats", "detail_chunk_js", "dump_js", "generate_site", "render_page"]

CHUNK_SIZE = 100
DATA_GLOBAL = "ORCH_DOCS"
CHUNK_CALLBACK = "orchDocsChunk"
MAX_DIFF_LINES = 400  # of a "built by this code" diff on an asset page
KINDS = ("source", "seed", "sql", "python")
STATUSES = ("none", "never", "fresh", "stale", "failed")
CHECK_STATUSES = ("", "pass", "warn", "fail")
_JS_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


@dataclass(frozen=True)
class SiteStats:
    """What :func:`generate_site` wrote."""

    out_dir: Path
    assets: int
    checks: int
    files: int
    bytes: int
    seconds: float


def dump_js(value: Any) -> str:
    """JSON safe to embed in a script: no ``</script>``, no ``<!--``, no raw U+2028/2029."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.translate(_JS_ESCAPES)


def kind_of(node: Node) -> str:
    """source, seed, sql or python."""
    if node.resource_type in ("source", "seed"):
        return node.resource_type
    return "python" if node.language == "python" else "sql"


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds") if value else None


def _stored_by(node: Node) -> str | None:
    """The IO manager storing a Python asset outside the warehouse (its setting), or None."""
    info = node.python
    if info is None or info.io_manager in (None, "warehouse"):
        return "external" if node.materialized == "external" and node.path else None
    return info.io_manager


def _relation(node: Node) -> str | None:
    if node.relation is None:
        return None
    return str(node.relation.to_relation())


# --------------------------------------------------------------------------- the site


class SiteBuilder:
    """Builds the index payload and the per-asset detail payloads (the site, and ``orch ui``)."""

    def _stored(self, name: str) -> dict[str, Any] | None:
        """Where an asset outside the warehouse is stored: its IO manager, and the URI, format,
        rows and bytes of its newest successful materialization."""
        node = self.m.nodes[name]
        io = _stored_by(node)
        if io is None:
            return None
        newest = None
        for (asset, _), rec in self.snap.latest.items():
            if asset == name and (newest is None or rec.finished_at > newest.finished_at):
                newest = rec
        meta = newest.metadata if newest is not None else {}
        if newest is not None and "uri" not in meta:
            return None  # stored in the warehouse after all (an IO manager per target)
        keep = ("uri", "format", "rows", "bytes", "type")
        return {"io_manager": io, **{k: meta[k] for k in keep if k in meta}}

    def __init__(
        self,
        manifest: Manifest,
        snap: StateSnapshot,
        *,
        now: datetime | None = None,
        catalog: Mapping[str, list[list[str]]] | None = None,
        layout: Layout | None = None,
    ) -> None:
        self.m = manifest
        self.snap = snap
        self.source_results: dict[str, SourceFreshnessResult] = {}  # orch source freshness
        self.members: frozenset[str] = frozenset()  # a workspace's: each asset shows its member
        self._newest: dict[str, MaterializationRecord] | None = None  # for "built by"
        self._versions: DataVersions | None = None  # for "data versions", indexed once
        self.layout = (
            layout  # computed by build_index unless given (orch ui keeps one per manifest)
        )
        self.catalog = catalog or {}  # asset -> [[column, type]] from the warehouse
        self.freshness = FreshnessMap(manifest, snap, now=now or utcnow())
        self.order = manifest.topological_names()
        self.index = {name: i for i, name in enumerate(self.order)}
        self.exposures = sorted(manifest.exposures)
        self.used_by = exposures_by_asset(manifest)  # asset -> the exposures using it
        self.checks_by_asset: dict[str, list[CheckNode]] = {}
        for check in sorted(manifest.checks.values(), key=lambda c: c.name):
            for asset in {check.asset, *check.depends_on} - {None}:
                if asset in manifest.nodes:
                    self.checks_by_asset.setdefault(str(asset), []).append(check)
        self.downstream_columns: dict[tuple[str, str], list[list[str]]] = {}
        for name in self.order:
            for column, refs in manifest.nodes[name].column_lineage.items():
                for ref in refs:
                    key = (ref.asset, ref.column)
                    self.downstream_columns.setdefault(key, []).append([name, column])
        self.check_status: dict[str, str | None] = {}
        self.check_last: dict[str, dict[str, Any] | None] = {}
        self._read_checks()
        self.last_materialized: dict[str, str | None] = {}
        for (asset, _), rec in snap.latest.items():
            at = _iso(rec.finished_at)
            if at and (self.last_materialized.get(asset) or "") < at:
                self.last_materialized[asset] = at
        self.strips: dict[str, dict[str, Any] | None] = {}
        self.status: dict[str, str] = {}
        for name in self.order:
            node = manifest.nodes[name]
            strip = partition_strip(node, self.freshness)
            self.strips[name] = strip
            self.status[name] = asset_status(node, self.freshness, strip)

    # ----------------------------------------------------------- checks

    def _read_checks(self) -> None:
        by_check: dict[str, list[Any]] = {}
        for (check, _), rec in self.snap.checks.items():
            by_check.setdefault(check, []).append(rec)
        for name in self.m.checks:
            recs = sorted(by_check.get(name, []), key=lambda r: r.id)
            if not recs:
                self.check_status[name] = None
                self.check_last[name] = None
                continue
            last = recs[-1]
            failing_parts = [r.partition_key for r in recs if r.status in ("fail", "error")]
            status = worst_check([r.status for r in recs])
            self.check_status[name] = "fail" if status == "error" else status
            self.check_last[name] = {
                "status": last.status,
                "failing_rows": last.failing_rows,
                "sample": list(last.sample),
                "at": _iso(last.at),
                "run": last.run_id,
                "partition": last.partition_key,
                "message": last.message,
                "duration": round(last.duration_s, 3),
                "failing_partitions": [p for p in failing_parts if p][:50],
                "partitions": len(recs),
            }

    def asset_check_status(self, name: str) -> str:
        statuses = [self.check_status.get(c.name) for c in self.checks_by_asset.get(name, [])]
        worst = worst_check([s for s in statuses if s]) or ""
        return worst if worst in CHECK_STATUSES else ""  # only skipped: no result to show

    # ----------------------------------------------------------- index

    def build_index(self) -> dict[str, Any]:
        m = self.m
        groups: dict[str, int] = {}
        tags: dict[str, int] = {}
        mats: dict[str, int] = {}
        for name in self.order:
            node = m.nodes[name]
            if node.config.group:
                groups.setdefault(node.config.group, 0)
            for tag in node.tags:
                tags.setdefault(tag, 0)
            mats.setdefault(node.materialized, 0)
        for entry in m.exposures.values():  # an exposure's tags filter the graph too
            for tag in entry.get("tags") or []:
                tags.setdefault(str(tag), 0)
        group_list, tag_list, mat_list = sorted(groups), sorted(tags), sorted(mats)
        gi = {g: i for i, g in enumerate(group_list)}
        ti = {t: i for i, t in enumerate(tag_list)}
        mi = {t: i for i, t in enumerate(mat_list)}
        parents = {n: [p for p in m.parents.get(n, []) if p in self.index] for n in self.order}
        exposure_parents = {
            exposure_key(e): [a for a in m.exposures[e].get("depends_on", []) if a in self.index]
            for e in self.exposures
        }
        if self.layout is None:
            initial = {n: f"{m.nodes[n].config.group or '~'}\x00{n}" for n in self.order}
            self.layout = layout_graph(
                [*self.order, *exposure_parents],  # each exposure after its assets
                {**parents, **exposure_parents},
                initial_key={**initial, **{k: f"~\x00{k}" for k in exposure_parents}},
            )
        layout = self.layout
        nodes: dict[str, list[Any]] = {k: [] for k in "nkxylgtmscpr"}
        for name in self.order:
            node = m.nodes[name]
            nodes["n"].append(name)
            nodes["k"].append(KINDS.index(kind_of(node)))
            nodes["x"].append(layout.x[name])
            nodes["y"].append(layout.y[name])
            nodes["l"].append(layout.layer[name])
            nodes["g"].append(gi.get(node.config.group or "", -1))
            nodes["t"].append([ti[t] for t in node.tags])
            nodes["m"].append(mi[node.materialized])
            nodes["s"].append(STATUSES.index(self.status[name]))
            nodes["c"].append(CHECK_STATUSES.index(self.asset_check_status(name)))
            nodes["p"].append([self.index[p] for p in parents[name]])
            # per parent, the y of each slot a long edge passes (its x follows from the layers)
            slots = [[pt[1] for pt in layout.routes.get((p, name), ())] for p in parents[name]]
            nodes["r"].append(slots if any(slots) else 0)
        nodes["lm"] = [self.last_materialized.get(n) for n in self.order]
        return {
            "project": m.project.model_dump(),
            "orch_version": m.orch_version,
            "generated_at": _iso(datetime.now(timezone.utc)),
            "chunk_size": CHUNK_SIZE,
            "kinds": KINDS,
            "statuses": STATUSES,
            "check_statuses": CHECK_STATUSES,
            "materializations": mat_list,
            "token_classes": TOKEN_CLASSES,
            "groups": group_list,
            "tags": tag_list,
            "node_size": [NODE_WIDTH, NODE_HEIGHT],
            "size": [layout.width, layout.height],
            "nodes": nodes,
            "exposure_types": EXPOSURE_TYPES,
            "exposures": self._exposure_columns(parents_of=exposure_parents, ti=ti),
            "overview": self.build_overview(),
        }

    def _exposure_columns(
        self, *, parents_of: Mapping[str, list[str]], ti: Mapping[str, int]
    ) -> dict[str, list[Any]]:
        """The exposures as graph columns, like the assets': name, type, position, parents (asset
        indices), the slots of long edges, tags; ``d``: each one's page (they are few)."""
        layout = self.layout
        assert layout is not None
        cols: dict[str, list[Any]] = {k: [] for k in "nexylprtd"}
        for name in self.exposures:
            key = exposure_key(name)
            detail = exposure_detail(self.m, name)
            cols["n"].append(name)
            cols["e"].append(EXPOSURE_TYPES.index(detail["type"]))
            cols["x"].append(layout.x[key])
            cols["y"].append(layout.y[key])
            cols["l"].append(layout.layer[key])
            cols["p"].append([self.index[p] for p in parents_of[key]])
            slots = [[pt[1] for pt in layout.routes.get((p, key), ())] for p in parents_of[key]]
            cols["r"].append(slots if any(slots) else 0)
            cols["t"].append([ti[t] for t in detail["tags"] if t in ti])
            cols["d"].append(detail)
        return cols

    # ----------------------------------------------------------- overview

    def build_overview(self) -> dict[str, Any]:
        m, snap = self.m, self.snap
        kinds: dict[str, int] = {k: 0 for k in KINDS}
        mats: dict[str, int] = {}
        for node in m.nodes.values():
            kinds[kind_of(node)] += 1
            mats[node.materialized] = mats.get(node.materialized, 0) + 1
        statuses = {s: 0 for s in STATUSES}
        for s in self.status.values():
            statuses[s] += 1
        failing = []
        for name, check in sorted(m.checks.items()):
            last = self.check_last.get(name)
            if last and self.check_status.get(name) in ("fail", "warn"):
                failing.append(
                    {
                        "check": name,
                        "asset": check.asset,
                        "status": self.check_status[name],
                        "failing_rows": last["failing_rows"],
                        "severity": check.severity,
                        "at": last["at"],
                    }
                )
        failing.sort(key=lambda f: (f["status"] != "fail", f["check"]))
        stale = [n for n in self.order if self.status[n] in ("stale", "failed")]
        durations: dict[str, tuple[float, int | None]] = {}
        for (asset, _), rec in snap.latest.items():
            if asset in m.nodes:
                dur, rows = durations.get(asset, (0.0, 0))
                durations[asset] = (dur + rec.duration_s, (rows or 0) + (rec.rows or 0))
        slowest = sorted(durations.items(), key=lambda kv: (-kv[1][0], kv[0]))[:10]
        runs = [
            {
                "run": r.run_id,
                "command": r.command,
                "selection": r.selection,
                "status": r.status,
                "started": _iso(r.started_at),
                "duration": None if r.duration_s is None else round(r.duration_s, 3),
                "counts": r.counts,
            }
            for r in snap.runs[:10]
        ]
        return {
            "assets": len(m.nodes),
            "checks": len(m.checks),
            "kinds": kinds,
            "materializations": mats,
            "statuses": statuses,
            "runs": runs,
            "failing_checks": failing[:50],
            "stale": [[n, self.status[n]] for n in stale[:50]],
            "stale_total": len(stale),
            "slowest": [[n, round(d, 3), r] for n, (d, r) in slowest],
            "has_state": not snap.empty,
            "exposures": len(m.exposures),
            "semantic": semantic_overview(m),
        }

    # ----------------------------------------------------------- details

    def _actual_columns(self, name: str) -> list[list[str]]:
        """The columns the asset really has: a Python asset's produced schema (recorded with its
        newest successful materialization), else the warehouse catalog's."""
        node = self.m.nodes[name]
        if node.language == "python":
            newest = None
            for rec in self.snap.history.get(name, []):
                if rec.status == "success" and "output_schema" in rec.metadata:
                    if newest is None or rec.finished_at > newest.finished_at:
                        newest = rec
            if newest is not None:
                return [list(c) for c in newest.metadata["output_schema"]]
        return self.catalog.get(name, [])

    def build_detail(self, name: str) -> dict[str, Any]:
        node = self.m.nodes[name]
        language = node.language or ("sql" if node.resource_type == "model" else None)
        checks = self.checks_by_asset.get(name, [])
        column_checks: dict[str, list[str]] = {}
        for c in checks:
            if c.column and c.asset == name:
                column_checks.setdefault(c.column, []).append(c.name)
        columns = []
        # the warehouse's (or, for Python, the produced table's) order first, then what is only
        # declared or traced
        actual = dict((c, t) for c, t in self._actual_columns(name))
        names = list(actual)
        names += [c for c in node.columns if c not in actual]
        names += [c for c in node.column_lineage if c not in actual and c not in node.columns]
        for col in names:
            info = node.columns.get(col)
            columns.append(
                {
                    "name": col,
                    "type": (info.data_type if info else None) or actual.get(col),
                    "description": markdown_tree(info.description) if info else [],
                    "tags": info.tags if info else [],
                    "meta": info.meta if info else {},
                    "checks": column_checks.get(col, []),
                    "up": [[r.asset, r.column] for r in node.column_lineage.get(col, [])],
                    "down": self.downstream_columns.get((name, col), []),
                }
            )
        cfg = node.config
        config = {
            "unique_key": cfg.unique_key,
            "incremental_strategy": cfg.incremental_strategy,
            "contract": cfg.contract or None,
            "alias": cfg.alias,
            "code_version": cfg.code_version,
            "automation": cfg.automation,
        }
        runs = [
            {
                "run": r.run_id,
                "status": r.status,
                "started": _iso(r.started_at),
                "duration": round(r.duration_s, 3),
                "rows": r.rows,
                "partition": r.partition_key,
                "error": r.error,
                "current": bool(r.fingerprint and r.fingerprint == node.fingerprint),
                "metadata": user_metadata(r.metadata),
                "data_version": r.data_version,
            }
            for r in self.snap.history.get(name, [])
        ]
        description = markdown_tree(node.description)
        stored = self._stored(name)
        detail: dict[str, Any] = {
            "name": name,
            "kind": kind_of(node),
            "resource_type": node.resource_type,
            "language": language,
            "materialized": node.materialized,
            "status": self.status[name],
            "freshness": self.freshness.of(name).to_json() if name in self.freshness else None,
            "owner": cfg.owner,
            "deprecation_date": node.deprecation_date,
            "group": cfg.group,
            "tags": node.tags,
            "meta": cfg.meta,
            "config": {k: v for k, v in config.items() if v is not None},
            "path": node.path,
            "patch_path": node.patch_path,
            "relation": None if stored else _relation(node),
            "stored": stored,
            "source": [node.source_name, node.source_table] if node.source_name else None,
            "source_freshness": self._source_freshness(node),
            "description": description,
            "summary": plain_text(description),
            "fingerprint": node.fingerprint,
            "raw": highlight(node.raw_code, language),
            "compiled": highlight(node.compiled_code, "sql")
            if node.compiled_code and language != "python"
            else [],
            "compiled_incremental": highlight(node.compiled_code_incremental or "", "sql"),
            "columns": columns,
            "checks": [self._check_detail(c) for c in checks if c.kind != "unit"],
            "unit_tests": [
                self._unit_test_detail(c) for c in checks if c.kind == "unit" and c.asset == name
            ],
            "partitions": self.strips[name],
            "runs": runs,
            "built_by": self._built_by(name),
            "data_versions": self._data_versions(name),
            "parents": self.m.parents.get(name, []),
            "children": self.m.children.get(name, []),
        }
        if name in self.used_by:  # "Used by": the exposures using it (absent: none)
            detail["exposures"] = self.used_by[name]
        if self.members:  # a workspace: the member the asset belongs to
            detail["project"] = name.split(".", 1)[0]
        return detail

    def _data_versions(self, name: str) -> dict[str, Any] | None:
        if self._versions is None:
            self._versions = DataVersions(self.m, self.snap)
        return self._versions.of(name)

    def _source_freshness(self, node: Node) -> str | None:
        """A source table's rule and its last ``orch source freshness`` result, as one line."""
        rule = node.source_freshness
        if rule is None:
            return None
        found = self.source_results.get(node.name)
        if found is None:
            limits = ", ".join(
                f"{k} {v}" for k, v in (("warn after", rule.warn_after),
                                        ("error after", rule.error_after)) if v
            )  # fmt: skip
            field = rule.loaded_at_field or "no loaded_at_field"
            return f"{limits} on {field} (not checked yet: orch source freshness)"
        return f"{found.status.upper()}: {found.message}, checked {found.checked_at[:19]}"

    def _built_by(self, name: str) -> dict[str, Any] | None:
        """ "Built by this code": the run and git commit of the newest success, and a diff to
        today's code when it changed (:mod:`orch.run.provenance`)."""
        if self._newest is None:
            self._newest = newest_successes(self.snap.latest)
        found = built_by_from(self.m, self._newest, self.snap.code, self.snap.git, name)
        if found.record is None:
            return None
        git = found.git
        return {
            "run": found.record.run_id,
            "at": _iso(found.record.finished_at),
            "commit": git.commit if git is not None else None,
            "dirty": bool(git is not None and git.dirty),
            "git_known": git is not None,
            "recorded": found.built is not None,
            "kind": found.built.kind if found.built is not None else None,
            "module": found.built.module if found.built is not None else None,
            "changed": found.changed,
            "diff": found.diff().splitlines()[:MAX_DIFF_LINES],
        }

    def _unit_test_detail(self, c: CheckNode) -> dict[str, Any]:
        """A unit test on its model's page: inputs, mode and its last result (with the diff)."""
        history = self.snap.check_history.get(c.name, [])
        args = c.args
        return {
            "name": c.name,
            "description": markdown_tree(c.description),
            "given": [g.get("given", "") for g in args.get("inputs", [])],
            "this": args.get("this") is not None,
            "partition": args.get("partition"),
            "location": args.get("location"),
            "status": self.check_status.get(c.name),
            "last": self.check_last.get(c.name),
            "history": [[r.status, _iso(r.at), r.failing_rows] for r in history],
        }

    def _check_detail(self, c: CheckNode) -> dict[str, Any]:
        history = self.snap.check_history.get(c.name, [])
        return {
            "name": c.name,
            "type": c.check_type,
            "kind": c.kind,
            "asset": c.asset,
            "column": c.column,
            "severity": c.severity,
            "blocking": c.blocking,
            "args": c.args,
            "description": markdown_tree(c.description),
            "sql": highlight(c.sql, "sql"),
            "status": self.check_status.get(c.name),
            "last": self.check_last.get(c.name),
            "history": [[r.status, _iso(r.at), r.failing_rows] for r in history],
        }


def _templates_dir() -> Path:
    return Path(str(files("orch.templates"))) / "docs"


def static_dir() -> Path:
    """The folder of the site's style.css and app.js."""
    return _templates_dir() / "static"


def detail_chunk_js(builder: SiteBuilder, chunk: int) -> str:
    """``data/a<chunk>.js``: the details of the chunk's assets, as a script calling back."""
    names = builder.order[chunk * CHUNK_SIZE : (chunk + 1) * CHUNK_SIZE]
    details = [builder.build_detail(n) for n in names]
    return f"{CHUNK_CALLBACK}({chunk},{dump_js(details)});\n"


def render_page(
    manifest: Manifest,
    generated_at: str | None,
    *,
    automation: bool,
    live_token: str | None = None,
) -> str:
    """``index.html`` (Jinja, autoescaped); ``live_token`` turns on ``orch ui``'s live views."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_templates_dir())),
        autoescape=True,
        keep_trailing_newline=True,
    )
    return env.get_template("index.html").render(
        project=manifest.project,
        orch_version=manifest.orch_version,
        generated_at=generated_at,
        assets=len(manifest.nodes),
        automation=automation,
        live_token=live_token,
    )


def generate_site(
    manifest: Manifest,
    state_reader: StateReader | None,
    out_dir: str | Path,
    *,
    automation: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    catalog: Mapping[str, list[list[str]]] | None = None,
    snapshot: StateSnapshot | None = None,
    members: frozenset[str] = frozenset(),
    load_errors: list[dict[str, str]] | None = None,
) -> SiteStats:
    """Write the static site for ``manifest`` (and what ``state_reader`` knows) to ``out_dir``.

    Args:
        manifest: the compiled project.
        state_reader: the state store, read-only; None renders the site without history.
        out_dir: the folder to write; its ``data/`` is replaced, other files are overwritten.
        automation: jobs, schedules and sensors from :func:`orch.docs.automation.automation_data`
            (None: no Automation view).
        now: the moment that decides the last complete partition (default: now).
        catalog: asset -> ``[[column, type], ...]`` from the warehouse
            (:func:`orch.docs.catalog.read_catalog`; None: only declared types).
        snapshot: the state, read already (a workspace's: :mod:`orch.docs.workspace`); then
            ``state_reader`` is not read.
        members: a workspace's members (asset names are ``member.asset``): each asset's page
            names its member.
        load_errors: ``[{"member", "error"}]``: members that did not load, shown on every view.

    Returns:
        :class:`SiteStats` with counts, bytes written and the time it took.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived lists: full collections would make this quadratic
    try:
        return _generate(
            manifest, state_reader, Path(out_dir), automation, now, catalog, snapshot, members,
            load_errors,
        )  # fmt: skip
    finally:
        if gc_was_enabled:
            gc.enable()


def _generate(
    manifest: Manifest,
    state_reader: StateReader | None,
    out: Path,
    automation: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    catalog: Mapping[str, list[list[str]]] | None = None,
    snapshot: StateSnapshot | None = None,
    members: frozenset[str] = frozenset(),
    load_errors: list[dict[str, str]] | None = None,
) -> SiteStats:
    started = time.perf_counter()
    snap = (
        snapshot
        if snapshot is not None
        else StateSnapshot.read(
            state_reader, manifest.project.target_name, detail=True, known=set(manifest.nodes)
        )
    )
    builder = SiteBuilder(manifest, snap, now=now, catalog=catalog)
    builder.source_results = latest_results(state_reader, manifest.project.target_name)
    builder.members = members
    index = builder.build_index()
    if members:
        index["members"] = sorted(members)
    if load_errors:
        index["load_errors"] = load_errors
    index["automation"] = dict(automation) if automation is not None else None

    templates = _templates_dir()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir()
    static = out / "static"
    static.mkdir(exist_ok=True)
    written = 0
    count = 0

    def write(path: Path, text: str) -> None:
        nonlocal written, count
        data = text.encode("utf-8")
        path.write_bytes(data)
        written += len(data)
        count += 1

    for name in ("style.css", "app.js"):
        write(static / name, (templates / "static" / name).read_text(encoding="utf-8"))
    chunks = (len(builder.order) + CHUNK_SIZE - 1) // CHUNK_SIZE
    for chunk in range(chunks):
        write(data_dir / f"a{chunk}.js", detail_chunk_js(builder, chunk))
    write(out / "data.js", f"window.{DATA_GLOBAL}={dump_js(index)};\n")
    page = render_page(manifest, index["generated_at"], automation=automation is not None)
    write(out / "index.html", page)
    return SiteStats(
        out_dir=out,
        assets=len(manifest.nodes),
        checks=len(manifest.checks),
        files=count,
        bytes=written,
        seconds=time.perf_counter() - started,
    )
