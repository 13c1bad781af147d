"""Colours, label eliding and the log axis shared by the training plots and their gradient
half (gui.training.plots, gui.training.gradient_plots)."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette

from resnet_studio.gui import theme
from resnet_studio.gui.training.plot_ranges import decade_tick_strings

MIN_POINTS = 300  # decimation budget before a plot has been laid out (no width yet)
HEATMAP_COLORMAP = "viridis"  # perceptual and readable with colour-vision deficiencies
LABEL_SPACING_PX = 14  # block names closer than about one text line would overlap
LABEL_CHARS = 18  # longer block names are elided so the heatmap keeps its width
BAR_WIDTH = 0.8

# This run is blue, validation amber (the palette's Convolutional and Heads hues); other runs
# and picked layers cycle through the remaining family hues, which stay distinguishable for
# the common colour-vision deficiencies.
RUN_COLOR = theme.FAMILY_COLORS["Convolutional"]
VAL_COLOR = theme.FAMILY_COLORS["Heads"]
LR_COLOR = theme.FAMILY_COLORS["Recurrent"]
CYCLE_COLORS = (theme.FAMILY_COLORS["Transformer"], theme.FAMILY_COLORS["Containers"],
                theme.FAMILY_COLORS["Recurrent"], theme.SHORTCUT_COLOR,
                theme.FAMILY_COLORS["Layers"], theme.OK_COLOR)


def cycle_color(i: int) -> tuple[str, Qt.PenStyle]:
    """The i-th colour of the cycle; past its end the same colours come back dashed."""
    style = Qt.PenStyle.SolidLine if i < len(CYCLE_COLORS) else Qt.PenStyle.DashLine
    return CYCLE_COLORS[i % len(CYCLE_COLORS)], style


def elide(name: str, chars: int = LABEL_CHARS) -> str:
    if len(name) <= chars:
        return name
    head = (chars - 1) // 2
    return f"{name[:head]}…{name[-(chars - 1 - head):]}"


class LogAxis(pg.AxisItem):
    """An axis whose log-mode labels are decades written the same way everywhere, with the
    2-9 minor ticks (and grid lines) only when at most `MINOR_DECADES` decades are in view:
    over the 5-10 decades gradient norms span they are a dense, unlabelled comb that made
    this axis the costliest item to draw."""

    MINOR_DECADES = 3

    def logTickStrings(self, values: list[float], scale: float,
                       spacing: float) -> list[str]:
        return decade_tick_strings(values, scale, spacing)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[Any]:
        levels = super().tickValues(minVal, maxVal, size)
        if self.logMode and abs(maxVal - minVal) > self.MINOR_DECADES:
            return levels[:1]
        return levels


def style_plots(palette: QPalette, graphics: pg.GraphicsLayoutWidget, plots: list[Any],
                legends: list[pg.LegendItem]) -> None:
    """Background, axes and legends of a plot widget in the palette's colours (after a
    light/dark switch too): the axes dimmed, the legends on a translucent base."""
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    dim = theme.dim_text(palette)
    graphics.setBackground(base)
    for plot in plots:
        for name in ("left", "bottom"):
            plot.getAxis(name).setPen(dim)
            plot.getAxis(name).setTextPen(text)
    fill = QColor(base)
    fill.setAlphaF(0.8)
    for legend in legends:
        legend.setBrush(fill)
        legend.setPen(theme.mix(dim, base, 0.5))
        legend.setLabelTextColor(text)
        for _sample, label in legend.items:
            label.setText(label.text)  # setAttr alone does not re-render the label
