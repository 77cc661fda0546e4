"""The manifest's freshness check hashes input files once: later commands reuse the hash while
the file's stat is unchanged (``orch.load.cache.FileDigests``), and never miss an edit."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import duckdb
import pytest
from orch.load.cache import FILE_DIGESTS_FILE, FileDigests

from tests.conftest import MakeProject, run_cli


@pytest.fixture
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record files written just now too (the tests write them a moment before reading)."""
    monkeypatch.setattr(FileDigests, "RACY_S", 0.0)


def test_digest_is_reused_until_the_file_changes(tmp_path: Path, no_racy_window: None):
    store = tmp_path / "target" / FILE_DIGESTS_FILE
    model = tmp_path / "m.sql"
    model.write_text("select 1 as x", encoding="utf-8")
    first = FileDigests(store, (b"run_started_at",))
    assert first.digest(model) == (hashlib.sha256(b"select 1 as x").hexdigest(), False)
    first.save()
    assert str(model) in json.loads(store.read_text(encoding="utf-8"))["files"]

    again = FileDigests(store, (b"run_started_at",))
    assert again.digest(model) == first.digest(model)
    assert not again._dirty  # answered from the record: the file was not read

    time.sleep(0.02)
    model.write_text("select 2 as x", encoding="utf-8")  # same size, new content
    edited = FileDigests(store, (b"run_started_at",))
    assert edited.digest(model) == (hashlib.sha256(b"select 2 as x").hexdigest(), False)
    model.write_text("-- {{ run_started_at }}", encoding="utf-8")
    assert edited.digest(model) == (
        hashlib.sha256(b"-- {{ run_started_at }}").hexdigest(),
        True,
    )
    model.unlink()
    assert edited.digest(model) is None


def test_a_file_written_just_now_is_not_recorded(tmp_path: Path):
    store = tmp_path / FILE_DIGESTS_FILE
    model = tmp_path / "m.sql"
    model.write_text("select 1 as x", encoding="utf-8")
    digests = FileDigests(store)
    assert digests.digest(model) is not None
    digests.save()
    assert json.loads(store.read_text(encoding="utf-8"))["files"] == {}


def test_a_corrupt_or_foreign_record_is_ignored(tmp_path: Path, no_racy_window: None):
    store = tmp_path / FILE_DIGESTS_FILE
    model = tmp_path / "m.sql"
    model.write_text("select 1 as x", encoding="utf-8")
    store.write_text("{not json", encoding="utf-8")
    assert FileDigests(store).digest(model) == (hashlib.sha256(b"select 1 as x").hexdigest(), False)
    stat = model.stat()
    stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
    store.write_text(
        json.dumps({"salt": "another orch", "files": {str(model): [*stamp, "0" * 64, False]}}),
        encoding="utf-8",
    )
    assert FileDigests(store).digest(model) == (hashlib.sha256(b"select 1 as x").hexdigest(), False)


def test_an_edit_recompiles_after_recorded_digests(
    make_project: MakeProject, tmp_path: Path, no_racy_window: None
):
    root = make_project(
        tmp_path, {"models/a.sql": "select 1 as x", "models/b.sql": "select x from a"}
    )
    assert run_cli("build", "--project-dir", root).exit_code == 0
    assert (root / "target" / FILE_DIGESTS_FILE).is_file()
    time.sleep(0.02)
    (root / "models" / "b.sql").write_text("select 7 as x", encoding="utf-8")  # same size
    run = run_cli("build", "--changed", "--project-dir", root)
    assert run.exit_code == 0, run.output
    assert "1/1 OK" in run.stdout and " b " in run.stdout
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute('select x from "analytics"."b"').fetchall() == [(7,)]
