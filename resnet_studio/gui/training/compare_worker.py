"""The bridge between the Qt-free `Comparison` and the GUI: two runs, one QThread.

Same pattern as worker.py: the worker object lives in the training thread, which owns both
models (Keras state is per thread); the comparison's observer only emits a queued signal
per event, tagged with the run's role ("residual" or "plain"); the session object lives in
the GUI thread and re-emits everything, so whoever connects to it runs in the GUI thread.
Control calls (stop, pause, resume) go straight to the comparison, which is thread-safe.

The `Comparison` is constructed in the GUI thread: that is cheap (no TensorFlow) and
rejects an architecture without shortcuts at once, before a thread exists.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from resnet_studio.core.spec import ArchitectureSpec
from resnet_studio.core.training.config import TrainingConfig
from resnet_studio.gui.training.worker import WorkerSession, describe_error


@dataclass
class CompareRequest:
    """Everything a comparison needs, decided in the GUI thread.

    Attributes:
        spec: The residual architecture (a snapshot; its twin is derived from it).
        dataset: Dataset name.
        config: Training settings used for both runs.
        runs_root: Folder receiving the two sibling run folders.
        limit: Examples per split cap (tests and quick looks).
        data_dir: TFDS data folder.
    """

    spec: ArchitectureSpec
    dataset: str
    config: TrainingConfig
    runs_root: Path
    limit: int | None = None
    data_dir: str | None = None


class CompareWorker(QObject):
    """Runs one comparison when its thread starts.

    Signals:
        event(str, object): (role, training event), in order.
        failed(str, str): the comparison could not start (message, traceback).
        done(object): the thread's work is over ({role: summary} or None after `failed`).

    Raises (from the constructor): CompareError when the architecture has no shortcut.
    """

    event = Signal(str, object)
    failed = Signal(str, str)
    done = Signal(object)

    def __init__(self, request: CompareRequest) -> None:
        super().__init__()
        from resnet_studio.core.training.compare import Comparison

        self.request = request
        r = request
        self.comparison = Comparison(r.spec, r.dataset, r.config, runs_root=r.runs_root,
                                     data_dir=r.data_dir, limit=r.limit,
                                     observer=self._observe)

    def _observe(self, role: str, event: Any) -> None:
        self.event.emit(role, event)

    @Slot()
    def run(self) -> None:
        results = None
        try:
            results = self.comparison.run()
        except BaseException as e:  # noqa: BLE001 - every error must reach the user
            self.failed.emit(describe_error(e), traceback.format_exc())
        finally:
            self.done.emit(results)
            # Quit from here, not from a GUI slot: the GUI thread may be blocked in
            # stop_and_wait() and could not run that slot.
            QThread.currentThread().quit()


class CompareSession(WorkerSession):
    """A comparison's worker and thread (WorkerSession).

    Signals:
        event(str, object): as CompareWorker's (role, event).
        failed(str, str), finished(object): as WorkerSession's ({role: summary} or None).

    Raises (from the constructor): CompareError when the architecture has no shortcut.
    """

    event = Signal(str, object)

    def __init__(self, request: CompareRequest, parent: QObject | None = None) -> None:
        worker = CompareWorker(request)  # may raise CompareError: no thread yet
        super().__init__(worker, f"compare-{request.spec.name}", parent)
        self.request = request
        worker.event.connect(self._on_event)

    @property
    def dirs(self) -> dict[str, Path]:
        """Run folder of each role (decided before the runs start)."""
        return dict(self.worker.comparison.dirs)

    def request_stop(self) -> None:
        """Stops the run in progress after its current batch and skips the other one."""
        self.worker.comparison.request_stop()

    def pause(self) -> None:
        self.worker.comparison.pause()

    def resume(self) -> None:
        self.worker.comparison.resume()

    @Slot(str, object)
    def _on_event(self, role: str, event: Any) -> None:
        self.event.emit(role, event)
