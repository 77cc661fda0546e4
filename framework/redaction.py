"""Secret values seen by ``env_var()``: registered once, scrubbed from every message orch prints.

This is deliberately process-wide (like dbt's ``scrub_secrets``): a secret resolved while loading a
profile must be hidden from an error raised anywhere later, and threading a registry through every
call would not make that safer.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_values: dict[str, str] = {}  # secret value -> env var name

MIN_SECRET_LENGTH = 4  # shorter values would scrub ordinary words out of messages


def register(name: str, value: str) -> None:
    """Remember that ``value`` (from env var ``name``) must never be shown."""
    if len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _values[value] = name


def scrub(text: str) -> str:
    """``text`` with every registered secret value replaced by ``env_var('NAME')``."""
    if not _values or not text:
        return text
    for value, name in sorted(_values.items(), key=lambda kv: -len(kv[0])):
        if value in text:
            text = text.replace(value, f"<env_var('{name}')>")
    return text


def placeholder(name: str) -> str:
    """The token a model's SQL carries in place of an env var's value until execution."""
    return f"__orch_env_var__{name}__"


def resolve_placeholders(sql: str, environ: dict[str, str] | None = None) -> str:
    """Put the real values back into compiled SQL, in memory, just before it runs."""
    env = os.environ if environ is None else environ
    if "__orch_env_var__" not in sql:
        return sql
    out = sql
    for name, value in env.items():
        token = placeholder(name)
        if token in out:
            out = out.replace(token, value)
    return out
