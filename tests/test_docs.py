"""The reference in docs/ names every code, key, command and exit code the program has.

Each set is collected from the code itself (enums, the click group, the config loaders'
own answers, the `Lint(...)` calls, the exit codes of the error classes), never from a list
kept here: a new reason code, setting or command fails this test until the reference
documents it. Reads the Markdown files only; MkDocs is not needed.
"""

from __future__ import annotations

import ast
import copy
import enum
import functools
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

import pipeline
from pipeline import config
from pipeline.cli import cli
from pipeline.errors import ConfigError, WindstilError
from pipeline.models import LintCode, ReasonKind, Segment

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
PIPELINE = ROOT / "pipeline"
PROBE = "zz_docs_probe"


def page(name: str) -> str:
    return (REFERENCE / name).read_text(encoding="utf-8")


def code_spans(text: str) -> set[str]:
    """Return the text of every inline code span (`x`) of a Markdown page."""
    return set(re.findall(r"`([^`\n]+)`", text))


def missing(names: set[str], text: str) -> list[str]:
    spans = code_spans(text)
    return sorted(name for name in names if name not in spans)


def missing_options(options: set[str], text: str) -> list[str]:
    """Return the options that no code span names, alone or with its value (`--port N`)."""
    spans = code_spans(text)
    return sorted(o for o in options if not any(s == o or s.startswith(f"{o} ") for s in spans))


@functools.cache
def _modules() -> tuple[Any, ...]:
    """Import every module of the package, so every enum and error class is defined."""
    found = [pipeline]
    for info in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
        if info.name.endswith("__main__"):
            continue
        found.append(importlib.import_module(info.name))
    return tuple(found)


def _enums(suffixes: tuple[str, ...]) -> dict[str, type[enum.Enum]]:
    result: dict[str, type[enum.Enum]] = {}
    for module in _modules():
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, enum.Enum)
                and value.__module__.startswith("pipeline")
                and name.endswith(suffixes)
            ):
                result[f"{value.__module__}.{name}"] = value
    return result


# --------------------------------------------------------------------------- codes


def test_the_code_has_the_enums_this_test_reads():
    """The reason enums are found at all (a rename must not make the next test vacuous)."""
    names = {key.rsplit(".", 1)[1] for key in _enums(("Reason",))}
    assert {"SkipReason", "CallReason"} <= names


def test_every_reason_and_check_code_is_in_the_reference():
    """Every value of every *Reason, *Check and *Code enum in pipeline/ is in reference/codes.md."""
    codes = {str(member.value) for kind in _enums(("Reason", "Check", "CheckCode")).values() for member in kind}
    assert {"not_quiet", "evaluation_below_norm"} <= codes
    assert missing(codes, page("codes.md")) == []


@functools.cache
def _trees() -> tuple[ast.AST, ...]:
    """Return the parsed source of every module of pipeline/ (parsed once for all tests)."""
    return tuple(ast.parse(path.read_text(encoding="utf-8")) for path in sorted(PIPELINE.rglob("*.py")))


def _calls_to(name: str) -> set[str]:
    """Return the first argument of every `name("literal", …)` call in pipeline/."""
    found: set[str] = set()
    for tree in _trees():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and (getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name)
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_every_lint_code_is_in_the_reference():
    """Every lint code (the LintCode enum), and every lint the site labels, is in reference/codes.md."""
    codes = {code.value for code in LintCode} | _calls_to("Lint")
    site = importlib.import_module("pipeline.site")
    codes |= set(getattr(site, "LINT_LABELS", {}))
    assert {"size_budget", "missing_alt"} <= codes
    assert missing(codes, page("codes.md")) == []


def test_every_item_reason_kind_is_in_the_reference():
    """Every kind of 'why this item was chosen' (the ReasonKind enum) is in reference/codes.md."""
    kinds = {kind.value for kind in ReasonKind} | _calls_to("ItemReason")
    assert {"interest", "fallback"} <= kinds
    assert missing(kinds, page("codes.md")) == []


# --------------------------------------------------------------------------- exit codes


def _error_classes() -> set[type[WindstilError]]:
    _modules()
    seen: set[type[WindstilError]] = set()
    todo: list[type[WindstilError]] = [WindstilError]
    while todo:
        cls = todo.pop()
        seen.add(cls)
        todo.extend(sub for sub in cls.__subclasses__() if sub not in seen)
    return seen


