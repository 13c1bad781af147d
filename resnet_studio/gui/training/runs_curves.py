"""The curves of the runs selected in the Runs tab, drawn over each other beside the table.

Where the user chose them, and nowhere else: overlaid runs once went over the Training tab's
live plots, where they stayed during the next run and stretched every x axis (learning rate
and gradients included). Here each selected run (up to MAX_RUNS) is read from its folder into
its own `RunHistory` (the same model the live plots and the Compare tab use, filled by
`RunHistory.load_run`) and drawn in its colour with its name: the smoothed training loss with
the validation loss at each epoch's end (dots), and the validation accuracy (the training
accuracy, a running mean over each epoch, for a run without validation; perplexity for
language models). A run read once is kept until its run.json says it changed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from resnet_studio.core.runs import RunInfo
from resnet_studio.core.runs.history import RunHistory
from resnet_studio.core.runs.series import Series
from resnet_studio.gui import theme
from resnet_studio.gui.training.loss_scale import log_scale_box, loggable
from resnet_studio.gui.training.plot_ranges import clipped_exp
from resnet_studio.gui.training.plot_style import LogAxis, cycle_color, elide, style_plots

MAX_RUNS = 8  # more curves than colours in the cycle read as noise
POINTS = 2000  # decimation budget per curve (about two points per pixel of a wide plot)
# A selected run that is training changes at every poll of the runs view (3 s): its records
# are read again at most this often, so a long run does not keep the GUI thread reading.
RELOAD_RUNNING_S = 10.0
TITLE_SIZE = "9pt"
EMPTY_TEXT = "Select runs in the table to see their curves together"


@dataclass
class _Curves:
    """One run's curves in the two plots."""

    run: RunInfo
    history: RunHistory
    loss: pg.PlotDataItem
    val_loss: pg.PlotDataItem
    metric: pg.PlotDataItem


def _stamp(run: RunInfo) -> tuple[Any, ...]:
    """What tells a run's curves changed: its steps, epochs, status and last write."""
    m = run.meta
    return (m.get("steps"), m.get("epochs_completed"), run.status, m.get("updated"),
            m.get("finished"))


