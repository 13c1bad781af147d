"""The Experiments tab's figures, one colour per arm, each exportable as PNG and SVG.

- **Curves**: a metric of the epoch records (training loss by default) by epoch, one line
  per arm at the mean over its seeds, with a filled band of ± one standard deviation
  (`pyqtgraph.FillBetweenItem`; no band while only one seed has reached the epoch). The
  loss plots' "Log loss" switch applies to the losses; on a log axis an arm whose band
  reaches zero is drawn without it (a log axis has no place for its lower edge).
- **Gradient norm by depth**: each convolution and dense layer's gradient norm (geometric
  mean over the recorded steps and the seeds, log scale; normalisation layers left out)
  against its depth, one line per arm: where in each arm's net the gradient is small. Arms
  of different depths have different lengths.

The numbers come from core/experiments/curves.py, read from the run folders on disk, so a
figure is redrawn whenever a run finishes (an arm's curve appears with its first seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.experiments.curves import CURVE_METRICS, epoch_curve, gradient_by_depth
from resnet_studio.gui.training.loss_scale import log_scale_box

# Arm colours: distinguishable on light and dark backgrounds (Okabe-Ito).
ARM_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442",
              "#999999")
BAND_ALPHA = 50
METRIC_TITLES = {"train_loss": "Training loss", "val_loss": "Validation loss",
                 "train_accuracy": "Training accuracy", "val_accuracy": "Validation accuracy"}


def arm_color(index: int) -> str:
    return ARM_COLORS[index % len(ARM_COLORS)]


def export_plot(plot: pg.PlotWidget, path: str | Path, title: str = "") -> Path:
    """Writes `plot` to `path`: SVG for a .svg name, else a PNG of the widget's size.

    The SVG is the widget painted into a `QSvgGenerator` (vector paths and text), not
    pyqtgraph's SVGExporter: with PySide6 6.11 that exporter fails on every plot while
    rewriting the path coordinates Qt writes (pyqtgraph issue #3485; checked with
    pyqtgraph 0.14.0).
    """
    from pyqtgraph import exporters

    path = Path(path)
    if path.suffix.lower() == ".svg":
        from PySide6.QtCore import QRect
        from PySide6.QtGui import QPainter
        from PySide6.QtSvg import QSvgGenerator

        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(plot.size())
        generator.setViewBox(QRect(0, 0, plot.width(), plot.height()))
        generator.setTitle(title)
        # The widget's resolution: at QSvgGenerator's default 72 dpi, curves (painted under
        # the view's transform) and axes (not) come out at different scales.
        generator.setResolution(plot.logicalDpiX())
        painter = QPainter(generator)
        try:
            plot.render(painter)
        finally:
            painter.end()
    else:
        item = plot.getPlotItem()
        exporter = exporters.ImageExporter(item)
        # The width as shown (the height follows the figure's aspect); an int: some
        # pyqtgraph versions fail on a float size.
        exporter.parameters()["width"] = int(plot.width())
        exporter.export(str(path))
    return path


class _Figure(QWidget):
    """A titled plot with Export PNG / SVG buttons."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(-10, 10))
        self.title = title
        self.header = QHBoxLayout()
        self.header.addWidget(QLabel(f"<b>{title}</b>"))
        self.header.addStretch(1)
        self.png_button = QPushButton("PNG…")
        self.svg_button = QPushButton("SVG…")
        for b, ext in ((self.png_button, "png"), (self.svg_button, "svg")):
            b.setToolTip(f"Export this figure as {ext.upper()}")
            b.clicked.connect(lambda _=False, e=ext: self._export_clicked(e))
            self.header.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.header)
        layout.addWidget(self.plot, 1)

    def export(self, path: str | Path) -> Path:
        return export_plot(self.plot, path, self.title)

    def _export_clicked(self, ext: str) -> None:
        name = self.title.lower().replace(" ", "-") + f".{ext}"
        path, _ = QFileDialog.getSaveFileName(self, f"Export {self.title}", name,
                                              f"{ext.upper()} (*.{ext})")
        if path:
            self.export(path)

    def clear(self) -> None:
        self.plot.clear()
        legend = self.plot.getPlotItem().legend
        if legend is not None:
            legend.clear()


