"""A command whose manifest is up to date does not read the property files (issue 21): the
manifest key needs only their digests. A changed file is still read (and its errors reported
with file, line and column), and what reading them gives is the same as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from orch.compiler import compile_or_reuse
from orch.config import RunOptions
from orch.load import project as project_module
from orch.load.project import load_project

from tests.conftest import MakeProject, run_cli

FILES = {
    "models/a.sql": "select 1 as x",
    "models/b.sql": "select x from a",
    "models/schema.yml": """\
        models:
          - name: a
            description: the first
            columns: [{name: x, checks: [not_null]}]
          - name: ghost
            description: no model has this name
        """,
}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The property files read (by project-relative path), spied on the loader's one reader."""
    seen: list[str] = []
    original = project_module._read_properties

    def spy(project, path, docs):  # type: ignore[no-untyped-def]
        seen.append(path.relative_to(project.root).as_posix())
        return original(project, path, docs)

    monkeypatch.setattr(project_module, "_read_properties", spy)
    return seen


def test_an_unchanged_project_reads_no_property_file(
    make_project: MakeProject, tmp_path: Path, reads: list[str]
) -> None:
    root = make_project(tmp_path, FILES)
    built = run_cli("build", "--project-dir", root)
    assert built.exit_code == 0, built.output
    assert reads == ["models/schema.yml"]
    reads.clear()
    for args in (("run", "-s", "b"), ("build", "--changed"), ("ls",)):
        run = run_cli(*args, "--project-dir", root)
        assert run.exit_code == 0, run.output
        # the warning reading the file gave is still reported, from the manifest key
        assert "properties given for 'ghost', but no model or seed has that name" in run.stderr
    assert reads == []


def test_a_changed_property_file_is_read_and_recompiles(
    make_project: MakeProject, tmp_path: Path, reads: list[str]
) -> None:
    root = make_project(tmp_path, FILES)
    assert run_cli("compile", "--project-dir", root).exit_code == 0
    schema = root / "models" / "schema.yml"
    schema.write_text(schema.read_text().replace("the first", "the very first"))
    reads.clear()
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert reads == ["models/schema.yml"]
    assert "the very first" in (root / "target" / "manifest.json").read_text()


def test_an_error_in_a_changed_file_names_its_line_and_column(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(tmp_path, FILES)
    assert run_cli("compile", "--project-dir", root).exit_code == 0
    (root / "models" / "schema.yml").write_text(
        "models:\n  - name: a\n    columns: [{name: x, checks: [not_null]}]\n    colour: red\n"
    )
    for args in (("run", "-s", "a"), ("build", "--changed"), ("compile",)):
        run = run_cli(*args, "--project-dir", root)
        assert run.exit_code == 2, run.output
        assert run.stderr.startswith("Error: models/schema.yml:4:5: unknown key"), run.stderr


def test_errors_of_discovery_and_properties_are_reported_together(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(tmp_path, {**FILES, "models/9bad.sql": "select 1 as y"})
    (root / "models" / "schema.yml").write_text("models:\n  - name: a\n    colour: red\n")
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 2
    assert "'9bad' is not a valid asset name" in run.stderr
    assert "models/schema.yml:3:5: unknown key" in run.stderr


def test_the_reused_project_reads_its_properties_when_asked(
    make_project: MakeProject, tmp_path: Path, reads: list[str]
) -> None:
    root = make_project(tmp_path, FILES)
    assert run_cli("compile", "--project-dir", root).exit_code == 0
    reads.clear()
    result = compile_or_reuse(RunOptions(project_dir=root))
    assert result.unchanged and result.project.properties_pending and reads == []
    # a later consumer (the daemon's automation scan) gets them as an eager load gives them
    eager = load_project(RunOptions(project_dir=root))
    assert result.project.properties == eager.properties
    assert result.project.sources == eager.sources
    assert result.project.unit_tests == eager.unit_tests
    assert result.project.warnings == eager.warnings
    assert not result.project.properties_pending and reads == ["models/schema.yml"] * 2


def test_a_project_with_unit_test_fixtures_reads_its_files(
    make_project: MakeProject, tmp_path: Path, reads: list[str]
) -> None:
    """The fixture files are inputs of the key, and only the property files name them."""
    files = {
        "models/a.sql": "select 1 as x",
        "models/schema.yml": """\
            unit_tests:
              - name: a_is_one
                model: a
                given: []
                expect:
                  format: csv
                  fixture: one
            """,
        "tests/fixtures/one.csv": "x\n1\n",
    }
    root = make_project(tmp_path, files)
    assert run_cli("compile", "--project-dir", root).exit_code == 0, "compile"
    reads.clear()
    assert run_cli("ls", "--project-dir", root).exit_code == 0
    assert reads == ["models/schema.yml"]
    (root / "tests" / "fixtures" / "one.csv").write_text("x\n2\n")  # the key sees the change
    result = compile_or_reuse(RunOptions(project_dir=root))
    assert not result.unchanged


def test_the_project_file_and_profiles_come_from_the_startup_cache(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsed once (by content) under .orch/: a warm command parses no YAML at all, and a
    changed file is parsed again, its errors named as before."""
    from orch import yamldoc

    root = make_project(tmp_path, FILES)
    assert run_cli("build", "--project-dir", root).exit_code == 0  # makes .orch/ (the state)
    assert not (root / ".orch" / "yaml_cache.json").exists()
    assert run_cli("run", "-s", "b", "--project-dir", root).exit_code == 0
    assert (root / ".orch" / "yaml_cache.json").is_file()
    parsed: list[str] = []
    original = yamldoc._yaml

    def spy():  # type: ignore[no-untyped-def]
        parsed.append("yaml")
        return original()

    monkeypatch.setattr(yamldoc, "_yaml", spy)
    run = run_cli("run", "-s", "b", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert parsed == []
    project_file = root / "orch_project.yml"
    project_file.write_text(project_file.read_text() + "vars: [unclosed\n")
    run = run_cli("run", "-s", "b", "--project-dir", root)
    assert run.exit_code == 2
    assert run.stderr.startswith("Error: orch_project.yml:"), run.stderr
    assert parsed


def test_no_startup_cache_before_the_project_has_run(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(tmp_path, FILES)
    assert run_cli("compile", "--project-dir", root).exit_code == 0
    assert not (root / ".orch").exists()  # a compile creates no state folder for the cache
