"""Quantization: the run as float32, dynamic, float16 and int8 TFLite, measured.

Each row is one export measured by the TFLite interpreter on the test split
(core/compress/views.py → quantize.py): file size (and gzipped), share of the float32
file, accuracy beside the Keras model's, latency of one example on one thread. The bars
show size, accuracy and latency side by side; rows appear as each export finishes.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.compress.views import QUANT_MODES, quantization_job
from resnet_studio.gui.compress.common import COLORS, JobRow, themed_plot
from resnet_studio.gui.jobs import Job

COLUMNS = ("Export", "Size", "gzip", "Of float32", "Accuracy (TFLite)", "Keras accuracy",
           "Latency median / p90")
BARS = (("size_kb", "size (kB)"), ("accuracy_pct", "test accuracy (%)"),
        ("latency_ms", "latency (ms)"))


def _kb(n: int) -> str:
    return f"{n / 1000:,.1f} kB"


class QuantizationView(QWidget):
    """Table and bars of the four TFLite exports of one run.

    Args:
        run_dir: The run to export (it is not modified; files go to a temporary folder).
        parent: Owner widget.
    """

    def __init__(self, run_dir: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_dir = run_dir
        self.rows: list[dict[str, Any]] = []
        layout = QVBoxLayout(self)
        intro = QLabel("The run exported to TFLite four ways and measured by the TFLite "
                       "interpreter on the test split (int8: full integer, calibrated on "
                       "200 training examples). Latency: one example, one thread.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        # Four rows: the table takes their height, the bars get the rest.
        self.table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        layout.addWidget(self.table)
        bars = QHBoxLayout()
        self.plots: dict[str, pg.PlotWidget] = {}
        for key, label in BARS:
            plot = themed_plot(self, "", label, legend=None)
            ticks = [[(i, name) for i, (name, _) in enumerate(QUANT_MODES)]]
            plot.getAxis("bottom").setTicks(ticks)
            plot.setMouseEnabled(False, False)
            self.plots[key] = plot
            bars.addWidget(plot)
        layout.addLayout(bars, 1)
        self.row = JobRow("Export and measure", self._make_job, self)
        self.row.partial.connect(self._on_partial)
        self.row.done.connect(self._on_done)
        layout.addLayout(self.row.layout)

    def _make_job(self, owner: Any) -> Job:
        self.rows = []
        self.redraw()
        return Job(quantization_job, self.run_dir, name="quantization", parent=owner)

    def start(self) -> None:
        self.row.start()

    @Slot(object)
    def _on_partial(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.redraw()

    @Slot(object)
    def _on_done(self, result: Any) -> None:
        if result is not None:
            self.rows = list(result)
        self.redraw()

    @property
    def measured(self) -> list[dict[str, Any]]:
        """The rows of the exports that worked (a failed mode has an `error` instead)."""
        return [r for r in self.rows if "error" not in r]

    def bar_values(self, key: str) -> list[float]:
        """The heights of one bar chart, in QUANT_MODES order of the measured rows."""
        if key == "size_kb":
            return [r["size_bytes"] / 1000 for r in self.measured]
        if key == "accuracy_pct":
            return [100 * r["accuracy"] for r in self.measured]
        return [r["latency_ms"] for r in self.measured]

    def redraw(self) -> None:
        self.table.clearSpans()
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            if "error" in r:
                cells: tuple[str, ...] = (r["mode"], "not possible: " + r["error"])
                self.table.setSpan(i, 1, 1, len(COLUMNS) - 1)
            else:
                cells = (r["mode"], _kb(r["size_bytes"]), _kb(r["compressed_size_bytes"]),
                         f"{r['size_bytes'] / r['float32_size_bytes']:.1%}",
                         f"{r['accuracy']:.2%}", f"{r['reference_accuracy']:.2%}",
                         f"{r['latency_ms']:.3f} / {r['latency_p90_ms']:.3f} ms")
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QTableWidgetItem(text))
        if len(self.measured) == len(self.rows):  # a spanned message would widen a column
            self.table.resizeColumnsToContents()
        order = {name: i for i, (name, _) in enumerate(QUANT_MODES)}
        xs = [order[r["mode"]] for r in self.measured]
        for key, plot in self.plots.items():
            plot.clear()
            if xs:
                plot.addItem(pg.BarGraphItem(x=xs, height=self.bar_values(key), width=0.6,
                                             brush=COLORS["run"]))
            plot.setXRange(-0.6, len(QUANT_MODES) - 0.4, padding=0)
        if self.measured:
            accs = self.bar_values("accuracy_pct")
            self.plots["accuracy_pct"].setYRange(max(0.0, min(accs) - 5), 100, padding=0)

    def shutdown(self) -> None:
        self.row.shutdown(self.row, self)
