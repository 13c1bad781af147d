"""The Predictions view: a grid of a run's test examples with their true and predicted
labels and the model's confidence, misclassified first.

The predictions are a job (`core.training.predictions.run_predictions`, through
`gui.jobs.Job`): the run's model is rebuilt and run over the test split off the GUI thread,
and cached in the run folder, so a second look costs a file read. Images are drawn at their
own pixels scaled up without smoothing (an 8x8 digit stays 8x8 crisp squares), 1-D signals
(mnist1d) as a small line plot, texts as their first characters with the whole text in the
tooltip.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.gui import theme

CELL = 96  # pixels of a drawn sample
TEXT_CHARS = 160  # characters of a text sample shown in the grid
WRONG = QColor(200, 40, 40)


def sample_pixmap(x: np.ndarray, kind: str, size: int = CELL, color: QColor | None = None
                  ) -> QPixmap | None:
    """A picture of one input: an image scaled up crisply, or a signal as a line plot; None
    for tokens (drawn as text)."""
    x = np.asarray(x, np.float32)
    if kind == "image" and x.ndim == 3:
        return image_pixmap(x, size)
    if kind == "sequence":
        return signal_pixmap(x.reshape(x.shape[0], -1)[:, 0] if x.ndim > 1 else x, size,
                             color)
    return None


def image_pixmap(x: np.ndarray, size: int = CELL) -> QPixmap:
    """(H, W, C) floats (normalised: any range) as a picture `size` pixels wide or high,
    stretched to the example's own min..max; enlarged without smoothing, so pixels stay
    squares."""
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    scaled = np.zeros_like(x) if hi <= lo else (x - lo) / (hi - lo)
    u8 = np.ascontiguousarray(np.clip(scaled * 255.0 + 0.5, 0, 255).astype(np.uint8))
    h, w, c = u8.shape
    if c >= 3:
        rgb = np.ascontiguousarray(u8[..., :3])
        image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    else:
        gray = np.ascontiguousarray(u8[..., 0])
        image = QImage(gray.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    mode = (Qt.TransformationMode.FastTransformation if max(h, w) <= size
            else Qt.TransformationMode.SmoothTransformation)
    return QPixmap.fromImage(image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                          mode))


def signal_pixmap(y: np.ndarray, size: int = CELL, color: QColor | None = None) -> QPixmap:
    """A 1-D signal as a line plot `size` wide and 2/3 of it high, on a transparent ground."""
    w, h = size, size * 2 // 3
    pix = QPixmap(w, h)
    pix.fill(Qt.GlobalColor.transparent)
    y = np.asarray(y, np.float64)
    if y.size < 2 or not np.isfinite(y).all():
        return pix
    lo, hi = float(y.min()), float(y.max())
    span = hi - lo or 1.0
    xs = np.linspace(2, w - 2, y.size)
    ys = (h - 3) - (y - lo) / span * (h - 6)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(color or QColor(40, 90, 200), 1.5))
    p.drawPolyline(QPolygonF([QPointF(float(a), float(b)) for a, b in zip(xs, ys,
                                                                           strict=True)]))
    p.end()
    return pix


class PredictionsView(theme.FollowsPalette, QWidget):
    """A run's test predictions as a grid.

    Signals:
        ready(object): the Predictions are shown (also after reading the cache).
        failed(str, str): they could not be computed (message, details).

    Attributes:
        grid: the QListWidget of samples (one item per shown example).
        only_wrong: the "Misclassified only" toggle.
        summary: the line above the grid (how many wrong, accuracy).
    """

    ready = Signal(object)
    failed = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_dir: Path | None = None
        self.predictions: Any = None
        self._job: Any = None
        self.summary = QLabel("Pick a finished run in the Runs tab (Predictions and "
                              "Histograms) to see what its model gets wrong.", self)
        self.summary.setWordWrap(True)
        self.only_wrong = QCheckBox("Misclassified only", self)
        self.only_wrong.setChecked(True)
        self.only_wrong.setToolTip("Show only the test examples the model gets wrong (most "
                                   "confident first), or every shown example")
        self.only_wrong.toggled.connect(self._fill)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.grid = QListWidget(self)
        self.grid.setObjectName("predictionsGrid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setWordWrap(True)
        self.grid.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.progress)
        top.addWidget(self.only_wrong)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.grid, 1)

    # ------------------------------------------------------------------ API
    @property
    def busy(self) -> bool:
        return self._job is not None and self._job.running

    def set_run(self, run_dir: str | Path) -> None:
        """Shows the predictions of the run in `run_dir`, computing them in the background
        unless they are cached."""
        from resnet_studio.core.training.predictions import DEFAULT_SAMPLES, run_predictions
        from resnet_studio.gui.jobs import Job

        self.cancel()
        self.run_dir = Path(run_dir)
        self.predictions = None
        self.grid.clear()
        self.summary.setText(f"Predicting the test split of {self.run_dir.name}…")
        self.progress.setRange(0, 0)
        self.progress.show()
        job = Job(run_predictions, str(self.run_dir), DEFAULT_SAMPLES, name="predictions",
                  parent=self)
        job.progress.connect(self._on_progress)
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_finished)
        self._job = job
        job.start()

    def cancel(self) -> None:
        """Stops a computation in progress (its result is dropped)."""
        job, self._job = self._job, None
        if job is not None and job.running:
            job.finished.disconnect(self._on_finished)
            job.failed.disconnect(self._on_failed)
            job.finished.connect(job.deleteLater)
            job.cancel()

    def shutdown(self) -> None:
        """Cancels and waits for the computation (closing the window)."""
        job = self._job
        if job is not None and job.running:
            job.cancel_and_deliver()

    def clear(self) -> None:
        self.cancel()
        self.run_dir, self.predictions = None, None
        self.grid.clear()
        self.progress.hide()

    # ------------------------------------------------------------------ job
    @Slot(float, str)
    def _on_progress(self, fraction: float, text: str) -> None:
        if fraction == fraction:  # not nan
            self.progress.setRange(0, 100)
            self.progress.setValue(int(fraction * 100))
        if text:
            self.summary.setText(text)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.progress.hide()
        self.summary.setText(f"No predictions: {message}")
        self.failed.emit(message, details)

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.deleteLater()
        self.progress.hide()
        if result is None:
            return
        self.predictions = result
        self._fill()
        self.ready.emit(result)

    # ------------------------------------------------------------------ drawing
    def _apply_palette(self) -> None:
        self._fill()

    @Slot()
    def _fill(self) -> None:
        p = self.predictions
        self.grid.clear()
        if p is None:
            return
        wrong_only = self.only_wrong.isChecked()
        rows = p.rows(misclassified_only=wrong_only)
        shown = len(p.samples)
        every = "all" if len(rows) == p.misclassified else "the first"
        what = f"{every} {len(rows)} misclassified" if wrong_only else \
            f"the first {shown} of {p.examples} examples (misclassified first)"
        self.summary.setText(
            f"{p.misclassified} of {p.examples} test examples misclassified (accuracy "
            f"{p.accuracy:.1%}); showing {what}. Each: ✗ true → predicted label "
            "(✓ when right) and the model's confidence; hover for details."
            + "".join(f"<br><i>{html.escape(n)}</i>" for n in p.notes))
        text_mode = p.input_kind == "tokens" or p.texts is not None
        if text_mode:
            self.grid.setViewMode(QListView.ViewMode.ListMode)
            self.grid.setGridSize(QSize())
            self.grid.setIconSize(QSize())
        else:
            self.grid.setViewMode(QListView.ViewMode.IconMode)
            self.grid.setIconSize(QSize(CELL, CELL))
            self.grid.setGridSize(QSize(CELL + 34, CELL + 44))
        dim = theme.dim_text(self.palette())
        for row in rows:
            self.grid.addItem(self._item(p, row, text_mode, dim))

    def _item(self, p: Any, row: dict[str, Any], text_mode: bool, dim: QColor
              ) -> QListWidgetItem:
        mark = "✓" if row["correct"] else "✗"
        label = (f"{mark} {row['true_name']}" if row["correct"] else
                 f"{mark} {row['true_name']} → {row['predicted_name']}")
        conf = f"{row['confidence']:.0%}"
        tip = (f"Test example #{row['index']}<br>true: <b>{html.escape(row['true_name'])}"
               f"</b><br>predicted: <b>{html.escape(row['predicted_name'])}</b> "
               f"(confidence {row['confidence']:.1%})")
        if text_mode:
            text = str(row.get("text", ""))
            short = " ".join(text.split())
            short = short[:TEXT_CHARS] + ("…" if len(short) > TEXT_CHARS else "")
            item = QListWidgetItem(f"{label}  ({conf})   {short}")
            tip += f"<hr><pre>{html.escape(text[:4000])}</pre>"
        else:
            item = QListWidgetItem(f"{label}\n{conf}")
            pix = sample_pixmap(p.samples[row["n"]], p.input_kind, CELL, dim)
            if pix is not None:
                item.setIcon(QIcon(pix))
        if not row["correct"]:
            item.setForeground(WRONG)
        item.setToolTip(tip)
        item.setData(Qt.ItemDataRole.UserRole, row["index"])
        return item
