"""Imports TensorFlow and Keras in a background thread, so the window appears at once.

Importing TensorFlow takes seconds; the editor is usable meanwhile (palette, canvas, undo),
and the status bar says what is happening. When the import is done, the loader reports the
device training will use: the first GPU's name, or "CPU".
"""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from resnet_studio.core.jobs import JobState
from resnet_studio.gui.jobs import Job


@dataclass(frozen=True)
class BackendInfo:
    """What the background import found."""

    tensorflow: str
    keras: str
    device: str  # "CPU" or the GPU's name
    gpus: int
    devices: tuple[str, ...] = ()  # logical devices ("CPU:0", "GPU:0", …) for the train panel

    def describe(self) -> str:
        return f"TensorFlow {self.tensorflow} · {self.device}"


def probe_backend() -> BackendInfo:
    """Imports TensorFlow and Keras (in the calling thread) and finds the training device."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = "CPU"
    if gpus:
        try:
            details = tf.config.experimental.get_device_details(gpus[0])
            device = details.get("device_name") or gpus[0].name
        except (RuntimeError, ValueError):  # details are best-effort on some drivers
            device = gpus[0].name
        if len(gpus) > 1:
            device += f" (+{len(gpus) - 1} more)"
    try:
        from resnet_studio.core.training.distribute import list_devices

        devices = tuple(list_devices())
    except (RuntimeError, ValueError):  # a broken driver: training still finds its device
        devices = ()
    return BackendInfo(tf.__version__, keras.__version__, device, len(gpus), devices)


def import_backend(state: JobState) -> BackendInfo:
    """Imports TensorFlow and Keras (a job function, core.jobs); not interruptible."""
    del state
    # No garbage collection during the import: the growing heap made full collections of
    # 40-220 ms (holding the GIL, so freezing the window) six times in a row, ~0.5 s in
    # all (benchmarks/bench_gui.py). The modules' objects live as long as the process:
    # they go to the collector's permanent generation (gc.freeze), never walked again.
    # The import's own garbage (~4,000 cycles) goes there too, not collected (that would
    # be one 0.27 s pause) until the end of the first run thaws it (gui.app.thaw_heap).
    importing = "tensorflow" not in sys.modules  # else (a second window) nothing to do
    enabled = gc.isenabled()
    if importing:
        gc.disable()
    try:
        return probe_backend()
    finally:
        if importing:
            gc.freeze()
            if enabled:
                gc.enable()


def _describe_import_error(e: BaseException) -> str:
    # ImportError, a broken CUDA install…: reported in full, never raised
    return f"{type(e).__name__}: {e}"


class TfLoader(QObject):
    """Runs the import once, as a job in its own QThread (gui.jobs).

    Signals:
        ready(object): BackendInfo, in the GUI thread.
        failed(str): why TensorFlow could not be imported.
    """

    ready = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.info: BackendInfo | None = None
        self.error: str | None = None
        self._job: Job | None = None

    @property
    def state(self) -> str:
        if self.info is not None:
            return "ready"
        if self.error is not None:
            return "failed"
        return "loading" if self._job is not None else "idle"

    def start(self) -> None:
        if self._job is not None:
            return
        self._job = Job(import_backend, name="tensorflow-import",
                        describe=_describe_import_error, parent=self)
        self._job.failed.connect(self._on_failed)
        self._job.finished.connect(self._on_finished)
        self._job.start()

    def shutdown(self) -> None:
        """Waits for the import to end (it cannot be interrupted)."""
        if self._job is not None:
            self._job.cancel_and_wait()

    @Slot(str, str)
    def _on_failed(self, error: str, _details: str) -> None:
        self.error = error
        self.failed.emit(error)

    @Slot(object)
    def _on_finished(self, info: object) -> None:
        if isinstance(info, BackendInfo):
            self.info = info
            self.ready.emit(info)
