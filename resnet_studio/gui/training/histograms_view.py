"""The Histograms view: per-layer weight and activation histograms of a run, by epoch.

Choose a layer; the left plot shows the histogram of its kernel, the right one that of its
outputs on the run's probe batch (core/training/histograms.py). The epoch slider picks the
epoch drawn; "All epochs" overlays every epoch, early ones pale and the chosen one bold, so
a drift or a collapse of a distribution shows at a glance.

Records come from the run folder (`core.runs.histograms.read_histograms`). A run that is
training (here or in another process) appends one record per epoch end: while the view is
visible it checks the file's size and time every 0.5 s and re-reads it when it changed, so
the plots follow the run live, epoch by epoch, with no event wiring.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QHideEvent, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.gui import theme
from resnet_studio.gui.training.plot_style import RUN_COLOR, VAL_COLOR

POLL_MS = 500  # a stat of one file: nothing


class HistogramsView(theme.FollowsPalette, QWidget):
    """Weight and activation histograms of one run.

    Signals:
        loaded(int): records were (re)read; the number of epochs.

    Attributes:
        layer_box: the layer chooser; epoch_slider: the epoch drawn; overlay: "All epochs".
        weights_plot, activations_plot: the two pyqtgraph PlotWidgets.
        records: the EpochHistograms shown.
    """

    loaded = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_dir: Path | None = None
        self.records: list[Any] = []
        self._signature: Any = None
        self.info = QLabel("Histograms are recorded at every epoch end of a run.", self)
        self.info.setWordWrap(True)
        self.layer_box = QComboBox(self)
        self.layer_box.setObjectName("histogramLayer")
        self.layer_box.setMinimumContentsLength(24)
        self.layer_box.setToolTip("The layer whose weights and activations are drawn")
        self.layer_box.currentIndexChanged.connect(self.redraw)
        self.epoch_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.epoch_slider.setObjectName("histogramEpoch")
        self.epoch_slider.setMinimum(0)
        self.epoch_slider.setPageStep(1)
        self.epoch_slider.valueChanged.connect(self.redraw)
        self.epoch_label = QLabel(self)
        self.overlay = QCheckBox("All epochs", self)
        self.overlay.setToolTip("Overlay every epoch (pale: early, bold: the chosen epoch)")
        self.overlay.toggled.connect(self.redraw)
        self.weights_plot = pg.PlotWidget()
        self.activations_plot = pg.PlotWidget()
        for plot in (self.weights_plot, self.activations_plot):
            plot.setMouseEnabled(x=True, y=False)
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setLabel("left", "count")
        self.weights_plot.setLabel("bottom", "weight value")
        self.activations_plot.setLabel("bottom", "output value")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Layer:", self))
        bar.addWidget(self.layer_box)
        bar.addSpacing(12)
        bar.addWidget(QLabel("Epoch:", self))
        bar.addWidget(self.epoch_slider, 1)
        bar.addWidget(self.epoch_label)
        bar.addWidget(self.overlay)
        plots = QHBoxLayout()
        plots.addWidget(self.weights_plot)
        plots.addWidget(self.activations_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.info)
        layout.addLayout(bar)
        layout.addLayout(plots, 1)
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self.poll)
        self._apply_palette()
        self._update_controls()

    # ------------------------------------------------------------------ API
    def set_run(self, run_dir: str | Path | None) -> None:
        """Shows the histograms of the run in `run_dir` (None: nothing)."""
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.records, self._signature = [], None
        self.layer_box.clear()
        self.reload(follow=True)

    @Slot()
    def poll(self) -> None:
        """Re-reads the records if the file changed (a run appending epochs)."""
        from resnet_studio.core.runs.histograms import histograms_signature

        if self.run_dir is not None and histograms_signature(self.run_dir) != self._signature:
            self.reload()

    def reload(self, follow: bool = False) -> None:
        """Reads the records again; the slider stays on the last epoch if it was there
        (`follow`: go to the last epoch)."""
        from resnet_studio.core.runs.histograms import histograms_signature, read_histograms

        if self.run_dir is None:
            self.records = []
        else:
            self._signature = histograms_signature(self.run_dir)
            self.records = read_histograms(self.run_dir)
        at_end = follow or self.epoch_slider.value() >= self.epoch_slider.maximum()
        layer = self.layer_box.currentText()
        names = [lh.layer for lh in self.records[-1].layers] if self.records else []
        if names != [self.layer_box.itemText(i) for i in range(self.layer_box.count())]:
            blocked = self.layer_box.blockSignals(True)
            self.layer_box.clear()
            self.layer_box.addItems(names)
            if layer in names:
                self.layer_box.setCurrentIndex(names.index(layer))
            self.layer_box.blockSignals(blocked)
        blocked = self.epoch_slider.blockSignals(True)
        self.epoch_slider.setMaximum(max(0, len(self.records) - 1))
        if at_end:
            self.epoch_slider.setValue(self.epoch_slider.maximum())
        self.epoch_slider.blockSignals(blocked)
        self._update_controls()
        self.redraw()
        self.loaded.emit(len(self.records))

    def select_layer(self, name: str) -> bool:
        index = self.layer_box.findText(name)
        if index >= 0:
            self.layer_box.setCurrentIndex(index)
        return index >= 0

    # ------------------------------------------------------------------ events
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.poll()
        self.poll_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self.poll_timer.stop()
        super().hideEvent(event)

    def _apply_palette(self) -> None:
        pal = self.palette()
        base, text = pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)
        dim = theme.dim_text(pal)
        for plot in (self.weights_plot, self.activations_plot):
            plot.setBackground(base)
            for name in ("left", "bottom"):
                plot.getAxis(name).setPen(dim)
                plot.getAxis(name).setTextPen(text)
        self._text = text
        self.redraw()

    # ------------------------------------------------------------------ drawing
    def _update_controls(self) -> None:
        n = len(self.records)
        for w in (self.layer_box, self.epoch_slider, self.overlay):
            w.setEnabled(n > 0)
        if self.run_dir is None:
            self.info.setText("Pick a run in the Runs tab (Predictions and Histograms), or "
                              "train one: its histograms appear here at every epoch end.")
        elif n == 0:
            self.info.setText(f"{self.run_dir.name}: no histograms yet (they are recorded "
                              "at every epoch end; runs from before they existed have none).")
        else:
            last = self.records[-1]
            self.info.setText(
                f"<b>{self.run_dir.name}</b>: {n} epoch{'s' * (n != 1)}. Left: the layer's "
                f"kernel values; right: its outputs on {last.probe} fixed validation "
                "examples (the probe batch). All epochs: early ones pale, the chosen one "
                "bold.")

    @Slot()
    def redraw(self) -> None:
        self.weights_plot.clear()
        self.activations_plot.clear()
        text = getattr(self, "_text", QColor("black")).name()
        layer = self.layer_box.currentText()
        if not self.records or not layer:
            self.epoch_label.setText("")
            self.weights_plot.setTitle("Weights", color=text)
            self.activations_plot.setTitle("Activations", color=text)
            return
        chosen = min(self.epoch_slider.value(), len(self.records) - 1)
        record = self.records[chosen]
        self.epoch_label.setText(f"{record.epoch} of {self.records[-1].epoch}")
        shown = range(len(self.records)) if self.overlay.isChecked() else [chosen]
        for i in shown:
            lh = self.records[i].layer(layer)
            if lh is None:
                continue
            bold = i == chosen
            t = 0.25 + 0.75 * (i + 1) / len(self.records)  # early epochs pale
            for plot, h, color in ((self.weights_plot, lh.weights, RUN_COLOR),
                                   (self.activations_plot, lh.activations, VAL_COLOR)):
                if h is None:
                    continue
                c = QColor(color)
                c.setAlphaF(1.0 if bold else t * 0.6)
                fill = QColor(color)
                fill.setAlphaF(0.25)
                plot.plot(h.edges, h.counts.astype(np.float64), stepMode="center",
                          pen=pg.mkPen(c, width=2 if bold else 1),
                          fillLevel=0 if bold else None, brush=fill if bold else None)
        lh = record.layer(layer)
        weight = lh.weight if lh is not None else "weights"
        self.weights_plot.setTitle(f"{layer} · {weight} · epoch {record.epoch}", color=text)
        act = lh.activations if lh is not None else None
        self.activations_plot.setTitle(
            f"{layer} · outputs on the probe batch" if act is not None
            else f"{layer} · outputs not recorded", color=text)
