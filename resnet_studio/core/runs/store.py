"""Reading run folders back: one run (`read_run`), all runs (`list_runs`), and a listing
that re-reads only what changed (`RunScanner`, for views that poll the store).

The store is the file system, shared with other processes (the CLI, a second window): a run
marked `running` whose process is gone is reported `interrupted`, and unreadable folders are
skipped by the listings rather than raised.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_studio.core.runs import layout, lock
from resnet_studio.core.runs.names import default_name
from resnet_studio.core.runs.schema import migrate_run_meta

STATUSES = ("running", "completed", "stopped", "failed", "interrupted")


def process_start(pid: int) -> str | None:
    """Start time of a process (Linux /proc), to tell a live run from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: a pid beyond any C int
        return False
    except PermissionError:
        return True
    return start is None or process_start(pid) in (None, start)


@dataclass
class RunInfo:
    """A run folder as listed by `resnet-studio runs` and the runs view."""

    dir: Path
    meta: dict[str, Any] = field(repr=False)
    status: str

    @property
    def id(self) -> str:
        return str(self.meta.get("id", self.dir.name))

    @property
    def name(self) -> str:
        """What the user calls the run: run.json's `name`, else the default (names.py)."""
        name = self.meta.get("name")
        if isinstance(name, str) and name.strip():
            return name
        return default_name(self.meta, self.id)

    def to_dict(self) -> dict[str, Any]:
        m = self.meta
        return {"id": self.id, "name": self.name, "run_dir": str(self.dir),
                "status": self.status,
                "preset": m.get("preset"), "dataset": m.get("dataset"),
                "params": m.get("params"), "started": m.get("started"),
                "finished": m.get("finished"), "seconds": m.get("seconds"),
                "epochs_completed": m.get("epochs_completed") or 0,
                "best_val_metric": m.get("best_val_metric"), "test": m.get("test"),
                "error": m.get("error"), "compare": m.get("compare"),
                "alerts": [a.get("kind") for a in m.get("alerts") or []]}


def read_meta(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """run.json's content, migrated to the current schema.

    Raises:
        FileNotFoundError: no run.json (not a run folder).
        ValueError: run.json unreadable, not an object, or of a newer schema.
    """
    d = Path(run_dir)
    path = layout.run_json(d)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{d}: no {layout.RUN_JSON} (not a run folder)") from None
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: unreadable ({e})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    return migrate_run_meta(meta, str(path))


def read_run(run_dir: str | os.PathLike[str], *, probe_lock: bool = True) -> RunInfo:
    """Reads run.json; a `running` run whose process is gone is reported `interrupted`, and
    a run whose owner lock is held (lock.py) is `running` whatever run.json says yet.

    Args:
        probe_lock: False for the lock's own holder (it would see itself).
    """
    d = Path(run_dir)
    meta = read_meta(d)
    check_fields(meta, layout.run_json(d))
    status = meta.get("status", "interrupted")
    owner = lock.holder(d) if probe_lock else None
    if owner is not None:  # a trainer owns it now (resuming, or between writes)
        status = "running"
    elif status == "running" and meta.get("host") == socket.gethostname():
        pid = meta.get("pid")
        if not isinstance(pid, int) or not _alive(pid, meta.get("pid_start")):
            status = "interrupted"
    return RunInfo(d, meta, status)


# run.json fields the listings read, and what each must be (None is allowed for all but
# status): a hand-edited or damaged file is named as broken instead of breaking `runs`.
_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "epochs_completed": ((int,), "a whole number"), "steps": ((int,), "a whole number"),
    "params": ((int,), "a whole number"), "seconds": ((int, float), "a number"),
    "pid": ((int,), "a process id"), "test": ((dict,), "an object"),
    "best_val_metric": ((dict,), "an object"), "alerts": ((list,), "a list of objects"),
    "preset": ((str,), "text"), "dataset": ((str,), "text"), "started": ((str,), "text"),
    "error": ((str,), "text"), "compare": ((dict,), "an object"), "name": ((str,), "text"),
}


