"""YAML files read with the line of every key, so that each problem can name its line.

PyYAML's safe loader, with two guards: a document whose aliases expand beyond reason (a
"billion laughs") is refused before it is walked, and text shaped like a date that is none
(`2026-13-01`) stays text, for the field's own check to report at its line.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError, Problem


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a value shaped like a date that is none stays text.

    PyYAML makes `2026-13-01` or `2026-02-30` a date and fails with a bare ValueError, no file
    and no line; as text, the field's own check reports it ("must be a date YYYY-MM-DD").
    """

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


SafeLoader.add_constructor("tag:yaml.org,2002:timestamp", SafeLoader.construct_yaml_timestamp)


def read_yaml(path: Path, display: str) -> tuple[Any, dict[str, int]]:
    """Return the parsed YAML document and the line (1-based) of every key path in it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{display}: file not found", [Problem(display, None, "", "file not found")]) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{display}: not UTF-8 text", [Problem(display, None, "", "not UTF-8 text")]) from None
    except OSError as error:
        raise ConfigError(f"{display}: cannot read ({error.strerror})") from error
    try:
        node = yaml.compose(text, Loader=SafeLoader)
        if node is not None and expanded_size(node) > MAX_YAML_NODES:
            # Aliases of aliases ("billion laughs") expand exponentially when walked.
            message = f"too large once its aliases (*name) are expanded (over {MAX_YAML_NODES:,} values)"
            raise ConfigError(f"{display}: {message}", [Problem(display, None, "", message)])
        document = yaml.load(text, Loader=SafeLoader)  # noqa: S506 (the safe loader, dates kept as text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError(
            f"{display}: not valid YAML", [Problem(display, line, "", f"not valid YAML: {reason}")]
        ) from None
    except RecursionError:  # PyYAML composes recursively: [[[[…]]]] thousands deep
        message = "nested too deeply to read"
        raise ConfigError(f"{display}: {message}", [Problem(display, None, "", message)]) from None
    lines: dict[str, int] = {}
    if node is not None:
        _collect_lines(node, "", lines)
    return document, lines


MAX_YAML_NODES = 100_000  # far beyond any real config file; an alias bomb expands to billions


def expanded_size(node: yaml.Node, memo: dict[int, int] | None = None) -> int:
    """Return how many values `node` stands for with every alias expanded (linear time: memoised)."""
    memo = {} if memo is None else memo
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 1  # a node met again while being counted adds nothing more
    size = 1
    if isinstance(node, yaml.MappingNode):
        size += sum(expanded_size(k, memo) + expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size += sum(expanded_size(item, memo) for item in node.value)
    memo[id(node)] = size
    return size


def _collect_lines(node: yaml.Node, prefix: str, lines: dict[str, int]) -> None:
    lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            if key in lines and key != prefix:
                # YAML keeps the last of two equal keys; a silent overwrite hides a mistake.
                lines[f"\x00duplicate:{key}"] = key_node.start_mark.line + 1
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, f"{prefix}[{index}]", lines)



def yaml_date(value: Any) -> date | None:
    """Return a YAML value as a date: YAML's own date, or a `YYYY-MM-DD` string; None if it is neither."""
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None
