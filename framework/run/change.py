"""Change classification: whether a model's code change breaks what reads it.

The compiler gives every SQL model a version per output column (its expression resolved
through CTEs down to upstream columns, plus the query's row clauses:
:func:`orch.compiler.lineage.column_versions`) and the upstream columns it references anywhere
(``Node.reads``). Each materialization stores the column versions it was built with. A model
whose fingerprint changed compares the two:

- **non-breaking**: no column it had before changed or disappeared (columns added, or only
  formatting): the model is rebuilt alone;
- **breaking**: some columns changed or disappeared (or every column, when its row clauses
  changed): rebuilt, and so is every downstream asset that references one of those columns —
  and, conservatively, everything downstream of those (all their columns count as changed).

A change whose lineage cannot be computed (``select *`` over a relation whose columns are not
known), a Python asset or a seed is breaking for every column, and says so.
:class:`orch.run.freshness.FreshnessMap` asks this module; it decides nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from orch.manifest import Manifest, Node
from orch.state.records import MaterializationRecord

# The columns of an asset whose data a pending change may change; None: every column (and rows).
Affected = frozenset[str] | None
NOTHING: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Change:
    """How one asset's code change affects what reads it."""

    breaking: bool
    affected: Affected
    reason: str

    @property
    def kind(self) -> str:
        """``breaking`` or ``non-breaking``."""
        return "breaking" if self.breaking else "non-breaking"


def _names(columns: list[str]) -> str:
    shown = ", ".join(columns[:5])
    return shown + (f" and {len(columns) - 5} more" if len(columns) > 5 else "")


def classify(manifest: Manifest, node: Node, built: MaterializationRecord) -> Change:
    """Compare the column versions ``built`` recorded with the manifest's current ones."""
    if node.resource_type == "seed":
        return Change(True, None, "breaking: a seed's new data may change every column")
    if node.language == "python":
        return Change(True, None, "breaking: a Python asset's change may change every column")
    if node.reads is None or not node.column_versions:
        unknown = [
            p for p in node.depends_on if p in manifest.nodes and not manifest.nodes[p].columns
        ]
        where = f" over {', '.join(unknown)} (its columns are not declared)" if unknown else ""
        return Change(
            True,
            None,
            f"breaking: its column lineage cannot be computed (`select *`{where}),"
            " so every column counts as changed",
        )
    old, new = built.column_code, node.column_versions
    if not old:
        return Change(True, None, "breaking: its last build recorded no column versions")
    removed = sorted(set(old) - set(new))
    changed = sorted(c for c in new if c in old and old[c] != new[c])
    added = sorted(set(new) - set(old))
    if not removed and not changed:
        what = f"column {_names(added)} added" if added else "no column changed"
        return Change(False, NOTHING, f"non-breaking: {what}")
    if len(changed) == len(new) and len(new) > 1 and not removed:
        return Change(True, None, "breaking: which rows it returns changed (every column)")
    parts = []
    if changed:
        parts.append(f"column {_names(changed)} changed")
    if removed:
        parts.append(f"column {_names(removed)} removed")
    return Change(True, frozenset(removed + changed), "breaking: " + ", ".join(parts))


def hits(node: Node, parent: str, affected: Affected, *, direct: bool) -> tuple[bool, str]:
    """Whether ``node`` reads what a pending change of ``parent`` affects, and why (not).

    ``direct``: ``parent`` is referenced by ``node`` itself (not through an ephemeral model).
    """
    if affected is not None and not affected:
        return False, f"{parent}'s change is non-breaking"
    if affected is None:
        return True, f"{parent} changed (every column)"
    if node.reads is None:
        return True, f"what it reads of {parent} is unknown"
    if not direct:
        return True, f"it reads {parent} through an ephemeral model"
    read = set(node.reads.get(parent, []))
    found = sorted(read & affected)
    if found:
        return True, f"it reads {_names(found)} of {parent}"
    return False, f"it reads none of the changed columns of {parent} ({_names(sorted(affected))})"


__all__ = ["NOTHING", "Affected", "Change", "classify", "hits"]
