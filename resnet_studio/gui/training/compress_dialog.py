"""Compress panel: what pruning and quantization do to a run, in three tabs.

- **Sparsity**: the run's sparsity/accuracy curve and the compressed size of its pruned
  models (float32 TFLite, gzipped), read from the run store (core/compress/curves.py: every
  completed pruned run whose run.json names this run as `parent`), so it shows whatever was
  pruned before, from the CLI or here. "Prune" runs `curves.prune_job` as a gui.jobs.Job,
  fine-tuning one new run per sparsity, and redraws when it is done.
- **Branches** (gui/compress/branch_view.py): accuracy as residual units are removed.
- **Quantization** (gui/compress/quant_view.py): float32 / dynamic / float16 / int8 TFLite.

For a run of a plain-twin comparison the partner's curves are drawn too (dashed); pruning
and quantization act on the run the dialog was opened for.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.compress.curves import curves_for, prune_job
from resnet_studio.core.runs import RunInfo, list_runs
from resnet_studio.gui.compress.branch_view import BranchRemovalView
from resnet_studio.gui.compress.common import COLORS, ERROR_COLOR, STYLES, role_label, themed_plot
from resnet_studio.gui.compress.quant_view import QuantizationView
from resnet_studio.gui.jobs import Job


def parse_sparsities(text: str) -> list[float]:
    """`0.5, 0.8` -> [0.5, 0.8]; ValueError naming the bad entry."""
    out = []
    for item in text.replace(" ", "").split(","):
        if not item:
            continue
        try:
            value = float(item.rstrip("%")) / (100.0 if item.endswith("%") else 1.0)
        except ValueError:
            raise ValueError(f"{item!r} is not a sparsity (fractions such as 0.5, 0.8)") \
                from None
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{item}: a sparsity is a fraction in [0, 1)")
        out.append(value)
    if not out:
        raise ValueError("give at least one sparsity, e.g. 0.5, 0.8, 0.9")
    return out


class CompressDialog(QDialog):
    """Sparsity/accuracy curve of a run (and its twin), and pruning it further.

    Args:
        run: The run to show (its comparison partner's curve is overlaid).
        parent: Owner widget.
    """

    def __init__(self, run: RunInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.job: Job | None = None
        self.setWindowTitle(f"Compress — {run.id}")
        self.resize(900, 620)
        outer = QVBoxLayout(self)
        self.tabs = QTabWidget()
        outer.addWidget(self.tabs)
        sparsity = QWidget()
        layout = QVBoxLayout(sparsity)
        self.tabs.addTab(sparsity, "Sparsity")
        plots = QHBoxLayout()
        self.plot = themed_plot(self, "sparsity (share of zero kernel weights)",
                                "test accuracy", legend="bottom-left")
        self.size_plot = themed_plot(self, "sparsity (share of zero kernel weights)",
                                     "float32 TFLite, gzipped (kB)")
        plots.addWidget(self.plot, 1)
        plots.addWidget(self.size_plot, 1)
        layout.addLayout(plots, 1)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        row = QHBoxLayout()
        row.addWidget(QLabel("Sparsities:"))
        self.sparsity_edit = QLineEdit("0.5, 0.8, 0.9")
        self.sparsity_edit.setToolTip("Fractions of the weights to remove, one pruned run each")
        row.addWidget(self.sparsity_edit, 1)
        self.structured_check = QCheckBox("Whole filters")
        row.addWidget(self.structured_check)
        row.addWidget(QLabel("Fine-tune epochs:"))
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 1000)
        self.epochs_spin.setValue(5)
        row.addWidget(self.epochs_spin)
        self.prune_button = QPushButton("Prune")
        self.prune_button.clicked.connect(self.start_pruning)
        row.addWidget(self.prune_button)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_pruning)
        row.addWidget(self.stop_button)
        layout.addLayout(row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.curves: dict[str, dict[str, Any]] = {}
        self.refresh()
        pair = {role: str(c["run_dir"]) for role, c in self.curves.items()}
        self.branches = BranchRemovalView(pair)
        self.tabs.addTab(self.branches, "Branches")
        self.quantization = QuantizationView(str(run.dir))
        self.tabs.addTab(self.quantization, "Quantization")

    # ------------------------------------------------------------------ curve
    def refresh(self) -> None:
        """Re-reads the run store and redraws every curve."""
        self.curves = curves_for(self.run, list_runs(self.run.dir.parent))
        self.plot.clear()
        self.size_plot.clear()
        lines = []
        for role, curve in self.curves.items():
            pen = pg.mkPen(COLORS[role], width=2, style=STYLES[role])
            xs, ys = self.size_data(role)
            if xs:
                self.size_plot.plot(xs, ys, pen=pen, symbol="o", symbolBrush=COLORS[role],
                                    name=role_label(role))
            xs, ys = self.curve_data(role, structured=True)
            if xs:  # whole filters: a dotted line of triangles beside the weights' curve
                self.plot.plot(xs, ys, symbol="t", symbolBrush=COLORS[role],
                               pen=pg.mkPen(COLORS[role], width=1, style=Qt.PenStyle.DotLine),
                               name=f"{role_label(role)}, filters")
            xs, ys = self.curve_data(role)
            if not xs:
                continue
            self.plot.plot(xs, ys, pen=pen, symbol="o", symbolBrush=COLORS[role],
                           name=role_label(role))
            dense = curve["dense"]
            lines.append(f"{role_label(role)}: dense "
                         f"{'-' if dense is None else f'{dense:.2%}'}, "
                         f"{len(curve['points'])} pruned run(s)")
        self.summary.setText("; ".join(lines) if lines else
                             "No test accuracy yet: evaluate or finish the run first.")

    def curve_data(self, role: str, structured: bool = False
                   ) -> tuple[list[float], list[float]]:
        """(sparsities, accuracies) drawn for `role`: the dense point at 0, then the pruned
        runs of single weights (`structured`: of whole filters, the other line); branch
        removals are the Branches tab's."""
        curve = self.curves.get(role) or {"dense": None, "points": []}
        points = [p for p in curve["points"]
                  if not p["blocks"] and p["structured"] == structured]
        if structured and not points:
            return [], []
        xs = ([0.0] if curve["dense"] is not None else []) + [p["sparsity"] for p in points]
        ys = ([curve["dense"]] if curve["dense"] is not None else []) + \
            [p["accuracy"] for p in points]
        return xs, ys

    def size_data(self, role: str) -> tuple[list[float], list[float]]:
        """(sparsities, gzipped float32 TFLite size in kB) for `role`: the dense model's
        (as its pruned children recorded it) at 0, then the runs pruned weight by weight that
        recorded one (one kind of pruning per line: filters and branches are left out)."""
        curve = self.curves.get(role) or {"points": []}
        dense = (curve.get("dense_sizes") or {}).get("compressed_size_bytes")
        pts = [(p["sparsity"], p["compressed_size_bytes"]) for p in curve["points"]
               if not p["blocks"] and not p["structured"] and p.get("compressed_size_bytes")]
        pts = ([(0.0, dense)] if dense else []) + pts
        return [x for x, _ in pts], [b / 1000 for _, b in pts]

    # ------------------------------------------------------------------ pruning job
    @Slot()
    def start_pruning(self) -> None:
        try:
            sparsities = parse_sparsities(self.sparsity_edit.text())
        except ValueError as e:
            self.status.setText(f"<span style='color:{ERROR_COLOR}'>{e}</span>")
            return
        self.job = Job(prune_job, str(self.run.dir), sparsities,
                       self.structured_check.isChecked(), self.epochs_spin.value(),
                       name="prune", parent=self)
        self.job.progress.connect(self._on_progress)
        self.job.partial.connect(self._on_partial)
        self.job.failed.connect(self._on_failed)
        self.job.finished.connect(self._on_finished)
        self.prune_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText("Starting…")
        self.job.start()

    @Slot()
    def stop_pruning(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("Stopping after the current batch…")

    @Slot(float, str)
    def _on_progress(self, fraction: float, text: str) -> None:
        self.status.setText(text)

    @Slot(object)
    def _on_partial(self, outcome: dict[str, Any]) -> None:
        self.refresh()

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.status.setText(f"<span style='color:{ERROR_COLOR}'>{message}</span>")

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        self.prune_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if result is not None:
            self.status.setText(f"{len(result)} pruned run(s) added.")
        self.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        # A QThread destroyed while running aborts the process: stop the fine-tuning (its
        # run is kept as stopped) and wait for it.
        if self.job is not None and self.job.running:
            self.job.cancel_and_deliver(self)
        self.branches.shutdown()
        self.quantization.shutdown()
        super().closeEvent(event)
