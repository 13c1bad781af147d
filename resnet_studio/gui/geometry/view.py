"""The Geometry tab: what deleting residual units and walking away from the trained weights
do to a run, residual and plain twin side by side (core/geometry, docs/geometry.md).

Top: the run to study (a run of a comparison brings its partner along), the landscape
settings, Lesion / Landscape / Stop and a progress bar. Left: the accuracy drop when each
unit is deleted (bars, residual blue and plain twin amber, overlaid) and the k-curve (mean ±
sd of the accuracy with k random units deleted). Right: each run's 2-D loss landscape as a
filled contour (log loss, one colour scale for both), the trained point marked, and where
OpenGL is available the same landscape as a 3-D surface under it (surface.py; elsewhere a
one-line note says why there is none), |λ_min/λ_max| under each and, when the study mapped
it over the plane (`landscape --eigen-grid`, core/geometry/eigenmap.py), a small heat map of
it (one colour scale for both runs: dark 0, yellow the largest ratio shown). The studies
run as jobs (gui.jobs.Job) whose work happens in a child process (core.process_jobs); each
run's result is drawn as soon as it arrives; Stop kills the process.
"""

from __future__ import annotations

import gc
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.gui import theme
from resnet_studio.gui.geometry.surface import SurfacePanel, when_opengl_known
from resnet_studio.gui.jobs import Job

ROLES = ("residual", "plain", "run")
TITLES = {"residual": "Residual", "plain": "Plain twin", "run": "Run"}
COLORS = {"residual": theme.FAMILY_COLORS["Convolutional"], "plain": theme.FAMILY_COLORS["Heads"],
          "run": theme.FAMILY_COLORS["Convolutional"]}
ISO_LEVELS = 8
EIGEN_MAP_HEIGHT = 150  # pixels: a small picture under the landscape, not a second plot
EMPTY_TEXT = ("Pick a finished run (a run of a comparison brings its plain twin along), then "
              "run a lesion study — delete residual units at test time (Veit et al. 2016) — "
              "or a loss landscape around the trained weights (Li et al. 2018).")


def eigen_text(result: Any) -> str:
    """'|λ_min/λ_max| = 0.045 (λ_max 0.119, λ_min -0.0053 ± 6.2e-07) ...' or a dash; a
    λ_min within its resolution of 0 is said to be unresolved (hessian.py)."""
    ratio = result.eigen_ratio
    if ratio is None or not math.isfinite(ratio):
        return "|λ_min/λ_max|: —"
    error = getattr(result, "lambda_min_error", None)
    lam_min = f"λ_min {result.lambda_min:.2g}"
    if error is not None:
        lam_min += f" ± {error:.2g}" + ("" if result.lambda_min_resolved else ": unresolved")
    return (f"|λ_min/λ_max| = {ratio:.2g}   (λ_max {result.lambda_max:.3g}, {lam_min})   "
            f"loss rise at r={result.radius:g}: {result.radius_loss_rise:+.4g}")


