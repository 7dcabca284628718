"""The one guarded writer: every output file goes through here.

A run is written into a temporary folder beside its target (`output/.<name>.tmp-<pid>`) and
renamed into place only when complete, so a failed or interrupted run leaves the previous
output untouched. The writer refuses paths outside its folder and writing one path twice.
"""

from __future__ import annotations

import csv
import errno
import io
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from pipeline.errors import OutputError

log = logging.getLogger(__name__)


class RunWriter:
    """Write files below one folder, never outside it, never the same path twice."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._written: set[str] = set()
        self._folders: set[str] = set()  # folders made or checked to lie inside the root
        self._real_root: Path | None = None
        self._prefix = os.path.join(os.fspath(root), "")  # the root as a string ending in a separator
        self.bytes_written = 0

    def _target(self, relpath: str) -> str:
        parts = relpath.split("/")
        if "" in parts or "." in parts or ".." in parts or "\\" in relpath or "\x00" in relpath:
            key = _plain_key(relpath)
        else:
            key = relpath  # already plain: skip pathlib (the render writes three files a contact)
        if key in self._written:
            raise OutputError(f"refusing to write {key} twice in one run")
        if self._real_root is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._real_root = self.root.resolve()
        folder = key.rpartition("/")[0]
        if folder and folder not in self._folders:
            self._make_folders(key, folder, self._real_root)
        self._written.add(key)
        return self._prefix + key

    def _make_folders(self, key: str, folder: str, real_root: Path) -> None:
        """Create `folder` below the root one level at a time, never through a symlink that leads out."""
        parts = folder.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if prefix in self._folders:
                continue
            path = os.path.join(self.root, prefix)
            try:
                os.mkdir(path)  # made just now inside a checked folder: a real folder, nothing to check
            except FileExistsError:
                # There already, maybe planted: a symlink must not lead the write out of the run folder.
                if not Path(path).resolve().is_relative_to(real_root):
                    raise OutputError(f"refusing to write {key}: its folder leads outside the run folder") from None
                Path(path).mkdir(exist_ok=True)  # a file in the way fails here, as a folder can't be made
            self._folders.add(prefix)

    def write_bytes(self, relpath: str, data: bytes) -> None:
        """Write `data` to `relpath` below the run folder."""
        fd = self._open(relpath)
        try:
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
        except OSError as error:
            raise OutputError(f"cannot write {relpath}: {error.strerror}") from error
        self.bytes_written += len(data)

    def write_pieces(self, relpath: str, pieces: Iterable[str]) -> None:
        """Write text made piece by piece (a template's `generate()`) as UTF-8 to `relpath`.

        Holds about a quarter megabyte at a time, not the whole file: the segmentation report
        of 30,000 customers is 28 MB as a str, and joining its pieces took twice that again.
        """
        fd = self._open(relpath)
        size = 0
        try:
            try:
                held: list[str] = []
                length = 0
                for piece in pieces:
                    held.append(piece)
                    length += len(piece)
                    if length >= _PIECES_HELD:
                        size += _write_all(fd, "".join(held).encode("utf-8"))
                        held.clear()
                        length = 0
                size += _write_all(fd, "".join(held).encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as error:
            raise OutputError(f"cannot write {relpath}: {error.strerror}") from error
        self.bytes_written += size

    def _open(self, relpath: str) -> int:
        target = self._target(relpath)
        try:
            # O_NOFOLLOW: a symlink planted at the file's own name is refused, never followed.
            return os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise OutputError(f"refusing to write {relpath}: it is a symbolic link") from error
            raise OutputError(f"cannot write {relpath}: {error.strerror}") from error

    def write_text(self, relpath: str, text: str) -> None:
        """Write `text` as UTF-8 (newlines as given) to `relpath` below the run folder."""
        self.write_bytes(relpath, text.encode("utf-8"))

    def written(self) -> frozenset[str]:
        return frozenset(self._written)


_PIECES_HELD = 1 << 18  # characters of text held before write_pieces writes them


def _write_all(fd: int, data: bytes) -> int:
    """Write all of `data` to `fd` (os.write may write less than asked); return its length."""
    written = os.write(fd, data)
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]
    return len(data)


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


def _plain_key(relpath: str) -> str:
    """Return `relpath` as a plain relative POSIX path, or refuse it."""
    rel = PurePosixPath(relpath)
    if rel.is_absolute() or not rel.parts or any(p in ("", ".", "..") for p in rel.parts):
        raise OutputError(f"refusing to write {relpath!r}: not a plain path inside the run folder")
    if any("\\" in p or "\x00" in p for p in rel.parts):
        raise OutputError(f"refusing to write {relpath!r}: unsafe characters in the path")
    return rel.as_posix()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """Return a CSV file of the run folder: UTF-8, comma-separated, `\\n` line ends, header first."""
    with utf8_text_buffer() as (text, encoded):
        out = csv.writer(text, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)
    return encoded.getvalue()


@contextmanager
def utf8_text_buffer() -> Iterator[tuple[io.TextIOWrapper, io.BytesIO]]:
    """Yield a text stream that encodes to UTF-8 as it is written, and the bytes it fills.

    A StringIO holds a whole file as str, at up to four bytes a character, before it is
    encoded: a transient 40 MB for the call lists of 10,000 customers. This holds the bytes only.
    """
    encoded = io.BytesIO()
    text = io.TextIOWrapper(encoded, encoding="utf-8", newline="")
    yield text, encoded
    text.flush()
    text.detach()  # leaves `encoded` open for the caller


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


def spreadsheet_value(cell: str) -> str:
    """Return the value a spreadsheet_text() cell was written from (`'=…` → `=…`; other cells as they are)."""
    return cell[1:] if cell[:1] == "'" and spreadsheet_text(cell[1:]) == cell else cell


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
