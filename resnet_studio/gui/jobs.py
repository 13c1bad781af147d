"""The one way the GUI runs work off its thread: a job function (core.jobs) in a QThread.

`Job(fn, *args)` lives in the GUI thread. `start()` runs `fn(*args, state)` in a worker
thread: its own QThread (made for this job, named after it), or a long-lived `WorkerThread`
shared by jobs that must run one after another in the same thread (the editor's Keras
builds). The job reports through its `JobState`; a `_Runner` object living in the worker
thread turns each report into a signal, delivered by `Qt.QueuedConnection` to slots of the
`Job`, which re-emits them in the GUI thread:

    partial(object)       a streamed intermediate result (Orange3: on_partial_result)
    progress(float, str)  fraction done and a text
    failed(str, str)      the function raised: a readable message and the traceback
                          (Orange3: on_exception)
    finished(object)      the work is over: the function's result, or None after a
                          failure or a cancel (Orange3: on_done); its thread has ended

So whoever connects to a Job's signals runs in the GUI thread, whatever they connect (a
signal of the worker connected to a plain function or lambda would run in the worker
thread; with PySide6 that deadlocked). Stopping is cooperative: `cancel()` sets the state's
flag (and calls the stop switch the job bound), `state.pause()` and `state.resume()` reach the
switches likewise; `cancel_and_wait()` also waits for the thread, which is how closing a
window ends its jobs. No thread is ever killed.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QTimer, Signal, Slot

from resnet_studio.core.jobs import JobCancelled, JobState, describe_error

# How long closing a window waits for a job (the current training batch) to end.
STOP_WAIT_MS = 120_000
# Started jobs until they finish: a job (and its QThread) is never garbage-collected while
# its thread runs, which would abort the process, even when its owner is gone.
_RUNNING: set[Job] = set()


class WorkerThread(QObject):
    """A long-lived QThread in which jobs run one after another (lives in the GUI thread).

    For work that must always happen in the same thread: Keras state is per thread, so
    every model the editor builds is built in one.
    """

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName(name)
        self.thread.start()

    def shutdown(self) -> None:
        """Lets the job in progress finish, then ends the thread (queued jobs are dropped)."""
        if self.thread.isRunning():
            self.thread.quit()
            self.thread.wait()


class _Runner(QObject):
    """Lives in the worker thread; calls the job function once and reports."""

    partial = Signal(object)
    progress = Signal(float, str)
    failed = Signal(str, str)
    done = Signal(object)

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...],
                 describe: Callable[[BaseException], str], quit_thread: bool) -> None:
        super().__init__()
        self.fn, self.args, self.describe = fn, args, describe
        self.quit_thread = quit_thread
        self.state = JobState(on_partial=self.partial.emit, on_progress=self.progress.emit)

    @Slot()
    def run(self) -> None:
        result = None
        try:
            result = self.fn(*self.args, self.state)
        except JobCancelled as e:
            if str(e):
                self.failed.emit(str(e), "")
        except BaseException as e:  # noqa: BLE001 - every error must reach the user
            self.failed.emit(self.describe(e), traceback.format_exc())
        finally:
            self.done.emit(result)
            if self.quit_thread:
                # Quit from here, not from a GUI slot: the GUI thread may be blocked in
                # cancel_and_wait() and could not run that slot.
                QThread.currentThread().quit()


class Job(QObject):
    """One call of a job function in a worker thread; signals in the module doc.

    Args:
        fn: The job function, called as fn(*args, state) in the worker thread.
        *args: Its arguments (decided in the GUI thread; not touched there afterwards).
        name: The thread's name (shown by debuggers and in crash reports).
        thread: A WorkerThread to run in; by default the job gets a QThread of its own.
        describe: Turns an exception into the one-line message of `failed`.
        parent: The QObject owning the job.
    """

    partial = Signal(object)
    progress = Signal(float, str)
    failed = Signal(str, str)
    finished = Signal(object)
    _go = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "job",
                 thread: WorkerThread | None = None,
                 describe: Callable[[BaseException], str] = describe_error,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None
        self._shared = thread
        if thread is None:
            self.thread = QThread()
            self.thread.setObjectName(name)
        else:
            self.thread = thread.thread
        self._runner = _Runner(fn, args, describe, quit_thread=thread is None)
        self._state = self._runner.state
        self._runner.moveToThread(self.thread)
        queued = Qt.ConnectionType.QueuedConnection
        if thread is None:
            self.thread.started.connect(self._runner.run)
        else:
            self._go.connect(self._runner.run, queued)
        self._runner.partial.connect(self._on_partial, queued)
        self._runner.progress.connect(self._on_progress, queued)
        self._runner.failed.connect(self._on_failed, queued)
        self._runner.done.connect(self._on_done, queued)
        self._running = False

    @property
    def state(self) -> JobState:
        """The job's state (cancel, pause and resume go through it)."""
        return self._state

    @property
    def running(self) -> bool:
        """Started and not finished (its `finished` signal not yet delivered)."""
        return self._running

    def start(self) -> None:
        self._running = True
        _RUNNING.add(self)
        if self._shared is None:
            self.thread.start()
        else:
            self._go.emit()

    def cancel(self) -> None:
        """Asks the job to stop at its next safe point (pause and resume: `state`)."""
        self._state.cancel()

    def cancel_and_wait(self, timeout_ms: int = STOP_WAIT_MS) -> bool:
        """cancel(), then waits for a job with its own thread to end; False if it did not
        end in time (a batch that takes minutes): the caller decides."""
        if self._shared is not None or not self.thread.isRunning():
            return True
        self.cancel()
        return self.thread.wait(timeout_ms)

    def cancel_and_deliver(self, *receivers: QObject) -> bool:
        """cancel_and_wait(), then delivers the reports still queued for this job and for
        `receivers`, so that the job's end is recorded before a window goes away."""
        ended = self.cancel_and_wait()
        if ended:
            QCoreApplication.sendPostedEvents(self)
            for receiver in receivers:
                QCoreApplication.sendPostedEvents(receiver)
        return ended

    @Slot(object)
    def _on_partial(self, value: Any) -> None:
        self.partial.emit(value)

    @Slot(float, str)
    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.emit(fraction, text)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.failed.emit(message, details)

    @Slot(object)
    def _on_done(self, result: Any) -> None:
        self.result = result
        if self._shared is None:
            self.thread.wait()  # the thread quits itself right after `done`
        else:
            self._runner.deleteLater()  # in the shared thread, whose loop goes on
        self._running = False
        self.finished.emit(result)
        # Released on the next turn of the event loop, not here: the last reference going
        # now would delete this object inside its own event handler.
        QTimer.singleShot(0, partial(_RUNNING.discard, self))
