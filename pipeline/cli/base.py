"""The `windstil` group, its options, and what every command shares: the context, errors, dates."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeline.errors import UsageError, WindstilError

log = logging.getLogger("pipeline")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Context:
    """What the group options decide, handed to every command."""

    project_option: Path | None
    verbosity: int

    @property
    def project(self) -> Path:
        """Return the project folder: --project, else the current folder; it must hold settings.yaml."""
        root = (self.project_option or Path.cwd()).resolve()
        if not (root / "settings.yaml").is_file():
            hint = "" if self.project_option else " (cd into the project or pass --project DIR)"
            raise UsageError(f"{root}: no settings.yaml here, so this is not a Windstil project{hint}")
        return root


pass_context = click.make_pass_decorator(Context)


class IsoDate(click.ParamType):  # type: ignore[type-arg, unused-ignore]  # generic from click 8.2 on
    """A `YYYY-MM-DD` date option."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date in the form YYYY-MM-DD", param, ctx)


ISO_DATE = IsoDate()


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def user_errors(func: F) -> F:
    """Turn a WindstilError into a message and its exit code, with no traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WindstilError as error:
            echo_err(f"error: {error}")
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            echo_err("interrupted; nothing was changed")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


class _ClickHandler(logging.Handler):
    """Send the core's log records to stderr through click (warnings and up by default)."""

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        click.echo(f"{prefix}{record.getMessage()}", err=True)


def _setup_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger("pipeline")
    root.handlers[:] = [_ClickHandler()]
    root.setLevel(level)
    root.propagate = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project folder (the one holding settings.yaml). Default: the current folder.",
)
@click.option("-v", "--verbose", count=True, help="Say more (-vv for debug output).")
@click.option("-q", "--quiet", is_flag=True, help="Only print errors.")
@click.version_option(package_name="windstil", prog_name="windstil")
@click.pass_context
def cli(ctx: click.Context, project: Path | None, verbose: int, quiet: bool) -> None:
    """Windstil: keep B2B customers warm between orders.

    Once a month: segment customers by value, find the ones in a quiet period, render
    personal newsletters and alerts, write call lists, and review it all before it goes out.

    \b
    Example:
      windstil validate
      windstil --project ~/crm-export run --as-of 2026-11-30
    """
    verbosity = -1 if quiet else verbose
    _setup_logging(verbosity)
    ctx.obj = Context(project_option=project, verbosity=verbosity)


def summary_table(rows: list[tuple[str, str]]) -> str:
    """Return label/value rows as an aligned two-column table."""
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value:>8}" for label, value in rows)


def main() -> None:
    """Entry point of the console script."""
    cli(prog_name="windstil")
