"""A job function run in a child process (core.process_jobs): reports relayed in order, the
result returned, the child's exception raised again as its own type, and a stop that kills
the child, runs the cleanup with its pid and raises JobCancelled."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.core.jobs import JobCancelled, JobState
from resnet_studio.core.process_jobs import ChildTraceback, process_job


def counting_job(n: int, state: JobState) -> dict:
    """Reports n progress steps and partials, then returns its pid (module level: spawned)."""
    for i in range(n):
        state.progress((i + 1) / n, f"step {i + 1}")
        state.partial(("part", i))
    return {"pid": os.getpid(), "n": n}


def failing_job(state: JobState) -> None:
    raise ValueError("block 'body_3': no such unit")


def hanging_job(marker: str, state: JobState) -> None:
    """Writes a half-finished temporary file named after its pid, says so, then waits."""
    tmp = Path(marker) / f".result-{os.getpid()}-abcd.tmp.npz"
    tmp.write_bytes(b"half")
    state.progress(0.5, "writing")
    threading.Event().wait(600)


@pytest.mark.slow
def test_reports_and_result_come_back_from_another_process():
    progress, partials = [], []
    state = JobState(on_partial=partials.append,
                     on_progress=lambda f, t: progress.append((f, t)))
    result = process_job(counting_job)(3, state)
    assert result["n"] == 3 and result["pid"] != os.getpid()
    assert progress == [(1 / 3, "step 1"), (2 / 3, "step 2"), (1.0, "step 3")]
    assert partials == [("part", 0), ("part", 1), ("part", 2)]


@pytest.mark.slow
def test_the_childs_exception_is_raised_as_its_own_type():
    with pytest.raises(ValueError, match="body_3") as info:
        process_job(failing_job)(JobState())
    assert isinstance(info.value.__cause__, ChildTraceback)
    assert "failing_job" in str(info.value.__cause__)  # the child's traceback travels


@pytest.mark.slow
def test_a_stop_kills_the_child_and_cleans_up_after_it(tmp_path):
    cleaned: list[int] = []

    def cleanup(pid: int) -> None:
        cleaned.append(pid)
        for f in tmp_path.glob(f".*-{pid}-*.tmp.npz"):
            f.unlink()

    state = JobState(on_progress=lambda f, t: state.cancel())  # stop at the first report
    with pytest.raises(JobCancelled):
        process_job(hanging_job, cleanup=cleanup)(str(tmp_path), state)
    assert len(cleaned) == 1 and cleaned[0] != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(cleaned[0], 0)  # killed and reaped: no such process any more
    assert list(tmp_path.iterdir()) == []


def niceness_job(state: JobState) -> list[int]:
    """The nice value of every thread of the child: numpy (imported by this module, so
    while the child unpickled the job, before it lowered its priority) has started its
    BLAS threads by now."""
    assert np.ones((64, 64)).dot(np.ones(64)).sum() == 64 * 64
    return [os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir("/proc/self/task")]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="per-thread nice: Linux")
def test_every_thread_of_the_child_runs_at_the_niceness_asked_for():
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    nice = process_job(niceness_job, niceness=5)(JobState())
    assert nice and set(nice) == {min(mine + 5, 19)}
