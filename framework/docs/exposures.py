"""dbt's exposures and semantic layer on the site: exposure nodes of the graph and their pages,
and the overview's lists of semantic models, metrics and saved queries.

An exposure (a dashboard, a notebook...) builds nothing; the manifest keeps it as the loader read
it (:func:`orch.load.dbt.read_descriptive`). In the graph it is a node of its own kind, downstream
of the assets it depends on. Its layout key (:func:`exposure_key`) cannot be an asset's name,
so an exposure named like a model is still another node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orch.docs.richtext import markdown_tree, plain_text
from orch.load.dbt import EXPOSURE_TYPES
from orch.load.docs_blocks import resolve_doc_calls
from orch.manifest import Manifest

__all__ = [
    "EXPOSURE_TYPES",
    "exposure_detail",
    "exposure_key",
    "exposures_by_asset",
    "semantic_overview",
]

SEMANTIC_KINDS = ("semantic_models", "metrics", "saved_queries")


def exposure_key(name: str) -> str:
    """The exposure's name in the layout: NUL is in no asset's name."""
    return f"\x00exposure\x00{name}"


def exposures_by_asset(manifest: Manifest) -> dict[str, list[str]]:
    """Asset -> the exposures that depend on it, sorted ("Used by" on its page)."""
    out: dict[str, list[str]] = {}
    for name in sorted(manifest.exposures):
        for asset in manifest.exposures[name].get("depends_on", []):
            if asset in manifest.nodes and name not in out.get(asset, []):
                out.setdefault(asset, []).append(name)
    return out


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _description(text: Any, docs: Mapping[str, str]) -> list[Any]:
    return markdown_tree(resolve_doc_calls(_text(text), dict(docs))[0])


def exposure_detail(manifest: Manifest, name: str) -> dict[str, Any]:
    """What an exposure's page shows: every string as text, the description as a safe tree."""
    entry = manifest.exposures[name]
    owner = _mapping(entry.get("owner"))
    description = _description(entry.get("description"), manifest.docs)
    return {
        "name": name,
        "label": _text(entry.get("label")),
        "type": _text(entry.get("type")),
        "maturity": _text(entry.get("maturity")),
        "url": _text(entry.get("url")),
        "owner": {"name": _text(owner.get("name")), "email": _text(owner.get("email"))},
        "description": description,
        "summary": plain_text(description),
        "tags": [_text(t) for t in entry.get("tags") or []],
        "meta": dict(entry.get("meta") or {}),
        "depends_on": [a for a in entry.get("depends_on", []) if a in manifest.nodes],
        "path": _text(entry.get("path")) or None,
    }


def _names(value: Any) -> list[str]:
    """Names in a metric's type_params (``measure: x``, ``{name: x}``, or a list of those)."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name:
            out.append(name)
    return out


def _built_on(kind: str, entry: Mapping[str, Any], measure_of: Mapping[str, str]) -> list[Any]:
    """``[[what, name, semantic model or asset or None]]``: what the entry is built on."""
    if kind == "semantic_models":
        return [["model", a, a] for a in entry.get("depends_on", [])]
    if kind == "saved_queries":
        params = _mapping(entry.get("query_params"))
        return [["metric", m, None] for m in _names(params.get("metrics"))]
    params = _mapping(entry.get("type_params"))
    out: list[Any] = []
    for key in ("measure", "input_measures"):
        out += [["measure", m, measure_of.get(m)] for m in _names(params.get(key))]
    conversion = _mapping(params.get("conversion_type_params"))
    for key in ("base_measure", "conversion_measure"):
        out += [["measure", m, measure_of.get(m)] for m in _names(conversion.get(key))]
    for key in ("numerator", "denominator", "metrics", "metric"):
        out += [["metric", m, None] for m in _names(params.get(key))]
    unique: dict[tuple[str, str], list[Any]] = {}
    for item in out:
        unique.setdefault((item[0], item[1]), item)
    return list(unique.values())


def semantic_overview(manifest: Manifest) -> dict[str, list[dict[str, Any]]]:
    """Semantic models, metrics and saved queries for the overview: name, label, description
    and what each is built on (a semantic model: its model; a metric: measures or metrics;
    a saved query: metrics). Empty lists when the project has none."""
    layer = manifest.semantic_layer
    measure_of: dict[str, str] = {}
    for model, entry in sorted(layer.get("semantic_models", {}).items()):
        for measure in entry.get("measures") or []:
            if isinstance(measure, str):
                measure_of.setdefault(measure, model)
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in SEMANTIC_KINDS:
        rows = []
        for name, entry in sorted(layer.get(kind, {}).items()):
            rows.append(
                {
                    "name": name,
                    "label": _text(entry.get("label")),
                    "type": _text(entry.get("type")),
                    "description": _description(entry.get("description"), manifest.docs),
                    "built_on": _built_on(kind, entry, measure_of),
                }
            )
        out[kind] = rows
    return out