class LandscapePanel(QWidget):
    """One run's 2-D landscape: log10 loss as an image with iso-loss curves, the trained
    point at the centre; the 3-D surface under it where OpenGL is available (else `surface`
    is None and `note` says why), and the eigenvalue line."""

    def __init__(self, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName(f"landscape_{role}")
        self.plot.setTitle(TITLES[role])
        self.plot.setLabel("bottom", "α (filter-normalised)")
        self.plot.setLabel("left", "β")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.isos: list[pg.IsocurveItem] = []
        self.marker = pg.ScatterPlotItem(size=10, symbol="x", pen=pg.mkPen("w", width=2))
        self.plot.addItem(self.marker)
        self.label = QLabel("")
        self.label.setObjectName(f"eigen_{role}")
        self.label.setWordWrap(True)
        lay.addWidget(self.plot, 1)
        self.surface: SurfacePanel | None = None
        self.note = QLabel("Checking OpenGL for the 3-D surface…")
        self.note.setObjectName(f"surfaceNote_{role}")
        self.note.setWordWrap(True)  # never wider than the contour above it
        lay.addWidget(self.note)
        self.eigen_plot = pg.PlotWidget()  # the |λ_min/λ_max| map, when the study has one
        self.eigen_plot.setObjectName(f"eigenMap_{role}")
        self.eigen_plot.setMaximumHeight(EIGEN_MAP_HEIGHT)
        self.eigen_plot.setLabel("bottom", "α")
        self.eigen_plot.setLabel("left", "β")
        self.eigen_image = pg.ImageItem(axisOrder="row-major")
        self.eigen_image.setColorMap(pg.colormap.get("viridis"))
        self.eigen_plot.addItem(self.eigen_image)
        self.eigen_plot.hide()
        lay.addWidget(self.eigen_plot)
        lay.addWidget(self.label)
        self.result: Any = None
        self.levels: tuple[float, float] | None = None
        when_opengl_known(self._on_opengl)

    def _on_opengl(self, available: bool, why: str) -> None:
        """Adds the 3-D surface once OpenGL is known to work here, else says why not."""
        if not available:
            self.note.setText(f"No 3-D surface: {why}; contours only.")
            return
        self.note.hide()
        self.surface = SurfacePanel(f"{TITLES[self.role]}: 3-D (height and colour: log₁₀ "
                                    "loss, same scale for both)")
        layout = self.layout()
        layout.insertWidget(layout.indexOf(self.note), self.surface, 1)
        if self.result is not None and self.levels is not None:
            self.surface.show_result(self.result, self.levels)

    def clear(self) -> None:
        """Nothing drawn (another run was chosen)."""
        self.result = self.levels = None
        self.image.clear()
        for iso in self.isos:
            self.plot.removeItem(iso)
        self.isos = []
        self.marker.setData([], [])
        self.label.setText("")
        self.eigen_image.clear()
        self.eigen_plot.hide()
        if self.surface is not None:
            self.surface.clear()

    def show_result(self, result: Any, levels: tuple[float, float],
                    ratio_top: float = 1.0) -> None:
        """Draws `result` on the colour scale `levels` (log10 loss, shared by both panels);
        its |λ_min/λ_max| map, if any, on the scale [0, `ratio_top`] (shared too)."""
        self.result = result
        self.levels = levels
        z = np.log10(np.maximum(result.surface, 1e-12)).T  # rows: β, columns: α
        axis = result.axis
        step = float(axis[1] - axis[0])
        self.image.setImage(z, levels=levels)
        lo, size = float(axis[0]) - step / 2, step * len(axis)
        self.image.setRect(lo, lo, size, size)
        self.plot.setRange(xRange=(lo, lo + size), yRange=(lo, lo + size), padding=0.02)
        for iso in self.isos:
            self.plot.removeItem(iso)
        self.isos = []
        for level in np.linspace(levels[0], levels[1], ISO_LEVELS + 2)[1:-1]:
            iso = pg.IsocurveItem(data=z, level=float(level), pen=pg.mkPen((255, 255, 255, 110)))
            iso.setParentItem(self.image)
            self.isos.append(iso)
        self.marker.setData([0.0], [0.0])
        if self.surface is not None:
            self.surface.show_result(result, levels)
        text = (f"colour: loss {10 ** levels[0]:.3g} (dark) to {10 ** levels[1]:.3g}"
                f" (yellow), log scale, the same for both runs\n" + eigen_text(result))
        emap = getattr(result, "eigen_map", None)
        if emap is None:
            self.eigen_image.clear()
            self.eigen_plot.hide()
        else:
            m_axis = emap.axis
            m_step = float(m_axis[1] - m_axis[0])
            m_lo, m_size = float(m_axis[0]) - m_step / 2, m_step * len(m_axis)
            self.eigen_image.setImage(emap.ratio.T, levels=(0.0, ratio_top))  # rows: β
            self.eigen_image.setRect(m_lo, m_lo, m_size, m_size)
            self.eigen_plot.setRange(xRange=(m_lo, m_lo + m_size),
                                     yRange=(m_lo, m_lo + m_size), padding=0.02)
            self.eigen_plot.show()
            k = len(m_axis)
            text += (f"\n|λ_min/λ_max| over the plane ({k}×{k} map above: dark 0, yellow "
                     f"{ratio_top:.2g}, both runs): mean {emap.ratio_mean:.2g}, max "
                     f"{emap.ratio_max:.2g}")
        self.label.setText(text)


class GeometryView(theme.FollowsPalette, QWidget):
    """The Geometry tab (the run-tab protocol of gui.window.run_tabs).

    Signals:
        error(str, str, str): title, text, details of a failed study.
        state_changed(): a study started or ended.
        finished(object): a study ended (its {role: result}, or None).
    """

    error = Signal(str, str, str)
    state_changed = Signal()
    finished = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_guard = lambda _action: True
        self.job: Job | None = None
        self._stopping = False
        self.run_dirs: dict[str, Path] = {}
        self.lesions: dict[str, Any] = {}
        self.landscapes: dict[str, Any] = {}
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.run_box = QComboBox()
        self.run_box.setObjectName("geometryRun")
        self.run_box.setMinimumContentsLength(30)
        self.run_box.currentIndexChanged.connect(self._on_run_chosen)
        self.grid = QSpinBox(minimum=3, maximum=101, singleStep=2, value=11)
        self.grid.setToolTip("Points per axis of the 2-D slice (odd: the trained point is the "
                             "centre)")
        self.span = QDoubleSpinBox(minimum=0.05, maximum=10.0, singleStep=0.25, value=1.0)
        self.span.setToolTip("The slice covers α, β in [−span, span], in filter-normalised "
                             "units")
        self.samples = QSpinBox(minimum=16, maximum=60000, singleStep=128, value=256)
        self.samples.setToolTip("Training examples the loss is computed on")
        self.lesion_button = QPushButton("Lesion study")
        self.lesion_button.clicked.connect(lambda: self.start("lesion"))
        self.landscape_button = QPushButton("Landscape")
        self.landscape_button.clicked.connect(lambda: self.start("landscape"))
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel(EMPTY_TEXT)
        self.status.setWordWrap(True)
        for w in (QLabel("Run"), self.run_box, QLabel("grid"), self.grid, QLabel("span"),
                  self.span, QLabel("samples"), self.samples, self.lesion_button,
                  self.landscape_button, self.stop_button):
            bar.addWidget(w)
        bar.addWidget(self.progress, 1)
        lay.addLayout(bar)
        lay.addWidget(self.status)
        body = QGridLayout()
        self.bars = pg.PlotWidget(title="Accuracy drop when one unit is deleted")
        self.bars.setObjectName("lesionBars")
        self.bars.setLabel("left", "accuracy drop")
        self.bars.getAxis("left").enableAutoSIPrefix(False)
        self.bars.addLegend(offset=(-10, 10))
        self.kcurve = pg.PlotWidget(title="k random units deleted: accuracy (mean ± sd)")
        self.kcurve.setObjectName("lesionCurve")
        self.kcurve.setLabel("bottom", "k")
        self.kcurve.setLabel("left", "test accuracy")
        self.kcurve.addLegend(offset=(-10, 10))
        self.panels = {role: LandscapePanel(role) for role in ("residual", "plain")}
        body.addWidget(self.bars, 0, 0)
        body.addWidget(self.kcurve, 1, 0)
        body.addWidget(self.panels["residual"], 0, 1, 2, 1)
        body.addWidget(self.panels["plain"], 0, 2, 2, 1)
        body.setColumnStretch(0, 3)
        body.setColumnStretch(1, 2)
        body.setColumnStretch(2, 2)
        lay.addLayout(body, 1)
        self._apply_palette()
        self._update_buttons()

    def _apply_palette(self) -> None:
        """Plot backgrounds and axes in the window's colours (light or dark)."""
        pal = self.palette()
        base, text = pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)
        dim = theme.dim_text(pal)
        plots = [self.bars, self.kcurve, *(p.plot for p in self.panels.values()),
                 *(p.eigen_plot for p in self.panels.values())]
        for widget in plots:
            widget.setBackground(base)
            for name in ("left", "bottom"):
                widget.getAxis(name).setPen(dim)
                widget.getAxis(name).setTextPen(text)
        for widget in (self.bars, self.kcurve):
            legend = widget.getPlotItem().legend
            if legend is not None:
                legend.setLabelTextColor(text)
        self.bars.setTitle("Accuracy drop when one unit is deleted", color=text.name())
        self.kcurve.setTitle("k random units deleted: test accuracy (mean ± sd)",
                             color=text.name())
        for p in self.panels.values():
            p.plot.setTitle(f"{TITLES[p.role]}: loss around the trained weights",
                            color=text.name())
            p.eigen_plot.setTitle("|λ_min/λ_max| of the Hessian over the same plane",
                                  color=text.name(), size="9pt")

    # ------------------------------------------------------------------ run-tab protocol
    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    @property
    def paused(self) -> bool:
        return False

    def pause(self) -> None:
        """Studies do not pause (a stop loses only the study in progress)."""

    def resume(self) -> None:
        """Nothing to resume (see pause)."""

    def stop(self) -> None:
        if self.job is not None:
            self._stopping = True
            self.job.cancel()
            self.status.setText("Stopping…")

    def confirm_stop(self, _action: str) -> bool:
        """A study in progress is stopped without asking: nothing of the run is lost."""
        self.stop()
        return True

    def shutdown(self) -> None:
        if self.job is not None:
            self.job.cancel_and_wait()

    # ------------------------------------------------------------------ runs
    def refresh_runs(self) -> None:
        """Lists the finished runs with a checkpoint, newest first."""
        from resnet_studio.core.runs import checkpoint_complete, list_runs

        current = self.run_box.currentData()
        blocked = self.run_box.blockSignals(True)
        self.run_box.clear()
        for info in list_runs():
            if checkpoint_complete(info.dir):
                self.run_box.addItem(info.id, str(info.dir))
        if current is not None:
            index = self.run_box.findData(current)
            if index >= 0:
                self.run_box.setCurrentIndex(index)
        self.run_box.blockSignals(blocked)
        self._on_run_chosen()

    def set_run(self, run_dir: str | Path) -> None:
        """Studies `run_dir` (and its comparison partner, if any)."""
        index = self.run_box.findData(str(run_dir))
        if index < 0:
            self.run_box.addItem(Path(run_dir).name, str(run_dir))
            index = self.run_box.count() - 1
        self.run_box.setCurrentIndex(index)
        self._on_run_chosen()

    def open_run(self, run_dir: str | Path) -> bool:
        """The Runs tab's "Study Geometry…": chooses `run_dir` (its comparison partner comes
        along) and shows the results already cached for it. False while a study runs."""
        if self.running:
            return False
        self.set_run(run_dir)
        self.show_cached()
        return bool(self.run_dirs)

    def show_cached(self) -> None:
        """Draws the newest cached landscape of each chosen run (computed earlier by the tab
        or the CLI), so that opening a studied run shows its surfaces at once."""
        from resnet_studio.core.geometry.landscape import newest_landscape

        self.lesions, self.landscapes = {}, {}
        self.show_lesions()
        for role, run_dir in self.run_dirs.items():
            result = newest_landscape(run_dir)
            if result is not None:
                self.landscapes[role] = result
        for panel in self.panels.values():
            panel.clear()
        self.show_landscapes()
        if self.landscapes:
            self.status.setText("Cached landscapes: " + self._summary())

    def _on_run_chosen(self) -> None:
        from resnet_studio.core.geometry.jobs import run_pair

        data = self.run_box.currentData()
        if not data:
            self.run_dirs = {}
        else:
            try:
                self.run_dirs = run_pair(data)
            except (OSError, ValueError) as e:
                self.run_dirs = {}
                self.status.setText(f"Cannot read the run: {e}")
        self._update_buttons()

    # ------------------------------------------------------------------ studies
    def start(self, kind: str) -> bool:
        """Starts the `kind` study ("lesion" or "landscape") on the chosen run(s)."""
        if self.running or not self.run_dirs or not self.run_guard(f"run a {kind} study"):
            return False
        from resnet_studio.core.geometry.jobs import study_process_job

        if kind == "lesion":
            settings: dict[str, Any] = {}
        else:
            grid = self.grid.value() | 1  # odd
            settings = {"grid": grid, "span": self.span.value(),
                        "samples": self.samples.value(), "iterations": 100,
                        "hessian_samples": min(128, self.samples.value())}
        # In a child process (core.process_jobs): rebuilding the model and tracing its
        # functions would otherwise hold the interpreter, and the window, for ~0.2 s at a time.
        runs = dict(self.run_dirs)
        self.job = Job(study_process_job(runs), kind, runs, settings, name=f"geometry-{kind}")
        self.job.partial.connect(lambda value, kind=kind: self._on_partial(kind, value))
        self.job.progress.connect(self._on_progress)
        self.job.failed.connect(self._on_failed)
        self.job.finished.connect(self._on_finished)
        self.progress.setValue(0)
        self._stopping = False
        # As while training (gui/app.py freeze_heap): with TensorFlow and a model loaded a
        # full garbage collection walks ~500,000 objects holding the GIL, 0.1-0.2 s.
        gc.freeze()
        self.status.setText(f"{kind.capitalize()} study of {', '.join(self.run_dirs)}…")
        self.job.start()
        self._update_buttons()
        self.state_changed.emit()
        return True

    def _on_progress(self, fraction: float, text: str) -> None:
        if self._stopping:  # reports queued before the stop reached the job
            return
        if math.isfinite(fraction):
            self.progress.setValue(int(1000 * fraction))
        self.status.setText(text)

    def _on_partial(self, kind: str, value: Any) -> None:
        role, result = value
        if kind == "lesion":
            self.lesions[role] = result
            self.show_lesions()
        else:
            self.landscapes[role] = result
            self.show_landscapes()

    def _on_failed(self, message: str, details: str) -> None:
        self.status.setText(message)
        if details:  # a cancel has no traceback: not an error
            self.error.emit("Geometry Study Failed", message, details)

    def _on_finished(self, result: Any) -> None:
        self.job = None
        gc.unfreeze()
        if result is not None:
            self.progress.setValue(1000)
            self.status.setText("Done. " + self._summary())
        elif self._stopping:
            self.status.setText("Stopped; nothing was saved.")
        self._stopping = False
        self._update_buttons()
        self.state_changed.emit()
        self.finished.emit(result)

    def _summary(self) -> str:
        parts = []
        for role, r in self.lesions.items():
            if r.mean_drop is not None:
                parts.append(f"{TITLES[role]}: mean drop {r.mean_drop:+.3f}")
        for role, r in self.landscapes.items():
            parts.append(f"{TITLES[role]}: loss rise {r.radius_loss_rise:+.4g}")
        return "; ".join(parts)

    def _update_buttons(self) -> None:
        busy = self.running
        ok = bool(self.run_dirs) and not busy
        self.lesion_button.setEnabled(ok)
        self.landscape_button.setEnabled(ok)
        self.stop_button.setEnabled(busy)
        self.run_box.setEnabled(not busy)

    # ------------------------------------------------------------------ drawing
    def show_lesions(self) -> None:
        """Bars of the single-unit drops and the k-curves of every lesion result."""
        self.bars.clear()
        self.kcurve.clear()
        n = len(self.lesions)
        width = 0.8 / max(n, 1)
        # One slot per unit name, in depth order: a plain twin's skipped units leave a gap
        # instead of shifting its bars under other units' names.
        names: list[str] = []
        for r in self.lesions.values():
            for name in [b.block for b in r.blocks] + list(r.skipped):
                if name not in names:
                    names.append(name)
        units = [u for u in self._unit_order() if u in names] or names
        slot = {name: j for j, name in enumerate(units)}
        for i, (role, r) in enumerate(self.lesions.items()):
            color = COLORS[role]
            xs = np.array([slot[b.block] for b in r.blocks], dtype=float) + \
                (i - (n - 1) / 2) * width
            drops = [b.drop for b in r.blocks]
            self.bars.addItem(pg.BarGraphItem(x=xs, height=drops, width=width,
                                              brush=pg.mkBrush(color), name=TITLES[role]))
        names = units
        for role, r in self.lesions.items():
            color = COLORS[role]
            ks = np.array([p.k for p in r.k_curve], dtype=float)
            means = np.array([p.mean for p in r.k_curve])
            sds = np.array([p.sd for p in r.k_curve])
            self.kcurve.addItem(pg.ErrorBarItem(x=ks, y=means, height=2 * sds,
                                                pen=pg.mkPen(color)))
            self.kcurve.plot(ks, means, pen=pg.mkPen(color, width=2), symbol="o",
                             symbolSize=5, symbolBrush=color, name=TITLES[role])
        ticks = [(j, name) for j, name in enumerate(names)]
        step = max(1, math.ceil(len(ticks) / 8))
        self.bars.getAxis("bottom").setTicks([ticks[::step], []])

    def _unit_order(self) -> list[str]:
        """Unit names in depth order, deleted or skipped (the longest list of the runs)."""
        order: list[str] = []
        for r in self.lesions.values():
            if len(r.units) > len(order):
                order = list(r.units)
        return order

    def show_landscapes(self) -> None:
        """Both landscapes on one colour scale (log10 loss over everything shown)."""
        values = [np.log10(np.maximum(r.surface, 1e-12)) for r in self.landscapes.values()]
        finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else []
        if len(finite) == 0:
            return
        levels = (float(np.min(finite)), float(np.max(finite)))
        if levels[1] <= levels[0]:
            levels = (levels[0], levels[0] + 1.0)
        maps = [r.eigen_map.ratio_max for r in self.landscapes.values()
                if getattr(r, "eigen_map", None) is not None]
        top = max([m for m in maps if math.isfinite(m) and m > 0], default=1.0)
        for role, r in self.landscapes.items():
            panel = self.panels["residual" if role == "run" else role]
            panel.show_result(r, levels, top)
