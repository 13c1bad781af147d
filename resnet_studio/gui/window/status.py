"""The status bar's two indicators (the Keras build, the TensorFlow backend) and what the
window does when a build or the backend import reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from resnet_studio.gui import icons, theme
from resnet_studio.gui.summary_worker import SummaryResult
from resnet_studio.gui.tf_loader import BackendInfo

if TYPE_CHECKING:
    from resnet_studio.gui.main_window import MainWindow


class StatusIndicators:
    """Build and backend status (labels `build_status`, `backend_status` of the window)."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        sb = win.statusBar()
        win.build_status = QLabel(win)
        win.build_status.setObjectName("buildStatus")
        self.build_icon = QLabel(win)
        win.backend_status = QLabel(win)
        win.backend_status.setObjectName("backendStatus")
        self.backend_icon = QLabel(win)
        for widgets in ((self.build_icon, win.build_status),
                        (self.backend_icon, win.backend_status)):
            box = QWidget(win)
            row = QHBoxLayout(box)
            row.setContentsMargins(8, 0, 8, 0)
            row.setSpacing(5)
            for w in widgets:
                row.addWidget(w)
            sb.addPermanentWidget(box)
        self._build("busy", "Waiting for TensorFlow")
        self._backend("busy", "Loading TensorFlow in the background…")

    @staticmethod
    def _set(icon_label: QLabel, text_label: QLabel, icon: str, text: str,
             color: str | None = None) -> None:
        c = theme.accent(color) if color else None
        icon_label.setPixmap(icons.pixmap(icon, 16, c))
        text_label.setText(text)
        text_label.setStyleSheet(f"color: {c.name()};" if c is not None else "")

    def _build(self, icon: str, text: str, color: str | None = None) -> None:
        self._set(self.build_icon, self.win.build_status, icon, text, color)

    def _backend(self, icon: str, text: str, color: str | None = None) -> None:
        self._set(self.backend_icon, self.win.backend_status, icon, text, color)

    def on_backend_ready(self, info: BackendInfo) -> None:
        self._backend("cpu", info.describe(), theme.OK_COLOR if info.gpus > 0 else None)
        self.win.backend_status.setToolTip(f"TensorFlow {info.tensorflow}, Keras "
                                           f"{info.keras}. Training will run on: "
                                           f"{info.device}.")
        self.win.service.set_backend_ready()
        self.win.runs.set_backend(info)

    def on_backend_failed(self, error: str) -> None:
        self._backend("warning", "TensorFlow could not be loaded", theme.ERROR_COLOR)
        self.win.backend_status.setToolTip(error)
        self.win.summary_view.set_failed_backend(error)
        self._build("warning", "Cannot build", theme.ERROR_COLOR)
        self.win.runs.set_backend(None)

    def on_building(self, _generation: int) -> None:
        self._build("busy", "Building with Keras…")
        self.win.summary_view.set_waiting("Building with Keras…")

    def on_summary(self, result: SummaryResult) -> None:
        win = self.win
        win.canvas.set_result(result)
        win.inspector.set_result(result)
        win.learn_panel.set_result(result)
        win.summary_view.set_result(result)
        sel = win.doc.selection
        win.summary_view.select_path(sel[0] if len(sel) == 1 else None)
        if result.ok:
            self._build("ok", result.headline())
        else:
            self._build("warning", "Model does not build", theme.ERROR_COLOR)
        win.build_status.setToolTip(result.headline())
        win.summary_ready.emit(result)
