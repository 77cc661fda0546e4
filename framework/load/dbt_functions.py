"""dbt's helper functions in the Jinja context (dbt-core's ``BaseContext``): ``fromjson``,
``tojson``, ``fromyaml``, ``toyaml``, ``local_md5`` and ``diff_of_two_dicts``, with dbt's
defaults and fall-backs (dbt-project-evaluator writes ``tojson(node.meta)`` into the rows it
inserts)."""

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


def diff_of_two_dicts(
    dict_a: dict[str, list[str]], dict_b: dict[str, list[str]]
) -> dict[str, list[str]]:
    """``dict_a`` minus ``dict_b``: the values of each key of ``dict_a`` that ``dict_b`` lacks
    under that key, both compared without case; keys in ``dict_a``'s case (dbt's)."""
    lowered = {k.casefold(): [v.casefold() for v in vs] for k, vs in dict_b.items()}
    diff: dict[str, list[str]] = {}
    for key, values in dict_a.items():
        if key.casefold() not in lowered:
            diff[key] = values
            continue
        left = [v for v in values if v.casefold() not in lowered[key.casefold()]]
        if left:
            diff[key] = left
    return diff


FUNCTIONS = {f.__name__: f for f in (fromjson, tojson, fromyaml, toyaml, local_md5,
                                     diff_of_two_dicts)}  # fmt: skip
