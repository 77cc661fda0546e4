"""Syntax highlighting at generate time: SQL (with Jinja) and Python source as token lists.

The output is not HTML: it is a flat list ``[class, text, class, text, ...]`` that the site's
script turns into ``<span>`` elements with ``textContent``, so no source text is ever parsed as
markup. Class codes are the indexes of :data:`TOKEN_CLASSES` (0 is plain text).

One compiled regular expression per language keeps this linear and fast (10,000 models of SQL
highlight in well under a second). The SQL keyword set is sqlglot's tokenizer vocabulary, so
what is highlighted is what sqlglot reads as a keyword.
"""

from __future__ import annotations

import keyword
import re
from functools import lru_cache

from sqlglot.tokens import Tokenizer

TOKEN_CLASSES = ("", "kw", "str", "num", "com", "jinja", "fn", "id", "op")
PLAIN, KW, STR, NUM, COM, JINJA, FN, ID, OP = range(len(TOKEN_CLASSES))

Tokens = list[int | str]


@lru_cache(maxsize=1)
def _sql_keywords() -> frozenset[str]:
    words = {k.lower() for k in Tokenizer.KEYWORDS if re.fullmatch(r"[A-Za-z_ ]+", k)}
    singles = {w for k in words for w in k.split()}
    return frozenset(singles | {"filter", "qualify", "over", "range", "rows", "interval"})


_SQL = re.compile(
    r"(?P<jinja>\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})"
    r"|(?P<com>--[^\n]*|/\*.*?(?:\*/|\Z))"
    r"|(?P<str>'(?:[^']|'')*'?)"
    r"|(?P<id>\"(?:[^\"]|\"\")*\"?|`[^`]*`?)"
    r"|(?P<num>\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_$]*)(?P<call>\s*\()?"
    r"|(?P<op>[<>=!|:+\-*/%]+)",
    re.DOTALL,
)

_PY = re.compile(
    r"(?P<com>#[^\n]*)"
    r"|(?P<str>[rbfuRBFU]{0,2}(?:\"\"\".*?(?:\"\"\"|\Z)|'''.*?(?:'''|\Z)"
    r"|\"(?:\\.|[^\"\\\n])*\"?|'(?:\\.|[^'\\\n])*'?))"
    r"|(?P<deco>@[A-Za-z_][\w.]*)"
    r"|(?P<num>\b\d+(?:\.\d+)?\b)"
    r"|(?P<word>[A-Za-z_]\w*)(?P<call>\s*\()?",
    re.DOTALL,
)
_PY_KEYWORDS = frozenset(keyword.kwlist) | {"self", "cls"}


class _Builder:
    """Accumulates ``[class, text]`` pairs, merging neighbours of one class."""

    def __init__(self) -> None:
        self.out: Tokens = []

    def add(self, cls: int, text: str) -> None:
        if not text:
            return
        if self.out and self.out[-2] == cls:
            self.out[-1] = str(self.out[-1]) + text
        else:
            self.out += [cls, text]


def highlight_sql(text: str) -> Tokens:
    """SQL (optionally with Jinja) as a flat ``[class, text, ...]`` token list."""
    keywords = _sql_keywords()
    out: Tokens = []
    plain: list[str] = []  # pending plain text, merged into one token
    pos = 0
    group_class = _GROUP_CLASS
    callable_words = _CALLABLE
    for m in _SQL.finditer(text):
        start = m.start()
        if start > pos:
            plain.append(text[pos:start])
        word = m.group("word")
        if word is not None:
            low = word.lower()
            call = m.group("call")
            if call is not None:
                cls = FN if low not in keywords or low in callable_words else KW
            else:
                cls = KW if low in keywords else PLAIN
            if cls == PLAIN:
                plain.append(word)
            else:
                if plain:
                    out += [PLAIN, "".join(plain)]
                    plain = []
                out += [cls, word]
            if call is not None:
                plain.append(call)
        else:
            if plain:
                out += [PLAIN, "".join(plain)]
                plain = []
            out += [group_class[m.lastgroup or "op"], m.group(0)]
        pos = m.end()
    if pos < len(text):
        plain.append(text[pos:])
    if plain:
        out += [PLAIN, "".join(plain)]
    return out


_CALLABLE = frozenset(
    {"count", "sum", "avg", "min", "max", "coalesce", "cast", "round", "row_number", "rank",
     "lag", "lead", "first", "last", "date_trunc", "extract", "left", "right", "replace", "if",
     "range", "filter", "values", "nullif", "lower", "upper", "trim", "concat", "date", "list"}
)  # fmt: skip
_GROUP_CLASS = {"jinja": JINJA, "com": COM, "str": STR, "id": ID, "num": NUM, "op": OP}


def highlight_python(text: str) -> Tokens:
    """Python source as a flat ``[class, text, ...]`` token list."""
    b = _Builder()
    pos = 0
    for m in _PY.finditer(text):
        b.add(PLAIN, text[pos : m.start()])
        word = m.group("word")
        if word is not None:
            if word in _PY_KEYWORDS:
                b.add(KW, word)
            elif m.group("call") is not None:
                b.add(FN, word)
            else:
                b.add(PLAIN, word)
            if m.group("call") is not None:
                b.add(PLAIN, m.group("call"))
        elif m.group("deco") is not None:
            b.add(FN, m.group(0))
        else:
            b.add({"com": COM, "str": STR, "num": NUM}[m.lastgroup or "com"], m.group(0))
        pos = m.end()
    b.add(PLAIN, text[pos:])
    return b.out


def highlight(text: str, language: str | None) -> Tokens:
    """Highlight ``text`` as Python when ``language`` is 'python', as SQL otherwise."""
    if not text:
        return []
    return highlight_python(text) if language == "python" else highlight_sql(text)
