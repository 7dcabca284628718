"""The `windstil` command line: parse options, call the core, print results.

This is the only package that imports click and the only one that prints. The core raises
`WindstilError`s; the commands turn them into one-line messages and exit codes
(0 success, 1 the work failed, 2 bad usage or invalid input/config).

`base` holds the group and what every command shares; the commands are grouped by workflow:
`batch` (validate, segment, run, preview, approve), `sending` (send, outbox), `feedback`
(calls import, unsubscribe import, bounces, serve) and `tools` (demo-data, state check).
"""

from __future__ import annotations

# Importing a command module registers its commands on the group.
from pipeline.cli import batch, feedback, sending, tools
from pipeline.cli.base import cli, main

__all__ = ["batch", "cli", "feedback", "main", "sending", "tools"]
