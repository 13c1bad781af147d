"""Taking ownership of a run folder before training writes to it (lock.py): for a new run
the folder must not hold a run yet; for a resume the run must still be resumable once the
lock is held (two resumes started seconds apart both saw it `stopped` before)."""

from __future__ import annotations

import os

from resnet_studio.core.runs import diskio, layout
from resnet_studio.core.runs.lock import RunInUse, RunLock
from resnet_studio.core.runs.resume import NotResumable, epochs_done, nothing_to_do
from resnet_studio.core.runs.store import read_run


def own_run(run_dir: str | os.PathLike[str], *, resume: bool,
            epochs: int | None = None) -> RunLock:
    """The run's owner lock, held; the caller releases it when the run ends.

    Raises:
        RunLocked: another trainer owns the run (names its pid and host).
        RunInUse: a new run's folder already holds a run.
        NotResumable: (resume) the run is training elsewhere (an older version's, without
            the lock), or its checkpoint already covers `epochs` (a concurrent resume
            finished it meanwhile): nothing to do.
    """
    with diskio.guarded(run_dir):  # a read-only runs root: "cannot write RUN: read-only…"
        lock = RunLock(run_dir).acquire()
    try:
        if resume:
            info = read_run(run_dir, probe_lock=False)
            if info.status == "running":
                raise NotResumable(f"{run_dir}: status is running; only stopped, "
                                   "interrupted or failed runs can be resumed")
            done = epochs_done(run_dir)
            if epochs is not None and done is not None and done >= epochs:
                raise NotResumable(nothing_to_do(run_dir, done, epochs))
        elif layout.is_run_dir(run_dir):
            raise RunInUse(f"{run_dir} already holds a run; choose another --run-dir or use "
                           "--resume")
    except BaseException:
        lock.release()
        raise
    return lock
