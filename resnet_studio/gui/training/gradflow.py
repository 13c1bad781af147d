"""Gradient flow: each weighted layer's gradient norm against its depth, on a log scale.

This is the picture of the vanishing-gradient story: in a deep plain network the curve falls
by orders of magnitude from the output (right) to the input (left); with shortcuts it stays
flat. One curve is the latest recorded step (noisy), the other the average over a window of
recent steps (geometric mean, i.e. the mean on the log axis the curve is drawn on, so one
spike does not dominate it). The Training tab shows one run, the Compare tab two side by
side on a shared y range, so the two can be read against each other.

`DepthProfile` is the Qt-free buffer (a ring of the last MAX_WINDOW log10 norm vectors);
the widgets redraw from a ~10 Hz timer while visible, never per event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from numpy.typing import ArrayLike
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPalette, QShowEvent
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from resnet_studio.core.runs.series import block_runs
from resnet_studio.gui import theme
from resnet_studio.gui.training.alert_banner import AlertBanner
from resnet_studio.gui.training.pacer import RedrawPacer
from resnet_studio.gui.training.plot_ranges import decade_tick_strings, format_norm

REDRAW_MS = 100  # a depth profile changes once per step; 10 Hz reads as live
MAX_WINDOW = 1000  # steps kept per run: the largest averaging window offered
DEFAULT_WINDOW = 50  # about an epoch of a small dataset: smooth, still recent
TINY = 1e-38  # float32's smallest normal: a zero gradient is drawn at the floor, not lost
MAX_SYMBOL_LAYERS = 60  # beyond this the markers merge into a band
LABEL_CHARS = 14
LABEL_PX_PER_CHAR = 6.5  # rough width of a tick label character at the axis font size
LABEL_OVERHANG = 48  # px a block name may extend past the right end of the axis
TITLE_SIZE = "9pt"
CAPTION = ("Gradient norm of every weighted layer, input (left) → output (right), log scale. "
           "Solid: geometric mean over the last recorded steps; dashed: the latest step. With "
           "weight_decay_mode l2 the norms include the L2 term λ·w.")


def log10_norms(norms: ArrayLike) -> np.ndarray:
    """log10 of gradient norms (float64); zeros at log10(TINY), non-finite values NaN."""
    v = np.asarray(norms, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(np.maximum(v, TINY))
    out[~np.isfinite(out)] = np.nan
    return out


def window_mean_log(logs: np.ndarray) -> np.ndarray:
    """Mean over rows ignoring NaN ((S, L) -> (L,)); NaN where a column has no value."""
    finite = np.isfinite(logs)
    count = finite.sum(axis=0)
    total = np.where(finite, logs, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


class DepthProfile:
    """The last `capacity` per-layer gradient-norm vectors of one run, as log10.

    Args:
        n_layers: Entries of each vector (the run's weighted layers, depth order).
        capacity: Vectors kept (the largest window `mean_log` can average).

    Example:
        >>> p = DepthProfile(3)
        >>> p.append(1, [1e-3, 1e-2, 1e-1])
        >>> p.mean_log(50)  # array([-3., -2., -1.])
    """

    def __init__(self, n_layers: int, capacity: int = MAX_WINDOW) -> None:
        if capacity < 1:
            raise ValueError(f"Expected capacity >= 1, received: capacity={capacity}")
        self.n_layers = int(n_layers)
        self.capacity = int(capacity)
        self._logs = np.full((self.capacity, self.n_layers), np.nan)
        self._count = 0  # rows filled
        self._next = 0  # ring position of the next row
        self.latest: np.ndarray | None = None  # raw norms of the last step (float64)
        self.last_step: int | None = None
        self.version = 0  # bumped by every change (the widget redraws when it moved)

    def __len__(self) -> int:
        return self._count

    def _check(self, norms: np.ndarray) -> None:
        if norms.shape[-1] != self.n_layers:
            raise ValueError(f"Expected {self.n_layers} norms per step, received: "
                             f"{norms.shape[-1]}")

    def append(self, step: int, norms: ArrayLike) -> None:
        """One step's norms. A step at or below the last one (a resumed run redoing steps
        after its checkpoint) starts the window afresh."""
        v = np.asarray(norms, dtype=np.float64).ravel()
        self._check(v)
        if self.last_step is not None and step <= self.last_step:
            self.clear()
        self._logs[self._next] = log10_norms(v)
        self._next = (self._next + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)
        self.latest, self.last_step = v, int(step)
        self.version += 1

    def extend(self, steps: ArrayLike, norms: ArrayLike) -> None:
        """Many steps at once (a run read from disk); only the last `capacity` are kept."""
        steps = np.asarray(steps, dtype=np.int64).ravel()
        if not steps.size:
            return
        m = np.asarray(norms, dtype=np.float64).reshape(steps.size, -1)
        self._check(m)
        self.clear()
        tail = m[-self.capacity:]
        self._logs[: len(tail)] = log10_norms(tail)
        self._count = len(tail)
        self._next = len(tail) % self.capacity
        self.latest, self.last_step = m[-1].copy(), int(steps[-1])
        self.version += 1

    def clear(self) -> None:
        self._logs[:] = np.nan
        self._count = self._next = 0
        self.latest, self.last_step = None, None
        self.version += 1

    def window(self, n: int) -> int:
        """Steps an average over the last `n` actually covers."""
        return min(max(1, int(n)), self._count)

    def recent_logs(self, n: int) -> np.ndarray:
        """log10 norms of the last `n` steps, oldest first ((k, L), k = window(n))."""
        k = self.window(n)
        idx = (self._next - k + np.arange(k)) % self.capacity
        return self._logs[idx]

    def mean_log(self, n: int) -> np.ndarray | None:
        """Mean log10 norm per layer over the last `n` steps (None before the first)."""
        if not self._count:
            return None
        return window_mean_log(self.recent_logs(n))

    def latest_log(self) -> np.ndarray | None:
        return None if self.latest is None else log10_norms(self.latest)


def _elide(name: str, chars: int = LABEL_CHARS) -> str:
    return name if len(name) <= chars else name[: chars - 1] + "…"


class _LogAxis(pg.AxisItem):
    """Decade labels (1, 10, 10⁻³) for log10 values, as in the training plots."""

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return decade_tick_strings(values, scale, spacing)


class GradientFlowPlot(pg.PlotWidget):
    """One run's depth profile: latest step (dashed) and window mean (solid), blocks marked.

    Attributes:
        layers, blocks: The layers (depth order) and their block names.
        mean_curve, latest_curve: the two curves (y = log10 norm, x = layer index).
    """

    def __init__(self, title: str, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, axisItems={"left": _LogAxis("left")})
        self.title = title
        self.color = color
        self.layers: list[str] = []
        self.blocks: list[str] = []
        self._runs: list[tuple[int, int, str]] = []
        self._boundaries: list[pg.InfiniteLine] = []
        self._title_text = title
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.showGrid(x=False, y=True, alpha=0.15)
        item.getAxis("left").setLogMode(True)
        # The last block (the head) sits at the right edge: its name may overhang the axis
        # by up to LABEL_OVERHANG px into a margin kept for it, rather than vanish. The
        # labels are thinned here (_update_ticks), so pyqtgraph's own limits are lifted.
        item.getAxis("bottom").setStyle(hideOverlappingLabels=LABEL_OVERHANG,
                                        textFillLimits=[(0, 1.0)])
        item.setContentsMargins(0, 0, LABEL_OVERHANG - 10, 0)
        item.setLabel("bottom", "depth: layer (input → output), by block")
        self.mean_curve = pg.PlotDataItem(connect="finite")
        self.latest_curve = pg.PlotDataItem(connect="finite")
        item.addItem(self.latest_curve)
        item.addItem(self.mean_curve)
        # Bottom right: a plain network's curve rises to the right, a residual one's stays
        # high, so that corner is where the curves are not.
        self.legend = item.addLegend(offset=(-4, -4), labelTextSize="8pt")
        self.legend.addItem(self.mean_curve, "window mean")
        self.legend.addItem(self.latest_curve, "latest step")
        self.legend.hide()
        item.vb.sigXRangeChanged.connect(self._update_ticks)
        item.vb.sigResized.connect(self._update_ticks)
        self.apply_palette()

    def set_layers(self, layers: list[str], blocks: list[str]) -> None:
        """The run's layers (depth order) and their blocks; clears the curves."""
        if len(layers) != len(blocks):
            raise ValueError("Expected one block name per layer, received: "
                             f"len(layers)={len(layers)}, len(blocks)={len(blocks)}")
        self.layers, self.blocks = list(layers), list(blocks)
        self._runs = block_runs(self.blocks)
        item = self.getPlotItem()
        for line in self._boundaries:
            item.removeItem(line)
        self._boundaries = []
        for start, _end, _name in self._runs[1:]:
            line = pg.InfiniteLine(start - 0.5, angle=90, movable=False)
            line.setZValue(-10)
            item.addItem(line, ignoreBounds=True)
            self._boundaries.append(line)
        self.mean_curve.setData([], [])
        self.latest_curve.setData([], [])
        n = len(self.layers)
        dense = n > MAX_SYMBOL_LAYERS
        self.mean_curve.setSymbol(None if dense else "o")
        self.mean_curve.setSymbolSize(5)
        if n:
            item.setXRange(-0.5, n - 0.5, padding=0.02)
        self.legend.setVisible(False)
        self.apply_palette()
        self._update_ticks()

    def set_profile(self, latest: np.ndarray | None, mean: np.ndarray | None) -> None:
        x = np.arange(len(self.layers), dtype=np.float64)
        for curve, y in ((self.latest_curve, latest), (self.mean_curve, mean)):
            if y is None or len(y) != len(x):
                curve.setData([], [])
            else:
                curve.setData(x, y)
        self.legend.setVisible(latest is not None)

    def set_title_text(self, text: str) -> None:
        self._title_text = text
        self.getPlotItem().setTitle(text, color=self.palette().color(
            QPalette.ColorRole.Text).name(), size=TITLE_SIZE)

    def layer_at(self, scene_pos: QPointF) -> int | None:
        """The layer under a scene position (nearest index), None outside the data."""
        vb = self.getPlotItem().vb
        if not self.layers or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        i = round(vb.mapSceneToView(scene_pos).x())
        return i if 0 <= i < len(self.layers) else None

    def _update_ticks(self, *_args: Any) -> None:
        """Block names under the middle of their layers, thinned so that none overlap."""
        axis = self.getPlotItem().getAxis("bottom")
        vb = self.getPlotItem().vb
        x0, x1 = vb.viewRange()[0]
        width = vb.width()
        ticks: list[tuple[float, str]] = []
        if width > 0 and x1 > x0:
            px = width / (x1 - x0)
            right_edge = -math.inf
            for start, end, name in self._runs:
                centre = (start + end - 1) / 2
                label = _elide(name)
                half = len(label) * LABEL_PX_PER_CHAR / 2 + 4
                pos = (centre - x0) * px
                if x0 <= centre <= x1 and pos - half >= right_edge:
                    ticks.append((centre, label))
                    right_edge = pos + half
        axis.setTicks([ticks, []])

    def apply_palette(self) -> None:
        pal = self.palette()
        base, text = pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)
        dim = theme.dim_text(pal)
        color = theme.accent(self.color, pal)
        self.setBackground(base)
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(dim)
            axis.setTextPen(text)
        self.mean_curve.setPen(pg.mkPen(color, width=2.5))
        self.mean_curve.setSymbolBrush(pg.mkBrush(color))
        self.mean_curve.setSymbolPen(pg.mkPen(base, width=1))
        self.latest_curve.setPen(pg.mkPen(theme.mix(color, base, 0.35), width=1.2,
                                          style=Qt.PenStyle.DashLine))
        line_pen = pg.mkPen(theme.mix(dim, base, 0.55), width=1, style=Qt.PenStyle.DotLine)
        for line in self._boundaries:
            line.setPen(line_pen)
        fill = QColor(base)
        fill.setAlphaF(0.8)
        self.legend.setBrush(fill)
        self.legend.setPen(theme.mix(dim, base, 0.5))
        self.legend.setLabelTextColor(text)
        for _sample, label in self.legend.items:
            label.setText(label.text)
        self.set_title_text(self._title_text)


