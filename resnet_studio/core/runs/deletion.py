"""Deleting run folders, never one that is training (here or in another process)."""

from __future__ import annotations

import shutil

from resnet_studio.core.runs import layout
from resnet_studio.core.runs.store import RunInfo, read_run


class RunIsRunning(RuntimeError):
    """Refused: the run is training; its status was read again from disk."""


def current_state(runs: list[RunInfo]) -> tuple[list[RunInfo], list[RunInfo]]:
    """(deletable, running): each run read again from disk (a listing may be seconds old).

    Folders without a run.json are in neither list (they are not runs, or are already
    gone). A run whose run.json is unreadable is deletable (reported `interrupted` if the
    listing said `running`).
    """
    deletable: list[RunInfo] = []
    running: list[RunInfo] = []
    for run in runs:
        if not layout.is_run_dir(run.dir):
            continue
        try:
            current = read_run(run.dir)
        except Exception:  # noqa: BLE001 - unreadable run.json: deletable
            current = RunInfo(run.dir, run.meta, run.status if run.status != "running"
                              else "interrupted")
        (running if current.status == "running" else deletable).append(current)
    return deletable, running


def delete_run(run: RunInfo) -> None:
    """Removes the run's folder.

    Raises:
        RunIsRunning: the run is training now (read again from disk first).
        OSError: the folder (or part of it) could not be removed.
    """
    _, running = current_state([run])
    if running:
        raise RunIsRunning(f"{run.dir}: the run is still training; stop it first")
    shutil.rmtree(run.dir)
