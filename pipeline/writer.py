"""The one guarded writer: every output file goes through here.

A run is written into a temporary folder beside its target (`output/.<name>.tmp-<pid>`) and
renamed into place only when complete, so a failed or interrupted run leaves the previous
output untouched. The writer refuses paths outside its folder and writing one path twice.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from pipeline.errors import OutputError

log = logging.getLogger(__name__)


class RunWriter:
    """Write files below one folder, never outside it, never the same path twice."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._written: set[str] = set()
        self.bytes_written = 0

    def _target(self, relpath: str) -> Path:
        rel = PurePosixPath(relpath)
        if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts):
            raise OutputError(f"refusing to write {relpath!r}: not a plain path inside the run folder")
        if any("\\" in p or "\x00" in p for p in rel.parts):
            raise OutputError(f"refusing to write {relpath!r}: unsafe characters in the path")
        key = rel.as_posix()
        if key in self._written:
            raise OutputError(f"refusing to write {key} twice in one run")
        target = self.root.joinpath(*rel.parts)
        # A symlink planted inside the folder must not lead the write out of it.
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True)
        if not parent.resolve().is_relative_to(self.root.resolve()):
            raise OutputError(f"refusing to write {key}: its folder leads outside the run folder")
        if target.is_symlink():
            raise OutputError(f"refusing to write {key}: it is a symbolic link")
        self._written.add(key)
        return target

    def write_bytes(self, relpath: str, data: bytes) -> None:
        """Write `data` to `relpath` below the run folder."""
        target = self._target(relpath)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        except OSError as error:
            raise OutputError(f"cannot write {relpath}: {error.strerror}") from error
        self.bytes_written += len(data)

    def write_text(self, relpath: str, text: str) -> None:
        """Write `text` as UTF-8 (newlines as given) to `relpath` below the run folder."""
        self.write_bytes(relpath, text.encode("utf-8"))

    def written(self) -> frozenset[str]:
        return frozenset(self._written)


@contextmanager
def atomic_folder(target: Path, *, dry_run: bool = False) -> Iterator[RunWriter]:
    """Yield a writer on a temporary folder that replaces `target` only if the block succeeds.

    On any exception (or with `dry_run`) the temporary folder is removed and `target` is
    left exactly as it was.
    """
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create {parent}: {error.strerror}") from error
    if parent.is_symlink() or (target.exists() and target.is_symlink()):
        raise OutputError(f"refusing to write through a symbolic link at {target}")
    tmp = parent / f".{target.name}.tmp-{os.getpid()}"
    old = parent / f".{target.name}.old-{os.getpid()}"
    try:
        # Left by an earlier process with our pid, or planted: a symlink is removed, not followed.
        _remove(tmp)
        _remove(old)
        tmp.mkdir()
    except OSError as error:
        raise OutputError(f"cannot create {tmp}: {error.strerror}") from error
    try:
        yield RunWriter(tmp)
        if dry_run:
            return
        try:
            if target.exists():
                os.rename(target, old)
            try:
                os.rename(tmp, target)
            except OSError:
                if old.exists():
                    os.rename(old, target)
                raise
        except OSError as error:
            raise OutputError(f"cannot move the finished run into place at {target}: {error.strerror}") from error
        _remove(old)
    finally:
        if tmp.exists() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)


def _remove(path: Path) -> None:
    """Remove a file, a symbolic link (never its target) or a folder tree, if there is one."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def spreadsheet_text(value: str) -> str:
    """Return a CSV cell that Excel shows as text: a leading `=`, `@`, `+` or `-` formula is defused.

    CRM values (a company named `=HYPERLINK(...)`) must not run as formulas when marketing
    opens a CSV from the run folder. Numbers and phone numbers (`+31 6 ...`, `-12.5`) stay as they are.
    """
    if value[:1] in ("=", "@", "\t", "\r") or (
        value[:1] in ("+", "-") and not re.fullmatch(r"[+\-][\d\s().,/-]*", value)
    ):
        return "'" + value
    return value


def remove_stale_temp_folders(output: Path) -> list[Path]:
    """Remove temporary run folders left by runs that were killed (their process is gone)."""
    removed = []
    for tmp in output.glob(".*.tmp-*"):
        pid_text = tmp.name.rsplit("-", 1)[-1]
        if not pid_text.isdigit() or not tmp.is_dir() or tmp.is_symlink():
            continue
        if int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
            log.info("removed %s, left by an interrupted run", tmp.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
