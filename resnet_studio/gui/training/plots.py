"""Live plots of one training run: loss, accuracy (or perplexity), learning rate, and the
per-layer gradient magnitudes (heatmap over steps, latest norms by depth, picked layers).

The add_* methods run on the GUI thread at the rate training events arrive. They only append
to the numpy buffers of history.py and mark the widget dirty; a single-shot ~30 Hz timer
redraws when something changed and the widget is visible. Each redraw hands pyqtgraph a
min/max-decimated view of the visible range (about two points per pixel), so it costs about
the same at step 100 and at step 200 000, and the heatmap has at most
GradientHistory.max_columns columns however long the run.

The step plots (loss, metric, learning rate, picked layers) share their x range. While any of
them auto-ranges in x ("follow", the default) they receive the whole run; once the user
zooms or pans they receive only the visible range, re-decimated when the range changes.

Auto-range follows round numbers, not the data's exact extent: each plot's data items are
added with `ignoreBounds`, and an invisible `_Bounds` item holds the range to show, from the
first step to a round step count a little beyond the last (`nice_ceiling`), and the data's
y extent widened to multiples of a round step (`quantized_range`) and kept while the data
still fills a good part of it (`sticky_range`; the learning rate's from zero). The range, and
so each axis, changes only every 10-25 % of the run or when the data leaves it: a range that
moved with every step made pyqtgraph lay out and repaint every axis (~3 ms each on a shared
2-core CPU) at every redraw, and each such repaint is a stall of the event loop
(benchmarks/bench_gui.py).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.runs.history import RunHistory
from resnet_studio.core.runs.series import Series, block_runs
from resnet_studio.gui import theme
from resnet_studio.gui.training.gradient_plots import GradientPlotsMixin
from resnet_studio.gui.training.loss_scale import log_scale_box, loggable
from resnet_studio.gui.training.pacer import RedrawPacer
from resnet_studio.gui.training.plot_ranges import (
    clipped_exp,
    data_extent,
    decade_tick_strings,
    sticky_range,
)
from resnet_studio.gui.training.plot_style import (
    BAR_WIDTH,
    HEATMAP_COLORMAP,
    LR_COLOR,
    MIN_POINTS,
    RUN_COLOR,
    VAL_COLOR,
    LogAxis,
    cycle_color,
)

# Redraws are paced for a shared 2-core CPU (benchmarks/bench_gui.py): drawing the six plots
# costs the GUI thread tens of ms there, so at 30 Hz it had no time left for input and took
# most of a core from training. Steps arrive at up to ~40/s: 10 Hz still looks live.
REDRAW_MS = 100
# The gradient views (heatmap, bars, picked layers) are the costliest to draw: at most ~3 Hz
# while training, each in its own turn of the event loop after the step plots' redraw, so no
# single redraw holds the event loop for long.
GRADIENT_REDRAW_MS = 300
TITLE_SIZE = "9pt"
EMPTY_TEXT = "Press Train to start — the plots fill live"


# What "gradient norm" means in every gradient plot (the tooltip of the plots).
GRADIENT_NORM_NOTE = ("Gradient norms: per layer, of the gradient the optimizer receives: the "
                      "loss's gradient, including the L2 term λ·w when weight_decay_mode is "
                      "l2. Decoupled weight decay acts outside the gradient and is not in "
                      "them. The loss curve is the data loss, without the L2 term.")

# The train accuracy is Keras's running mean over the batches of the epoch so far: it restarts
# at every epoch, and its saw-tooth is that restart, not the model getting worse.
RUNNING_MEAN_LABEL = "train (running mean over the epoch)"
ACCURACY_NOTE = ("Train accuracy: the running mean over the batches of the epoch so far "
                 "(Keras's metric); it restarts at each epoch, hence the saw-tooth. "
                 "Validation: measured at each epoch's end.")


class _Bounds(pg.GraphicsObject):
    """Draws nothing; its data bounds are what a plot's auto-range shows (module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self._ranges: tuple[Any, Any] = (None, None)

    def set(self, x: tuple[float, float] | None, y: tuple[float, float] | None, *,
            sticky: bool = True) -> None:
        """Shows x and y; y through `sticky_range` unless sticky=False (None clears both)."""
        if sticky and x is not None:
            y = sticky_range(self._ranges[1], y)
        if (x, y) != self._ranges:
            self._ranges = (x, y)
            self.informViewBoundsChanged()

    @property
    def y_range(self) -> tuple[float, float] | None:
        return self._ranges[1]

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> Any:
        return self._ranges[ax]

    def boundingRect(self) -> QRectF:
        return QRectF()

    def paint(self, *args: Any) -> None:
        pass


