"""The command line as a whole: every command documents itself with an example."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from pipeline.cli import cli


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Return the path of every command below `group`, sub-groups' commands included."""
    paths = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        paths.append(path)
        if isinstance(command, click.Group):
            paths += all_commands(command, path)
    return paths


COMMANDS = all_commands()


def test_every_design_command_is_there() -> None:
    """The commands of docs/reference/commands.md all exist."""
    design = [("run",), ("validate",), ("segment",), ("preview",), ("approve",), ("calls", "import"), ("demo-data",)]
    assert [path for path in design if path not in COMMANDS] == []


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    """`windstil … --help` exits 0 and shows an Example: with the command itself in it."""
    result = CliRunner().invoke(cli, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert f"windstil {' '.join(path)}" in result.output


def test_python_dash_m_is_the_same_program() -> None:
    """`python -m pipeline --help` lists the same commands as `windstil --help`."""
    done = subprocess.run([sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    for name in cli.commands:
        assert name in done.stdout


def test_not_a_project_is_a_usage_error(tmp_path: object) -> None:
    """A command run outside a project exits 2 with a message saying what to do, no traceback."""
    result = CliRunner().invoke(cli, ["--project", str(tmp_path), "run"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "settings.yaml" in result.output
    assert "Traceback" not in result.output
