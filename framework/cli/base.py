"""The ``orch`` group, its error handling and the options shared by commands.

The group's ``main`` is the only place an OrchError becomes output and an exit code.
"""

from __future__ import annotations

import errno
import functools
import gc
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from orch import redaction
from orch.config import RunOptions
from orch.errors import InternalError, OrchError, os_error
from orch.selection import Selection

if TYPE_CHECKING:
    from orch.compiler.artifacts import CompileResult


class OrchGroup(click.Group):
    """A click group whose ``main`` turns orch errors into messages and exit codes."""

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
        default=".",
        show_default=True,
        help="Folder holding orch_project.yml (or dbt_project.yml).",
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
        logging.basicConfig(
            level=logging.DEBUG if kwargs["debug"] else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        return func(*args, **kwargs)

    return wrapper


def selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """-s/--select and --exclude, repeatable, space-separated unions inside."""
    func = click.option(
        "--exclude", multiple=True, help="Assets to leave out (same syntax as --select)."
    )(func)
    func = click.option(
        "--select",
        "-s",
        multiple=True,
        help="Assets to include: name, +name, name+, tag:x, path:dir, group:x, source:x, "
        "config.materialized:table, a,b (intersection), 'a b' (union).",
    )(func)
    return func


def make_options(kwargs: dict[str, Any], **extra: Any) -> RunOptions:
    """RunOptions from the parsed command line.

    The selection is parsed here, once, so a malformed selector fails before anything loads;
    later stages get the same :class:`~orch.selection.Selection` from ``Selection.from_options``.
    """
    options = RunOptions(
        project_dir=kwargs["project_dir"],
        profiles_dir=kwargs.get("profiles_dir"),
        target=kwargs.get("target"),
        vars=kwargs.get("vars_") or {},
        select=_split(kwargs.get("select", ())),
        exclude=_split(kwargs.get("exclude", ())),
        **extra,
    )
    Selection.from_options(options)
    return options


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
    cli.main(prog_name="orch")


def load_manifest(options: RunOptions, *, scoped: bool = True) -> CompileResult:
    """Compile the project (only what the selection needs, when it can tell)."""
    from orch.compiler import compile_or_reuse

    names = Selection.from_options(options).names_needed() if scoped else None
    result = compile_or_reuse(options, names)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    return result
