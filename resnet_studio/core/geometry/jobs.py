"""The geometric studies as jobs (core.jobs): a run, or both runs of a plain-twin
comparison, studied one after the other, each result streamed as a partial result."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

from resnet_studio.core.geometry.runmodel import Cancelled, remove_temporary_files

KINDS = ("lesion", "landscape")
# The study process yields to everything (nice +19, the lowest priority): at +10, like the
# training threads, the GUI's stall p99 was 19–23 ms at a load of ~10 on 2 cores, 31 ms in
# the Hessian phase; at +19 11.8 ms (benchmarks/bench_landscape.py, docs/geometry.md §5).
# Nothing waits on a study but the user, and on an idle desktop it still gets the cores.
STUDY_NICENESS = 19


def run_pair(run_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """{"residual": folder, "plain": folder} of the comparison `run_dir` belongs to, else
    {role: run_dir} with its role read from its architecture (residual if it has a
    shortcut). Partners whose folder is gone are left out."""
    from resnet_studio.core.runs import is_run_dir, read_run
    from resnet_studio.core.runs.pairs import pair_dirs

    info = read_run(run_dir)
    pair = pair_dirs(info)
    if pair:
        return {role: d for role, d in pair.items() if is_run_dir(d)}
    return {"run": Path(run_dir)}


def study_process_job(run_dirs: dict[str, Path]) -> Any:
    """`study_job` as a job function that runs in a child process (core.process_jobs): the
    GUI's way to run a study, so that rebuilding models and tracing TensorFlow functions
    never hold the GUI thread's interpreter. A stop kills the process; the temporary file
    it may have been writing is removed, so a stopped study leaves nothing behind."""
    from resnet_studio.core.process_jobs import process_job

    cleanup = partial(_cleanup, list(run_dirs.values()))
    return process_job(study_job, cleanup=cleanup, name="resnet-studio-geometry",
                       niceness=STUDY_NICENESS)


def _cleanup(run_dirs: list[Path], pid: int) -> None:
    remove_temporary_files(run_dirs, pid)


def study_job(kind: str, run_dirs: dict[str, Path], settings: dict[str, Any],
              state: Any) -> dict[str, Any]:
    """Runs the `kind` study ("lesion" or "landscape") on each run of `run_dirs` (role ->
    folder), reporting progress over all of them, streaming `(role, result)` after each and
    returning {role: result}. A cancel raises JobCancelled; nothing partial is saved."""
    from resnet_studio.core.geometry.landscape import LandscapeSettings, landscape_study
    from resnet_studio.core.geometry.lesion import lesion_study
    from resnet_studio.core.jobs import JobCancelled

    if kind not in KINDS:
        raise ValueError(f"unknown study {kind!r}; expected one of {KINDS}")
    results: dict[str, Any] = {}
    roles = list(run_dirs)
    for i, role in enumerate(roles):
        def progress(done: int, total: int, what: str, i: int = i, role: str = role) -> None:
            frac = (i + (done / total if total else 1.0)) / len(roles)
            state.progress(frac, f"{role}: {what} ({done}/{total})")

        def cancel() -> bool:
            return bool(state.cancelled)

        try:
            if kind == "lesion":
                result = lesion_study(run_dirs[role], progress=progress, cancel=cancel,
                                      **settings)
            else:
                result = landscape_study(run_dirs[role], LandscapeSettings(**settings),
                                         progress=progress, cancel=cancel)
        except Cancelled:
            raise JobCancelled from None
        results[role] = result
        state.partial((role, result))
    return results
