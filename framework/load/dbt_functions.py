"""dbt's serialization helpers in the Jinja context (dbt-core's ``BaseContext``): ``fromjson``,
``tojson``, ``fromyaml``, ``toyaml`` and ``local_md5``, with dbt's defaults and fall-backs
(dbt-project-evaluator writes ``tojson(node.meta)`` into the rows it inserts)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def fromjson(string: str, default: Any = None) -> Any:
    """A JSON text as Python values; ``default`` when it is no JSON."""
    try:
        return json.loads(string)
    except ValueError:
        return default


def tojson(value: Any, default: Any = None, sort_keys: bool = False) -> Any:
    """``value`` as JSON text, as ``json.dumps`` writes it; ``default`` when it cannot be."""
    try:
        return json.dumps(value, sort_keys=sort_keys)
    except ValueError:
        return default


def fromyaml(value: str, default: Any = None) -> Any:
    """A YAML text as Python values; ``default`` when it is no YAML."""
    import yaml  # here: most renders never call it

    try:
        return yaml.safe_load(value)
    except (AttributeError, ValueError, yaml.YAMLError):
        return default


def toyaml(value: Any, default: str | None = None, sort_keys: bool = False) -> str | None:
    """``value`` as YAML text (keys in their order, as dbt writes it)."""
    import yaml

    try:
        return yaml.safe_dump(data=value, sort_keys=sort_keys)
    except (ValueError, yaml.YAMLError):
        return default


def local_md5(value: str) -> str:
    """The MD5 hex digest of a text, computed while rendering (not in SQL)."""
    return hashlib.md5(value.encode("utf-8")).hexdigest()


FUNCTIONS = {f.__name__: f for f in (fromjson, tojson, fromyaml, toyaml, local_md5)}
