"""One batch at a time per project: an advisory lock file in the output folder."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import OutputError, UsageError

LOCK_NAME = ".windstil.lock"


@contextmanager
def project_lock(output: Path) -> Iterator[None]:
    """Hold the project's lock for the block; refuse, naming the holder's pid, when it is taken.

    flock() is released by the kernel when its holder dies, so a killed run never leaves a
    lock behind that needs cleaning up by hand.
    """
    try:
        output.mkdir(parents=True, exist_ok=True)
        fd = os.open(output / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as error:
        raise OutputError(f"cannot create the lock file in {output}: {error.strerror}") from error
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise UsageError(
                f"another windstil command is working on this project (pid {holder}); "
                f"wait for it to finish (lock: {output / LOCK_NAME})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
