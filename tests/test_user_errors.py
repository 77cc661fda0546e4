"""Issue 22: clear errors instead of tracebacks, through the real CLI.

Each case asserts the whole message and the exit code (2 for a user error; 1 for a model that
fails). Read-only and full filesystems are real: a small tmpfs mounted under the project
(skipped where mounting is not permitted); only the lock release on a full disk mocks the
SQLite write, since a full disk cannot be made to strike at exactly that statement.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from orch.state.sqlite import SQLiteStateStore

from tests.conftest import MakeProject, Run, run_cli

# A schema of their own: another test's env_var('...') = 'analytics' is scrubbed from output
# for the rest of the process (redaction), which would hide the default schema's name.
VIEWS_PROFILE = """\
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: warehouse.duckdb
      schema: views_test
"""

MODELS = {
    "seeds/raw_orders.csv": "id,amount\n1,10\n2,20\n",
    "models/orders.sql": "select id, amount from raw_orders",
}


@pytest.fixture
def project(make_project: MakeProject, tmp_path: Path) -> Path:
    return make_project(tmp_path / "shop", MODELS)


def user_error(run: Run) -> str:
    """The one line a user error prints (exit 2, no traceback)."""
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output
    return run.stderr.strip()


# --------------------------------------------------------------------------- tmpfs


class Mounts:
    """Small tmpfs mounts made by one test, unmounted at teardown.

    Without root, :meth:`read_only` folders are made read-only with chmod instead (root writes
    through permissions, so it needs a read-only mount), and a full disk cannot be made.
    """

    def __init__(self) -> None:
        self.root = os.geteuid() == 0
        self.points: list[Path] = []
        self.sealed: list[Path] = []

    def tmpfs(self, folder: Path, size: str = "4m") -> Path:
        """Mount a fresh tmpfs on ``folder`` (created); skip the test where that is refused."""
        folder.mkdir(parents=True, exist_ok=True)
        if not self.root:
            pytest.skip("mounting a tmpfs needs root")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        self.points.append(folder)
        return folder

    def writable(self, folder: Path) -> Path:
        """A folder that :meth:`read_only` can seal later (a tmpfs as root, else a folder)."""
        return self.tmpfs(folder) if self.root else _mkdir(folder)

    def read_only(self, folder: Path) -> None:
        """Make a folder from :meth:`writable` read-only."""
        if self.root:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
            return
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o555)
                self.sealed.append(path)

    def undo(self) -> None:
        for path in self.sealed:
            path.chmod(0o755)
        for folder in reversed(self.points):
            subprocess.run(["umount", "-l", str(folder)], check=False)


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def mounts() -> Iterator[Mounts]:
    m = Mounts()
    try:
        yield m
    finally:
        m.undo()


def fill(folder: Path) -> None:
    """Write zeros into ``folder`` until its filesystem is full."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- item 3: views