class RunsCurves(theme.FollowsPalette, QWidget):
    """Loss and accuracy of several stored runs, over each other, in the Runs tab.

    Attributes:
        curves: the runs drawn, in selection order (at most MAX_RUNS).
        loss_log: the loss axis is logarithmic (the "Log loss" box, remembered).
        skipped: runs selected beyond MAX_RUNS, or whose records could not be read.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curves: list[_Curves] = []
        self.skipped: list[str] = []
        # Run folder -> (its stamp, its history, time.monotonic() when read).
        self._cache: dict[str, tuple[tuple[Any, ...], RunHistory, float]] = {}
        self.title = QLabel("Curves of the selected runs", self)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.log_loss_box = log_scale_box(self, "runs", self._set_loss_log)
        self.loss_log = self.log_loss_box.isChecked()
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        bar.addWidget(self.title)
        bar.addWidget(self.note, 1)
        bar.addWidget(self.log_loss_box)

        self.empty_label = QLabel(EMPTY_TEXT, self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setObjectName("runsCurves")
        self.loss_plot = self.graphics.addPlot(row=0, col=0,
                                               axisItems={"left": LogAxis("left")})
        self.metric_plot = self.graphics.addPlot(row=0, col=1,
                                                 axisItems={"left": LogAxis("left")})
        for plot in (self.loss_plot, self.metric_plot):
            plot.setMenuEnabled(False)
            plot.showGrid(x=False, y=True, alpha=0.15)
            plot.setLabel("bottom", "step")
        self.loss_plot.setLogMode(False, self.loss_log)
        self.legend = self.loss_plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.metric_plot.setToolTip(
            "Validation accuracy at each epoch's end (dots). A run without validation shows "
            "its training accuracy: the running mean over the batches of each epoch.")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self.graphics)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        self._apply_palette()

    # ------------------------------------------------------------------ API
    def set_runs(self, runs: list[RunInfo]) -> None:
        """Draws these runs (the first MAX_RUNS), reading only those not read before or
        whose run.json changed since (a run that is training: at most every
        RELOAD_RUNNING_S)."""
        for c in self.curves:
            self.legend.removeItem(c.loss)
            for item, plot in ((c.loss, self.loss_plot), (c.val_loss, self.loss_plot),
                               (c.metric, self.metric_plot)):
                plot.removeItem(item)
        self.curves = []
        self.skipped = [r.name for r in runs[MAX_RUNS:]]
        keep: dict[str, tuple[tuple[Any, ...], RunHistory, float]] = {}
        now = time.monotonic()
        for run in runs[:MAX_RUNS]:
            key = str(run.dir)
            cached = self._cache.get(key)
            if cached is not None and (cached[0] == _stamp(run) or (
                    run.status == "running" and now - cached[2] < RELOAD_RUNNING_S)):
                keep[key] = cached
            else:
                history = RunHistory(gradients=False)
                try:
                    history.load_run(run.dir)
                except (OSError, ValueError) as e:  # a folder broken since it was listed
                    self.skipped.append(f"{run.name} ({e})")
                    continue
                keep[key] = (_stamp(run), history, now)
            history = keep[key][1]
            self.curves.append(self._add(run, history))
        self._cache = keep
        self._apply_colors()
        self._draw()
        self.stack.setCurrentWidget(self.graphics if self.curves else self.empty_label)
        more = f"{len(runs) - MAX_RUNS} more selected, not drawn (at most {MAX_RUNS})" \
            if len(runs) > MAX_RUNS else ""
        failed = [s for s in self.skipped if "(" in s]
        self.note.setText("; ".join([more] * bool(more) + [f"unreadable: {s}"
                                                            for s in failed]))

    # ------------------------------------------------------------------ drawing
    def _add(self, run: RunInfo, history: RunHistory) -> _Curves:
        loss = pg.PlotDataItem(antialias=True)
        val_loss = pg.PlotDataItem(symbol="o", symbolSize=5)
        metric = pg.PlotDataItem(symbol="o", symbolSize=5)
        for item, plot in ((loss, self.loss_plot), (val_loss, self.loss_plot),
                           (metric, self.metric_plot)):
            item.setClipToView(True)
            plot.addItem(item)
        self.legend.addItem(loss, elide(run.name, 40))
        return _Curves(run, history, loss, val_loss, metric)

    def _set_loss_log(self, on: bool) -> None:
        self.loss_log = on
        self.loss_plot.setLogMode(False, on)
        self._draw()
        self.loss_plot.enableAutoRange()

    def _loss_data(self, series: Series) -> tuple[np.ndarray, np.ndarray]:
        x, y = series.view(-math.inf, math.inf, POINTS)
        return (x, loggable(y)) if self.loss_log else (x, y)

    def _draw(self) -> None:
        lm = any(c.history.task == "language_model" for c in self.curves)
        self.metric_plot.setLogMode(False, lm)
        for c in self.curves:
            h = c.history
            c.loss.setData(*self._loss_data(h.smooth_loss))
            c.val_loss.setData(*self._loss_data(h.val_loss))
            if h.task == "language_model":
                source = h.val_loss if len(h.val_loss) else h.smooth_loss
                x, y = source.view(-math.inf, math.inf, POINTS)
                c.metric.setData(x, clipped_exp(y))
            else:
                source = h.val_accuracy if len(h.val_accuracy) else h.accuracy
                c.metric.setData(*source.view(-math.inf, math.inf, POINTS))
            c.metric.setSymbol("o" if source is h.val_accuracy or source is h.val_loss
                               else None)
        self._apply_titles(lm)

    def _apply_titles(self, lm: bool = False) -> None:
        color = self.palette().color(QPalette.ColorRole.Text).name()
        self.loss_plot.setTitle("Loss (smoothed; dots: validation)" +
                                (", log scale" if self.loss_log else ""),
                                color=color, size=TITLE_SIZE)
        self.metric_plot.setTitle("Perplexity (validation)" if lm else
                                  "Validation accuracy (else train, running mean)",
                                  color=color, size=TITLE_SIZE)

    # ------------------------------------------------------------------ colours
    def _apply_colors(self) -> None:
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        for i, c in enumerate(self.curves):
            color, style = cycle_color(i)
            accent = theme.accent(color, pal)
            pen = pg.mkPen(accent, width=1.8, style=style)
            c.loss.setPen(pen)
            c.metric.setPen(pen)
            c.val_loss.setPen(pg.mkPen(accent, width=1, style=Qt.PenStyle.DotLine))
            for item in (c.val_loss, c.metric):
                item.setSymbolBrush(pg.mkBrush(accent))
                item.setSymbolPen(pg.mkPen(base, width=1))

    def _apply_palette(self) -> None:
        pal = self.palette()
        dim = theme.dim_text(pal)
        style_plots(pal, self.graphics, [self.loss_plot, self.metric_plot], [self.legend])
        self.empty_label.setStyleSheet(f"color: {dim.name()};")
        self.note.setStyleSheet(f"color: {dim.name()};")
        self._apply_titles(any(c.history.task == "language_model" for c in self.curves))
        self._apply_colors()