@dataclass
class _Role:
    role: str
    title: str
    plot: GradientFlowPlot
    banner: AlertBanner | None
    profile: DepthProfile
    caption: str = ""  # title shown while the role has no data
    drawn: int = -1  # profile version last drawn
    drawn_window: int = -1


class GradientFlowPanel(theme.FollowsPalette, QWidget):
    """Depth profiles of one or more runs side by side, sharing the averaging window and
    the y range (so equal heights mean equal gradients).

    Args:
        roles: (role key, title, colour) of each run, left to right.
        banners: Put an AlertBanner above each run's plot (the Compare tab); the Training
            tab has one banner above all of its plots instead.

    Signals:
        window_changed(int): the averaging window (steps) was changed.

    Attributes:
        window_spin: the window control (recorded steps averaged).
        hover_label: what is under the pointer (layer, block, both values).
    """

    window_changed = Signal(int)

    def __init__(self, roles: list[tuple[str, str, str]], *, banners: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.roles: dict[str, _Role] = {}
        self._pacer = RedrawPacer(self, REDRAW_MS, self._redraw)
        caption = QLabel(CAPTION, self)
        caption.setWordWrap(True)
        caption.setObjectName("gradFlowCaption")
        self.caption = caption
        self.window_spin = QSpinBox(self)
        self.window_spin.setObjectName("gradFlowWindow")
        self.window_spin.setRange(1, MAX_WINDOW)
        self.window_spin.setValue(DEFAULT_WINDOW)
        self.window_spin.setSuffix(" steps")
        self.window_spin.setToolTip("The solid curve averages this many recorded steps "
                                    "(geometric mean: the mean on the log axis)")
        self.window_spin.valueChanged.connect(self._on_window)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(caption, 1)
        top.addWidget(QLabel("Average over the last", self))
        top.addWidget(self.window_spin)
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        for col, (role, title, color) in enumerate(roles):
            plot = GradientFlowPlot(title, color, self)
            plot.setObjectName(f"gradFlow_{role}")
            banner = AlertBanner(self) if banners else None
            if banner is not None:
                banner.setObjectName(f"alertBanner_{role}")
                # Top-aligned: beside a taller banner a short one keeps its own height.
                grid.addWidget(banner, 0, col, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(plot, 1, col)
            grid.setColumnStretch(col, 1)
            plot.scene().sigMouseMoved.connect(
                lambda pos, r=role: self._on_mouse_moved(r, pos))
            self.roles[role] = _Role(role, title, plot, banner, DepthProfile(0))
        grid.setRowStretch(1, 1)
        self.hover_label = QLabel(" ", self)
        self.hover_label.setObjectName("gradFlowHover")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 2)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addLayout(grid, 1)
        lay.addWidget(self.hover_label)
        self._apply_palette()
        for r in self.roles.values():
            self._set_title(r)

    # ------------------------------------------------------------------ API
    @property
    def window(self) -> int:
        return self.window_spin.value()

    def set_window(self, steps: int) -> None:
        self.window_spin.setValue(int(steps))

    def profile(self, role: str) -> DepthProfile:
        return self.roles[role].profile

    def plot(self, role: str) -> GradientFlowPlot:
        return self.roles[role].plot

    def banner(self, role: str) -> AlertBanner | None:
        return self.roles[role].banner

    def begin(self, role: str, layers: list[str], blocks: list[str]) -> None:
        """A run of this role starts: its layers (depth order) and their blocks."""
        r = self.roles[role]
        r.plot.set_layers(layers, blocks)
        r.profile = DepthProfile(len(layers))
        r.drawn = -1
        self._mark_dirty()

    def add(self, role: str, step: int, norms: np.ndarray) -> None:
        """One step's per-layer gradient norms (a GradNorms event)."""
        self.roles[role].profile.append(step, norms)
        self._mark_dirty()

    def load(self, role: str, layers: list[str], blocks: list[str], steps: np.ndarray,
             norms: np.ndarray) -> None:
        """A finished run's gradients as read by core.runs.read_gradients."""
        self.begin(role, layers, blocks)
        self.roles[role].profile.extend(steps, norms)
        self._mark_dirty()

    def clear(self, role: str | None = None, caption: str = "") -> None:
        """No data for `role` (all roles when None); `caption` replaces the title meanwhile."""
        for r in self.roles.values():
            if role is None or r.role == role:
                r.plot.set_layers([], [])
                r.profile = DepthProfile(0)
                r.caption = caption
                r.drawn = -1
                if r.banner is not None:
                    r.banner.clear()
        self._mark_dirty()

    def set_caption(self, role: str, caption: str) -> None:
        """The title shown while `role` has no data ("waiting for the residual run")."""
        self.roles[role].caption = caption
        self._set_title(self.roles[role])

    def refresh(self) -> None:
        """Redraws now (tests, screenshots, finished runs)."""
        self._pacer.stop()
        self._redraw()

    # ------------------------------------------------------------------ drawing
    def _mark_dirty(self) -> None:
        self._pacer.mark()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._pacer.shown()

    def _on_window(self, value: int) -> None:
        self._mark_dirty()
        self.window_changed.emit(value)

    def _redraw(self) -> None:
        self._pacer.drawn()
        n = self.window
        lows, highs = [], []
        for r in self.roles.values():
            p = r.profile
            latest, mean = p.latest_log(), p.mean_log(n)
            if r.drawn != p.version or r.drawn_window != n:
                r.plot.set_profile(latest, mean)
                r.drawn, r.drawn_window = p.version, n
            self._set_title(r)
            for y in (latest, mean):
                if y is not None and np.isfinite(y).any():
                    lows.append(float(np.nanmin(y)))
                    highs.append(float(np.nanmax(y)))
        if lows:
            # One y range for all runs, in whole decades: equal heights, equal gradients.
            lo, hi = math.floor(min(lows)), math.ceil(max(highs))
            if hi <= lo:
                hi = lo + 1
            span = hi - lo
            # A label every decade while they fit, else every 2nd or 5th (pyqtgraph alone
            # labels only 1, 10⁻⁵ and 10⁻¹⁰ on a short plot spanning 12 decades).
            major = 1 if span <= 6 else 2 if span <= 14 else 5
            for r in self.roles.values():
                item = r.plot.getPlotItem()
                item.setYRange(lo, hi, padding=0.04)
                item.getAxis("left").setTickSpacing(major, 1)

    def _set_title(self, r: _Role) -> None:
        p = r.profile
        if p.last_step is None:
            text = f"{r.title} · {r.caption}" if r.caption else r.title
        else:
            k = p.window(self.window)
            text = (f"{r.title} · step {p.last_step} · mean of the last {k} "
                    f"step{'s' if k != 1 else ''}")
        r.plot.set_title_text(text)

    def hover_text(self, role: str, layer: int) -> str:
        r = self.roles[role]
        p = r.profile
        latest, mean = p.latest, p.mean_log(self.window)
        parts = [f"{r.title}: {r.plot.layers[layer]} (block {r.plot.blocks[layer]})"]
        if latest is not None:
            parts.append(f"latest {format_norm(float(latest[layer]))}")
        if mean is not None:
            value = float(mean[layer])
            parts.append(f"mean {format_norm(10.0 ** value) if math.isfinite(value) else '—'}")
        return " · ".join(parts)

    def _on_mouse_moved(self, role: str, pos: QPointF) -> None:
        layer = self.roles[role].plot.layer_at(pos)
        self.hover_label.setText(" " if layer is None else self.hover_text(role, layer))

    # ------------------------------------------------------------------ colours
    def _apply_palette(self) -> None:
        dim = theme.dim_text(self.palette())
        self.caption.setStyleSheet(f"color: {dim.name()};")
        self.hover_label.setStyleSheet(f"color: {dim.name()};")
        for r in self.roles.values():
            r.plot.apply_palette()