def _exit_literals() -> set[int]:
    """Return N of every `sys.exit(N)` and `exit_code = N` in pipeline/, and 128 for `128 + signum`."""
    found: set[int] = set()
    for tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "exit" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, int):
                    found.add(arg.value)
            if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant) and node.left.value == 128:
                found.add(128)
    return found


def test_every_exit_code_is_in_the_reference():
    """0, every error class's exit code and every literal sys.exit code are in reference/exit-codes.md."""
    codes = {0} | {cls.exit_code for cls in _error_classes()} | _exit_literals()
    assert {0, 1, 2, 130} <= codes
    text = page("exit-codes.md")
    headings = set(re.findall(r"^\|\s*`?(\d+)", text, flags=re.M))
    names = {str(code) for code in codes if code != 128}
    assert sorted(names - headings - code_spans(text)) == []
    if 128 in codes:
        assert "128 + " in text  # a signal's exit code is 128 + its number


def test_every_error_class_is_in_the_troubleshooting_guide():
    """Each kind of user error (its class) is explained in the troubleshooting guide."""
    text = (DOCS / "guide" / "troubleshooting.md").read_text(encoding="utf-8")
    names = {cls.__name__ for cls in _error_classes()}
    assert missing(names, text) == []


# --------------------------------------------------------------------------- commands


