"""The ``orch`` group, its error handling and the options shared by commands.

The group's ``main`` is the only place an OrchError becomes output and an exit code.
"""

from __future__ import annotations

import errno
import functools
import gc
import importlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from orch import redaction
from orch.config import RunOptions
from orch.errors import InternalError, OrchError, SelectionError, os_error
from orch.selection import NamedSelector, Selection, load_selectors, named_selector

if TYPE_CHECKING:
    from orch.compiler.artifacts import CompileResult


class OrchGroup(click.Group):
    """A click group whose ``main`` turns orch errors into messages and exit codes.

    Its commands may be registered lazily: ``lazy_commands`` maps a command name to the modules
    that define it, imported the first time the command is looked up (click's "lazily loading
    subcommands"), so a command pays only for its own imports.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, tuple[str, ...]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, loaded or not (sorted, as click lists them)."""
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command of that name, importing the modules that define it on first use."""
        if cmd_name not in self.commands:
            for module in self.lazy_commands.get(cmd_name, ()):
                importlib.import_module(module)
        return self.commands.get(cmd_name)

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **kwargs: Any
    ) -> Any:
        """Run the CLI; user errors print one line (no traceback) and exit 2."""
        argv = sys.argv[1:] if args is None else args
        debug = "--debug" in argv  # from the arguments given (CliRunner passes them, not argv)
        kwargs.pop("standalone_mode", None)
        try:
            return super().main(args, prog_name, standalone_mode=False, **kwargs)
        except click.exceptions.Exit as err:
            sys.exit(err.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.ClickException as err:
            err.show()
            sys.exit(2 if err.exit_code == 1 else err.exit_code)
        except OrchError as err:
            if debug or isinstance(err, InternalError):  # scrubbed: locals reach the message
                click.echo(redaction.scrub(traceback.format_exc()).rstrip("\n"), err=True)
            click.echo(redaction.scrub(f"Error: {err.format_message()}"), err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as exc:
            if isinstance(exc, OSError) and _is_filesystem_error(exc):
                # a read-only folder, a full disk, a file where a folder should be: the user's
                user_err = os_error(exc)
                if debug:
                    traceback.print_exc()
                click.echo(redaction.scrub(f"Error: {user_err.format_message()}"), err=True)
                sys.exit(user_err.exit_code)
            # a bug: show it
            click.echo(redaction.scrub(traceback.format_exc()), err=True)
            click.echo(
                "This is a bug in orch: please report it with the traceback above.", err=True
            )
            sys.exit(3)


# A read-only folder or filesystem, no permission, a full disk, a file where a folder belongs:
# the user's to fix (exit 2). Any other OSError (a missing file of orch's own, a broken socket)
# stays a bug with its traceback.
_FILESYSTEM_ERRNOS = frozenset(
    {
        errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EEXIST,
        errno.ENOTDIR, errno.EISDIR,
    }
)  # fmt: skip


def _is_filesystem_error(err: OSError) -> bool:
    """An OSError about a path the user controls: shown as a user error, not a bug."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):  # a write() names no file
        return True
    return err.errno in _FILESYSTEM_ERRNOS and bool(err.filename)


