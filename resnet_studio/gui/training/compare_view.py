"""The Compare tab: an architecture against its plain twin, trained under identical
conditions, with the evidence side by side.

Top: both runs' training loss overlaid (residual blue, plain twin amber, smoothed over the
raw per-batch values) and their accuracy. Bottom: the gradient flow of each run (gradient
norm by depth, log scale, shared y range), each with its own alert banner, so "the plain
twin's first layers receive 10⁻¹¹ of the gradient" is something one sees. A headline states
the result in one sentence once both runs are done, with the gradient ratio
(compare.gradient_ratio: first ÷ last weighted block, mean over steps) and the final
training loss of each.

Events arrive from the CompareSession in the GUI thread, in order, tagged with their role;
they are appended to buffers and the plots redraw from their own timer while visible. A pair
stored on disk (run.json `"compare": {"role", "partner"}`) reopens here from the Runs tab.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.runs.history import RunHistory
from resnet_studio.core.runs.series import Series
from resnet_studio.core.training.events import (
    Alert,
    BatchEnd,
    Finished,
    GradNorms,
    Log,
    Started,
)
from resnet_studio.gui import icons, theme
from resnet_studio.gui.training.compare_worker import CompareRequest, CompareSession
from resnet_studio.gui.training.gradflow import GradientFlowPanel
from resnet_studio.gui.training.loss_scale import log_scale_box, loggable
from resnet_studio.gui.training.pacer import RedrawPacer
from resnet_studio.gui.training.plot_ranges import MAX_EXP
from resnet_studio.gui.training.plot_style import style_plots
from resnet_studio.gui.training.worker import ask_to_stop

ROLES = ("residual", "plain")
TITLES = {"residual": "Residual", "plain": "Plain twin"}
LEGEND = {"residual": "residual", "plain": "plain twin"}
# Blue and amber: the pair that stays apart under the common colour-vision deficiencies
# (the theme's Convolutional and Heads hues).
COLORS = {"residual": theme.FAMILY_COLORS["Convolutional"], "plain": theme.FAMILY_COLORS["Heads"]}
REDRAW_MS = 50  # two overlaid curves; 20 Hz looks live and leaves the CPU to training
PROGRESS_MS = 100
MIN_POINTS = 400
TITLE_SIZE = "9pt"
EMPTY_TEXT = ("Compare an architecture with its plain twin — the same network with every "
              "shortcut removed, trained from the same initial weights on the same batches — "
              "and watch what the shortcuts do to the gradient.")
STATES = ("idle", "running", "paused", "stopping")


def format_ratio(value: float | None) -> str:
    """0.86, or 1e-11 for small ratios (the order of magnitude is the story)."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2g}" if value >= 0.01 else f"{value:.0e}"


@dataclass
class RoleRun:
    """One of the two runs as the view holds it: its history (the curves; gradient norms go
    to the gradient-flow profile instead), its last events and outcome."""

    role: str
    history: RunHistory = field(default_factory=lambda: RunHistory(gradients=False))
    started: Started | None = None
    latest: BatchEnd | None = None
    finished: Finished | None = None
    run_dir: Path | None = None

    # The history's parts, by the names the drawing code uses.
    loss = property(lambda self: self.history.loss)
    smooth = property(lambda self: self.history.smooth_loss)
    accuracy = property(lambda self: self.history.accuracy)
    val_loss = property(lambda self: self.history.val_loss)
    val_accuracy = property(lambda self: self.history.val_accuracy)
    batches = property(lambda self: self.history.batches)  # BatchEnd events (tests, progress)
    grad_events = property(lambda self: self.history.grad_events)
    task = property(lambda self: self.history.task)

    def clear(self) -> None:
        self.history.begin([], [])
        self.started = self.latest = self.finished = None
        self.run_dir = None


def summary_from_disk(run_dir: Path) -> dict[str, Any]:
    """The headline's facts about one stored run (status, ratio, final loss, block names)."""
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.training.compare import gradient_ratio

    info = read_run(run_dir)
    meta = info.meta
    try:
        ratio = gradient_ratio(run_dir)
    except (OSError, ValueError, KeyError):
        ratio = None
    return {"run_dir": str(run_dir), "status": info.status, "gradient_ratio": ratio,
            "final_train_loss": meta.get("final_train_loss"), "test": meta.get("test"),
            **ratio_blocks(run_dir)}