def _commands(group: click.Group, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found |= _commands(command, f"{full} ")
        else:
            found.add(full)
    return found


def test_every_command_and_option_is_in_the_reference():
    """Every command of the click group has a section in reference/commands.md naming each of its options."""
    text = page("commands.md")
    commands = _commands(cli)
    assert {"run", "approve", "calls import"} <= commands
    sections = dict(re.findall(r"^## `windstil ([a-z -]+)`\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S))
    assert sorted(commands - set(sections)) == []
    for name in sorted(commands):
        command = cli
        for part in name.split():
            command = command.commands[part]  # type: ignore[attr-defined]
        options = {opt for param in command.params if isinstance(param, click.Option) for opt in param.opts
                   if opt.startswith("--")}
        assert missing_options(options, sections[name]) == [], name
    group_options = {opt for param in cli.params if isinstance(param, click.Option) for opt in param.opts}
    assert missing_options({o for o in group_options if o.startswith("--")}, text) == []


# --------------------------------------------------------------------------- settings keys


def _problems(load: Callable[[dict[str, Any]], None], document: dict[str, Any]) -> list[Any]:
    try:
        load(document)
    except ConfigError as error:
        return list(error.problems)
    return []


def _put(document: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    """Return a copy of `document` with `value` at `path` (an int step is a list entry)."""
    result = copy.deepcopy(document)
    node: Any = result
    for step, following in zip(path, [*path[1:], None], strict=True):
        if following is None:
            break
        empty: Any = [{}] if isinstance(following, int) else {}
        if isinstance(step, int):
            if not isinstance(node[0], dict):
                node[0] = empty
            node = node[0]
        else:
            wanted = list if isinstance(following, int) else dict
            if not isinstance(node.get(step), wanted) or not node[step]:
                node[step] = empty
            node = node[step]
    last = path[-1]
    if isinstance(last, int):
        node[:] = [value]
    else:
        node[last] = value
    return result


def _dotted(path: list[str | int]) -> str:
    text = ""
    for step in path:
        text += "[]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _allowed(problems: list[Any], field: str) -> list[str] | None:
    """Return the keys a loader allows at `field`'s parent, from its `unknown key` message about `field`."""
    for problem in problems:
        if problem.field == field and problem.message.startswith("unknown key (allowed in"):
            return list(problem.message.split(": ", 1)[1].rstrip(")").split(", "))
    return None


def _schema(load: Callable[[dict[str, Any]], None], base: dict[str, Any]) -> set[str]:
    """Return every key path the loader accepts, found by asking it about a key it does not know.

    The loaders answer an unknown key with `unknown key (allowed in X: a, b, c)`. Starting at
    the top, every allowed key of a mapping is given, all at once, a mapping holding the probe
    key (and, in a second document, a list of such mappings); where the loader then names what
    is allowed inside a key, that key is a mapping (or a list of mappings) and is walked in turn.
    """
    top = _allowed(_problems(load, _put(base, [PROBE], 1)), PROBE)
    assert top, "the loader no longer names its allowed keys; adapt this test"
    keys: set[str] = set()
    todo: list[tuple[list[str | int], list[str]]] = [([], top)]
    while todo:
        where, names = todo.pop()
        keys.update(_dotted([*where, name]) for name in names)
        if where == ["treatment"]:
            names = [Segment.A.value]  # the four segments' treatments share one schema
        for shape in ([], [0]):
            document = base
            for name in names:
                document = _put(document, [*where, name, *shape, PROBE], 1)
            problems = _problems(load, document)
            for name in names:
                inner = [*where, name, *shape]
                allowed = _allowed(problems, _dotted([*inner, PROBE]).replace("[]", "[0]"))
                if allowed and not any(inner == w for w, _ in todo):
                    todo.append((inner, allowed))
    # The treatment of each segment is documented once, as treatment.<segment>.
    return {re.sub(r"^treatment\.[ABCD](?=\.|$)", "treatment.<segment>", k) for k in keys}


def _sample(name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_every_settings_key_is_in_the_reference(tmp_path):
    """Every key settings.yaml accepts, at every depth, is named in reference/settings.md."""

    def load(document: dict[str, Any]) -> None:
        (tmp_path / "settings.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
        config.load_settings(tmp_path)

    keys = _schema(load, _sample("settings.yaml"))
    assert {"sender.reply_to", "paths.state", "max_reject_share"} <= keys
    assert missing(keys, page("settings.md")) == []


def test_every_segments_key_is_in_the_reference(tmp_path):
    """Every key segments.yaml accepts, at every depth, is named in reference/segments.md."""
    path = tmp_path / "segments.yaml"

    def load(document: dict[str, Any]) -> None:
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        config.load_segments_config(path)

    keys = _schema(load, _sample("segments.yaml"))
    assert {
        "value_elements.strategic.points.max_referrals",
        "treatment.<segment>.contact_schedule[].every_days",
        "overrides[].until",
        "selection.fresh_days",
        "cutoffs.A",
    } <= keys
    assert missing(keys, page("segments.md")) == []


# --------------------------------------------------------------------------- columns


def test_every_output_column_is_in_the_reference():
    """The columns of recipients.csv, the call lists and segments.csv are in reference/outputs.md."""
    calls = importlib.import_module("pipeline.call_lists")
    select = importlib.import_module("pipeline.select")
    segment = importlib.import_module("pipeline.segment")
    columns = set(select.RECIPIENTS_COLUMNS) | set(calls.ALL_CSV_COLUMNS) | set(segment.SEGMENTS_CSV_COLUMNS)
    assert {"alert_reason", "talking_points", "value_share"} <= columns
    assert missing(columns, page("outputs.md")) == []


def _columns_read() -> set[str]:
    """Return every column the loader reads from a CSV file (pipeline.readers.COLUMNS_READ)."""
    readers = importlib.import_module("pipeline.readers")
    return {column for columns in readers.COLUMNS_READ.values() for column in columns}


def test_every_input_file_column_and_field_is_in_the_reference():
    """Every file of data/, every column load.py reads and every content field is in reference/inputs.md."""
    load = importlib.import_module("pipeline.load")
    content = importlib.import_module("pipeline.content")
    columns = _columns_read()
    assert {"newsletter_opt_in", "do_not_call", "strategic_fit", "their_level"} <= columns
    names = set(load.COLUMNS) | columns | set(content.FIELDS)
    assert missing(names, page("inputs.md")) == []


@pytest.mark.parametrize("folder", ["guide", "reference", "development"])
def test_the_docs_cite_no_file_outside_the_repository(folder):
    """The docs refer to their own pages, never to a design document outside the repository."""
    for path in (DOCS / folder).glob("*.md"):
        assert "DESIGN" not in path.read_text(encoding="utf-8"), path


# --------------------------------------------------------------------------- code layout


def test_the_code_layout_page_names_every_module_and_nothing_gone():
    """development/code-layout.md names every module of pipeline/ (or its package and file), and no path gone."""
    spans = code_spans((DOCS / "development" / "code-layout.md").read_text(encoding="utf-8"))
    gone = sorted(s for s in spans if s.startswith("pipeline/") and not (ROOT / s).exists())
    assert gone == [], "the page names paths that do not exist"
    unnamed = []
    for path in sorted(PIPELINE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        package = f"{path.parent.relative_to(ROOT).as_posix()}/"
        in_package = path.parent != PIPELINE and package in spans and (path.name == "__init__.py" or path.name in spans)
        if relative not in spans and not in_package:
            unnamed.append(relative)
    assert unnamed == [], "add these modules to docs/development/code-layout.md"