class CurvesFigure(_Figure):
    """Mean over seeds by epoch with a ± sd band, one colour per arm."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Curves", parent)
        self.metric = QComboBox()
        for key in CURVE_METRICS:
            self.metric.addItem(METRIC_TITLES[key], key)
        self.metric.currentIndexChanged.connect(lambda _i: self.redraw())
        self.header.insertWidget(1, self.metric)
        # The loss plots' shared switch (remembered for this view in the settings).
        self.log_box = log_scale_box(self, "experiments", lambda _on: self.redraw())
        self.header.insertWidget(2, self.log_box)
        self.plot.setLabel("bottom", "epoch")
        self.runs: dict[str, list[str]] = {}
        self.lines: dict[str, Any] = {}
        self.bands: dict[str, Any] = {}

    def set_runs(self, runs: dict[str, list[str]]) -> None:
        """Arm name -> its runs' folders (in arm order)."""
        self.runs = runs
        self.redraw()

    @property
    def log_scale(self) -> bool:
        """Whether the y axis is logarithmic: the Log loss switch, for a loss."""
        return self.log_box.isChecked() and self.metric.currentData().endswith("loss")

    def redraw(self) -> None:
        self.clear()
        self.lines, self.bands = {}, {}
        key = self.metric.currentData()
        log = self.log_scale
        self.log_box.setEnabled(key.endswith("loss"))
        self.plot.setLogMode(x=False, y=log)
        self.plot.setLabel("left", METRIC_TITLES[key])
        for i, (arm, dirs) in enumerate(self.runs.items()):
            curve = epoch_curve(dirs, key)
            if curve.x.size == 0 or (log and not (curve.mean > 0).all()):
                continue
            color = arm_color(i)
            line = self.plot.plot(curve.x, curve.mean, pen=pg.mkPen(color, width=2),
                                  symbol="o", symbolSize=4, symbolBrush=color, name=arm)
            self.lines[arm] = line
            low = curve.mean - curve.sd
            # On a log axis a band reaching zero or below has no lower edge: none is drawn.
            if (curve.n > 1).any() and not (log and (low <= 0).any()):
                # Items with an invisible pen (without a pen an item has no path, and the
                # band would be empty), on the axis's scale: they are not in the plot, so
                # the plot's log mode does not reach them.
                clear = pg.mkPen(0, 0, 0, 0)
                upper = pg.PlotDataItem(curve.x, curve.mean + curve.sd, pen=clear)
                lower = pg.PlotDataItem(curve.x, low, pen=clear)
                for item in (upper, lower):
                    item.setLogMode(False, log)
                band = pg.FillBetweenItem(upper, lower, brush=pg.mkBrush(
                    pg.mkColor(color).red(), pg.mkColor(color).green(),
                    pg.mkColor(color).blue(), BAND_ALPHA))
                self.plot.addItem(band)
                self.bands[arm] = band


class GradientDepthFigure(_Figure):
    """Gradient norm per convolution / dense layer against depth, log scale, one line per arm."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Gradient norm by depth", parent)
        self.plot.setLogMode(x=False, y=True)
        self.plot.setLabel("bottom", "conv / dense layer (input → output)")
        self.plot.setLabel("left", "gradient norm")
        # Decades as they are: an SI prefix on a log axis reads "10² (×0.001)".
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.runs: dict[str, list[str]] = {}
        self.profiles: dict[str, tuple[list[str], np.ndarray]] = {}

    def set_runs(self, runs: dict[str, list[str]]) -> None:
        self.runs = runs
        self.redraw()

    def redraw(self) -> None:
        self.clear()
        self.profiles = {}
        for i, (arm, dirs) in enumerate(self.runs.items()):
            names, norms = gradient_by_depth(dirs)
            ok = np.isfinite(norms) & (norms > 0)
            if not ok.any():
                continue
            self.profiles[arm] = (names, norms)
            x = np.arange(1, len(norms) + 1, dtype=np.float64)
            self.plot.plot(x[ok], norms[ok], pen=pg.mkPen(arm_color(i), width=2), name=arm)


class ExperimentFigures(QWidget):
    """The two figures side by side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curves = CurvesFigure()
        self.gradients = GradientDepthFigure()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.curves, 1)
        layout.addWidget(self.gradients, 1)

    def set_runs(self, runs: dict[str, list[str]]) -> None:
        self.curves.set_runs(runs)
        self.gradients.set_runs(runs)
