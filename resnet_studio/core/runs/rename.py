"""Renaming a run: a new `name` in its run.json (names.py), never while it trains."""

from __future__ import annotations

import os

from resnet_studio.core.runs.deletion import RunIsRunning
from resnet_studio.core.runs.names import clean_name, default_name
from resnet_studio.core.runs.store import RunInfo, read_run, update_meta


def rename_run(run_dir: str | os.PathLike[str], name: str) -> RunInfo:
    """Stores a new name in run.json; an empty name restores the default. Returns the run
    as read back.

    Raises:
        ValueError: a name too long (nothing is changed).
        RunIsRunning: the run is training (its writer rewrites run.json; rename it after).
        FileNotFoundError: not a run folder.
    """
    cleaned = clean_name(name)
    run = read_run(run_dir)
    if run.status == "running":
        raise RunIsRunning(f"{run.dir}: the run is still training; rename it when it stops")
    update_meta(run.dir, name=cleaned or default_name(run.meta, run.id))
    return read_run(run.dir)