def ratio_blocks(run_dir: Path | str) -> dict[str, str]:
    """{"first": ..., "last": ...}: the blocks of a run's gradient ratio ({} if none)."""
    from resnet_studio.core.training.blocknorms import read_block_map

    try:
        bmap = read_block_map(run_dir)
    except (OSError, ValueError, KeyError):
        return {}
    pair = bmap.ratio_blocks
    return {} if pair is None else {"first": bmap.names[pair[0]], "last": bmap.names[pair[1]]}


def headline_html(summaries: dict[str, dict[str, Any]]) -> str:
    """The result in words: what the gradient ratios mean, and the final losses."""
    res, plain = summaries.get("residual") or {}, summaries.get("plain") or {}
    parts: list[str] = []
    rr, rp = res.get("gradient_ratio"), plain.get("gradient_ratio")
    first, last = plain.get("first") or res.get("first"), plain.get("last") or res.get("last")
    if rp is not None:
        where = (f"first block ({escape(first)}) receives <b>{format_ratio(rp)}</b> of the "
                 f"gradient of its last block ({escape(last)})" if first and last else
                 f"first block receives <b>{format_ratio(rp)}</b> of the gradient of its "
                 "last block")
        tail = ""
        if rr is not None:
            share = (f"<b>{format_ratio(rr)}</b> of it" if rr < 1 else
                     f"<b>{rr:.2g}×</b> as much")
            tail = f"; the residual network's first block receives {share}"
        parts.append(f"The plain twin's {where}{tail} (gradient ratio, mean over all "
                     "recorded steps).")
    elif rr is not None:
        parts.append(f"The residual network's first block receives <b>{format_ratio(rr)}"
                     "</b> of the gradient of its last block; the plain twin has no "
                     "recorded steps.")
    losses = []
    for role, s in (("residual", res), ("plain", plain)):
        loss = s.get("final_train_loss")
        status = s.get("status")
        if isinstance(loss, (int, float)) and math.isfinite(loss):
            acc = (s.get("test") or {}).get("accuracy")
            test = f", test accuracy {acc:.3f}" if isinstance(acc, (int, float)) else ""
            note = "" if status in (None, "completed") else f" ({status})"
            losses.append(f"{LEGEND[role]} <b>{loss:.3f}</b>{test}{note}")
        elif status:
            losses.append(f"{LEGEND[role]} {'not trained' if status == 'skipped' else status}")
    if losses:
        parts.append("Final training loss: " + "; ".join(losses) + ".")
    return " ".join(parts)


