"""Pieces the Compress views share: a themed plot, the residual/plain line styles, and a
start/stop row around one gui.jobs.Job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from resnet_studio.gui.jobs import Job

STYLES = {"run": Qt.PenStyle.SolidLine, "residual": Qt.PenStyle.SolidLine,
          "plain": Qt.PenStyle.DashLine}
COLORS = {"run": "#1f77b4", "residual": "#1f77b4", "plain": "#d62728"}
ERROR_COLOR = "#c62828"


def role_label(role: str) -> str:
    return "this run" if role == "run" else role


LEGEND_CORNERS = {"top-left": (10, 10), "top-right": (-10, 10), "bottom-left": (10, -10),
                  "bottom-right": (-10, -10)}


def themed_plot(widget: QWidget, bottom: str, left: str,
                legend: str | None = "top-right") -> pg.PlotWidget:
    """A PlotWidget in the app's light or dark palette, without SI-prefixed axes, its
    legend (if any) in the corner the data leave free."""
    plot = pg.PlotWidget()
    plot.setLabel("bottom", bottom)
    plot.setLabel("left", left)
    if legend:
        plot.addLegend(offset=LEGEND_CORNERS[legend])
    pal = widget.palette()
    plot.setBackground(pal.color(QPalette.ColorRole.Base))
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.enableAutoSIPrefix(False)  # accuracies, sparsities and kB, not "x0.001"
        axis.setTextPen(pal.color(QPalette.ColorRole.Text))
        axis.setPen(pal.color(QPalette.ColorRole.Text))
    return plot


class JobRow(QObject):
    """A "Measure" and a "Stop" button and a status line around one job at a time.

    Signals:
        partial(object): a piece of the result, as the job streams it.
        done(object): the job ended: its result, or None (failed or stopped early).
    """

    partial = Signal(object)
    done = Signal(object)

    def __init__(self, start_text: str, make_job: Callable[[QObject], Job],
                 parent: QWidget) -> None:
        super().__init__(parent)
        self.make_job = make_job
        self.job: Job | None = None
        self.layout = QHBoxLayout()
        self.start_button = QPushButton(start_text)
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.layout.addWidget(self.start_button)
        self.layout.addWidget(self.stop_button)
        self.layout.addWidget(self.status, 1)

    @Slot()
    def start(self) -> None:
        if self.job is not None and self.job.running:
            return
        self.job = self.make_job(self)
        self.job.progress.connect(lambda f, text: self.status.setText(text))
        self.job.partial.connect(self.partial)
        self.job.failed.connect(self._on_failed)
        self.job.finished.connect(self._on_finished)
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText("Starting…")
        self.job.start()

    @Slot()
    def stop(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
            self.status.setText("Stopping after the current measurement…")

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.status.setText(f"<span style='color:{ERROR_COLOR}'>{message}</span>")

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if result is not None and not self.status.text().startswith("<span"):
            self.status.setText("Done.")
        self.done.emit(result)

    def shutdown(self, *receivers: QObject) -> None:
        """Stops a running job and waits for it (a QThread must not die running)."""
        if self.job is not None and self.job.running:
            self.job.cancel_and_deliver(*receivers)
