"""The ``macros`` of dbt's ``manifest.json``, and the macros each node calls, as dbt lists them.

``dbt ls -s state:modified --state DIR`` calls a node modified when a macro it calls (directly,
or through the macros those call) is missing from DIR's manifest or has another ``macro_sql``.
orch renders macros away, so this module lists them as dbt does:

- the project's and its packages' macros: each top-level ``{% macro %}`` / ``{% test %}`` block
  of the macro files (and of ``<test-path>/generic/``), its text cut exactly as dbt-common's
  block lexer cuts it (:func:`toplevel_blocks`: a ``{%-`` tag takes the whitespace before it, a
  ``-%}`` the whitespace after it);
- dbt's built-in macros (the ``dbt`` package: dbt's global project; ``dbt_duckdb``: the
  adapter's), read from the files of the dbt installed beside orch or on ``PATH``
  (:func:`dbt_include_dirs`) — orch ships none of dbt's code. Without an installed dbt they are
  left out (a ``state:modified`` against these artifacts then lists the nodes that call them).

``depends_on.macros`` is found statically, from the calls in the text (``name(...)``,
``package.name(...)``, ``adapter.dispatch('name', 'namespace')``) resolved as dbt's macro
resolver does: the caller's package, the root project, the other packages, then dbt's own.
dbt records a node's macros while it renders the node; a call behind a branch dbt does not take
at parse time is listed here too. Light on purpose: regular expressions, no Jinja.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orch.load.project import Project

ADAPTER_PACKAGES = {"duckdb": "dbt_duckdb", "snowflake": "dbt_snowflake"}
_BLOCKS = {"macro", "test", "data_test", "materialization"}


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL | re.MULTILINE)


# dbt-common's _jinja_blocks patterns (the lexer dbt's MacroParser cuts macro files with)
_NAME = r"[A-Za-z_][A-Za-z_0-9]*"
_BLOCK_START = _rx(
    r"(?:\s*\{\%\-|\{\%)\s*"
    rf"(?P<block_type_name>({_NAME}))"
    rf"(?:\s+(?P<block_name>({_NAME})))?"
)
_COMMENT_START = _rx(r"(?:(?P<comment_start>(\s*\{\#)))")
_COMMENT_END = _rx(r"(.*?)(\s*\#\})")
_EXPR_START = _rx(r"(?P<expr_start>(\{\{\s*))")
_EXPR_END = _rx(r"(?P<expr_end>(\s*\}\}))")
_RAW_BLOCK = _rx(
    r"(?:\s*\{\%\-|\{\%)\s*raw\s*(?:\-\%\}\s*|\%\})(?:.*?)(?:\s*\{\%\-|\{\%)\s*endraw\s*(?:\-\%\}\s*|\%\})"
)
_TAG_CLOSE = _rx(r"(?:(?P<tag_close>(\-\%\}\s*|\%\})))")
_STRING = _rx(r"(?P<string>('([^'\\]*(?:\\.[^'\\]*)*)'|" r'"([^"\\]*(?:\\.[^"\\]*)*)"))')
_QUOTE_START = _rx(r"""(?P<quote>(['"]))""")


@dataclass(frozen=True)
class Block:
    """A top-level ``{% macro %}``-like block of a file: its kind, name and whole text."""

    kind: str
    name: str
    text: str


class _Tags:
    """dbt-common's TagIterator, reduced to what finding top-level blocks needs."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        # each pattern's last search (from, match): reused while the match lies ahead, so a
        # pattern that no longer matches is not searched to the end of the text again
        self._last: dict[re.Pattern[str], tuple[int, re.Match[str] | None]] = {}

    def _search(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        cached = self._last.get(pattern)
        if cached is not None and cached[0] <= self.pos:
            match = cached[1]
            if match is None or match.start() >= self.pos:
                return match
        match = pattern.search(self.text, self.pos)
        self._last[pattern] = (self.pos, match)
        return match

    def _first(self, *patterns: re.Pattern[str]) -> re.Match[str] | None:
        found = [m for p in patterns if (m := self._search(p))]
        return min(found, key=lambda m: m.end()) if found else None

    def _expect(self, *patterns: re.Pattern[str]) -> re.Match[str]:
        match = self._first(*patterns)
        if match is None:
            raise ValueError("unexpected end of template")
        return match

    def _skip_expr(self, match: re.Match[str]) -> None:
        self.pos = match.end()
        while True:
            found = self._expect(_EXPR_END, _QUOTE_START)
            if found.groupdict().get("expr_end") is not None:
                self.pos = found.end()
                return
            self.pos = self._expect(_STRING).end()  # a string: '}}' inside it ends nothing

    def _close_tag(self) -> None:
        while True:
            found = self._expect(_QUOTE_START, _TAG_CLOSE)
            self.pos = found.end()
            if found.groupdict().get("tag_close") is not None:
                return
            self.pos -= 1
            self.pos = self._expect(_STRING).end()

    def tags(self) -> list[tuple[str, str | None, int, int]]:
        """Every ``{% tag %}``: (type, name, start, end)."""
        out = []
        while (match := self._first(_BLOCK_START, _COMMENT_START, _EXPR_START)) is not None:
            self.pos = match.start()
            groups = match.groupdict()
            if groups.get("comment_start") is not None:
                self.pos = match.end()
                self.pos = self._expect(_COMMENT_END).end()
            elif groups.get("expr_start") is not None:
                self._skip_expr(match)
            else:
                start, kind = self.pos, groups["block_type_name"]
                if kind == "raw":
                    self.pos = self._expect(_RAW_BLOCK).end()
                else:
                    self.pos = match.end()
                    self._close_tag()
                out.append((kind, groups.get("block_name"), start, self.pos))
        return out


def toplevel_blocks(text: str) -> list[Block]:
    """The top-level macro and test blocks of a file, cut as dbt cuts them (``macro_sql``).

    A file dbt's lexer would refuse (an unclosed tag) gives no blocks.
    """
    try:
        tags = _Tags(text).tags()
    except ValueError:
        return []
    out: list[Block] = []
    current: tuple[str, str | None, int, int] | None = None
    for kind, name, start, end in tags:
        if current is None and kind in _BLOCKS:
            current = (kind, name, start, end)
        elif current is not None and kind == "end" + current[0]:
            block = text[current[2] : end]
            if current[0] == "materialization":
                name = _materialization_name(current[1] or "", text[current[2] : current[3]])
            else:
                name = ("test_" if current[0] != "macro" else "") + (current[1] or "")
            out.append(Block(current[0], name, block))
            current = None
    return out


_ADAPTER_ARG = _rx(r"adapter\s*=\s*['\"](\w+)['\"]")
_LANGUAGES_ARG = _rx(r"supported_languages\s*=\s*\[([^\]]*)\]")


def _materialization_name(name: str, tag: str) -> str:
    """dbt's macro name of ``{% materialization NAME, default|adapter='x' %}``."""
    adapter = _ADAPTER_ARG.search(tag)
    return f"materialization_{name}_{adapter.group(1) if adapter else 'default'}"


def _supported_languages(tag: str) -> list[str]:
    found = _LANGUAGES_ARG.search(tag)
    if found is None:
        return ["sql"]
    return [x.strip().strip("'\"") for x in found.group(1).split(",") if x.strip()]


# --------------------------------------------------------------------------- calls

_OPENER = _rx(r"\{\{|\{\%|\{\#")
_DISPATCH = _rx(
    r"adapter\s*\.\s*dispatch\s*\(\s*(?:macro_name\s*=\s*)?['\"](\w+)['\"]"
    r"(?:\s*,\s*(?:macro_namespace\s*=\s*)?['\"](\w+)['\"])?"
)
_DEFINITION = _rx(r"\b(?:macro|test|data_test|materialization)\s+\w+\s*\(")
_CALL = _rx(r"(?<![\w.])([A-Za-z_]\w*)(?:\s*\.\s*([A-Za-z_]\w*))?\s*\(")
_STRING_LITERAL = _rx(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def _jinja_segments(text: str) -> list[tuple[int, str]]:
    """The ``{{ ... }}`` and ``{% ... %}`` of a template (a ``}}`` inside a string literal
    ends nothing), with their offsets; comments are skipped."""
    out = []
    pos = 0
    while (match := _OPENER.search(text, pos)) is not None:
        start = match.end()
        if match.group(0) == "{#":
            end = text.find("#}", start)
            pos = len(text) if end < 0 else end + 2
            continue
        closer = "}}" if match.group(0) == "{{" else "%}"
        i = start
        while i < len(text) and not text.startswith(closer, i):
            if text[i] in "'\"":
                string = _STRING_LITERAL.match(text, i)
                i = string.end() if string else i + 1
            else:
                i += 1
        out.append((start, text[start:i]))
        pos = i + 2
    return out


def _blank_strings(segment: str) -> str:
    """``segment`` with each string literal's contents blanked (positions kept)."""
    return _STRING_LITERAL.sub(lambda m: m.group(0)[0] + " " * (len(m.group(0)) - 2)
                               + m.group(0)[-1], segment)  # fmt: skip


def _closing(segment: str, opening: int) -> int:
    """The position of the ``)`` matching the ``(`` at ``opening`` (strings blanked)."""
    depth = 0
    for i in range(opening, len(segment)):
        if segment[i] == "(":
            depth += 1
        elif segment[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(segment)


class MacroIndex:
    """Every macro a project can call, by package, and dbt's resolution of a call to one."""

    def __init__(self, project: Project, macros: dict[str, dict[str, Any]]) -> None:
        self.root = project.name
        self.adapter_type = project.target.type
        self.adapter_package = ADAPTER_PACKAGES.get(project.target.type)
        self.dispatch_orders = dict(project.dispatch)
        self.by_package: dict[str, set[str]] = {}
        for entry in macros.values():
            self.by_package.setdefault(entry["package_name"], set()).add(entry["name"])
        internal = [p for p in (self.adapter_package, "dbt") if p]
        others = sorted(p for p in self.by_package if p not in (self.root, *internal))
        self.search = [self.root, *others, *internal]  # dbt's MacroResolver: root wins

    def _id(self, package: str, name: str) -> str | None:
        return f"macro.{package}.{name}" if name in self.by_package.get(package, ()) else None

    def resolve(self, name: str, caller: str) -> str | None:
        """The macro an unqualified ``name(...)`` in a node or macro of ``caller`` calls."""
        if caller not in ("dbt", self.adapter_package):
            found = self._id(caller, name)
            if found:
                return found
        for package in self.search:
            found = self._id(package, name)
            if found:
                return found
        return None

    def dispatched(self, name: str, namespace: str | None, caller: str) -> str | None:
        """``adapter.dispatch(name, namespace)``: the first ``<adapter>__name`` /
        ``default__name`` in the namespace's search order (``dispatch:``)."""
        if namespace is None:
            order = [caller]
        elif namespace in self.dispatch_orders:
            order = list(self.dispatch_orders[namespace])
        elif namespace == "dbt":
            order = [self.root, *[p for p in (self.adapter_package, "dbt") if p]]
        else:
            order = [namespace]
        for package in order:
            for prefix in (self.adapter_type, "default"):
                found = self._id(package, f"{prefix}__{name}")
                if found:
                    return found
        return None

    def calls(self, text: str, caller: str, *, as_written: bool = False) -> list[str]:
        """The macros ``text`` calls, in the order dbt runs them (a call's arguments first) —
        or, ``as_written``, in the order they are written (dbt's static list for a macro)."""
        found: list[tuple[int, str]] = []
        for offset, segment in _jinja_segments(text):
            segment = _DEFINITION.sub(lambda m: " " * (len(m.group(0)) - 1) + "(", segment)
            blank = _blank_strings(segment)
            for call in _DISPATCH.finditer(segment):
                uid = self.dispatched(call.group(1), call.group(2), caller)
                if uid:
                    opening = blank.index("(", call.start())
                    at = call.start() if as_written else _closing(blank, opening)
                    found.append((offset + at, uid))
            for call in _CALL.finditer(blank):
                first, second = call.group(1), call.group(2)
                if second is not None:
                    uid = self._id(first, second) if first in self.by_package else None
                else:
                    uid = self.resolve(first, caller)
                if uid:
                    at = call.start() if as_written else _closing(blank, call.end() - 1)
                    found.append((offset + at, uid))
        out: list[str] = []
        for _, uid in sorted(found):
            if uid not in out:
                out.append(uid)
        return out


def dbt_include_dirs() -> dict[str, Path]:
    """The include projects of an installed dbt (``dbt/include/<x>/``), by package name.

    Looked for in orch's own environment, then in the environment of the ``dbt`` executable on
    ``PATH`` (or ``$ORCH_DBT``, a dbt executable: its ``lib/python*/site-packages``).
    """
    roots: list[Path] = []
    spec = importlib.util.find_spec("dbt") if _importable("dbt") else None
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) / "include" for p in spec.submodule_search_locations]
    executable = os.environ.get("ORCH_DBT") or shutil.which("dbt")
    if executable:
        env = Path(executable).resolve().parent.parent
        roots += sorted(env.glob("lib/python*/site-packages/dbt/include"))
    found: dict[str, Path] = {}
    for root in roots:
        for project_file in sorted(root.glob("*/dbt_project.yml")):
            match = re.search(r"^name:\s*['\"]?(\w+)", project_file.read_text(), re.MULTILINE)
            if match and match.group(1) not in found:
                found[match.group(1)] = project_file.parent
    return found


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def builtin_macros(adapter_type: str) -> dict[str, dict[str, Any]]:
    """dbt's built-in macros for a target of ``adapter_type``, as dbt's manifest lists them
    (a new mapping of shared entries: do not change an entry)."""
    return dict(_builtin_macros(adapter_type, tuple(sorted(dbt_include_dirs().items()))))


@lru_cache(maxsize=4)
def _builtin_macros(
    adapter_type: str, include: tuple[tuple[str, Path], ...]
) -> tuple[tuple[str, dict[str, Any]], ...]:
    packages = {"dbt", ADAPTER_PACKAGES.get(adapter_type)}
    out: list[tuple[str, dict[str, Any]]] = []
    for package, folder in include:
        if package not in packages:
            continue
        for path in sorted(folder.glob("macros/**/*.sql")) + sorted(
            folder.glob("tests/generic/**/*.sql")
        ):
            rel = path.relative_to(folder).as_posix()
            for block in toplevel_blocks(path.read_text(encoding="utf-8").strip()):
                uid = f"macro.{package}.{block.name}"
                tag_end = block.text.find("%}")
                languages = (
                    _supported_languages(block.text[:tag_end])
                    if block.kind == "materialization"
                    else None
                )
                out.append((uid, _macro_entry({
                    "unique_id": uid, "name": block.name, "package_name": package,
                    "path": rel, "original_file_path": rel, "macro_sql": block.text,
                    "supported_languages": languages,
                })))  # fmt: skip
    return tuple(out)


def _macro_entry(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": data["name"],
        "resource_type": "macro",
        "package_name": data["package_name"],
        "path": data["path"],
        "original_file_path": data["original_file_path"],
        "unique_id": data["unique_id"],
        "macro_sql": data["macro_sql"],
        "depends_on": {"macros": list(data.get("depends_on", {}).get("macros", []))},
        "description": "",
        "meta": {},
        "docs": {"show": True, "node_color": None},
        "config": {"meta": {}, "docs": {"show": True, "node_color": None}},
        "patch_path": None,
        "arguments": [],
        "created_at": 0.0,
        "supported_languages": data.get("supported_languages"),
    }


def package_of(path: str, project: Project) -> tuple[str, str]:
    """(package name, path relative to its package) of a file of the project."""
    for package in project.packages.values():
        if path.startswith(package.prefix):
            return package.name, path[len(package.prefix) :]
    return project.name, path


def dbt_macros(project: Project) -> tuple[dict[str, dict[str, Any]], MacroIndex]:
    """Every macro of dbt's manifest for ``project`` (built-in ones first), and their index."""
    macros = builtin_macros(project.target.type)
    texts: dict[str, tuple[str, str]] = {}
    for path, text in sorted(project.macro_files.items()):
        package, rel = package_of(path, project)
        for block in toplevel_blocks(text.strip()):  # dbt reads the file stripped
            uid = f"macro.{package}.{block.name}"
            macros[uid] = _macro_entry(
                {
                    "unique_id": uid,
                    "name": block.name,
                    "package_name": package,
                    "path": rel,
                    "original_file_path": rel,
                    "macro_sql": block.text,
                }  # fmt: skip
            )
            texts[uid] = (package, block.text)
    index = MacroIndex(project, macros)
    for uid, (package, text) in texts.items():
        macros[uid]["depends_on"]["macros"] = [
            m for m in index.calls(text, package, as_written=True) if m != uid
        ]
    return macros, index