def test_a_view_that_fails_only_when_read_fails_its_own_step(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(
        tmp_path / "shop",
        {
            "models/amounts.sql": "select 'abc' as amount",
            "models/typed.sql": "select cast(amount as integer) as amount from amounts",
            "models/report.sql": "{{ config(materialized='table') }}\nselect * from typed",
        },
        profiles_yml=VIEWS_PROFILE,
    )
    assert run_cli("build", "--project-dir", root, "-s", "amounts").exit_code == 0
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 1, run.output
    assert "Traceback" not in run.output
    assert (
        "Failed: typed (models/typed.sql)\n"
        "the view views_test.typed fails when read: Conversion Error: Could not convert string "
        "'abc' to INT32 when casting from source column amount. Fix the model's SQL (DuckDB "
        "checks casts only when a view is read); the previous version of the view, if any, is "
        "kept\n"
    ) in run.stdout
    assert "3/3 SKIP    report: upstream 'typed' failed\n" in run.stdout
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        views = con.execute(
            "select table_name from information_schema.tables where table_type = 'VIEW'"
        ).fetchall()
        tables = con.execute(
            "select table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
    assert views == [("amounts",)]  # the view that cannot be read was rolled back
    assert tables == []  # and nothing below it was built


def test_a_view_that_breaks_keeps_the_previous_one(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(
        tmp_path / "shop", {"models/v.sql": "select '1' as x"}, profiles_yml=VIEWS_PROFILE
    )
    assert run_cli("build", "--project-dir", root).exit_code == 0
    (root / "models/v.sql").write_text("select cast('one' as integer) as x", encoding="utf-8")
    run = run_cli("build", "--project-dir", root)
    assert run.exit_code == 1, run.output
    assert (
        "the view views_test.v fails when read: Conversion Error: Could not convert string "
        "'one' to INT32"
    ) in run.stdout
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute('select * from views_test."v"').fetchall() == [("1",)]


# --------------------------------------------------------------------------- item 7: files


@pytest.mark.parametrize(
    ("name", "command"),
    [("target", "compile"), ("target", "build"), ("logs", "build")],
    ids=["target-compile", "target-build", "logs-build"],
)
def test_a_file_where_a_folder_belongs(project: Path, name: str, command: str) -> None:
    (project / name).write_text("", encoding="utf-8")
    message = user_error(run_cli(command, "--project-dir", project))
    assert message == (
        f"Error: {project / name} is a file, but orch needs a folder there. "
        "Remove or rename the file"
    )


def test_the_state_folder_is_a_file(project: Path) -> None:
    (project / ".orch").write_text("", encoding="utf-8")
    message = user_error(run_cli("build", "--project-dir", project))
    state = project / ".orch" / "state.db"
    assert message == (
        f"Error: cannot create the state store {state}: {project / '.orch'} is a file, not a "
        f"folder. Remove or rename the file {project / '.orch'}; orch keeps its run state there"
    )
    status = run_cli("status", "--project-dir", project)  # reading needs no state folder
    assert status.exit_code == 0, status.output
    assert "never built" in status.stdout


def test_a_read_only_state_folder_is_read_by_status_and_docs(project: Path, mounts: Mounts) -> None:
    mounts.writable(project / ".orch")
    assert run_cli("build", "--project-dir", project).exit_code == 0
    mounts.read_only(project / ".orch")

    status = run_cli("status", "--project-dir", project)
    assert status.exit_code == 0, status.output
    assert "2 up to date" in status.stdout
    docs = run_cli("docs", "generate", "--project-dir", project)
    assert docs.exit_code == 0, docs.output
    assert (project / "target" / "docs" / "index.html").is_file()

    message = user_error(run_cli("build", "--project-dir", project))
    assert message == (
        f"Error: cannot write the state store {project / '.orch' / 'state.db'}: its folder is "
        f"read-only. Make {project / '.orch'} writable (orch status and orch docs generate "
        "only read it and work as it is)"
    )


def test_a_read_only_project(make_project: MakeProject, tmp_path: Path, mounts: Mounts) -> None:
    root = make_project(mounts.writable(tmp_path / "ro") / "shop", MODELS)
    assert run_cli("build", "--project-dir", root).exit_code == 0
    mounts.read_only(tmp_path / "ro")

    status = run_cli("status", "--project-dir", root)
    assert status.exit_code == 0, status.output
    message = user_error(run_cli("docs", "generate", "--project-dir", root))
    docs = root / "target" / "docs"
    assert message == (
        f"Error: Read-only file system: {docs}. The filesystem is read-only: run orch from a "
        "writable copy of the project"
        if mounts.root
        else f"Error: Permission denied: {docs}. Make it writable (chmod/chown) or run orch "
        "from a writable copy of the project"
    )
    message = user_error(run_cli("build", "--project-dir", root))
    assert message.startswith(f"Error: cannot write the state store {root / '.orch'}")


def test_a_full_disk_under_the_state_folder(project: Path, mounts: Mounts) -> None:
    orch_dir = mounts.tmpfs(project / ".orch", size="2m")
    assert run_cli("build", "--project-dir", project).exit_code == 0
    fill(orch_dir)
    message = user_error(run_cli("build", "--project-dir", project))
    assert message == (
        f"Error: cannot write the state store {orch_dir / 'state.db'}: the disk is full. "
        f"Free some space on the disk holding {orch_dir} and run the command again"
    )


class _FullOnDelete:
    """A SQLite connection whose run-lock DELETE fails as on a full disk (everything else real)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("DELETE FROM run_locks"):
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_a_full_disk_while_releasing_the_lock(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect: Callable[[SQLiteStateStore], Any] = SQLiteStateStore._connect
    monkeypatch.setattr(
        SQLiteStateStore,
        "_connect",
        lambda self: real_connect(self) if self.readonly else _FullOnDelete(real_connect(self)),
    )
    message = user_error(run_cli("build", "--project-dir", project))
    state = project / ".orch" / "state.db"
    assert message == (
        f"Error: cannot write the state store {state}: the disk is full. Free some space on the "
        f"disk holding {project / '.orch'} and run the command again"
    )


def test_a_lock_edited_by_hand(project: Path) -> None:
    assert run_cli("build", "--project-dir", project).exit_code == 0
    state = project / ".orch" / "state.db"
    with sqlite3.connect(state) as con:
        con.execute(
            "INSERT INTO run_locks VALUES ('dev', 'x', 'twelve', 'vm', 'build', NULL,"
            " 'yesterday', 'yesterday')"
        )
    message = user_error(run_cli("build", "--project-dir", project))
    assert message == (
        f"Error: the run lock of target 'dev' in the state store {state} is unreadable "
        "(invalid literal for int() with base 10: 'twelve'). It was edited by hand or damaged: "
        f"remove the lock: sqlite3 {state} \"DELETE FROM run_locks WHERE target = 'dev'\""
    )


# --------------------------------------------------------------------------- item 8: encodings


@pytest.mark.parametrize(
    ("rel", "content", "expected"),
    [
        (
            "models/bad.sql",
            b"select 1 as x,\n  'caf\xe9' as y",
            "models/bad.sql:2:7: the file is not UTF-8: byte 0xe9 at offset 21 cannot be decoded",
        ),
        (
            "models/blob.sql",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "models/blob.sql:1:1: the file is binary, not UTF-8 text: byte 0x89 at offset 0 "
            "cannot be decoded",
        ),
        (
            "models/schema.yml",
            b'version: 2\nmodels:\n  - name: orders\n    description: "caf\xe9"\n',
            "models/schema.yml:4:22: the file is not UTF-8: byte 0xe9 at offset 57 cannot be "
            "decoded",
        ),
        (
            "models/segments.py",
            b"import polars as pl\nfrom orch import asset\n# caf\xe9\n",
            "models/segments.py:3:6: the file is not UTF-8: byte 0xe9 at offset 48 cannot be "
            "decoded",
        ),
    ],
    ids=["latin1-sql", "binary-sql", "latin1-yml", "latin1-py"],
)
def test_a_file_that_is_not_utf8(project: Path, rel: str, content: bytes, expected: str) -> None:
    (project / rel).write_bytes(content)
    message = user_error(run_cli("compile", "--project-dir", project))
    assert message == (
        f"Error: {expected}. Save the file as UTF-8 text, or move it out of the project's folders"
    )


# --------------------------------------------------------------------------- item 9: seeds


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        (
            "id,amount\n1,10\n2\n",
            "seeds/raw_orders.csv:3: this row has 1 value, the header has 2 columns. Give every "
            "row one value per column (quote values holding a comma)",
        ),
        (
            "id,amount\n1,10,5\n",
            "seeds/raw_orders.csv:2: this row has 3 values, the header has 2 columns. Give every "
            "row one value per column (quote values holding a comma)",
        ),
        (
            "",
            "seeds/raw_orders.csv:1: the seed is empty. Write a header row with the column names "
            "(and rows of values), or remove the file",
        ),
        (
            "id,amount,amount\n1,10,11\n",
            "seeds/raw_orders.csv:1: the header repeats the column 'amount' (columns 2 and 3). "
            "Give each column its own name: the load would rename the second one 'amount_1'",
        ),
        (
            "id,,amount\n1,2,3\n",
            "seeds/raw_orders.csv:1: column 2 of the header has no name. Name every column in "
            "the first row (or remove a trailing comma)",
        ),
    ],
    ids=["short-row", "long-row", "empty", "duplicate-header", "unnamed-column"],
)
def test_seed_csv_problems_are_found_at_compile(project: Path, csv: str, expected: str) -> None:
    (project / "seeds/raw_orders.csv").write_text(csv, encoding="utf-8")
    message = user_error(run_cli("compile", "--project-dir", project))
    assert message == f"Error: {expected}"


def test_a_seed_with_blank_lines_and_quoted_line_breaks_still_loads(project: Path) -> None:
    (project / "seeds/raw_orders.csv").write_text('id,amount\n1,"10\n"\n\n2,20\n', encoding="utf-8")
    assert run_cli("seed", "--project-dir", project).exit_code == 0


# --------------------------------------------------------------------------- item 10: messages


def test_config_errors_name_the_line_of_the_setting(project: Path) -> None:
    (project / "models/orders.sql").write_text(
        "-- orders\n{{ config(\n    tags=['daily'],\n    materialized='tabel',\n) }}\n"
        "select id from raw_orders",
        encoding="utf-8",
    )
    message = user_error(run_cli("compile", "--project-dir", project))
    assert message == (
        "Error: models/orders.sql:4:5: invalid config for 'orders': 'materialized': Input should "
        "be 'view', 'table', 'incremental', 'ephemeral', 'none', 'external' or 'snapshot'. Fix the "
        "setting "
        "in config()"
    )


def test_config_union_errors_name_the_setting_not_pydantic_types(project: Path) -> None:
    (project / "models/orders.sql").write_text(
        "{{ config(materialized='table', unique_key=5) }}\nselect id from raw_orders",
        encoding="utf-8",
    )
    message = user_error(run_cli("compile", "--project-dir", project))
    assert message == (
        "Error: models/orders.sql:1:33: invalid config for 'orders': 'unique_key': Input should "
        "be a valid string. Fix the setting in config()"
    )


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "select (",
            "models/orders.sql:1:8: SQL syntax error near '(': an expression is missing in the "
            "parentheses",
        ),
        (
            "select id\nfrom raw_orders\nwhere",
            "models/orders.sql:3:1: SQL syntax error near 'where': an expression is missing in "
            "the WHERE clause",
        ),
        (
            "select id + from raw_orders",
            "models/orders.sql:1:13: SQL syntax error near 'from': an expression is missing "
            "after '+'",
        ),
        (
            "select count( from raw_orders",
            "models/orders.sql:1:20: SQL syntax error near 'raw_orders': expected ')'",
        ),
    ],
    ids=["paren", "where", "plus", "unclosed-call"],
)
def test_sql_syntax_errors_speak_sql(project: Path, sql: str, expected: str) -> None:
    (project / "models/orders.sql").write_text(sql, encoding="utf-8")
    message = user_error(run_cli("compile", "--project-dir", project))
    assert message == f"Error: {expected}. Fix the SQL at that position"
    assert "<class" not in message and "sqlglot" not in message


def test_an_unclosed_yaml_quote_is_reported_at_the_quote(project: Path) -> None:
    (project / "models/schema.yml").write_text(
        'version: 2\nmodels:\n  - name: orders\n    description: "all orders\n'
        "    columns:\n      - name: id\n",
        encoding="utf-8",
    )
    message = user_error(run_cli("compile", "--project-dir", project))
    assert message == (
        'Error: models/schema.yml:4:18: invalid YAML: the quote " opened here is never closed. '
        'Close the quoted text with a matching "'
    )


def test_a_selector_that_matches_nothing_says_so(project: Path) -> None:
    assert run_cli("seed", "--project-dir", project).exit_code == 0
    run = run_cli("build", "--project-dir", project, "-s", "tag:nonexistent")
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines()[:2] == [
        "orch build on target dev: 0 steps (selection: tag:nonexistent)",
        "Nothing selected: 'tag:nonexistent' matched no asset",
    ]
    run = run_cli("build", "--project-dir", project, "-s", "orders tag:nonexistent")
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines()[1] == "Note: 'tag:nonexistent' matched no asset"


@pytest.mark.parametrize("command", ["ls", "compile"])
def test_ls_and_compile_say_what_matched_nothing_on_stderr(project: Path, command: str) -> None:
    run = run_cli(command, "--project-dir", project, "-s", "tag:nonexistent")
    assert run.exit_code == 0, run.output
    assert run.stdout == ""  # a listing stays machine-readable
    assert run.stderr == "Nothing selected: 'tag:nonexistent' matched no asset\n"
    run = run_cli(command, "--project-dir", project, "-s", "orders tag:nonexistent")
    assert run.exit_code == 0, run.output
    assert run.stderr == "Note: 'tag:nonexistent' matched no asset\n"
    assert "orders" in run.stdout


def test_a_selection_that_is_up_to_date_is_not_called_empty(project: Path) -> None:
    assert run_cli("build", "--project-dir", project).exit_code == 0
    run = run_cli("build", "--project-dir", project, "-s", "orders", "--changed")
    assert run.exit_code == 0, run.output
    assert "Nothing selected" not in run.output and "matched no asset" not in run.output


def test_an_empty_project_is_unaffected(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(tmp_path / "empty", {})
    message = user_error(run_cli("build", "--project-dir", root))
    assert message == (
        "Error: orch_project.yml: no models found in models/. Add a .sql model file there "
        "(e.g. models/my_model.sql), or fix 'model-paths'"
    )


def test_a_full_disk_under_target(project: Path, mounts: Mounts) -> None:
    target = mounts.tmpfs(project / "target", size="1m")
    fill(target)
    message = user_error(run_cli("compile", "--project-dir", project))
    # a failed write() names no file: the message cannot name it either
    assert message == (
        "Error: No space left on device. Free some disk space (or raise the quota) and run the "
        "command again"
    )


def test_a_syntax_error_names_the_ref_as_written(make_project: MakeProject, tmp_path: Path) -> None:
    """A model that is no SQL (dbt-project-evaluator's ``{{ ref('a') }}`` lines): the error
    names the ``ref()`` as the model wrote it, never orch's internal marker."""
    root = make_project(
        tmp_path,
        {
            "models/a.sql": "select 1 as x\n",
            "models/b.sql": "select 2 as y\n",
            "models/both.sql": "{{ ref('a') }}\n{{ ref('b') }}\n{{ ref('b') }}\n",
        },  # fmt: skip
    )
    run = run_cli("compile", "--project-dir", root)
    assert run.exit_code == 2
    assert "models/both.sql:3:1: SQL syntax error near 'ref('b')'" in run.output
    assert "__orch" not in run.output and "Traceback" not in run.output
