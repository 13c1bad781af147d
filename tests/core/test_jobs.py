"""The Qt-free job protocol: a job function reports through its JobState."""

from __future__ import annotations

import threading

import pytest

from resnet_studio.core.jobs import JobCancelled, JobState, describe_error, run_job


class Switches:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def stop(self) -> None:
        self.calls.append("stop")

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


def test_partial_results_and_progress_reach_the_callbacks_in_order():
    seen: list[object] = []
    state = JobState(on_partial=seen.append, on_progress=lambda f, t: seen.append((f, t)))

    def job(n: int, state: JobState) -> int:
        for i in range(n):
            state.partial(i)
            state.progress((i + 1) / n, f"{i + 1} of {n}")
        return n * 10

    assert run_job(job, 3, state=state) == 30
    assert seen == [0, (1 / 3, "1 of 3"), 1, (2 / 3, "2 of 3"), 2, (1.0, "3 of 3")]


def test_a_stop_requested_before_bind_reaches_the_worker_when_it_binds():
    state, sw = JobState(), Switches()
    state.cancel()
    assert state.cancelled
    state.bind(stop=sw.stop, pause=sw.pause, resume=sw.resume)
    assert sw.calls == ["stop"]  # a stop wins over an earlier pause, and is applied once
    state.pause()
    state.resume()
    assert sw.calls == ["stop", "pause", "resume"]


def test_a_pause_requested_before_bind_is_applied_then_forwarded():
    state, sw = JobState(), Switches()
    state.pause()
    state.bind(stop=sw.stop, pause=sw.pause, resume=sw.resume)
    assert sw.calls == ["pause"] and state.paused
    state.resume()
    state.cancel()
    assert sw.calls == ["pause", "resume", "stop"] and not state.paused


def test_check_raises_once_cancelled_from_another_thread():
    state = JobState()
    state.check()  # not cancelled: no exception
    t = threading.Thread(target=state.cancel)
    t.start()
    t.join()
    with pytest.raises(JobCancelled):
        state.check()


def test_describe_error_keeps_our_messages_and_names_foreign_exceptions():
    assert describe_error(ValueError("epochs must be >= 1")) == "epochs must be >= 1"
    assert describe_error(RuntimeError("boom\nsecond line")) == "RuntimeError: boom"
    assert describe_error(KeyError()) == "KeyError: no message"
