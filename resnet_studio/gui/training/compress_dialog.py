"""Compress panel: a run's sparsity/accuracy curve, with its plain twin's overlaid.

The curve is read from the run store (core/compress/curves.py: every completed pruned run
whose run.json names this run as `parent`), so it shows whatever was pruned before, from the
CLI or here. "Prune" runs `curves.prune_job` as a gui.jobs.Job (one QThread), fine-tuning one
new run per sparsity, and redraws the curve when it is done. For a run of a plain-twin
comparison the partner's curve is drawn too (dashed); pruning acts on the run shown first.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QCloseEvent, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.compress.curves import curves_for, prune_job
from resnet_studio.core.runs import RunInfo, list_runs
from resnet_studio.gui.jobs import Job

STYLES = {"run": Qt.PenStyle.SolidLine, "residual": Qt.PenStyle.SolidLine,
          "plain": Qt.PenStyle.DashLine}
COLORS = {"run": "#1f77b4", "residual": "#1f77b4", "plain": "#d62728"}


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
        self.resize(640, 480)
        layout = QVBoxLayout(self)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "sparsity (share of zero kernel weights)")
        self.plot.setLabel("left", "test accuracy")
        self.plot.addLegend()
        pal = self.palette()  # the app's light or dark theme, like the training plots
        self.plot.setBackground(pal.color(QPalette.ColorRole.Base))
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            axis.enableAutoSIPrefix(False)  # accuracies and sparsities, not "x0.001"
            axis.setTextPen(pal.color(QPalette.ColorRole.Text))
            axis.setPen(pal.color(QPalette.ColorRole.Text))
        layout.addWidget(self.plot, 1)
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

    # ------------------------------------------------------------------ curve
    def refresh(self) -> None:
        """Re-reads the run store and redraws every curve."""
        self.curves = curves_for(self.run, list_runs(self.run.dir.parent))
        self.plot.clear()
        lines = []
        for role, curve in self.curves.items():
            xs, ys = self.curve_data(role)
            if not xs:
                continue
            pen = pg.mkPen(COLORS[role], width=2, style=STYLES[role])
            self.plot.plot(xs, ys, pen=pen, symbol="o", symbolBrush=COLORS[role],
                           name=role if role != "run" else "this run")
            dense = curve["dense"]
            lines.append(f"{role if role != 'run' else 'this run'}: dense "
                         f"{'-' if dense is None else f'{dense:.2%}'}, "
                         f"{len(curve['points'])} pruned run(s)")
        self.summary.setText("; ".join(lines) if lines else
                             "No test accuracy yet: evaluate or finish the run first.")

    def curve_data(self, role: str) -> tuple[list[float], list[float]]:
        """(sparsities, accuracies) drawn for `role`: the dense point at 0, then the pruned
        runs (unstructured and filter pruning alike; branch removals are left out)."""
        curve = self.curves.get(role) or {"dense": None, "points": []}
        points = [p for p in curve["points"] if not p["blocks"]]
        xs = ([0.0] if curve["dense"] is not None else []) + [p["sparsity"] for p in points]
        ys = ([curve["dense"]] if curve["dense"] is not None else []) + \
            [p["accuracy"] for p in points]
        return xs, ys

    # ------------------------------------------------------------------ pruning job
    @Slot()
    def start_pruning(self) -> None:
        try:
            sparsities = parse_sparsities(self.sparsity_edit.text())
        except ValueError as e:
            self.status.setText(f"<span style='color:#c62828'>{e}</span>")
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
        self.status.setText(f"<span style='color:#c62828'>{message}</span>")

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
        super().closeEvent(event)
