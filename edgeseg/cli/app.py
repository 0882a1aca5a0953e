"""The Typer app every command registers on, and how it maps errors to exit codes.

Commands import ``app`` from here (not from the package), so the package can import every
command without an import loop.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from edgeseg.errors import EdgesegError


class _ErrorMappingGroup(TyperGroup):
    """Turns user-facing errors into one line on stderr and a non-zero exit, no traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EdgesegError as e:
            if _debug(ctx):
                traceback.print_exc()
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(e.exit_code) from None
        except typer.BadParameter as e:
            # An unknown choice, a missing argument, a number that is not one: one line, as for
            # every other bad input (Typer would draw a box).
            typer.echo(f"error: {e.format_message()}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as e:
            # Typer's own signals and usage errors keep their standard handling.
            if type(e).__module__.startswith("typer") or _debug(ctx):
                raise
            from edgeseg.io import ENVIRONMENT_ERRNOS, os_error_cause, os_error_code

            if isinstance(e, OSError) and os_error_code(e) in ENVIRONMENT_ERRNOS:
                # A full disk, a read-only folder, a parent that is a file, a name too long: the
                # machine's files, not a bug. Writers raise WriteError; this catches the rest.
                where = os.fsdecode(e.filename) if e.filename is not None else "(the system named no path)"
                typer.echo(f"error: {where}: {os_error_cause(e)}", err=True)
                raise typer.Exit(2) from None
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            typer.echo(f"error: unexpected {type(e).__name__}: {first} (rerun with --debug for the traceback)", err=True)
            raise typer.Exit(1) from None


def _debug(ctx: typer.Context) -> bool:
    return bool(ctx.params.get("debug")) or os.environ.get("EDGESEG_DEBUG") == "1"


app = typer.Typer(
    cls=_ErrorMappingGroup,
    name="edgeseg",
    help="Skin-lesion segmentation from training to the phone: data, train, eval, predict, prune, export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """edgeseg: train, evaluate and predict skin-lesion segmentation models."""
