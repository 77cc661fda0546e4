"""The parse cache and scoped loading."""

from __future__ import annotations

import json
from pathlib import Path

import orch.load.parsing
import pytest
from orch.compiler.models import CACHE_FILE, compile_project
from orch.config import RunOptions
from orch.load.cache import SALT

from tests.conftest import MakeProject, run_cli

PROJECT = {
    "seeds/raw.csv": "id,amount\n1,10\n",
    "models/a.sql": "select id, amount from raw",
    "models/b.sql": "select id, amount * 2 as amount from a",
    "models/c.sql": "select id, sum(amount) as total from b group by id",
    "models/other.sql": "select id from raw",
    "models/other_child.sql": "select id from other",
}
N_MODELS = 5


@pytest.fixture
def parsed_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model files sqlglot parses, in order (a spy on the one parse entry point)."""
    seen: list[str] = []
    real = orch.load.parsing.parse_query

    def spy(sql, dialect, path, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(path)
        return real(sql, dialect, path, **kwargs)

    monkeypatch.setattr(orch.load.parsing, "parse_query", spy)
    return seen


def test_second_compile_hits_the_cache(make_project: MakeProject, tmp_path: Path, parsed_paths):
    root = make_project(tmp_path, PROJECT)
    options = RunOptions(project_dir=root)
    first = compile_project(options)
    assert first.cache_hits == 0
    assert first.cache_misses == 2 * N_MODELS  # one parse and one compile entry per model
    assert len(parsed_paths) == N_MODELS
    second = compile_project(options)
    assert (second.cache_hits, second.cache_misses) == (2 * N_MODELS, 0)
    assert len(parsed_paths) == N_MODELS  # nothing parsed again
    assert second.manifest == first.manifest


def test_cli_compile_twice_uses_the_cache(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, PROJECT)
    assert run_cli("compile", "--project-dir", root).exit_code == 0
    assert (root / "target" / CACHE_FILE).is_file()
    result = compile_project(RunOptions(project_dir=root))
    assert result.cache_misses == 0


def test_changed_file_is_reparsed_alone(make_project: MakeProject, tmp_path: Path, parsed_paths):
    root = make_project(tmp_path, PROJECT)
    options = RunOptions(project_dir=root)
    compile_project(options)
    parsed_paths.clear()
    (root / "models" / "b.sql").write_text("select id,\n  amount * 2 as amount -- doubled\nfrom a")
    result = compile_project(options)
    assert parsed_paths == ["models/b.sql"]
    assert result.cache_misses == 2  # b's parse and b's compile; c's inputs did not change
    assert "-- doubled" in result.manifest.nodes["b"].compiled_code


def test_changed_columns_recompile_downstream(
    make_project: MakeProject, tmp_path: Path, parsed_paths
):
    root = make_project(tmp_path, PROJECT)
    options = RunOptions(project_dir=root)
    compile_project(options)
    parsed_paths.clear()
    (root / "models" / "a.sql").write_text("select id, amount, 1 as one from raw")
    result = compile_project(options)
    # a is parsed; b, whose input changed, is recompiled from its cached rendering; c is not
    # touched (b's columns did not change), nor is anything outside a's descendants
    assert parsed_paths == ["models/a.sql", "models/b.sql"]
    assert list(result.manifest.nodes["a"].columns) == ["id", "amount", "one"]


def test_corrupt_cache_is_ignored(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, PROJECT)
    options = RunOptions(project_dir=root)
    expected = compile_project(options).manifest
    cache_path = root / "target" / CACHE_FILE
    for garbage in (b"\x00\xff\xfe garbage \x80", b'{"salt": ', b"[1, 2, 3]"):
        cache_path.write_bytes(garbage)
        result = compile_project(options)
        assert result.cache_hits == 0
        assert result.manifest == expected
    # the rewritten cache works again
    assert compile_project(options).cache_misses == 0


def test_cache_entries_of_wrong_shape_are_not_trusted(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, PROJECT)
    options = RunOptions(project_dir=root)
    expected = compile_project(options).manifest
    cache_path = root / "target" / CACHE_FILE
    data = json.loads(cache_path.read_text())
    data["entries"] = {key: {"unexpected": True} for key in data["entries"]}
    cache_path.write_text(json.dumps(data))
    assert compile_project(options).manifest == expected


def test_cache_of_another_version_is_ignored(
    make_project: MakeProject, tmp_path: Path, parsed_paths
):
    root = make_project(tmp_path, PROJECT)
    options = RunOptions(project_dir=root)
    compile_project(options)
    cache_path = root / "target" / CACHE_FILE
    data = json.loads(cache_path.read_text())
    assert data["salt"] == SALT
    data["salt"] = SALT.replace("orch=", "orch=0.0.0-old;")
    cache_path.write_text(json.dumps(data))
    parsed_paths.clear()
    result = compile_project(options)
    assert result.cache_hits == 0
    assert len(parsed_paths) == N_MODELS


def test_vars_change_invalidates(make_project: MakeProject, tmp_path: Path):
    root = make_project(
        tmp_path, {**PROJECT, "models/v.sql": "select {{ var('n', 1) }} as n from raw"}
    )
    assert (
        "select 1 as n"
        in compile_project(RunOptions(project_dir=root)).manifest.nodes["v"].compiled_code
    )
    result = compile_project(RunOptions(project_dir=root, vars={"n": 2}))
    assert "select 2 as n" in result.manifest.nodes["v"].compiled_code


def test_scoped_loading_parses_only_ancestors(
    make_project: MakeProject, tmp_path: Path, parsed_paths
):
    root = make_project(tmp_path, PROJECT)
    result = compile_project(RunOptions(project_dir=root), names={"c"})
    assert sorted(parsed_paths) == ["models/a.sql", "models/b.sql", "models/c.sql"]
    assert result.scoped
    assert sorted(result.manifest.nodes) == ["a", "b", "c", "raw"]


def test_scoped_compile_ignores_broken_unrelated_model(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, {**PROJECT, "models/broken.sql": "select id,, from raw where"})
    run = run_cli("compile", "--project-dir", root, "-s", "+c")
    assert run.exit_code == 0, run.output
    assert "-- c (models/c.sql)" in run.stdout
    assert (root / "target" / "compiled" / "models" / "c.sql").is_file()
    assert not (root / "target" / "compiled" / "models" / "other.sql").exists()
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr.startswith("Error: models/broken.sql:1:22: SQL syntax error near 'where'")


def test_scoped_lineage_ignores_broken_unrelated_model(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, {**PROJECT, "models/broken.sql": "select id,, from raw where"})
    run = run_cli("lineage", "c.total", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert run.stdout == (
        "c.total\nupstream:\n  └── b.amount\n      └── a.amount\n          └── raw.amount\n"
    )


# --------------------------------------------------------------------------- whole-manifest reuse


def _compile_and_write(root: Path):  # type: ignore[no-untyped-def]
    from orch.compiler import compile_or_reuse
    from orch.compiler.artifacts import write_artifacts

    result = compile_or_reuse(RunOptions(project_dir=root))
    write_artifacts(result)
    return result


def test_unchanged_project_reuses_the_written_manifest(
    make_project: MakeProject, tmp_path: Path, parsed_paths
):
    root = make_project(tmp_path, PROJECT)
    first = _compile_and_write(root)
    assert not first.unchanged
    manifest_file = root / "target" / "manifest.json"
    before = manifest_file.stat().st_mtime_ns
    parsed_paths.clear()
    second = _compile_and_write(root)
    assert second.unchanged
    assert parsed_paths == []  # nothing rendered, parsed or compiled
    assert second.manifest == first.manifest
    assert manifest_file.stat().st_mtime_ns == before  # not rewritten


def test_any_changed_input_recompiles(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, PROJECT)
    _compile_and_write(root)
    (root / "models" / "c.sql").write_text("select id, max(amount) as total from b group by id")
    result = _compile_and_write(root)
    assert not result.unchanged
    assert "max(amount)" in result.manifest.nodes["c"].compiled_code
    assert _compile_and_write(root).unchanged


def test_env_var_change_recompiles(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ORCH_TEST_REGION", "eu")
    files = {
        **PROJECT,
        "models/d.sql": (  # a table: a view may not read env_var()
            "{{ config(materialized='table') }}\n"
            "select '{{ env_var(\"ORCH_TEST_REGION\") }}' as region"
        ),
    }
    root = make_project(tmp_path, files)
    _compile_and_write(root)
    assert _compile_and_write(root).unchanged
    monkeypatch.setenv("ORCH_TEST_REGION", "us")
    assert not _compile_and_write(root).unchanged


def test_run_started_at_is_never_reused(make_project: MakeProject, tmp_path: Path):
    files = {**PROJECT, "models/d.sql": "select '{{ run_started_at }}' as built_at"}
    root = make_project(tmp_path, files)
    _compile_and_write(root)
    assert not _compile_and_write(root).unchanged


def test_a_stale_key_file_is_not_trusted(make_project: MakeProject, tmp_path: Path):
    root = make_project(tmp_path, PROJECT)
    _compile_and_write(root)
    (root / "target" / "manifest.key.json").write_text("{not json")
    assert not _compile_and_write(root).unchanged


def test_property_files_come_from_the_yaml_cache_with_their_positions(
    make_project: MakeProject, tmp_path: Path
):
    """A second load reads unchanged property files from target/yaml_cache.json; an error found
    in a cached document still names its file:line, and an edited file is parsed again."""
    root = make_project(
        tmp_path,
        {
            "models/a.sql": "select 1 as id",
            "models/a.yml": "models:\n  - name: a\n    description: first\n",
            "models/dated.yml": "models:\n  - name: b\n    meta: {since: 2024-01-01}\n",
            "models/b.sql": "select 1 as id",
        },
    )
    assert run_cli("compile", "--project-dir", root).exit_code == 0
    cached = json.loads((root / "target" / "yaml_cache.json").read_text())["entries"]
    stored = [entry["data"] for entry in cached.values()]
    assert {"models": [{"name": "a", "description": "first"}]} in stored
    assert len(stored) == 1  # a date does not survive JSON: that file is parsed every time

    (root / "models" / "a.yml").write_text("models:\n  - name: a\n    colums: []\n")
    first = run_cli("compile", "--project-dir", root)
    again = run_cli("compile", "--project-dir", root)  # now from the cache
    assert first.exit_code == again.exit_code == 2
    assert "models/a.yml:3" in first.stderr
    assert first.stderr == again.stderr
