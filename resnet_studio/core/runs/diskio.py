"""The one path by which a run's writes meet a full or read-only disk.

Every write of the run store (run.json and the small JSON files, metrics.jsonl, the gradient
norms, TensorBoard events, checkpoints) runs inside `guarded(path)`, which turns the
operating system's "no space" (ENOSPC, EDQUOT), "read-only" (EROFS) and "no permission"
(EACCES, EPERM) into a `StoreWriteError` whose message is what the user sees:
`disk full at PATH` / `cannot write PATH: read-only file system`. The trainer ends the run
`failed` with it (exit 1), writes run.json only if it still can, and keeps the last good
checkpoint.

Checkpoints check the free space before writing (`ensure_space`): on a 2 MB tmpfs that
filled up while HDF5 was writing the weights, h5py printed a score of "Exception ignored"
tracebacks and the process died of SIGSEGV in 2 runs of 3 (issue 17).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
READ_ONLY = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
             errno.EPERM: "operation not permitted"}
# Free space kept in reserve after a checkpoint: run.json and the last records still fit.
RESERVE_BYTES = 256 * 1024


class StoreWriteError(OSError):
    """A write of the run store failed for lack of space or permission; the message names
    the path (`disk full at PATH`, `cannot write PATH: …`)."""

    def __str__(self) -> str:
        return str(self.strerror)


def describe(e: OSError, path: str | os.PathLike[str]) -> StoreWriteError | None:
    """The StoreWriteError for `e` when it is a disk-full or permission error, else None."""
    if isinstance(e, StoreWriteError):
        return e
    if e.errno in FULL:
        return StoreWriteError(e.errno, f"disk full at {path}")
    if e.errno in READ_ONLY:
        return StoreWriteError(e.errno, f"cannot write {path}: {READ_ONLY[e.errno]}")
    return None


@contextmanager
def guarded(path: str | os.PathLike[str]) -> Iterator[None]:
    """Runs a write of `path`, turning disk-full and permission errors into StoreWriteError."""
    try:
        yield
    except OSError as e:
        store_error = describe(e, path)
        if store_error is None:
            raise
        raise store_error from None


def free_bytes(folder: str | os.PathLike[str]) -> int | None:
    """Free bytes for this user on the file system of `folder` (None when unknown)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def ensure_space(folder: str | os.PathLike[str], needed: int, what: str) -> None:
    """Refuses to start writing `what` (`needed` bytes) where it will not fit.

    Raises:
        StoreWriteError: "disk full at FOLDER: WHAT needs N MB, M MB free".
    """
    free = free_bytes(folder)
    if free is not None and free < needed + RESERVE_BYTES:
        raise StoreWriteError(errno.ENOSPC, f"disk full at {folder}: {what} needs "
                                            f"{_mb(needed + RESERVE_BYTES)}, {_mb(free)} free")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Makes renames in `folder` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def folder_bytes(folder: Path) -> int:
    """Total size of the files in `folder` (not recursive), 0 when it does not exist."""
    try:
        return sum(e.stat().st_size for e in os.scandir(folder) if e.is_file())
    except OSError:
        return 0
