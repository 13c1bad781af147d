"""The gradient half of the training plots: the heatmap of per-layer norms over steps, the
latest norms by depth (bars), the picked layers' curves, and their hover text and clicks.

`GradientPlotsMixin` is mixed into `gui.training.plots.TrainingPlots` and works on the plot
items and the `GradientHistory` that class builds (`gradients`, `heatmap_plot`, `bars_plot`,
`picked_plot`, …); the step plots stay in plots.py.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPalette

from resnet_studio.core.runs.series import decimate
from resnet_studio.gui import theme
from resnet_studio.gui.training.plot_ranges import (
    data_extent,
    format_norm,
    heat_levels,
    nice_ceiling,
    sticky_range,
)
from resnet_studio.gui.training.plot_style import (
    BAR_WIDTH,
    LABEL_SPACING_PX,
    MIN_POINTS,
    RUN_COLOR,
    cycle_color,
    elide,
)


class GradientPlotsMixin:
    """Drawing, hover and clicks of the gradient plots (for TrainingPlots, a QWidget)."""

    def _draw_gradients(self) -> None:
        g = self.gradients
        self._drawn_gradients = g.version
        self._gradients_drawn_at = time.monotonic()
        if self._picks_dirty:
            self._rebuild_picked()
        n_layers, n_cols = g.n_layers, g.n_columns
        if n_layers == 0 or n_cols == 0:
            self.heatmap.clear()
            self.block_lines.setData([], [])
            self.bars.setOpts(x=np.zeros(0), y0=np.zeros(0), y1=np.zeros(0), brushes=[])
            for item in self._picked_items:
                item.setData([], [])
            for plot in (self.heatmap_plot, self.bars_plot, self.picked_plot):
                self._bounds[id(plot)].set(None, None)
            self._set_title(self.bars_plot, "Latest gradient norm by layer")
            return
        matrix = g.matrix
        # Sticky too: the colours (and the colour bar's axis) stay put while the norms move
        # within the levels.
        lo, hi = self._heat_levels = sticky_range(self._heat_levels, heat_levels(matrix))
        steps = g.steps
        if n_cols > 1:
            pitch = float(steps[-1] - steps[0]) / (n_cols - 1)
        else:
            pitch = float(max(1, g.last_steps[0] - steps[0] + 1))
        pitch = pitch or 1.0
        # Column c is drawn over [x0 + c*pitch, x0 + (c+1)*pitch): with stride 1 that centres
        # each column on its step, so it lines up with the points of the loss plot.
        self._heat_x0 = float(steps[0]) - pitch / (2 * g.stride)
        self._heat_pitch = pitch
        self.heatmap.setImage(matrix, autoLevels=False, levels=(lo, hi))
        self.heatmap.setRect(QRectF(self._heat_x0, 0.0, pitch * n_cols, float(n_layers)))
        x_right = self._heat_x0 + pitch * n_cols
        self._bounds[id(self.heatmap_plot)].set((self._heat_x0, nice_ceiling(x_right)),
                                                (0.0, float(n_layers)), sticky=False)
        if tuple(self.colorbar.levels()) != (lo, hi):  # else it repaints its axis for nothing
            self.colorbar.setLevels((lo, hi))
        bounds = [start for start, _end, _name in self._block_runs[1:]]
        self.block_lines.setData(np.tile([self._heat_x0, x_right], len(bounds)),
                                 np.repeat(np.asarray(bounds, dtype=np.float64), 2))
        self._draw_bars()
        points = max(MIN_POINTS, 2 * int(self.picked_plot.vb.width()))
        picked = []
        for i, item in zip(self.picked_layers, self._picked_items, strict=True):
            picked.append(decimate(*g.series(i), points))
            item.setData(*picked[-1])
        self._bounds[id(self.picked_plot)].set(*data_extent(picked, log_y=True))
        self._update_block_ticks()

    def _bar_tops(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(log10 of the latest norms as drawn, NaN where a bar is empty; non-finite mask;
        the lowest bottom the bars need)."""
        latest = self.gradients.latest
        if latest is None:
            return np.zeros(0), np.zeros(0, dtype=bool), 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(latest.astype(np.float64))
        finite = np.isfinite(logs)
        bad = ~np.isfinite(latest)  # NaN/inf gradients: a failure, drawn full height in red
        if finite.any():
            low, high = float(logs[finite].min()), float(logs[finite].max())
        else:
            low, high = -1.0, 0.0
        base = math.floor(low - 0.25)  # bars rise from a decade below the smallest norm
        tops = np.where(finite, logs, np.where(bad, high, np.nan))
        return tops, bad, float(base)

    def _bar_brushes(self, n: int, bad: np.ndarray) -> list[Any]:
        """One brush per bar: blocks alternate two shades, picked layers take their curve's
        colour, non-finite norms the error colour. Cached: they change with the picks, the
        palette or a failure, not with every step."""
        pal = self.palette()
        key = (n, tuple(self.picked_layers), tuple(np.flatnonzero(bad).tolist()),
               pal.cacheKey(), tuple(self._block_runs))
        if getattr(self, "_brush_key", None) == key:
            return self._brushes
        colors = (theme.accent(RUN_COLOR, pal),
                  theme.mix(theme.accent(RUN_COLOR, pal), pal.color(QPalette.ColorRole.Base),
                            0.45))
        block_of = np.zeros(n, dtype=np.int64)
        for k, (start, end, _name) in enumerate(self._block_runs):
            block_of[start:end] = k
        shades = [pg.mkBrush(c) for c in colors]
        brushes = [shades[int(b) % 2] for b in block_of]
        for j, i in enumerate(self.picked_layers):
            if i < len(brushes):
                brushes[i] = pg.mkBrush(theme.accent(cycle_color(j)[0], pal))
        for i in np.flatnonzero(bad):
            brushes[int(i)] = pg.mkBrush(theme.error_color(pal))
        self._brush_key, self._brushes = key, brushes
        return brushes

    def _draw_bars(self) -> None:
        tops, bad, base = self._bar_tops()
        n = len(tops)
        # Whole decades, kept while the norms still fill them (sticky_range): the log axis
        # changes only when a decade is gained, or most of the range is lost. The bars rise
        # from the bottom of the range shown.
        top = float(math.ceil(np.nanmax(tops))) if n and not np.isnan(tops).all() \
            else base + 1.0
        bounds = self._bounds[id(self.bars_plot)]
        bounds.set((-0.5, n - 0.5) if n else None, (base, max(top, base + 1.0)))
        shown = bounds.y_range
        bottom = shown[0] if shown is not None else base
        tops = np.where(np.isnan(tops), bottom, tops)  # a zero norm: an empty bar
        brushes = self._bar_brushes(n, bad)
        self.bars.setOpts(x=np.arange(n, dtype=np.float64), y0=np.full(n, bottom), y1=tops,
                          width=BAR_WIDTH, brushes=brushes)
        # The step is in the hover text, not in the title: a title that changes re-lays out
        # the whole grid of plots.

    def _rebuild_picked(self) -> None:
        self._picks_dirty = False
        for item in self._picked_items:
            self.picked_legend.removeItem(item)
            self.picked_plot.removeItem(item)
        self._picked_items = []
        for i in self.picked_layers:
            item = pg.PlotDataItem(antialias=False)  # noisy per-step norms: see _curve
            self.picked_plot.addItem(item, ignoreBounds=True)
            self.picked_legend.addItem(item, elide(self.layers[i], 24))
            self._picked_items.append(item)
        self._apply_item_colors()
        if self.gradients.latest is not None:
            self._draw_bars()  # the picked layers' bars change colour

    def _update_block_ticks(self, *_args: Any) -> None:
        """Block names on the heatmap's y axis, thinned so that none overlap."""
        axis = self.heatmap_plot.getAxis("left")
        vb = self.heatmap_plot.vb
        y0, y1 = vb.viewRange()[1]
        height = vb.height()
        ticks: list[tuple[float, str]] = []
        if height > 0 and y1 > y0:
            px_per_row = height / (y1 - y0)
            last = -math.inf
            for start, end, name in self._block_runs:
                centre = (start + end) / 2
                if y0 <= centre <= y1 and (centre - last) * px_per_row >= LABEL_SPACING_PX:
                    ticks.append((centre, elide(name)))
                    last = centre
        if ticks != self._block_ticks:  # setTicks lays the axis out again even if equal
            self._block_ticks = ticks
            axis.setTicks([ticks, []])

    # ------------------------------------------------------------------ hover and clicks
    def _heat_cell(self, x: float, y: float) -> tuple[int, int] | None:
        g = self.gradients
        if g.n_columns == 0:
            return None
        row = math.floor(y)
        col = math.floor((x - self._heat_x0) / self._heat_pitch)
        if 0 <= row < g.n_layers and 0 <= col < g.n_columns:
            return row, col
        return None

    def _bar_index(self, x: float) -> int | None:
        if self.gradients.latest is None:
            return None
        i = round(x)
        if 0 <= i < self.gradients.n_layers and abs(x - i) <= BAR_WIDTH / 2:
            return i
        return None

    def _hover_at(self, scene_pos: QPointF) -> tuple[pg.PlotItem | None, str]:
        if self.heatmap_plot.vb.sceneBoundingRect().contains(scene_pos):
            p = self.heatmap_plot.vb.mapSceneToView(scene_pos)
            cell = self._heat_cell(p.x(), p.y())
            if cell is None:
                return None, ""
            row, col = cell
            first, last, count = self.gradients.column_info(col)
            value = float(self.gradients.matrix[row, col])
            when = f"step {first}" if count == 1 else \
                f"steps {first}–{last} (geometric mean)"
            norm = format_norm(10.0 ** value) if math.isfinite(value) else "no finite value"
            return self.heatmap_plot, (f"{self.layers[row]}\nblock {self.blocks[row]}\n"
                                       f"{when}\ngradient norm {norm}")
        if self.bars_plot.vb.sceneBoundingRect().contains(scene_pos):
            p = self.bars_plot.vb.mapSceneToView(scene_pos)
            i = self._bar_index(p.x())
            latest = self.gradients.latest
            if i is None or latest is None:
                return None, ""
            return self.bars_plot, (f"{self.layers[i]}\nblock {self.blocks[i]}\n"
                                    f"step {self.gradients.last_step}\n"
                                    f"gradient norm {format_norm(float(latest[i]))}")
        return None, ""

    def hover_text_at(self, scene_pos: QPointF) -> str:
        """The hover text for a scene position ("" outside the heatmap's cells and bars)."""
        return self._hover_at(scene_pos)[1]

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        plot, text = self._hover_at(scene_pos)
        if plot is None:
            self.tip.hide()
        else:
            self.tip.setText(text)
            # Below-right of the pointer, moved back inside the plots where it would overflow.
            size = self.tip.textItem.boundingRect()
            area = self.graphics.ci.sceneBoundingRect()
            x = min(scene_pos.x() + 12, area.right() - size.width() - 2)
            y = scene_pos.y() + 14
            if y + size.height() > area.bottom():
                y = scene_pos.y() - size.height() - 6
            self.tip.setPos(max(area.left(), x), max(area.top(), y))
            self.tip.show()
        if text != self.hover_text:
            self.hover_text = text
            self.layer_hovered.emit(text)

    def layer_at(self, scene_pos: QPointF) -> int | None:
        """The layer under a scene position: a heatmap row or a bar."""
        if self.heatmap_plot.vb.sceneBoundingRect().contains(scene_pos):
            p = self.heatmap_plot.vb.mapSceneToView(scene_pos)
            cell = self._heat_cell(p.x(), p.y())
            return None if cell is None else cell[0]
        if self.bars_plot.vb.sceneBoundingRect().contains(scene_pos):
            p = self.bars_plot.vb.mapSceneToView(scene_pos)
            return self._bar_index(p.x())
        return None

    def _on_mouse_clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        layer = self.layer_at(event.scenePos())
        if layer is not None:
            self.toggle_layer(layer)
