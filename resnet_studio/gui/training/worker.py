"""The bridge between the Qt-free Trainer and the GUI: one run in one QThread.

The Trainer's observer is called in the training thread; it only emits a queued signal per
event, so the GUI thread receives events in order and appends them to buffers (the plots
redraw from their own timer). The worker object lives in the training thread, which owns
the model (Keras state is per thread). Control calls (stop, pause, resume) come from the GUI
thread and go straight to the Trainer's thread-safe events.

Every exception raised in the thread reaches the GUI: bad input found before the run folder
exists (unknown dataset, a block that cannot take the data) as `failed(message)`, anything
during training as a `Finished` event with status `failed` and the error — the Trainer writes
the same status into run.json.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from resnet_studio.core.spec import ArchitectureSpec
from resnet_studio.core.training.config import TrainingConfig

# How long closing the window waits for the current batch to end before giving up politely.
STOP_WAIT_MS = 120_000


@dataclass
class RunRequest:
    """Everything a run needs, decided in the GUI thread.

    Attributes:
        spec: The architecture (a snapshot: later edits do not touch the running model).
        dataset: Dataset name (`digits`, `tfds:cifar10`, `npz:/path`…).
        config: Resolved training settings.
        run_dir: The run's folder (new, or an existing one when `resume`).
        resume: Continue the run in `run_dir` from its last checkpoint.
        limit: Examples per split cap (tests and quick looks).
        data_dir: TFDS data folder.
        preset: Name recorded in run.json.
        initial_weights: Layer weights to start from (plain-twin comparisons).
    """

    spec: ArchitectureSpec
    dataset: str
    config: TrainingConfig
    run_dir: Path
    resume: bool = False
    limit: int | None = None
    data_dir: str | None = None
    preset: str | None = None
    initial_weights: dict[str, Any] | None = field(default=None, repr=False)


def describe_error(e: BaseException) -> str:
    """One readable line for an exception (the messages of our own errors already are)."""
    from resnet_studio.core.blocks.context import BlockBuildError
    from resnet_studio.core.data import DatasetError
    from resnet_studio.core.spec import SpecError

    if isinstance(e, (DatasetError, SpecError, BlockBuildError, FileNotFoundError,
                      FileExistsError, ValueError)):
        return str(e)
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else 'no message'}"


class TrainingWorker(QObject):
    """Runs one `RunRequest` when its thread starts.

    Signals:
        event(object): a training event (core.training.events), in order.
        failed(str, str): the run could not start (message, traceback for the log).
        done(object): the thread's work is over (RunResult, or None after `failed`).
    """

    event = Signal(object)
    failed = Signal(str, str)
    done = Signal(object)

    def __init__(self, request: RunRequest) -> None:
        super().__init__()
        self.request = request
        self.trainer: Any = None
        self._lock = threading.Lock()
        self._stop = False
        self._paused = False

    # -- control (GUI thread)
    def request_stop(self) -> None:
        with self._lock:
            self._stop = True
            if self.trainer is not None:
                self.trainer.request_stop()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            if self.trainer is not None:
                self.trainer.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            if self.trainer is not None:
                self.trainer.resume()

    # -- the run (training thread)
    @Slot()
    def run(self) -> None:
        from resnet_studio.core.training.trainer import Trainer

        r = self.request
        result = None
        try:
            trainer = Trainer(r.spec, r.dataset, r.config, run_dir=r.run_dir,
                              observer=self.event.emit, data_dir=r.data_dir, limit=r.limit,
                              initial_weights=r.initial_weights, resume=r.resume,
                              preset=r.preset)
            with self._lock:  # a Stop or Pause pressed while the data was loading still counts
                self.trainer = trainer
                if self._stop:
                    trainer.request_stop()
                elif self._paused:
                    trainer.pause()
            trainer.prepare()
            if self._stop:
                self.failed.emit("Stopped before training started.", "")
            else:
                result = trainer.run()
        except BaseException as e:  # noqa: BLE001 - every error must reach the user
            self.failed.emit(describe_error(e), traceback.format_exc())
        finally:
            self.done.emit(result)
            # Quit from here, not from a GUI slot: the GUI thread may be blocked in
            # stop_and_wait() and could not run that slot.
            QThread.currentThread().quit()


class WorkerSession(QObject):
    """Owns a worker object and its QThread; the GUI talks to this object.

    The worker has signals `event`, `failed(str, str)` and `done(object)` and a slot `run`,
    and quits its own thread after `done`. Signals are re-emitted from slots of this object,
    which lives in the GUI thread, so whoever connects to them runs in the GUI thread
    whatever they connect. Subclasses declare `event` with their worker's arguments, connect
    the worker's `event` to a slot of theirs that re-emits it, and say how to stop, pause and
    resume when the worker's own methods are not the way.

    Signals:
        failed(str, str): as the worker's.
        finished(object): the thread has ended (the worker's result, or None).
    """

    failed = Signal(str, str)
    finished = Signal(object)

    def __init__(self, worker: Any, thread_name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.result: Any = None
        self.thread = QThread()
        self.thread.setObjectName(thread_name)
        self.worker = worker
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        self._running = True
        self.thread.start()

    def request_stop(self) -> None:
        self.worker.request_stop()

    def pause(self) -> None:
        self.worker.pause()

    def resume(self) -> None:
        self.worker.resume()

    def stop_and_wait(self, timeout_ms: int = STOP_WAIT_MS) -> bool:
        """Asks the run to stop after the current batch and waits for the thread to end.

        The run keeps a checkpoint and ends with status `stopped`. Returns False if the
        thread did not end in time (a batch that takes minutes); the caller decides.
        """
        if not self.thread.isRunning():
            return True
        self.request_stop()
        return self.thread.wait(timeout_ms)

    def stop_and_deliver(self, *receivers: QObject) -> bool:
        """stop_and_wait(), then delivers the events still queued for this session and for
        `receivers` (Finished, done), so that the run's end is recorded in the views before
        the window goes away. Returns stop_and_wait()'s answer."""
        ended = self.stop_and_wait()
        if ended:
            QCoreApplication.sendPostedEvents(self)
            for receiver in receivers:
                QCoreApplication.sendPostedEvents(receiver)
        return ended

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.failed.emit(message, details)

    @Slot(object)
    def _on_done(self, result: Any) -> None:
        self.result = result
        self.thread.wait()  # the thread quits itself right after `done`
        self._running = False
        self.finished.emit(result)


class TrainingSession(WorkerSession):
    """One run's worker and thread (WorkerSession).

    Signals:
        event(object): the Trainer's events, in order.
        failed(str, str), finished(object): as WorkerSession's (RunResult or None).
    """

    event = Signal(object)

    def __init__(self, request: RunRequest, parent: QObject | None = None) -> None:
        super().__init__(TrainingWorker(request), f"training-{request.run_dir.name}", parent)
        self.request = request
        self.worker.event.connect(self._on_event)

    @Slot(object)
    def _on_event(self, event: Any) -> None:
        self.event.emit(event)


def ask_to_stop(parent: QWidget, title: str, question: str) -> bool:
    """Asks `question` (Yes/No, No by default) before stopping a run; True for Yes."""
    answer = QMessageBox.question(parent, title, question,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
