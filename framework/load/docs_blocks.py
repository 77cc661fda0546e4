"""``{% docs %}`` blocks and ``{{ doc('name') }}`` in YAML descriptions."""

from __future__ import annotations

import re
from pathlib import Path

from orch.errors import read_user_text


def read_docs_blocks(paths: list[Path]) -> dict[str, str]:
    """``{% docs name %}...{% enddocs %}`` blocks from Markdown files."""
    blocks: dict[str, str] = {}
    pattern = re.compile(r"{%-?\s*docs\s+(\w+)\s*-?%}(.*?){%-?\s*enddocs\s*-?%}", re.S)
    for path in paths:
        for match in pattern.finditer(read_user_text(path)):
            blocks[match.group(1)] = match.group(2).strip()
    return blocks


_DOC_CALL = re.compile(r"""{{-?\s*doc\(\s*['"]([^'"]+)['"]\s*\)\s*-?}}""")


def resolve_doc_calls(text: str, docs: dict[str, str]) -> tuple[str, list[str]]:
    """``{{ doc('name') }}`` in a YAML description replaced by the docs block; unknown names."""
    if "doc(" not in text:
        return text, []
    missing: list[str] = []

    def block(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in docs:
            missing.append(name)
            return match.group(0)
        return docs[name]

    return _DOC_CALL.sub(block, text), missing
