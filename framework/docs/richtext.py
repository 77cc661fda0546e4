"""Markdown descriptions as a safe element tree (rendered with markdown-it-py, CommonMark, no HTML).

The site never assigns markup strings: a description becomes a tree ``[tag, attrs, *children]``
whose leaves are plain strings, and the script builds it with ``createElement``/``textContent``
from a whitelist of tags. Raw HTML in a description stays text; images become links (nothing is
fetched at view time); a link keeps only an ``http(s)``, ``mailto`` or in-page address.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

Tree = list[Any]

ALLOWED_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "em", "strong", "code", "pre",
     "blockquote", "a", "br", "hr"}
)  # fmt: skip
_SAFE_HREF = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)
_BLOCK_START = re.compile(r"^(?:[#>*+=_`~-]|\d+[.)]|\s{4})")
_PLAIN = re.compile(r"^[^*_`#\[\]<>!\n\\&|~+=0-9-][^*_`\[\]<>!\n\\&|~]*$")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def safe_href(href: str) -> str | None:
    """The link target if it is http(s), mailto or an in-page anchor, else None."""
    href = href.strip()
    return href if _SAFE_HREF.match(href) else None


def markdown_tree(text: str) -> Tree:
    """Render Markdown to a list of top-level nodes (strings or ``[tag, attrs, *children]``).

    Results are cached by text (column descriptions repeat across a project); callers must not
    mutate the returned tree.
    """
    return _markdown_tree(text.strip())


@lru_cache(maxsize=8192)
def _markdown_tree(text: str) -> Tree:
    if not text:
        return []
    if _PLAIN.match(text):  # the common one-line description: skip the parser
        return [["p", {}, text]]
    if "\n" not in text and not _BLOCK_START.match(text):  # one line: inline rules only
        return [["p", {}, *_inline(_parser().parseInline(text)[0].children or [])]]
    return _blocks(_parser().parse(text))


def _blocks(tokens: list[Token]) -> Tree:
    root: Tree = ["div", {}]
    stack: list[Tree] = [root]
    for tok in tokens:
        if tok.nesting == 1 and tok.hidden:  # a tight list's paragraph: no element
            stack.append(stack[-1])
        elif tok.nesting == 1:
            node: Tree = [_tag(tok.tag), _list_attrs(tok)]
            stack[-1].append(node)
            stack.append(node)
        elif tok.nesting == -1:
            if len(stack) > 1:
                stack.pop()
        elif tok.type == "inline":
            stack[-1].extend(_inline(tok.children or []))
        elif tok.type in ("fence", "code_block"):
            stack[-1].append(["pre", {}, ["code", {}, tok.content]])
        elif tok.type == "hr":
            stack[-1].append(["hr", {}])
        elif tok.content:
            stack[-1].append(tok.content)
    return root[2:]


def _tag(tag: str) -> str:
    return tag if tag in ALLOWED_TAGS else "p"


def _list_attrs(tok: Token) -> dict[str, str]:
    start = tok.attrGet("start")
    return {"start": str(start)} if tok.tag == "ol" and start is not None else {}


def _inline(children: list[Token]) -> Tree:
    root: Tree = ["span", {}]
    stack: list[Tree] = [root]
    for tok in children:
        if tok.type in ("text", "html_inline"):
            stack[-1].append(tok.content)
        elif tok.type == "softbreak":
            stack[-1].append("\n")
        elif tok.type == "hardbreak":
            stack[-1].append(["br", {}])
        elif tok.type == "code_inline":
            stack[-1].append(["code", {}, tok.content])
        elif tok.type == "image":
            src = safe_href(str(tok.attrGet("src") or ""))
            alt = tok.content or "image"
            stack[-1].append(["a", {"href": src}, alt] if src else alt)
        elif tok.nesting == 1:
            attrs: dict[str, str] = {}
            if tok.tag == "a":
                href = safe_href(str(tok.attrGet("href") or ""))
                if href:
                    attrs["href"] = href
            node: Tree = [_tag(tok.tag), attrs]
            stack[-1].append(node)
            stack.append(node)
        elif tok.nesting == -1 and len(stack) > 1:
            stack.pop()
    return root[2:]


def plain_text(tree: Tree, limit: int = 160) -> str:
    """The text of a tree, whitespace collapsed, cut at ``limit`` characters (for summaries)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            parts.append(node)
        else:
            for child in node[2:]:
                walk(child)
            parts.append(" ")

    for node in tree:
        walk(node)
    text = " ".join("".join(parts).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
