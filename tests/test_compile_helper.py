"""The compile helper process (orch.compiler.helper): the artifacts of a serial compile, exactly.

``ORCH_COMPILE_HELPER=1`` forces the helper on a small project (on its own it starts only for a
cold compile of 400 SQL models or more); ``=0`` turns it off.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import MakeProject, Run, run_cli
from tests.dbt.conftest import copy_fixture

BENCH = Path(__file__).resolve().parent.parent / "bench"


def compile_cold(project: Path, monkeypatch: pytest.MonkeyPatch, helper: str) -> Run:
    """``orch compile`` with no target/ (nothing cached), the helper on or off."""
    monkeypatch.setenv("ORCH_COMPILE_HELPER", helper)
    shutil.rmtree(project / "target", ignore_errors=True)
    return run_cli("compile", "--project-dir", project)


def artifacts(project: Path) -> dict[str, object]:
    """Every file under target/: bytes, and the JSON caches as values (their key order is the
    order models were finished in)."""
    out: dict[str, object] = {}
    target = project / "target"
    for path in sorted(target.rglob("*")):
        if path.is_file():
            name = str(path.relative_to(target))
            if name == "file_digests.json":  # a stat cache: which files it may trust is timing
                continue
            data = path.read_bytes()
            out[name] = json.loads(data) if name.endswith("_cache.json") else data
    if "orch_manifest.json" in out:  # a dbt project: dbt's manifest.json has a timestamp
        dbt_manifest = json.loads(out["manifest.json"])  # type: ignore[arg-type]
        dbt_manifest.pop("metadata")
        out["manifest.json"] = dbt_manifest
    return out


def same_with_and_without(project: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    serial = compile_cold(project, monkeypatch, "0")
    assert serial.exit_code == 0, serial.output
    expected = artifacts(project)
    parallel = compile_cold(project, monkeypatch, "1")
    assert parallel.exit_code == 0, parallel.output
    assert parallel.output == serial.output.replace(
        _seconds(serial.output), _seconds(parallel.output)
    )
    got = artifacts(project)
    assert sorted(got) == sorted(expected)
    for name in expected:
        assert got[name] == expected[name], name
    return got


def _seconds(output: str) -> str:
    """The 'in 0.42s' of the summary line (the only part allowed to differ)."""
    line = next(line for line in output.splitlines() if line.startswith("Compiled "))
    return line.split(" in ")[-1].split("s ")[0]


def test_generated_project_compiles_to_the_same_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "gen"
    subprocess.run(
        [sys.executable, str(BENCH / "generate.py"), "80", str(root), "--flavour", "realistic"],
        check=True,
        capture_output=True,
    )
    with caplog.at_level(logging.DEBUG, logger="orch.compiler.helper"):
        got = same_with_and_without(root, monkeypatch)
    manifest = json.loads(got["manifest.json"])  # type: ignore[arg-type]
    assert len(manifest["nodes"]) == 80
    assert any(n["column_versions"] for n in manifest["nodes"].values())
    done = [r.getMessage() for r in caplog.records if "compiled there" in r.getMessage()]
    if threading.active_count() == 1:  # else no helper: a forked thread's locks stay taken
        # it compiles the models it parsed (as many as it claimed: the faster parses more), and
        # as many of those parsed here as it has time for
        assert len(done) == 1 and done[0].startswith("the compile helper: ")
        parsed_there = int(done[0].split(": ")[1].split()[0])
        compiled_there = int(done[0].split(", ")[1].split()[0])
        assert 0 <= parsed_there <= compiled_there <= 80


def test_example_project_compiles_to_the_same_artifacts(
    example_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    same_with_and_without(example_project, monkeypatch)


@pytest.mark.parametrize("fixture", ["coffee_dbt", "bakery_dbt", "vers_dbt"])
def test_dbt_project_compiles_to_the_same_artifacts(
    fixture: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_fixture(fixture, tmp_path, monkeypatch)
    same_with_and_without(project, monkeypatch)


def test_errors_in_the_helpers_models_are_reported_as_without_it(
    tmp_path: Path, make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    # whichever process parses b and c (they claim models as they go), the errors are the same
    root = make_project(
        tmp_path,
        {
            "models/a.sql": "select 1 as id",
            "models/b.sql": "select id from a where",  # a syntax error
            "models/c.sql": "select id from {{ ref('a' }}",  # a template error
            "models/d.sql": "select id from a",
            "models/e.sql": "select id from d",
        },
    )
    serial = compile_cold(root, monkeypatch, "0")
    parallel = compile_cold(root, monkeypatch, "1")
    assert serial.exit_code == parallel.exit_code == 2
    assert "models/b.sql:1:" in serial.stderr and "models/c.sql:1:" in serial.stderr
    assert parallel.stderr == serial.stderr
    assert not (root / "target" / "manifest.json").exists()


def test_compile_of_a_project_without_automation_imports_none_of_it(
    tmp_path: Path, make_project: MakeProject
) -> None:
    # the automation modules (jobs, schedules, sensors: ~0.15 s of imports) load only when used
    root = make_project(tmp_path, {"models/a.sql": "select 1 as id"})
    code = (
        "import sys\nfrom orch.cli import main\n"
        "sys.argv = ['orch', 'compile', '--project-dir', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('orch.automation.schedules' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True
    )
    assert run.stdout.splitlines()[-1] == "False"
    assert (root / "target" / "manifest.json").is_file()


def _generated(tmp_path: Path, models: int = 60) -> Path:
    root = tmp_path / "gen"
    subprocess.run(
        [sys.executable, str(BENCH / "generate.py"), str(models), str(root), "--flavour",
         "realistic"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return root


def test_compiled_files_are_all_written_when_the_helper_fails_writing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the helper writes target/compiled/ while it waits; if it stops (a bug), this process
    # writes every file it had sent there
    from orch.compiler import helper

    root = _generated(tmp_path)
    serial = compile_cold(root, monkeypatch, "0")
    assert serial.exit_code == 0, serial.output
    expected = artifacts(root)

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the helper")

    monkeypatch.setattr(helper, "_write_files", broken)
    parallel = compile_cold(root, monkeypatch, "1")
    assert parallel.exit_code == 0, parallel.output
    got = artifacts(root)
    assert sorted(got) == sorted(expected)
    assert all(got[name] == expected[name] for name in expected)
    assert not list((root / "target").glob(".compiled-*"))


def test_an_error_writing_a_compiled_file_is_reported_as_without_the_helper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orch.compiler import artifacts as artifacts_module

    root = _generated(tmp_path)
    compile_cold(root, monkeypatch, "0")  # a compiled/ from before: it must stay as it was
    compiled = root / "target" / "compiled"
    before = sorted(p.relative_to(compiled) for p in compiled.rglob("*"))
    write = artifacts_module._write_text

    def failing(path: str, text: str) -> None:
        if path.endswith("/int_00030.sql"):
            raise PermissionError(13, "Permission denied", path)
        write(path, text)

    monkeypatch.setattr(artifacts_module, "_write_text", failing)
    runs = []
    for helper in ("0", "1"):
        monkeypatch.setenv("ORCH_COMPILE_HELPER", helper)
        (root / "target" / "orch_cache.json").unlink()  # cold, compiled/ kept
        (root / "target" / "manifest.json").unlink(missing_ok=True)
        runs.append(run_cli("compile", "--project-dir", root))
        assert sorted(p.relative_to(compiled) for p in compiled.rglob("*")) == before
        assert not list((root / "target").glob(".compiled-*"))
    assert runs[0].exit_code == runs[1].exit_code != 0
    assert "int_00030.sql" in runs[0].stderr
    assert runs[1].stderr == runs[0].stderr


def test_claims_give_every_name_to_exactly_one_claimant() -> None:
    from orch.compiler.helper import Claims

    names = [f"m{i:03}" for i in range(100)]
    claims = Claims()
    here, there = claims.names(names, 1), claims.names(names, 2)
    got: dict[str, list[str]] = {"here": [], "there": []}
    for turn in range(200):  # interleaved, as two processes claim
        side, it = ("here", here) if turn % 3 else ("there", there)
        name = next(it, None)
        if name is not None:
            got[side].append(name)
    got["here"] += list(here)
    got["there"] += list(there)
    assert sorted(got["here"] + got["there"]) == names
    assert got["here"] and got["there"]


def test_models_the_helper_claimed_are_parsed_here_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orch.compiler import helper

    root = _generated(tmp_path)
    serial = compile_cold(root, monkeypatch, "0")
    assert serial.exit_code == 0, serial.output
    expected = artifacts(root)

    def broken(project: object, renderer: object, names: object) -> None:
        next(iter(names))  # it claims a model, then fails (a bug)
        raise RuntimeError("a bug in the helper")

    monkeypatch.setattr(helper, "parse_for_cache", broken)
    parallel = compile_cold(root, monkeypatch, "1")
    assert parallel.exit_code == 0, parallel.output
    got = artifacts(root)
    assert sorted(got) == sorted(expected)
    assert all(got[name] == expected[name] for name in expected)
