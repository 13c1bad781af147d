"""Replacing a folder without a moment where its name is missing, and cleaning what killed
writers left behind.

A file can be replaced atomically by `os.replace`; a folder cannot: moving the old one aside
and the new one in is two renames, and a process killed between them leaves neither under
the name (`export --force` onto a SavedModel folder did; issue 17). Linux can swap two paths
in one step (`renameat2(…, RENAME_EXCHANGE)`, ext4, xfs, btrfs, tmpfs since 3.15):
`exchange` uses it through libc and reports False where it does not exist, so the caller
falls back to the two renames.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import time
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
# A `.NAME.<pid>-<random>.partial` workspace is stale when its pid is gone; one without a
# pid (earlier versions) when it is older than this.
STALE_SECONDS = 3600


def exchange(a: Path, b: Path) -> bool:
    """Atomically swaps the paths `a` and `b` (both must exist). False when the system
    cannot (then nothing was changed).

    Raises:
        OSError: the swap is supported but failed (permissions, another file system).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def workspace_prefix(name: str) -> str:
    """Prefix of a workspace for `name` that names its owner: `.NAME.<pid>-`."""
    return f".{name}.{os.getpid()}-"


def clean_stale_workspaces(parent: Path, name: str) -> list[Path]:
    """Removes `.NAME.*.partial` folders in `parent` whose writer is gone; returns them."""
    pattern = re.compile(re.escape(f".{name}.") + r"(?:(\d+)-)?.*\.partial$")
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for e in entries:
        m = pattern.match(e.name)
        if not m or not e.is_dir(follow_symlinks=False):
            continue
        if m.group(1) is not None:
            stale = not _alive(int(m.group(1)))
        else:
            try:
                stale = time.time() - e.stat().st_mtime > STALE_SECONDS
            except OSError:
                continue
        if stale:
            shutil.rmtree(e.path, ignore_errors=True)
            removed.append(Path(e.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True