def _parse_vars(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    import yaml

    try:
        data = yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise click.BadParameter(f"not valid YAML/JSON: {err}") from None
    if not isinstance(data, dict):
        raise click.BadParameter('give a mapping, e.g. --vars \'{"start_date": "2024-01-01"}\'')
    return data


def project_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--project-dir, --profiles-dir, --target, --vars, --debug (dbt's names)."""

    @click.option(
        "--project-dir",
        type=click.Path(path_type=Path),
        multiple=True,
        help="Folder holding orch_project.yml (or dbt_project.yml)  [default: .]",
    )
    @click.option(
        "--workspace",
        type=click.Path(path_type=Path),
        default=None,
        help="orch_workspace.yml (or its folder): act on all its member projects "
        "(default: the one found from the current folder upward, outside a project).",
    )
    @click.option(
        "--profiles-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder holding profiles.yml (default: the project folder, then ~/.dbt).",
    )
    @click.option("--target", "-t", default=None, help="Target (output) of the profile to use.")
    @click.option(
        "--vars", "vars_", callback=_parse_vars, default=None, help="YAML/JSON mapping of vars."
    )
    @click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _workspace_kwargs(kwargs, takes_workspace=getattr(func, "takes_workspace", False))
        logging.basicConfig(
            level=logging.DEBUG if kwargs["debug"] else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        return func(*args, **kwargs)

    return wrapper


def takes_workspace(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a command that works across a workspace (it receives ``workspace``: a file or None).

    Put it below ``@project_options``.
    """
    func.takes_workspace = True  # type: ignore[attr-defined]
    return func


def _workspace_kwargs(kwargs: dict[str, Any], *, takes_workspace: bool) -> None:
    """``--project-dir`` once at most; ``--workspace``, or the workspace found from the current
    folder upward when no project is given or here, for the commands that take one."""
    from orch.load.workspace import PROJECT_FILES, find_workspace_file, workspace_path

    dirs: tuple[Path, ...] = kwargs["project_dir"]
    if len(dirs) > 1:
        shown = " and ".join(f"'{d}'" for d in dirs)
        raise click.UsageError(
            f"--project-dir is given {len(dirs)} times ({shown}): give it once. To act on "
            "several projects, list them in an orch_workspace.yml and pass --workspace"
        )
    given: Path | None = kwargs.pop("workspace")
    if given is not None and dirs:
        raise click.UsageError(
            "--workspace and --project-dir cannot be combined: --project-dir acts on one "
            "project, --workspace on all members of the workspace"
        )
    kwargs["project_dir"] = dirs[0] if dirs else Path(".")
    if given is not None and not takes_workspace:
        raise click.UsageError(
            "this command does not work across a workspace: run it for one member with "
            "--project-dir MEMBER"
        )
    found: Path | None = None
    if given is not None:
        found = workspace_path(given)
    elif takes_workspace and not dirs and not any(Path(n).is_file() for n in PROJECT_FILES):
        found = find_workspace_file(Path.cwd())
    if takes_workspace:
        kwargs["workspace"] = found
        if found is not None:
            kwargs["project_dir"] = found.parent


class MultiValueOption(click.Option):
    """A repeatable option that also takes the words after it, as dbt's ``-s a b c``.

    ``-s a b --exclude c d`` gives ``select=("a", "b")`` and ``exclude=("c", "d")``: the option
    takes every following word up to the next one starting with ``-``. ``-s a -s b`` and
    ``-s 'a b'`` keep working. When a command's positional arguments would then be missing
    (``orch job run -s a NAME``), the last words taken are given back to them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("multiple", True)
        super().__init__(*args, **kwargs)

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        """Register as usual, then make the parser option take the following words too."""
        super().add_to_parser(parser, ctx)
        target = next(
            (
                parser._long_opt.get(o) or parser._short_opt.get(o)
                for o in self.opts
                if o in parser._long_opt or o in parser._short_opt
            ),
            None,
        )
        if target is None:  # pragma: no cover - click registers every name of the option
            return
        previous = target.process
        taken: list[tuple[str, str]] = parser.__dict__.setdefault("_orch_taken", [])
        if "_orch_give_back" not in parser.__dict__:
            parser._orch_give_back = True
            _give_back_to_arguments(parser, taken)

        def process(value: Any, state: Any) -> None:
            previous(value, state)
            while state.rargs and not state.rargs[0].startswith("-"):
                word = state.rargs.pop(0)
                previous(word, state)
                taken.append((target.dest, word))

        target.process = process


def _give_back_to_arguments(parser: Any, taken: list[tuple[str, str]]) -> None:
    """Before positional arguments are matched, return words a MultiValueOption took that the
    command's required arguments need (the last ones taken first)."""
    original = parser._process_args_for_args
    required = sum(max(arg.nargs, 1) for arg in parser._args if getattr(arg.obj, "required", False))

    def process_args(state: Any) -> None:
        missing = required - len(state.largs) - len(state.rargs)
        given: list[str] = []
        while missing > 0 and taken:
            dest, word = taken.pop()
            values = state.opts.get(dest) or []
            if values and values[-1] == word:
                values.pop()
                given.insert(0, word)
                missing -= 1
        state.largs[:0] = given
        original(state)

    parser._process_args_for_args = process_args


def selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """-s/--select and --exclude (and --selector): repeatable, several values after one option
    (``-s a b``), space-separated unions inside one value."""
    func = click.option(
        "--selector",
        "selector",
        default=None,
        help="A selector from selectors.yml at the project root (instead of -s/--exclude).",
    )(func)
    func = click.option(
        "--exclude",
        cls=MultiValueOption,
        help="Assets to leave out (same syntax as --select).",
    )(func)
    func = click.option(
        "--select",
        "-s",
        "--models",
        "-m",
        "select",
        cls=MultiValueOption,
        help="Assets to include: name, +name, name+, tag:x, path:dir, group:x, source:x, "
        "config.materialized:table, a,b (intersection), 'a b' or -s a b (union).",
    )(func)
    return func


def make_options(kwargs: dict[str, Any], **extra: Any) -> RunOptions:
    """RunOptions from the parsed command line.

    The selection is parsed here, once, so a malformed selector fails before anything loads;
    later stages get the same :class:`~orch.selection.Selection` from ``Selection.from_options``.
    """
    select, exclude = _split(kwargs.get("select", ())), _split(kwargs.get("exclude", ()))
    indirect = "eager"
    if "select" in kwargs:  # a command with selection options: --selector, a default selector
        selector = resolve_selector(kwargs["project_dir"], kwargs.get("selector"), select, exclude)
        if selector is not None:
            select, exclude = selector.select, selector.exclude
            indirect = selector.indirect_selection
    options = RunOptions(
        project_dir=kwargs["project_dir"],
        profiles_dir=kwargs.get("profiles_dir"),
        target=kwargs.get("target"),
        vars=kwargs.get("vars_") or {},
        select=select,
        exclude=exclude,
        indirect_selection=indirect,
        **extra,
    )
    Selection.from_options(options)
    return options


def resolve_selector(
    project_dir: Path, name: str | None, select: Sequence[str], exclude: Sequence[str]
) -> NamedSelector | None:
    """The selectors.yml selector a command runs with: ``--selector NAME``, else the
    ``default: true`` one when neither -s nor --exclude is given, else None.

    Raises:
        SelectionError: for an unknown name, a malformed selectors.yml, or --selector given
            together with -s/--exclude.
    """
    if name is not None and (select or exclude):
        raise SelectionError(
            "--selector cannot be combined with -s/--select or --exclude",
            hint="Put the whole selection in the selector's definition, or drop --selector",
        )
    if name is None and (select or exclude):
        return None
    selectors = load_selectors(project_dir)
    if name is not None:
        return named_selector(selectors, name)
    return next((s for s in selectors.values() if s.default), None)


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        out.extend(v for v in value.split() if v)
    return tuple(out)


@click.group(cls=OrchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, _param, value: _print_versions(ctx) if value else None,
    help="Show the versions of orch, sqlglot, duckdb and the installed adapters, and exit.",
)
def cli() -> None:
    """orch: SQL and Python models as a graph of data assets.

    \b
    Start here:
      orch init my_project        scaffold a working project
      orch build                  seeds, models and checks, in dependency order
      orch ls -s +orders          what a selection contains
      orch lineage orders.amount  where a column comes from
    """


def _print_versions(ctx: click.Context) -> None:
    """``orch --version``: one ``what: version`` per line (adapters from their entry points)."""
    from orch.run.diagnostics import installed_versions

    for what, version in installed_versions():
        click.echo(f"{what}: {version}")
    ctx.exit(0)


def main() -> None:
    """Console-script entry point.

    orch allocates millions of small objects (ASTs, manifest nodes) and keeps most of them: with
    the default thresholds the cyclic garbage collector re-scans them thousands of times (over
    half the time of reading a 10,000-asset manifest). Collect far less often instead of never,
    since parsed SQL trees hold reference cycles.
    """
    gc.freeze()  # what is alive after imports stays alive: never scan it
    gc.set_threshold(100_000, 50, 100)
    try:
        cli.main(prog_name="orch")
    finally:
        if _exit_uncollected:
            gc.freeze()  # the interpreter's last collection never scans what is left


_exit_uncollected = False


def exit_uncollected() -> None:
    """The command is done and closed what it opened: the process may end without the
    interpreter's last garbage collection, which after a cold compile of 10,000 models scans
    and frees ~2 million objects held in reference cycles (parsed SQL trees) — 2.5 s spent on
    memory the operating system takes back at once. Only :func:`main` (a process of its own)
    acts on it; a command invoked in-process (tests, ``CliRunner``) changes nothing."""
    global _exit_uncollected
    _exit_uncollected = True


def load_manifest(options: RunOptions, *, scoped: bool = True) -> CompileResult:
    """Compile the project (only what the selection needs, when it can tell)."""
    from orch.compiler import compile_or_reuse

    names = Selection.from_options(options).names_needed() if scoped else None
    result = compile_or_reuse(options, names)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    return result
