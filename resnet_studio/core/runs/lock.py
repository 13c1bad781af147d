"""A run has one owner: an OS file lock on `.owner.lock` in the run folder.

The trainer (new run or resume) takes it before it writes anything and holds it until the
run ends; a second trainer, a resume or a delete of a locked run is refused, naming the
holder's pid and host. The lock is `fcntl.flock` on an open file, so the kernel releases it
when the process dies however it dies (SIGKILL, a crash, power loss on reboot): a killed run
never stays locked and remains resumable. A pid recorded in run.json cannot do this alone: it
may be reused, and two resumes started seconds apart both saw the run `stopped` (issue 17).

flock locks belong to an open file description, so two trainers in one process (two GUI
windows) exclude each other too. Where `fcntl` does not exist (Windows) locking is skipped
and the pid check of run.json remains.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".owner.lock"
# A probe (`holder`) holds a shared lock for microseconds; an owner retries this long.
_ACQUIRE_SECONDS = 1.0


class RunInUse(ValueError):
    """Refused: the run folder is owned by a running trainer, or already holds a run.
    Bad input for the CLI (exit 2): the message names the folder and what to do."""


class RunLocked(RunInUse):
    """Refused: another process (or another trainer in this one) owns the run.

    Attributes:
        holder: {"pid", "host", "since"} of the owner, as far as it could be read.
    """

    def __init__(self, run_dir: Path, holder: dict[str, Any]) -> None:
        self.holder = holder
        who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')}"
        since = f" since {holder['since']}" if holder.get("since") else ""
        super().__init__(f"{run_dir}: the run is in use by {who}{since}; wait for it to "
                         "finish or stop it first")


def lock_path(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / LOCK_FILE


class RunLock:
    """The owner lock of one run folder (see the module docstring).

    Example:
        lock = RunLock(run_dir).acquire()   # raises RunLocked if another owner has it
        try: ...
        finally: lock.release()
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Takes the lock (creating the folder and the lock file if needed).

        Raises:
            RunLocked: another owner holds it.
            OSError: the folder cannot be created or the lock file opened.
        """
        if self._fd is not None or fcntl is None:
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path(self.run_dir), os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + _ACQUIRE_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(fd)
                # An owner has written who it is; a probe (or a killed owner's stale record)
                # has not, or names a dead process: wait the probe out.
                if _live_owner(holder) or time.monotonic() > deadline:
                    os.close(fd)
                    raise RunLocked(self.run_dir, holder) from None
                time.sleep(0.02)
        self._fd = fd
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        except OSError:  # a full disk: the lock holds all the same, unnamed
            pass
        return self

    def release(self) -> None:
        """Gives the lock up (the file stays: removing it would race a new owner)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # no stale owner named in the file
        except OSError:
            pass
        os.close(fd)  # closing the last descriptor releases the flock


def holder(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The owner of a locked run ({"pid", "host", "since"}), or None when nobody holds it.
    Never creates or writes anything."""
    if fcntl is None:
        return None
    try:
        fd = os.open(lock_path(run_dir), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd) or {"pid": None, "host": None}
        except OSError:
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _live_owner(holder: dict[str, Any]) -> bool:
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if holder.get("host") != socket.gethostname():
        return True  # cannot tell: trust the lock
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