def check_fields(meta: dict[str, Any], path: Path) -> None:
    """Raises ValueError naming the first run.json field of the wrong kind."""
    status = meta.get("status", "interrupted")
    if not isinstance(status, str) or status not in STATUSES:
        raise ValueError(f"{path}: status: expected one of {', '.join(STATUSES)}, got "
                         f"{status!r:.60}")
    for key, (types, what) in _FIELDS.items():
        value = meta.get(key)
        ok = value is None or (isinstance(value, types) and not isinstance(value, bool))
        if ok and key == "pid" and value is not None:
            ok = 0 < value < 2**31
        if ok and key == "alerts" and value is not None:
            ok = all(isinstance(a, dict) for a in value)
        if ok and key in ("epochs_completed", "steps", "params") and value is not None:
            ok = value >= 0
        if not ok:
            raise ValueError(f"{path}: {key}: expected {what}, got {json.dumps(value)[:60]}")


def newest_first(runs: list[RunInfo]) -> list[RunInfo]:
    return sorted(runs, key=lambda r: str(r.meta.get("started", "")), reverse=True)


def list_runs(root: str | os.PathLike[str] | None = None) -> list[RunInfo]:
    """Runs under `root` (default runs root), newest first; unreadable folders skipped."""
    return RunScanner(root or None).scan(reuse=False)


Stamp = tuple[int, int, int]
EXPERIMENT_JSON = "experiment.json"


def _stamps(root: Path) -> dict[Path, Stamp]:
    """Run folder -> (inode, mtime, size) of its run.json; a file replaced atomically gets a
    new inode, so an update within the mtime resolution is still seen."""
    out: dict[Path, Stamp] = {}
    try:
        entries = list(root.iterdir())
    except OSError:
        return out
    # An experiment folder (core/experiments) groups ordinary runs, one per arm and seed:
    # they are listed with the others.
    for group in [d for d in entries if (d / EXPERIMENT_JSON).is_file()]:
        try:
            entries.extend(group.iterdir())
        except OSError:
            continue
    for d in entries:
        try:
            st = layout.run_json(d).stat()
        except OSError:
            continue
        out[d] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


class RunScanner:
    """Lists the runs under a root, re-reading on each scan only the run.json files that
    changed (by inode, mtime and size) and the runs marked `running` (their process may have
    died without touching the file).

    Args:
        root: Runs root; None follows `default_runs_root()`, read at every scan (the
            environment may change it).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else None
        self._cache: dict[Path, tuple[Stamp, RunInfo]] = {}
        # Run folders whose run.json could not be read at the last scan, with the reason.
        self.broken: list[tuple[Path, str]] = []

    def runs_root(self) -> Path:
        return self.root if self.root is not None else layout.default_runs_root()

    def set_root(self, root: str | os.PathLike[str] | None) -> None:
        self.root = Path(root) if root is not None else None
        self._cache = {}

    def scan(self, reuse: bool = True) -> list[RunInfo]:
        """The runs, newest first (a folder with a run.json; unreadable ones skipped). With
        `reuse`, a run whose run.json has the same stamp as last time is not read again,
        unless it says `running`. Any exception from a folder skips it: a broken folder must
        not break a listing."""
        cache: dict[Path, tuple[Stamp, RunInfo]] = {}
        broken: list[tuple[Path, str]] = []
        for d, stamp in _stamps(self.runs_root()).items():
            old = self._cache.get(d) if reuse else None
            if old is not None and old[0] == stamp and old[1].meta.get("status") != "running":
                info = old[1]
            else:
                try:
                    info = read_run(d)
                except Exception as e:  # noqa: BLE001 - any broken folder is skipped
                    broken.append((d, str(e).strip().splitlines()[0] if str(e).strip()
                                   else type(e).__name__))
                    continue
                if not isinstance(info.meta, dict) or not isinstance(info.status, str):
                    continue
            cache[d] = (stamp, info)
        self._cache = cache
        self.broken = sorted(broken)
        return newest_first([info for _stamp, info in cache.values()])


def update_meta(run_dir: str | os.PathLike[str], **fields: Any) -> None:
    """Merges `fields` into a finished run's run.json (atomically). Not for a run that is
    training: its RunWriter rewrites run.json at every flush (use `RunWriter.update`)."""
    from resnet_studio.core.runs.jsonfile import write_json

    meta = read_meta(run_dir)
    meta.update(fields)
    write_json(layout.run_json(run_dir), meta)