class CompareView(theme.FollowsPalette, QWidget):
    """Signals:
        run_started(str, str): a run folder was created (role, run folder).
        finished(object): the comparison's thread ended ({role: summary}, or None when it
            could not start).
        error(str, str, str): a message for the user (title, text, details).
        state_changed(): idle / running / paused / stopping changed (actions follow it).
        start_requested(): the empty page's button (the window builds the request).

    Attributes:
        runs: role -> RoleRun (buffers of the runs in view).
        flow: the gradient-flow panel (depth profiles and alert banners of both runs).
        results: the last comparison's result ({role: summary}).
        limit: examples-per-split cap for comparisons started without one (tests).
        run_guard: called with an action ("start a comparison") before starting; False
            cancels (the window asks to stop a training run there).
    """

    run_started = Signal(str, str)
    finished = Signal(object)
    error = Signal(str, str, str)
    state_changed = Signal()
    start_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: CompareSession | None = None
        self.runs = {role: RoleRun(role) for role in ROLES}
        for run in self.runs.values():  # the curves redraw (paced) when a history changes
            run.history.subscribe(self._mark_dirty)
        self.results: dict[str, dict[str, Any]] | None = None
        self.summaries: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str, str]] = []  # (role, level, message)
        self.state = "idle"
        self.limit: int | None = None
        self.run_guard: Callable[[str], bool] | None = None
        self._request: CompareRequest | None = None
        self._pacer = RedrawPacer(self, REDRAW_MS, self._redraw)
        # What this view does with each kind of event besides the curves (_on_event).
        self._handlers: dict[type, Callable[[str, Any], None]] = {
            BatchEnd: self._on_batch, GradNorms: self._on_grad_norms, Alert: self._on_alert,
            Log: self._on_log, Started: self._on_started, Finished: self._on_finished}
        self._build()
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(PROGRESS_MS)
        self._progress_timer.timeout.connect(self._update_progress)
        self._apply_palette()
        self._set_state("idle")

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        # Empty page: what this is, and the button.
        empty = QWidget(self)
        self.empty_label = QLabel(EMPTY_TEXT, empty)
        self.empty_label.setObjectName("compareEmpty")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.empty_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.empty_label.setFont(font)
        self.empty_button = QPushButton(icons.icon("shortcut"), "Compare with Plain Twin", empty)
        self.empty_button.setObjectName("compareStartButton")
        self.empty_button.clicked.connect(self.start_requested.emit)
        el = QVBoxLayout(empty)
        el.addStretch(1)
        el.addWidget(self.empty_label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.empty_button)
        row.addStretch(1)
        el.addLayout(row)
        el.addStretch(2)
        el.setContentsMargins(80, 20, 80, 20)

        page = QWidget(self)
        self.title_label = QLabel(page)
        self.title_label.setObjectName("compareTitle")
        f = self.title_label.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.2)
        self.title_label.setFont(f)
        self.subtitle_label = QLabel(page)
        self.subtitle_label.setObjectName("compareSubtitle")
        self.pause_button = QPushButton(icons.icon("pause"), "Pause", page)
        self.pause_button.setObjectName("comparePauseButton")
        self.pause_button.setToolTip("Hold training between batches (optimizer state kept)")
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button = QPushButton(icons.icon("stop"), "Stop", page)
        self.stop_button.setObjectName("compareStopButton")
        self.stop_button.setToolTip("Stop the run in progress after the current batch and "
                                    "skip the other one")
        self.stop_button.clicked.connect(self.stop)
        self.again_button = QPushButton(icons.icon("shortcut"), "Compare Again", page)
        self.again_button.setObjectName("compareAgainButton")
        self.again_button.setToolTip("Compare the open architecture with its plain twin, "
                                     "with the Training tab's settings")
        self.again_button.clicked.connect(self.start_requested.emit)
        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self.title_label)
        titles.addWidget(self.subtitle_label)
        head.addLayout(titles, 1)
        # Log by default here: a residual network can start far above the plain twin's flat
        # ln(classes), and on a linear axis the plain curve would be a line on the floor.
        self.log_loss_box = log_scale_box(page, "compare", self._set_loss_log)
        self.loss_log = self.log_loss_box.isChecked()
        head.addWidget(self.log_loss_box)
        for b in (self.again_button, self.pause_button, self.stop_button):
            head.addWidget(b)

        self.progress = QProgressBar(page)
        self.progress.setObjectName("compareProgress")
        self.progress.setTextVisible(True)
        self.progress.setMaximumHeight(18)
        self.status_label = QLabel(page)
        self.status_label.setObjectName("compareStatus")
        prog = QHBoxLayout()
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.status_label, 2)

        self.headline = QLabel(page)
        self.headline.setObjectName("compareHeadline")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headline_frame = QFrame(page)
        self.headline_frame.setObjectName("compareHeadlineFrame")
        hl = QHBoxLayout(self.headline_frame)
        hl.setContentsMargins(10, 6, 10, 6)
        hl.addWidget(self.headline)

        pg.setConfigOptions(antialias=True)
        self.graphics = pg.GraphicsLayoutWidget(page)
        self.graphics.setObjectName("compareGraphics")
        gl = self.graphics
        gl.ci.setContentsMargins(4, 4, 4, 4)
        gl.ci.layout.setHorizontalSpacing(10)
        self.loss_plot = gl.addPlot(row=0, col=0)
        self.metric_plot = gl.addPlot(row=0, col=1)
        for plot in (self.loss_plot, self.metric_plot):
            plot.setMenuEnabled(False)
            plot.showGrid(x=False, y=True, alpha=0.15)
            plot.setLabel("bottom", "step")
        self.loss_plot.setLogMode(False, self.loss_log)
        self.loss_legend = self.loss_plot.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.raw_curves: dict[str, pg.PlotDataItem] = {}
        self.loss_curves: dict[str, pg.PlotDataItem] = {}
        self.val_loss_curves: dict[str, pg.PlotDataItem] = {}
        self.metric_curves: dict[str, pg.PlotDataItem] = {}
        self.val_metric_curves: dict[str, pg.PlotDataItem] = {}
        for role in ROLES:
            self.raw_curves[role] = self._curve(self.loss_plot, dense=True)
            self.loss_curves[role] = self._curve(self.loss_plot)
            self.val_loss_curves[role] = self._curve(self.loss_plot, symbol="o")
            self.metric_curves[role] = self._curve(self.metric_plot)
            self.val_metric_curves[role] = self._curve(self.metric_plot, symbol="o")
            self.loss_legend.addItem(self.loss_curves[role], LEGEND[role])
        self.flow = GradientFlowPanel([(r, TITLES[r], COLORS[r]) for r in ROLES], banners=True,
                                      parent=page)
        self.flow.setObjectName("compareFlow")
        self.splitter = QSplitter(Qt.Orientation.Vertical, page)
        self.splitter.addWidget(self.graphics)
        self.splitter.addWidget(self.flow)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([260, 440])  # proportions: the gradient flow is the story

        pl = QVBoxLayout(page)
        pl.setContentsMargins(8, 6, 8, 4)
        pl.setSpacing(5)
        pl.addLayout(head)
        pl.addLayout(prog)
        pl.addWidget(self.headline_frame)
        pl.addWidget(self.splitter, 1)

        self.stack = QStackedWidget(self)
        self.stack.addWidget(empty)
        self.stack.addWidget(page)
        self.page = page
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)
        self._set_titles()

    def _curve(self, plot: pg.PlotItem, symbol: str | None = None, *,
               dense: bool = False) -> pg.PlotDataItem:
        item = pg.PlotDataItem(symbol=symbol, symbolSize=6, antialias=not dense)
        item.setClipToView(True)
        if symbol is None:
            item.setDownsampling(auto=True, method="peak")
        plot.addItem(item)
        return item

    # ------------------------------------------------------------------ state
    @property
    def running(self) -> bool:
        return self.session is not None and self.session.running

    @property
    def paused(self) -> bool:
        return self.state == "paused"

    @property
    def has_data(self) -> bool:
        return self.stack.currentWidget() is self.page

    def _set_state(self, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"Expected state in {STATES}, received: state={state!r}")
        self.state = state
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self.again_button.setVisible(state == "idle")
        self.state_changed.emit()

    def set_start_enabled(self, enabled: bool, tip: str = "") -> None:
        """Mirrors the window's Compare action (disabled without shortcuts)."""
        for b in (self.empty_button, self.again_button):
            b.setEnabled(enabled)
            b.setToolTip(tip)

    # ------------------------------------------------------------------ starting
    def start(self, request: CompareRequest, *, limit: int | None = None) -> bool:
        """Starts comparing (asks first when a comparison or, via run_guard, a training run
        is going). Returns False when nothing was started."""
        from resnet_studio.core.training.compare import CompareError

        if self.running and not self.confirm_stop("start a new comparison"):
            return False
        if self.run_guard is not None and not self.run_guard("start a comparison"):
            return False
        if limit is not None:
            request.limit = limit
        elif request.limit is None:
            request.limit = self.limit
        try:
            session = CompareSession(request, self)
        except (CompareError, ValueError, OSError) as e:
            self.error.emit("Cannot Compare", str(e), "")
            return False
        self.session = session
        self._request = request
        session.event.connect(self._on_event)
        session.failed.connect(self._on_failed)
        session.finished.connect(self._on_session_finished)
        self._reset()
        spec = request.spec
        self.title_label.setText(f"{spec.title or spec.name} vs its plain twin")
        epochs = request.config.epochs
        limit_note = f", at most {request.limit} examples per split" if request.limit else ""
        self.subtitle_label.setText(
            f"{request.dataset} · {epochs} epoch{'s' if epochs != 1 else ''} each{limit_note}"
            " · same seed, settings, batch order and initial weights")
        self.headline.setText("Preparing the residual network (run 1 of 2)…")
        self.flow.set_caption("residual", "preparing…")
        self.flow.set_caption("plain", "trains after the residual run")
        self.stack.setCurrentWidget(self.page)
        self._set_state("running")
        session.start()
        self._progress_timer.start()
        return True

    def _reset(self) -> None:
        for run in self.runs.values():
            run.clear()
        self.results = None
        self.summaries = {}
        self.log = []
        self.flow.clear()
        self.progress.setRange(0, 0)
        self.progress.setValue(0)
        self.status_label.setText("")
        self._set_titles()
        self._mark_dirty()

    # ------------------------------------------------------------------ control
    @Slot()
    def stop(self) -> None:
        if self.session is not None and self.running:
            self.session.request_stop()
            self._set_state("stopping")
            self.status_label.setText("Stopping after the current batch…")

    @Slot()
    def pause(self) -> None:
        if self.session is not None and self.running and self.state == "running":
            self.session.pause()
            self._set_state("paused")
            self.status_label.setText("Paused — optimizer state kept; Resume continues.")

    @Slot()
    def resume(self) -> None:
        if self.session is not None and self.running and self.state == "paused":
            self.session.resume()
            self._set_state("running")

    def _on_pause_clicked(self) -> None:
        if self.state == "paused":
            self.resume()
        else:
            self.pause()

    def confirm_stop(self, action: str) -> bool:
        """Asks whether to stop the comparison in progress in order to `action`; stops it
        if so. Returns True when no comparison is going any more."""
        if not self.running:
            return True
        if not ask_to_stop(self, "Comparison in Progress",
                           f"A comparison with the plain twin is training. Stop it to "
                           f"{action}?\n\nThe run in progress keeps its last checkpoint; the "
                           "other one is not started."):
            return False
        return self.shutdown()

    def shutdown(self) -> bool:
        """Stops a comparison in progress and waits for its thread (window closing)."""
        if self.session is None or not self.session.thread.isRunning():
            return True
        self.status_label.setText("Stopping after the current batch…")
        return self.session.stop_and_deliver(self)

    # ------------------------------------------------------------------ events
    @Slot(str, object)
    def _on_event(self, role: str, event: Any) -> None:
        # The curves: the role's history takes what the event carries (and marks the plots
        # dirty through its subscription); then what else this view shows of the event.
        self.runs[role].history.apply(event)
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(role, event)

    def _on_batch(self, role: str, e: BatchEnd) -> None:
        self.runs[role].latest = e  # the progress line's, read by its own timer

    def _on_grad_norms(self, role: str, e: GradNorms) -> None:
        self.flow.add(role, e.step, e.norms)

    def _on_alert(self, role: str, e: Alert) -> None:
        banner = self.flow.banner(role)
        if banner is not None:
            banner.add_alert(e)

    def _on_log(self, role: str, e: Log) -> None:
        self.log.append((role, e.level, e.message))

    def _on_started(self, role: str, e: Started) -> None:
        run = self.runs[role]
        run.started = e
        run.run_dir = Path(e.run_dir)
        self.flow.begin(role, e.layers, e.layer_blocks)
        self._quiet(role, "No gradient alert so far.")
        if role == "residual":
            self._set_titles()
            if e.steps_per_epoch > 0:
                self.progress.setRange(0, 2 * e.steps_per_epoch * e.epochs)
            self.headline.setText(
                "Training the residual network (run 1 of 2). Next, its plain twin — the same "
                "network with every shortcut removed — trains from the same initial weights "
                "on the same batches.")
            self.flow.set_caption("plain", "trains after the residual run")
        else:
            self.headline.setText(
                "Training the plain twin (run 2 of 2). Watch its gradient-flow curve: without "
                "shortcuts the gradient shrinks on its way back to the first layers.")
        self.run_started.emit(role, e.run_dir)

    def _quiet(self, role: str, text: str) -> None:
        banner = self.flow.banner(role)
        if banner is not None:
            banner.set_quiet_text(text)

    def _on_finished(self, role: str, e: Finished) -> None:
        self.runs[role].finished = e
        self._mark_dirty()
        self._quiet(role, "No gradient alert in this run (vanishing, exploding or growing).")
        if e.status == "failed":
            self.error.emit("Comparison Run Failed",
                            f"The {LEGEND[role]} run failed: {e.error}", f"Run folder: {e.run_dir}")
        if role == "residual" and e.status == "completed":
            self.flow.set_caption("plain", "preparing…")

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.headline.setText(f"Could not compare: {escape(message)}")
        self.error.emit("Cannot Compare", message, details)

    @Slot(object)
    def _on_session_finished(self, results: Any) -> None:
        self._progress_timer.stop()
        self._update_progress()
        self.results = results
        if isinstance(results, dict):
            self.summaries = {}
            for role in ROLES:
                s = dict(results.get(role) or {})
                if s.get("run_dir") and s.get("status") != "skipped":
                    s.update(ratio_blocks(s["run_dir"]))
                self.summaries[role] = s
            text = headline_html(self.summaries)
            stopped = any(s.get("status") in ("stopped", "skipped")
                          for s in self.summaries.values())
            if stopped:
                text = "<b>Stopped.</b> " + text
            self.headline.setText(text or "The comparison ended without recorded steps.")
        for role in ROLES:
            if self.runs[role].started is None:
                self.flow.set_caption(role, "not trained")
        self.refresh()
        self._set_state("idle")
        self.finished.emit(results)

    def _update_progress(self) -> None:
        done = sum(r.latest.step if r.latest else 0 for r in self.runs.values())
        res = self.runs["residual"].started
        if res is not None and res.steps_per_epoch > 0:
            self.progress.setValue(min(done, self.progress.maximum()))
        parts = []
        for role in ROLES:
            run = self.runs[role]
            if run.finished is not None:
                parts.append(f"{TITLES[role]}: {run.finished.status}")
            elif run.latest is not None and run.started is not None:
                parts.append(f"{TITLES[role]}: epoch {run.latest.epoch + 1}/"
                             f"{run.started.epochs} · step {run.latest.step}")
            elif run.started is not None:
                parts.append(f"{TITLES[role]}: starting")
        if self.state == "paused":
            parts.append("paused")
        self.status_label.setText("  ·  ".join(parts))

    # ------------------------------------------------------------------ stored pairs
    def show_pair(self, run_dir: str | Path) -> bool:
        """Shows a stored comparison from either of its run folders (when none is running).

        Returns False (after an `error`) when the folder is not part of a comparison."""
        from resnet_studio.core.runs import is_run_dir, pair_dirs, read_run

        if self.running:
            return False
        d = Path(run_dir)
        try:
            info = read_run(d)
        except (OSError, ValueError) as e:
            self.error.emit("Cannot Open Comparison", f"Cannot read the run in {d}.", str(e))
            return False
        meta, dirs = info.meta, pair_dirs(info)
        if dirs is None:
            self.error.emit("Cannot Open Comparison", f"The run {d.name} is not part of a "
                            "comparison with a plain twin.", "")
            return False
        self._reset()
        self.session = None
        missing = []
        for role in ROLES:
            if not is_run_dir(dirs[role]):
                missing.append(role)
                self.flow.set_caption(role, "run folder not found")
                continue
            try:
                self._load_role(role, dirs[role])
            except (OSError, ValueError, KeyError) as e:
                missing.append(role)
                self.flow.set_caption(role, f"unreadable ({e})")
        preset = str(meta.get("preset") or d.name)
        base = preset[: -len("-plain")] if preset.endswith("-plain") else preset
        self.title_label.setText(f"{base} vs its plain twin")
        self.subtitle_label.setText(f"{meta.get('dataset', '')} · stored runs "
                                    f"{dirs['residual'].name} and {dirs['plain'].name}")
        self.summaries = {}
        for role in ROLES:
            if role not in missing:
                try:
                    self.summaries[role] = summary_from_disk(dirs[role])
                except (OSError, ValueError):
                    pass
        text = headline_html(self.summaries)
        if missing:
            text += " " + " ".join(f"The {LEGEND[r]} run is missing." for r in missing)
        self.headline.setText(text.strip())
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if not missing else 0)
        self._update_progress()
        self.stack.setCurrentWidget(self.page)
        self._set_titles()
        self.refresh()
        self._set_state("idle")
        return True

    def _load_role(self, role: str, run_dir: Path) -> None:
        from resnet_studio.core.runs import read_gradients_or_empty

        run = self.runs[role]
        run.run_dir = run_dir
        meta = run.history.load_run(run_dir)
        layers, blocks, steps, norms = read_gradients_or_empty(run_dir)
        self.flow.load(role, layers, blocks, steps, norms)
        banner = self.flow.banner(role)
        if banner is not None:
            banner.set_alerts(list(meta.get("alerts") or []))
        self._quiet(role, "No gradient alert in this run (vanishing, exploding or growing).")

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Redraws now (tests, screenshots, finished runs)."""
        self._pacer.stop()
        self._redraw()
        self.flow.refresh()

    def _mark_dirty(self) -> None:
        self._pacer.mark()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._pacer.shown()

    def _view(self, series: Series, plot: pg.PlotItem) -> tuple[np.ndarray, np.ndarray]:
        return series.view(-math.inf, math.inf, max(MIN_POINTS, 2 * int(plot.vb.width())))

    def _language_model(self) -> bool:
        return any(r.task == "language_model" for r in self.runs.values() if r.started
                   or len(r.loss))

    def _redraw(self) -> None:
        self._pacer.drawn()
        lm = self._language_model()
        self.metric_plot.setLogMode(False, lm)
        for role, run in self.runs.items():
            self.raw_curves[role].setData(*self._loss(self._view(run.loss, self.loss_plot)))
            self.loss_curves[role].setData(*self._loss(self._view(run.smooth, self.loss_plot)))
            self.val_loss_curves[role].setData(*self._loss((run.val_loss.x.copy(),
                                                            run.val_loss.y.copy())))
            if lm:
                x, y = self._view(run.smooth, self.metric_plot)
                self.metric_curves[role].setData(x, np.exp(np.minimum(y, MAX_EXP)))
                self.val_metric_curves[role].setData(
                    run.val_loss.x.copy(), np.exp(np.minimum(run.val_loss.y, MAX_EXP)))
            else:
                self.metric_curves[role].setData(*self._view(run.accuracy, self.metric_plot))
                self.val_metric_curves[role].setData(run.val_accuracy.x.copy(),
                                                     run.val_accuracy.y.copy())
        self._set_titles()

    def _loss(self, data: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return (data[0], loggable(data[1])) if self.loss_log else data

    def _set_loss_log(self, on: bool) -> None:
        self.loss_log = on
        self.loss_plot.setLogMode(False, on)
        self._redraw()
        self.loss_plot.enableAutoRange()

    def _set_titles(self) -> None:
        text = self.palette().color(QPalette.ColorRole.Text).name()
        lm = self._language_model()
        scale = ", log scale" if self.loss_log else ""
        self.loss_plot.setTitle(f"Training loss{scale} (smoothed over the raw batches; "
                                "dots: validation)", color=text, size=TITLE_SIZE)
        self.metric_plot.setTitle("Perplexity (exp of the smoothed loss; dots: validation)"
                                  if lm else "Accuracy (running mean per epoch; dots: "
                                  "validation)", color=text, size=TITLE_SIZE)

    # ------------------------------------------------------------------ colours
    def _apply_palette(self) -> None:
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        dim = theme.dim_text(pal)
        style_plots(pal, self.graphics, [self.loss_plot, self.metric_plot], [self.loss_legend])
        for role in ROLES:
            color = theme.accent(COLORS[role], pal)
            faint = theme.mix(color, base, 0.7)
            self.raw_curves[role].setPen(pg.mkPen(faint, width=1))
            for item in (self.loss_curves[role], self.metric_curves[role]):
                item.setPen(pg.mkPen(color, width=2.2))
            for item in (self.val_loss_curves[role], self.val_metric_curves[role]):
                item.setPen(pg.mkPen(color, width=1, style=Qt.PenStyle.DotLine))
                item.setSymbolBrush(pg.mkBrush(color))
                item.setSymbolPen(pg.mkPen(base, width=1))
        self.subtitle_label.setStyleSheet(f"color: {dim.name()};")
        self.empty_label.setStyleSheet(f"color: {dim.name()};")
        panel = theme.mix(base, theme.accent(COLORS["residual"], pal), 0.07)
        self.headline_frame.setStyleSheet(
            f"QFrame#compareHeadlineFrame {{ background: {panel.name()}; "
            f"border: 1px solid {theme.mix(dim, base, 0.5).name()}; border-radius: 4px; }}")
        font = QFont(self.headline.font())
        font.setPointSizeF(max(font.pointSizeF(), 10.0))
        self.headline.setFont(font)
        self._set_titles()
