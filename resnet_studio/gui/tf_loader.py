"""Imports TensorFlow and Keras in a background thread, so the window appears at once.

Importing TensorFlow takes seconds; the editor is usable meanwhile (palette, canvas, undo),
and the status bar says what is happening. When the import is done, the loader reports the
device training will use: the first GPU's name, or "CPU".
"""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot


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


class _Importer(QObject):
    loaded = Signal(object)
    failed = Signal(str)

    @Slot()
    def run(self) -> None:
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
            info = probe_backend()
        except BaseException as e:  # ImportError, a broken CUDA install…: report, never raise
            self.failed.emit(f"{type(e).__name__}: {e}")
            return
        finally:
            if importing:
                gc.freeze()
                if enabled:
                    gc.enable()
        self.loaded.emit(info)


class TfLoader(QObject):
    """Runs the import once in its own QThread.

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
        self._thread: QThread | None = None
        self._importer: _Importer | None = None

    @property
    def state(self) -> str:
        if self.info is not None:
            return "ready"
        if self.error is not None:
            return "failed"
        return "loading" if self._thread is not None else "idle"

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = QThread()
        self._thread.setObjectName("tensorflow-import")
        self._importer = _Importer()
        self._importer.moveToThread(self._thread)
        self._thread.started.connect(self._importer.run)
        self._importer.loaded.connect(self._on_loaded, Qt.ConnectionType.QueuedConnection)
        self._importer.failed.connect(self._on_failed, Qt.ConnectionType.QueuedConnection)
        self._thread.finished.connect(self._importer.deleteLater)
        self._thread.start()

    def shutdown(self) -> None:
        """Waits for the import to end (it cannot be interrupted) and stops the thread."""
        if self._thread is not None and self._thread.isRunning():
            self._thread.quit()
            self._thread.wait()

    @Slot(object)
    def _on_loaded(self, info: BackendInfo) -> None:
        self.info = info
        self._thread.quit()
        self.ready.emit(info)

    @Slot(str)
    def _on_failed(self, error: str) -> None:
        self.error = error
        self._thread.quit()
        self.failed.emit(error)