class TrainingPlots(theme.FollowsPalette, GradientPlotsMixin, QWidget):
    """The live plots of one training run, fed by the GUI thread.

    Signals:
        layer_hovered(str): the hover text over the heatmap or the bars ("" when leaving).
    """

    layer_hovered = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        # The model: live events and runs read from disk fill it; the plots observe it.
        self.history = RunHistory()
        self._generation = self.history.generation  # the run configured for (_on_history)
        self._rewinds = 0
        self.picked_layers: list[int] = []
        self.redraw_count = 0  # redraws so far (tests check that add_* never draws)
        self.hover_text = ""
        self._block_runs: list[tuple[int, int, str]] = []
        self._block_ticks: list[tuple[float, str]] | None = None
        self._val_keys: dict[int, Any] = {}  # what the validation curves show (see show())
        self._picked_items: list[pg.PlotDataItem] = []
        self._titles: dict[int, str] = {}
        self._pacer = RedrawPacer(self, REDRAW_MS, self._on_due,
                                  pending=self._gradients_pending)
        self._picks_dirty = True
        self._drawn_gradients = -1  # GradientHistory.version last drawn
        self._gradients_drawn_at = -math.inf  # time.monotonic() of that drawing
        self._heat_x0 = 0.0
        self._heat_pitch = 1.0
        self._heat_levels: tuple[float, float] | None = None  # log10 colour levels shown
        self._build()
        self._gradient_timer = QTimer(self)  # brings a due gradient redraw back
        self._gradient_timer.setSingleShot(True)
        self._gradient_timer.timeout.connect(self._on_gradient_timer)
        self._apply_palette()
        self.history.subscribe(self._on_history)

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        self._empty = QLabel(EMPTY_TEXT, self)
        self._empty.setObjectName("plotsEmpty")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        font = self._empty.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self._empty.setFont(font)
        self._page = QWidget(self)
        self.graphics = pg.GraphicsLayoutWidget(self._page)
        self.graphics.setObjectName("plotsGraphics")
        self.log_loss_box = log_scale_box(self._page, "training", self.set_loss_log)
        self.loss_log = self.log_loss_box.isChecked()
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 0)
        bar.addWidget(self.log_loss_box)
        bar.addStretch(1)
        page = QVBoxLayout(self._page)
        page.setContentsMargins(0, 0, 0, 0)
        page.setSpacing(0)
        page.addLayout(bar)
        page.addWidget(self.graphics, 1)
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self._empty)
        self._stack.addWidget(self._page)
        self._stack.setCurrentWidget(self._empty)

        gl = self.graphics
        gl.ci.setContentsMargins(4, 4, 4, 4)
        gl.ci.layout.setHorizontalSpacing(8)
        gl.ci.layout.setVerticalSpacing(4)
        self.loss_plot = gl.addPlot(row=0, col=0, axisItems={"left": LogAxis("left")})
        self.loss_plot.setLogMode(False, self.loss_log)
        self.metric_plot = gl.addPlot(row=0, col=1, axisItems={"left": LogAxis("left")})
        self.lr_plot = gl.addPlot(row=0, col=2)
        self.heatmap_plot = gl.addPlot(row=1, col=0)
        self.bars_plot = gl.addPlot(row=1, col=1, axisItems={"left": LogAxis("left")})
        self.picked_plot = gl.addPlot(row=1, col=2, axisItems={"left": LogAxis("left")})
        # What the gradient norms are (with l2 weight decay they include λ·w): the tooltip of
        # every gradient plot.
        for plot in (self.heatmap_plot, self.bars_plot, self.picked_plot):
            plot.setToolTip(GRADIENT_NORM_NOTE)
        # The loss and the heatmap matter most: their column gets the most width.
        for col, stretch in ((0, 5), (1, 3), (2, 3)):
            gl.ci.layout.setColumnStretchFactor(col, stretch)
        self.step_plots = (self.loss_plot, self.metric_plot, self.lr_plot, self.picked_plot)
        self._bounds: dict[int, _Bounds] = {}  # what each plot's auto-range shows
        for plot in (*self.step_plots, self.heatmap_plot, self.bars_plot):
            self._bounds[id(plot)] = _Bounds()
            plot.addItem(self._bounds[id(plot)])
        for plot in self.step_plots[1:]:
            plot.setXLink(self.loss_plot)
        for plot in (*self.step_plots, self.heatmap_plot, self.bars_plot):
            plot.setMenuEnabled(False)
            plot.showGrid(x=False, y=True, alpha=0.15)
        for plot in (*self.step_plots, self.heatmap_plot):
            plot.setLabel("bottom", "step")

        # (a) loss
        self.loss_raw = self._curve(self.loss_plot, dense=True)
        self.loss_smooth = self._curve(self.loss_plot)
        self.val_loss_curve = self._curve(self.loss_plot, symbol="o")
        self.loss_legend = self.loss_plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.loss_legend.addItem(self.loss_smooth, "train")
        self.loss_legend.addItem(self.val_loss_curve, "validation")
        # (b) accuracy, or perplexity for language models
        self.metric_raw = self._curve(self.metric_plot, dense=True)
        self.metric_train = self._curve(self.metric_plot)
        self.val_metric_curve = self._curve(self.metric_plot, symbol="o")
        self.metric_legend = self.metric_plot.addLegend(offset=(-4, -4), labelTextSize="8pt")
        self.metric_legend.addItem(self.metric_train, RUNNING_MEAN_LABEL)
        self.metric_legend.addItem(self.val_metric_curve, "validation")
        # (c) learning rate
        self.lr_curve = self._curve(self.lr_plot)
        # (d) gradient heatmap: row = layer (input at the top), column = steps
        self.heatmap = pg.ImageItem(axisOrder="row-major")
        self.heatmap_plot.addItem(self.heatmap, ignoreBounds=True)
        self.heatmap_plot.invertY(True)
        self.heatmap_plot.showGrid(x=False, y=False)
        self.heatmap_plot.getAxis("left").setTicks([[], []])
        self.colorbar = pg.ColorBarItem(values=(-4.0, 0.0), width=12, interactive=False,
                                        colorMap=pg.colormap.get(HEATMAP_COLORMAP),
                                        colorMapMenu=False)
        self.colorbar.setImageItem(self.heatmap, insert_in=self.heatmap_plot)
        self.colorbar.axis.setLogMode(True)  # the levels are log10: label ticks as 10^k
        self.colorbar.axis.logTickStrings = decade_tick_strings  # its axis is built inside
        self.block_lines = pg.PlotCurveItem(connect="pairs")
        self.heatmap_plot.addItem(self.block_lines, ignoreBounds=True)
        # (e) latest norms by depth: bars hold log10 values; the axis labels them as 10^k
        # (BarGraphItem ignores PlotItem.setLogMode, so the log is taken here).
        self.bars = pg.BarGraphItem(x=np.zeros(0), y0=np.zeros(0), y1=np.zeros(0),
                                    width=BAR_WIDTH, pen=pg.mkPen(None))
        self.bars_plot.addItem(self.bars, ignoreBounds=True)
        self.bars_plot.getAxis("left").setLogMode(True)
        self.bars_plot.setLabel("bottom", "layer (input → output)")
        # (f) picked layers, log y
        self.picked_plot.setLogMode(False, True)
        self.picked_legend = self.picked_plot.addLegend(offset=(-4, 4), labelTextSize="8pt")

        # One hover tip in the scene itself: inside a plot the view would clip it, and these
        # plots are often narrower than the tip.
        scene = self.graphics.scene()
        self.tip = pg.TextItem(anchor=(0, 0))
        self.tip.setZValue(1000)
        self.tip.hide()
        scene.addItem(self.tip)
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        self.loss_plot.vb.sigXRangeChanged.connect(self._on_x_range_changed)
        for plot in self.step_plots:
            plot.vb.sigResized.connect(self._on_resized)
        self.heatmap_plot.vb.sigYRangeChanged.connect(self._update_block_ticks)
        self.heatmap_plot.vb.sigResized.connect(self._update_block_ticks)
        # Axes are the costliest items to paint (their tick labels are laid out again at every
        # paint): each is cached as a pixmap, redrawn only when its ticks change; and an axis
        # whose labels got narrower keeps its width, so a changing label does not re-lay out
        # (and repaint) every plot.
        for axis in [plot.getAxis(name) for plot in (*self.step_plots, self.heatmap_plot,
                                                     self.bars_plot)
                     for name in ("left", "bottom")] + [self.colorbar.axis]:
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            axis.setStyle(autoReduceTextSpace=False)
        # Legends too (their samples and labels were painted anew at every redraw, ~0.4 ms).
        for legend in (self.loss_legend, self.metric_legend, self.picked_legend):
            legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._configure_task()

    def _curve(self, plot: pg.PlotItem, symbol: str | None = None, *,
               dense: bool = False) -> pg.PlotDataItem:
        """A step curve; `dense` ones (raw per-batch values, two points per pixel of noise)
        are drawn without antialiasing, which costs several times more on such zigzags."""
        item = pg.PlotDataItem(symbol=symbol, symbolSize=6, antialias=not dense)
        item.setClipToView(True)
        if symbol is None:
            item.setDownsampling(auto=True, method="peak")
        plot.addItem(item, ignoreBounds=True)  # the plot's _Bounds item sets its range
        return item

    def _configure_task(self) -> None:
        lm = self.task == "language_model"
        self.metric_plot.setLogMode(False, lm)
        self.metric_raw.setVisible(lm)
        self._titles[id(self.metric_plot)] = "Perplexity (exp loss)" if lm else "Accuracy"
        self.metric_legend.getLabel(self.metric_train).setText(
            "train" if lm else RUNNING_MEAN_LABEL)
        self.metric_plot.setToolTip("" if lm else ACCURACY_NOTE)
        self._apply_titles()

    # ------------------------------------------------------------------ public API
    # ------------------------------------------------------------------ the model
    # What the plots show is `self.history`; these name its parts for the plots' code.
    task = property(lambda self: self.history.task)
    label = property(lambda self: self.history.label)
    layers = property(lambda self: self.history.layers)
    blocks = property(lambda self: self.history.blocks)
    gradients = property(lambda self: self.history.gradients)
    loss_history = property(lambda self: self.history.loss)
    smooth_loss_history = property(lambda self: self.history.smooth_loss)
    accuracy_history = property(lambda self: self.history.accuracy)
    lr_history = property(lambda self: self.history.lr)
    val_loss_history = property(lambda self: self.history.val_loss)
    val_accuracy_history = property(lambda self: self.history.val_accuracy)
    _ema = property(lambda self: self.history.ema)

    def show_history(self, history: RunHistory) -> None:
        """Observes `history` instead of the current one (shown at once)."""
        self.history.unsubscribe(self._on_history)
        self.history = history
        self._generation = -1
        history.subscribe(self._on_history)
        self._on_history()

    def _on_history(self) -> None:
        """The history changed: a new run reconfigures the plots; any change marks them
        dirty (they redraw from their timer, never here: this runs for every event)."""
        h = self.history
        if h.generation != self._generation:
            self._generation = h.generation
            self._rewinds = h.rewinds
            self._configure_run()
        elif h.rewinds != self._rewinds:
            self._rewinds = h.rewinds
            self._val_keys = {}
        self._mark_dirty()

    def begin_run(self, layers: list[str], blocks: list[str], *,
                  task: str = "classification", label: str = "") -> None:
        """Clears this run's data and shows the plots; layers (depth order) and their block
        names label the gradient views. task: "classification" or "language_model" (then
        perplexity = exp(loss) replaces accuracy)."""
        self.history.begin(layers, blocks, task=task, label=label)

    def _configure_run(self) -> None:
        """A new run in the history: titles, picked layers and ranges follow it."""
        label = self.label
        self._block_runs = block_runs(self.blocks)
        n = len(self.layers)
        self.picked_layers = sorted({0, n - 1}) if n else []
        # The picked curves and their legend entries now, while the run is still preparing:
        # adding them re-lays out the plots, a ~0.1 s stall once live updates have begun.
        self._rebuild_picked()
        self._drawn_gradients = -1
        self._gradients_drawn_at = -math.inf
        self._heat_levels = None
        self._val_keys = {}
        self._configure_task()
        self._set_title(self.loss_plot, f"Loss · {label}" if label else "Loss")
        # A new run starts following its data again, whatever the last one was zoomed to.
        self.loss_plot.enableAutoRange()
        for plot in self.step_plots[1:]:
            plot.enableAutoRange(x=False, y=True)
        self.heatmap_plot.enableAutoRange()
        self.bars_plot.enableAutoRange()
        self._update_block_ticks()
        self._stack.setCurrentWidget(self._page)

    def set_loss_log(self, on: bool) -> None:
        """A log (True) or linear loss axis; values <= 0 are left out on a log one."""
        self.loss_log = bool(on)
        if self.log_loss_box.isChecked() != self.loss_log:
            self.log_loss_box.setChecked(self.loss_log)  # calls back here, saves the choice
            return
        self.loss_plot.setLogMode(False, self.loss_log)
        self._bounds[id(self.loss_plot)].set(None, None)  # its old range is in other units
        self._val_keys.pop(id(self.val_loss_curve), None)
        self.loss_plot.enableAutoRange(y=True)
        self._mark_dirty()

    def add_batch(self, step: int, loss: float, lr: float, metrics: dict[str, float]) -> None:
        """One optimizer step; metrics may hold "accuracy" (running mean over the epoch)."""
        self.history.add_batch(step, loss, lr, metrics)

    def add_grad_norms(self, step: int, norms: np.ndarray) -> None:
        """Per-layer gradient norms at `step` (float32, one per layer of begin_run)."""
        self.history.add_grad_norms(step, norms)

    def add_epoch(self, epoch: int, step: int, train: dict[str, float],
                  val: dict[str, float]) -> None:
        """An epoch ended at `step`; val may hold "loss" and "accuracy"."""
        del epoch, train  # the per-batch curves already show training; the x axis is steps
        self.history.add_epoch(step, val)

    def load_run(self, records: list[dict[str, Any]], layers: list[str], blocks: list[str],
                 steps: np.ndarray, norms: np.ndarray, *, task: str = "classification",
                 label: str = "") -> None:
        """Shows a finished run read from disk (its metric records and the gradient file
        as read by core.runs.read_gradients), with the same buffers a live feed of the same
        records would leave (RunHistory.load)."""
        self.history.load(records, layers, blocks, steps, norms, task=task, label=label)

    def set_picked_layers(self, indices: list[int]) -> None:
        """The layers drawn in the picked-layers plot (indices into the layers)."""
        picked: list[int] = []
        for i in indices:
            if not 0 <= int(i) < len(self.layers):
                raise ValueError(f"Expected layer indices in [0, {len(self.layers)}), "
                                 f"received: {i}")
            if int(i) not in picked:
                picked.append(int(i))
        self.picked_layers = picked
        self._picks_dirty = True
        self._mark_dirty()

    def toggle_layer(self, index: int) -> None:
        """Adds a layer to the picked ones, or removes it (a click on its row or bar)."""
        picked = list(self.picked_layers)
        if index in picked:
            picked.remove(index)
        else:
            picked.append(index)
        self.set_picked_layers(picked)

    def refresh(self) -> None:
        """Redraws now from the buffers (finished runs, tests, screenshots)."""
        self._pacer.stop()
        self._gradient_timer.stop()
        self._redraw()

    def clear(self) -> None:
        """Back to the empty state: no run."""
        self.begin_run([], [])
        self._stack.setCurrentWidget(self._empty)
        self.refresh()

    @property
    def has_run(self) -> bool:
        return self._stack.currentWidget() is self._page

    def history_nbytes(self) -> int:
        """Bytes held by the plotted history: this run's series and gradient history."""
        return self.history.nbytes

    # ------------------------------------------------------------------ redrawing
    def _mark_dirty(self) -> None:
        self._pacer.mark()

    def _gradients_pending(self) -> bool:
        return self._drawn_gradients != self.gradients.version or self._picks_dirty

    def _on_due(self) -> None:
        if self._pacer.dirty:
            self._redraw_steps()
        if self._gradients_pending():
            wait = self._gradients_drawn_at + GRADIENT_REDRAW_MS / 1e3 - time.monotonic()
            if wait <= 0:  # after this turn of the event loop (and its paint)
                QTimer.singleShot(0, self, self._on_gradient_timer)
            elif not self._gradient_timer.isActive():
                self._gradient_timer.start(max(1, math.ceil(wait * 1e3)))

    def _on_gradient_timer(self) -> None:
        if self.isVisible() and self._gradients_pending():
            self._draw_gradients()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._pacer.shown()

    def _following(self) -> bool:
        """True while a step plot auto-ranges in x (then it needs all of the data)."""
        return any(plot.vb.autoRangeEnabled()[0] for plot in self.step_plots)

    def _on_x_range_changed(self, *_args: Any) -> None:
        if not self._following():  # the user zoomed or panned: re-decimate for the new range
            self._mark_dirty()

    def _on_resized(self, *_args: Any) -> None:
        self._mark_dirty()  # the point budget follows the width in pixels

    def _view(self, series: Series, plot: pg.PlotItem, follow: bool, per_pixel: int = 2
              ) -> tuple[np.ndarray, np.ndarray]:
        """The series decimated to `per_pixel` points per pixel of the plot's width: 2 (a
        min and a max per pixel) for noisy per-batch values, 1 for smoothed curves, which
        look the same with half the points, and cost half as much to paint."""
        points = max(MIN_POINTS, per_pixel * int(plot.vb.width()))
        if follow:
            return series.view(-math.inf, math.inf, points)
        lo, hi = plot.vb.viewRange()[0]
        return series.view(lo, hi, points, neighbours=True)

    def _set_line(self, item: pg.PlotDataItem, plot: pg.PlotItem,
                  data: tuple[np.ndarray, np.ndarray]) -> None:
        """setData for a line that is antialiased only while it is sparse: at about a point
        per pixel, antialiasing a 2 px line costs ~10x more to paint and shows nothing."""
        item.opts["antialias"] = 2 * data[0].size <= max(1.0, plot.vb.width())
        item.setData(*data)

    def _redraw(self) -> None:
        """Everything, now."""
        self._redraw_steps()
        if self._gradients_pending():
            self._draw_gradients()

    def _redraw_steps(self) -> None:
        """The step plots: loss, metric, learning rate."""
        self.redraw_count += 1
        self._pacer.drawn()
        follow = self._following()
        lm = self.task == "language_model"
        drawn: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {
            id(p): [] for p in (self.loss_plot, self.metric_plot, self.lr_plot)}

        def show(item: pg.PlotDataItem, plot: pg.PlotItem, data: tuple[np.ndarray, np.ndarray],
                 line: bool = False) -> None:
            if plot is self.loss_plot and self.loss_log:
                data = (data[0], loggable(data[1]))
            drawn[id(plot)].append(data)
            if item in (self.val_loss_curve, self.val_metric_curve):
                # Per-epoch points with symbols (costly to set): only when they changed.
                key = (data[0].size, float(data[0][-1]) if data[0].size else None,
                       float(data[1][-1]) if data[1].size else None, lm)
                if self._val_keys.get(id(item)) == key:
                    return
                self._val_keys[id(item)] = key
            if line:
                self._set_line(item, plot, data)
            else:
                item.setData(*data)

        show(self.loss_raw, self.loss_plot, self._view(self.loss_history, self.loss_plot, follow))
        show(self.loss_smooth, self.loss_plot,
             self._view(self.smooth_loss_history, self.loss_plot, follow, 1), line=True)
        show(self.val_loss_curve, self.loss_plot,
             (self.val_loss_history.x.copy(), self.val_loss_history.y.copy()))
        if lm:
            x, y = self._view(self.loss_history, self.metric_plot, follow)
            show(self.metric_raw, self.metric_plot, (x, clipped_exp(y)))
            x, y = self._view(self.smooth_loss_history, self.metric_plot, follow, 1)
            show(self.metric_train, self.metric_plot, (x, clipped_exp(y)), line=True)
            show(self.val_metric_curve, self.metric_plot,
                 (self.val_loss_history.x.copy(), clipped_exp(self.val_loss_history.y)))
        else:
            self.metric_raw.setData([], [])
            show(self.metric_train, self.metric_plot,
                 self._view(self.accuracy_history, self.metric_plot, follow, 1), line=True)
            show(self.val_metric_curve, self.metric_plot,
                 (self.val_accuracy_history.x.copy(), self.val_accuracy_history.y.copy()))
        show(self.lr_curve, self.lr_plot, self._view(self.lr_history, self.lr_plot, follow, 1),
             line=True)
        for plot in (self.loss_plot, self.metric_plot, self.lr_plot):
            log_y = (lm and plot is self.metric_plot) or (self.loss_log and
                                                          plot is self.loss_plot)
            # A learning rate is >= 0 and its schedule falls all run long: from zero, its
            # range changes only when the schedule rises above it (warm-up).
            self._bounds[id(plot)].set(*data_extent(drawn[id(plot)], log_y,
                                                from_zero=plot is self.lr_plot))

    # ------------------------------------------------------------------ colours
    def _set_title(self, plot: pg.PlotItem, text: str) -> None:
        self._titles[id(plot)] = text
        plot.setTitle(text, color=self.palette().color(QPalette.ColorRole.Text).name(),
                      size=TITLE_SIZE)

    def _apply_titles(self) -> None:
        defaults = {self.loss_plot: "Loss", self.lr_plot: "Learning rate",
                    self.heatmap_plot: "Gradient norm per layer (input at top)",
                    self.bars_plot: "Latest gradient norm by layer",
                    self.picked_plot: "Picked layers (click a row or a bar)"}
        for plot in (*self.step_plots, self.heatmap_plot, self.bars_plot):
            self._set_title(plot, self._titles.get(id(plot), defaults.get(plot, "")))

    def _apply_palette(self) -> None:
        pal = self.palette()
        base, text = pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)
        dim = theme.dim_text(pal)
        self.graphics.setBackground(base)
        self._empty.setStyleSheet(f"color: {dim.name()};")
        axes = [plot.getAxis(name) for plot in (*self.step_plots, self.heatmap_plot,
                                                 self.bars_plot)
                for name in ("left", "bottom")]
        axes.append(self.colorbar.axis)
        for axis in axes:
            axis.setPen(dim)
            axis.setTextPen(text)
        legend_fill = QColor(base)
        legend_fill.setAlphaF(0.8)
        for legend in (self.loss_legend, self.metric_legend, self.picked_legend):
            legend.setBrush(legend_fill)
            legend.setPen(theme.mix(dim, base, 0.5))
            legend.setLabelTextColor(text)
            for _sample, label in legend.items:
                label.setText(label.text)  # setAttr alone does not re-render the label
        tip_fill = QColor(pal.color(QPalette.ColorRole.ToolTipBase))
        tip_fill.setAlphaF(0.92)
        self.tip.fill = pg.mkBrush(tip_fill)
        self.tip.border = pg.mkPen(dim)
        self.tip.setColor(pal.color(QPalette.ColorRole.ToolTipText))
        line = QColor(base)
        line.setAlphaF(0.7)
        self.block_lines.setPen(pg.mkPen(line, width=1))
        self._apply_titles()
        self._apply_item_colors()
        if self.gradients.latest is not None:
            self._draw_bars()

    def _apply_item_colors(self) -> None:
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        run = theme.accent(RUN_COLOR, pal)
        val = theme.accent(VAL_COLOR, pal)
        faint = theme.mix(run, base, 0.6)
        self.loss_raw.setPen(pg.mkPen(faint, width=1))
        self.metric_raw.setPen(pg.mkPen(faint, width=1))
        for item in (self.loss_smooth, self.metric_train):
            item.setPen(pg.mkPen(run, width=2))
        for item in (self.val_loss_curve, self.val_metric_curve):
            item.setPen(pg.mkPen(val, width=1.5))
            item.setSymbolBrush(pg.mkBrush(val))
            item.setSymbolPen(pg.mkPen(base, width=1))
        self.lr_curve.setPen(pg.mkPen(theme.accent(LR_COLOR, pal), width=1.5))
        for j, item in enumerate(self._picked_items):
            color, style = cycle_color(j)
            item.setPen(pg.mkPen(theme.accent(color, pal), width=1.5, style=style))
