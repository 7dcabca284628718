"""Errors the core raises; the CLI maps them to exit codes and one-line messages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class WindstilError(Exception):
    """Base for every error meant for the user, not for a traceback."""

    exit_code = 1


class InputError(WindstilError):
    """Input data or configuration is invalid; nothing was written (exit 2)."""

    exit_code = 2

    def __init__(self, message: str, problems: tuple[Problem, ...] | list[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return "\n".join([head, *(str(p) for p in self.problems)])


class ConfigError(InputError):
    """A config file (settings.yaml, segments.yaml) has one or more problems."""


class UsageError(WindstilError):
    """The command was asked for something it cannot do (exit 2)."""

    exit_code = 2


class StateError(WindstilError):
    """The state database is locked, corrupt, or refuses the change."""

    exit_code = 1


class OutputError(WindstilError):
    """Writing the run folder failed or was refused."""

    exit_code = 1


class WorkerError(WindstilError):
    """A worker process of the run ended abruptly (killed, out of memory): the run is abandoned (exit 1)."""

    exit_code = 1


class DeliveryError(WindstilError):
    """Sending stopped: the SMTP server refused the connection, TLS or login, or the run cannot go (exit 1)."""

    exit_code = 1


class MailboxError(WindstilError):
    """The IMAP server could not be reached, refused the login, or broke off (exit 1)."""

    exit_code = 1
