"""gui.jobs: a job function runs off the GUI thread; its reports arrive in the GUI thread."""

from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication, QThread

from resnet_studio.core.jobs import JobCancelled, JobState
from resnet_studio.gui.jobs import Job, WorkerThread

TIMEOUT_MS = 10_000


def counting_job(n: int, state: JobState) -> str:
    name = QThread.currentThread().objectName()
    for i in range(n):
        state.partial((i, name))
    return name


def test_a_job_runs_in_its_own_named_thread_and_reports_in_the_gui_thread(qtbot):
    job = Job(counting_job, 5, name="job-under-test")
    received: list[tuple[int, bool]] = []
    gui_thread = QCoreApplication.instance().thread()
    job.partial.connect(lambda v: received.append((v[0], QThread.currentThread()
                                                   is gui_thread)))
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT_MS) as blocker:
        job.start()
        assert job.running
    assert blocker.args[0] == "job-under-test"
    # Every report is in order and was delivered in the GUI thread (not the job's thread).
    assert received == [(i, True) for i in range(5)]
    assert not job.running and not job.thread.isRunning() and job.result == "job-under-test"


def test_an_exception_becomes_failed_then_finished_with_no_result(qtbot):
    def broken(state: JobState) -> None:
        raise RuntimeError("the disk is on fire\nmore")

    job = Job(broken, name="broken")
    failures: list[tuple[str, str]] = []
    job.failed.connect(lambda m, d: failures.append((m, d)))
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT_MS) as blocker:
        job.start()
    assert blocker.args[0] is None
    assert failures[0][0] == "RuntimeError: the disk is on fire"
    assert "Traceback" in failures[0][1]


def test_cancel_is_cooperative_and_a_message_says_why_there_is_no_result(qtbot):
    started, stop = threading.Event(), threading.Event()

    def waits_for_cancel(state: JobState) -> str:
        state.bind(stop=stop.set)  # the work's own stop switch, as the Trainer's
        started.set()
        if not stop.wait(TIMEOUT_MS / 1000):
            return "never asked to stop"
        assert state.cancelled
        raise JobCancelled("Stopped before training started.")

    job = Job(waits_for_cancel, name="cancellable")
    failures: list[tuple[str, str]] = []
    job.failed.connect(lambda m, d: failures.append((m, d)))
    job.start()
    assert started.wait(TIMEOUT_MS / 1000)
    assert job.cancel_and_deliver()  # waits for the thread, then delivers its reports
    assert failures == [("Stopped before training started.", "")]
    assert not job.running and job.result is None


def test_jobs_on_a_worker_thread_run_one_after_another_in_that_thread(qtbot):
    worker = WorkerThread("shared-worker")
    try:
        names = []
        for i in range(3):
            job = Job(counting_job, i, thread=worker)
            with qtbot.waitSignal(job.finished, timeout=TIMEOUT_MS) as blocker:
                job.start()
            names.append(blocker.args[0])
        assert names == ["shared-worker"] * 3
    finally:
        worker.shutdown()
    assert not worker.thread.isRunning()
