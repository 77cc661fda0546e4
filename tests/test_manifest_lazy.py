"""A manifest read lazily (``Manifest.read(path, lazy=True)``) validates each node when first used,
and is otherwise the same manifest: a scoped command touches only the nodes it needs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import duckdb
import pytest
from orch.compiler import compile_or_reuse
from orch.config import RunOptions
from orch.errors import ProjectError
from orch.manifest import Manifest, Node, NodeTable
from orch.run.workflow import run_command

from tests.conftest import MakeProject, run_cli

FILES = {
    "models/a.sql": "select 1 as x",
    "models/b.sql": "select x from a",
    "models/c.sql": "select x + 1 as y from b",
    "models/d.sql": "select 2 as z",
}


@pytest.fixture
def compiled(make_project: MakeProject, tmp_path: Path) -> Path:
    root = make_project(tmp_path, FILES)
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 0, run.output
    return root / "target" / "manifest.json"


def test_lazy_read_equals_the_eager_one(compiled: Path):
    eager = Manifest.read(compiled)
    lazy = Manifest.read(compiled, lazy=True)
    assert isinstance(lazy.nodes, NodeTable)
    assert list(lazy.nodes) == list(eager.nodes)
    assert lazy.nodes.validated == 0  # names, len and `in` validate nothing
    assert len(lazy.nodes) == 4 and "c" in lazy.nodes and "zz" not in lazy.nodes
    assert lazy.nodes["c"] == eager.nodes["c"]
    assert lazy.nodes.validated == 1
    assert lazy.nodes.get("zz") is None
    with pytest.raises(KeyError):
        lazy.nodes["zz"]
    assert lazy.parents == eager.parents and lazy.checks == eager.checks
    assert lazy == eager
    assert lazy.to_json() == eager.to_json() == compiled.read_text(encoding="utf-8")


def test_one_node_object_per_name_across_threads(compiled: Path):
    lazy = Manifest.read(compiled, lazy=True)
    seen: list[Node] = []
    threads = [threading.Thread(target=lambda: seen.append(lazy.nodes["b"])) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(n) for n in seen}) == 1


def test_a_manifest_of_another_version_is_validated_whole(compiled: Path):
    data = json.loads(compiled.read_text(encoding="utf-8"))
    data["orch_version"] = "0.0.1"
    compiled.write_text(json.dumps(data), encoding="utf-8")
    assert isinstance(Manifest.read(compiled, lazy=True).nodes, dict)


def test_a_node_that_no_longer_validates_says_what_to_do(compiled: Path):
    data = json.loads(compiled.read_text(encoding="utf-8"))
    data["nodes"]["b"]["no_such_field"] = 1
    compiled.write_text(json.dumps(data), encoding="utf-8")
    lazy = Manifest.read(compiled, lazy=True)
    assert lazy.nodes["a"].name == "a"
    with pytest.raises(ProjectError, match="node 'b' does not match") as err:
        lazy.nodes["b"]
    assert "orch compile" in err.value.format_message()


def test_a_scoped_run_validates_only_what_it_builds(compiled: Path):
    root = compiled.parent.parent
    assert run_cli("build", "--project-dir", root).exit_code == 0
    options = RunOptions(project_dir=root, select=("c",))
    result = compile_or_reuse(options, {"c"})
    assert result.unchanged
    nodes = result.manifest.nodes
    assert isinstance(nodes, NodeTable)
    done = run_command(options, "run", compiled=result)
    assert done.exit_code == 0 and list(done.summary.outcomes) == ["c"]  # type: ignore[union-attr]
    assert 1 <= nodes.validated < len(nodes)  # d, upstream of nothing selected, never read
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute('select y from "analytics"."c"').fetchall() == [(2,)]
    whole = compile_or_reuse(RunOptions(project_dir=root))
    assert isinstance(whole.manifest.nodes, dict)  # no selection: every node, validated now


def test_a_manifest_in_another_layout_reads_the_same(compiled: Path):
    eager = Manifest.read(compiled)
    compiled.write_text(json.dumps(json.loads(compiled.read_text(encoding="utf-8"))))  # compact
    lazy = Manifest.read(compiled, lazy=True)
    assert isinstance(lazy.nodes, NodeTable)
    assert lazy == eager


def test_a_lazy_manifest_copies_and_pickles(compiled: Path):
    import copy
    import pickle

    lazy = Manifest.read(compiled, lazy=True)
    assert copy.deepcopy(lazy) == Manifest.read(compiled)
    again = pickle.loads(pickle.dumps(lazy))
    assert again.nodes["c"] == lazy.nodes["c"] and len(again.nodes) == 4


def test_the_index_beside_the_manifest_gives_the_same_nodes(compiled: Path):
    """``manifest.index.json`` says where each node's JSON is: a lazy read slices the file. It
    depends only on the manifest (a second compile writes the same bytes)."""
    from orch.manifest import _read_indexed, _split_nodes, index_path

    index = index_path(compiled)
    assert index.name == "manifest.index.json" and index.is_file()
    indexed = _read_indexed(compiled)
    assert indexed is not None
    scanned = _split_nodes(compiled.read_text(encoding="utf-8"))
    assert scanned is not None
    assert indexed[0] == scanned[0]
    assert {k: v.decode() for k, v in indexed[1].items()} == scanned[1]
    lazy = Manifest.read(compiled, lazy=True)
    assert lazy == Manifest.read(compiled)


@pytest.mark.parametrize("damage", ["rewritten", "corrupt", "shifted", "merged", "missing"])
def test_a_stale_or_broken_index_is_not_trusted(compiled: Path, damage: str):
    from orch.manifest import _read_indexed, index_path

    eager = Manifest.read(compiled)
    index = index_path(compiled)
    if damage == "rewritten":  # another writer replaced the manifest: a node's text changed
        text = compiled.read_text(encoding="utf-8")
        compiled.write_text(text.replace('"select 1 as x"', '"select 11 as x"'), encoding="utf-8")
        eager = Manifest.read(compiled)
        assert "select 11" in eager.nodes["a"].raw_code
    elif damage == "corrupt":
        index.write_text("{not json", encoding="utf-8")
    elif damage == "shifted":  # the right file, but offsets that do not fit its bytes
        data = json.loads(index.read_text(encoding="utf-8"))
        data["nodes"] = {name: [start + 1, end] for name, (start, end) in data["nodes"].items()}
        index.write_text(json.dumps(data), encoding="utf-8")
        assert data["size"] == compiled.stat().st_size
    elif damage == "merged":  # two nodes' text as one: the slices must tile `nodes` exactly
        data = json.loads(index.read_text(encoding="utf-8"))
        (first, (begin, _)), (_, (_, stop)), *others = data["nodes"].items()
        data["nodes"] = {first: [begin, stop], **dict(others)}
        index.write_text(json.dumps(data), encoding="utf-8")
    else:
        index.unlink()
    assert _read_indexed(compiled) is None or damage == "merged"  # `parents` names them all
    lazy = Manifest.read(compiled, lazy=True)
    assert lazy == eager
    assert lazy.nodes["a"] == eager.nodes["a"]


def test_the_index_is_the_same_for_the_same_manifest(compiled: Path):
    from orch.manifest import index_path

    before = index_path(compiled).read_bytes()
    Manifest.read(compiled).write(compiled)
    assert index_path(compiled).read_bytes() == before
