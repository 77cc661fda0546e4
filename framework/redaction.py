"""Secret values seen by ``env_var()``: registered once, scrubbed from every message orch prints.

This is deliberately process-wide (like dbt's ``scrub_secrets``): a secret resolved while loading a
profile must be hidden from an error raised anywhere later, and threading a registry through every
call would not make that safer.

Two defences, in this order:

- A secret never enters SQL text. A model's SQL carries ``'__orch_env_var__NAME__'`` (a string
  literal) in place of the value; the adapter turns each such literal into a bound parameter just
  before the statement runs (:func:`bind_placeholders`), so the value reaches the warehouse as
  data, never as SQL, and cannot appear in the statement a driver quotes in an error.
- Whatever text orch shows or stores passes :func:`scrub`, which replaces a registered value, and
  any run of at least :data:`FRAGMENT_LENGTH` of its characters (drivers truncate long error
  lines, cutting a token into pieces), by ``<env_var('NAME')>``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Sequence
from typing import Any

from orch.errors import ExecutionError

_lock = threading.Lock()
_values: dict[str, str] = {}  # secret value (or an escaped form of it) -> env var name
_whole_only: set[str] = set()  # values scrubbed only where they appear whole (file paths)

MIN_SECRET_LENGTH = 4  # shorter values would scrub ordinary words out of messages
# A run of this many characters of a registered secret is scrubbed wherever it appears, not only
# the whole value. 10 characters of a token are ~60 bits of it: too specific to occur by chance in
# a message (a false positive costs a few scrubbed characters of a message, never a leak), while
# truncated driver messages (DuckDB cuts long lines into 20- to 54-character pieces) leave longer
# pieces than that. A secret no longer than this is scrubbed whole only.
FRAGMENT_LENGTH = 10
_BLOCK = FRAGMENT_LENGTH // 2  # every fragment contains an aligned block of this many characters

PLACEHOLDER_PREFIX = "__orch_env_var__"
# A file path (absolute, or from ~ / . / ..) with a further separator: its fragments are the
# folders every message names (the project's, the temp dir), so it is scrubbed whole only.
_PATH = re.compile(r"(?:[A-Za-z]:[\\/]|~?/|\.{1,2}/)\S*[\\/]")


def register(name: str, value: str) -> None:
    """Remember that ``value`` (from env var ``name``) must never be shown."""
    if len(value) < MIN_SECRET_LENGTH:
        return
    # the forms a value takes inside JSON text and inside a SQL string literal
    forms = {value, json.dumps(value)[1:-1], value.replace("'", "''")}
    path = _PATH.match(value) is not None
    with _lock:
        for form in forms:
            _values[form] = name
            if path:
                _whole_only.add(form)


def _fragment_spans(text: str, value: str) -> list[tuple[int, int]]:
    """Where runs of at least FRAGMENT_LENGTH characters of ``value`` appear in ``text``."""
    spans: list[tuple[int, int]] = []
    for j in range(0, len(value) - _BLOCK + 1, _BLOCK):
        block = value[j : j + _BLOCK]
        p = text.find(block)
        while p != -1:
            left = 0  # extend the match of text[p:] with value[j:] to both sides
            while left < j and left < p and text[p - left - 1] == value[j - left - 1]:
                left += 1
            right = _BLOCK
            while (
                j + right < len(value)
                and p + right < len(text)
                and text[p + right] == value[j + right]
            ):
                right += 1
            if left + right >= FRAGMENT_LENGTH:
                spans.append((p - left, p + right))
            p = text.find(block, p + 1)
    return spans


def scrub(text: str) -> str:
    """``text`` with every registered secret value, or fragment of one, replaced by its name.

    The replacement is ``<env_var('NAME')>``. Values no longer than :data:`FRAGMENT_LENGTH`, and
    file paths, are replaced where they appear whole; others also where any run of at least that
    many of their consecutive characters appears.
    """
    if not _values or not text:
        return text
    with _lock:
        values = list(_values.items())
        whole_only = set(_whole_only)
    spans: list[tuple[int, int, str]] = []  # found on the original text, then merged
    for value, name in values:
        if len(value) > FRAGMENT_LENGTH and value not in whole_only:
            spans.extend((start, end, name) for start, end in _fragment_spans(text, value))
            continue
        p = text.find(value)
        while p != -1:
            spans.append((p, p + len(value), name))
            p = text.find(value, p + len(value))
    if not spans:
        return text
    spans.sort(key=lambda span: (span[0], -span[1]))
    merged: list[list[Any]] = []
    for start, end, name in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, name])
    out = []
    last = 0
    for start, end, name in merged:
        out.append(text[last:start])
        out.append(f"<env_var('{name}')>")
        last = end
    out.append(text[last:])
    return "".join(out)


def scrub_data(value: Any) -> Any:
    """``value`` (JSON-like data: dicts, lists, strings) with every string scrubbed.

    Other values (dates, objects) become their scrubbed ``str()``, as they would be stored.
    """
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k) if isinstance(k, str) else k: scrub_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_data(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return scrub(bytes(value).decode("utf-8", "replace"))
    return scrub(str(value))  # stored as its str() anyway


def placeholder(name: str) -> str:
    """The token a model's SQL carries in place of an env var's value until execution."""
    return f"{PLACEHOLDER_PREFIX}{name}__"


def inert(text: str) -> str:
    """``text`` with each placeholder written as ``{{ env_var('NAME') }}``, which no adapter binds.

    For text stored through SQL literals (the warehouse state store): a placeholder left in a
    stored check query or error would otherwise be bound to the secret by the adapter.
    """
    if PLACEHOLDER_PREFIX not in text:
        return text
    out, last = [], 0
    for start, end, name in _placeholder_names(text, os.environ):
        out.append(text[last:start])
        out.append(f"{{{{ env_var('{name}') }}}}")
        last = end
    out.append(text[last:])
    return "".join(out)


def stored(value: Any) -> Any:
    """Text or JSON-like data as orch stores it: scrubbed, placeholders made inert."""
    if isinstance(value, str):
        return scrub(inert(value))
    if isinstance(value, dict):
        return {stored(k) if isinstance(k, str) else k: stored(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stored(v) for v in value]
    return scrub_data(value)


class SecretBindingError(ExecutionError):
    """A statement holds an env_var() placeholder that cannot be bound as a parameter."""


def _placeholder_names(text: str, env: Any) -> list[tuple[int, int, str]]:
    """(start, end, env var name) of each placeholder in ``text``.

    A name may hold ``__`` itself: of the candidate ends, the longest name that is set wins.
    """
    found = []
    start = text.find(PLACEHOLDER_PREFIX)
    while start != -1:
        name_start = start + len(PLACEHOLDER_PREFIX)
        ends = [m.start() for m in re.finditer(r"(?=__)", text[name_start:])]
        names = [text[name_start : name_start + e] for e in ends if e > 0]
        if not names:
            break
        name = next((n for n in reversed(names) if n in env), names[0])
        end = name_start + len(name) + 2
        found.append((start, end, name))
        start = text.find(PLACEHOLDER_PREFIX, end)
    return found


def bind_placeholders(
    sql: str,
    dialect: str,
    params: Sequence[Any] | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[str, list[Any] | None]:
    """``sql`` with each env_var() placeholder turned into a ``?`` parameter, and the parameters.

    The statement is split into sqlglot tokens of ``dialect`` (lexed, not parsed: the adapter
    composes DDL around a model's query that need not parse). A string literal holding a
    placeholder becomes ``?`` (or ``('text' || ? || 'text')`` when it holds more), whose value is
    the env var's, bound by the driver; ``?`` parameters already in the statement keep
    ``params``, in order. Returns ``(sql, params)`` unchanged when there is no placeholder.

    Raises SecretBindingError when a placeholder stands outside a string literal (its value would
    have to be pasted as SQL), when the statement holds more than one statement (a model is one
    query), or when the env var is no longer set.
    """
    if PLACEHOLDER_PREFIX not in sql:
        return sql, (list(params) if params is not None else None)
    # late: every command imports the scrubber; only a statement with a placeholder needs sqlglot
    from sqlglot import exp
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    env = os.environ if environ is None else environ
    tokens = Dialect.get_or_raise(dialect).tokenize(sql)
    given = list(params or [])
    out: list[Any] = []
    pieces: list[str] = []
    cursor = 0
    statements = 0
    for i, token in enumerate(tokens):
        if token.token_type == TokenType.SEMICOLON:
            if any(t.token_type != TokenType.SEMICOLON for t in tokens[i + 1 :]):
                statements += 1
            continue
        if token.token_type == TokenType.PLACEHOLDER and token.text == "?":
            out.append(given.pop(0) if given else None)
            continue
        if PLACEHOLDER_PREFIX not in token.text:
            continue
        if token.token_type != TokenType.STRING:
            raise SecretBindingError(
                "env_var() is used outside a string literal; its value would be pasted into the "
                "SQL as code",
                hint="Quote it: '{{ env_var(\"NAME\") }}' (it is bound as a parameter)",
            )
        parts: list[str] = []
        text = token.text
        last = 0
        for start, end, name in _placeholder_names(text, env):
            value = env.get(name)
            if value is None:
                raise SecretBindingError(
                    f"environment variable '{name}' (read by env_var() when compiling) is not set",
                    hint="Set it again, or recompile",
                )
            if start > last:
                parts.append(exp.Literal.string(text[last:start]).sql(dialect=dialect))
            parts.append("?")
            out.append(value)
            last = end
        if last < len(text):
            parts.append(exp.Literal.string(text[last:]).sql(dialect=dialect))
        pieces.append(sql[cursor : token.start])
        pieces.append(parts[0] if len(parts) == 1 else f"({' || '.join(parts)})")
        cursor = token.end + 1
    if statements:
        raise SecretBindingError(
            "a statement holding env_var() values contains more than one SQL statement",
            hint="A model is one query: remove the ';'",
        )
    pieces.append(sql[cursor:])
    return "".join(pieces), out
