"""The results panel of the runs view: one run's test metrics, confusion matrix, error and
folder, and the status colours and icons the runs table shares."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.runs import RunInfo, can_resume, read_test_metrics
from resnet_studio.core.runs.layout import FINAL_JSON
from resnet_studio.core.runs.summary import format_best, format_duration, run_seconds
from resnet_studio.gui import icons, theme

MAX_MATRIX_CLASSES = 100  # beyond this a heat-table is unreadable (and slow to fill)

# Status colours from the theme: green and red are its OK/error colours; amber and blue are
# the Heads and Convolutional family hues (theme.py has no status palette of its own).
STATUS_COLORS = {
    "completed": theme.OK_COLOR,
    "failed": theme.ERROR_COLOR,
    "stopped": theme.FAMILY_COLORS["Heads"],
    "interrupted": theme.FAMILY_COLORS["Heads"],
    "running": theme.FAMILY_COLORS["Convolutional"],
}
STATUS_ICONS = {"completed": "ok", "running": "busy"}  # others: "warning"

# Test metrics in the results panel: key in the run's test metrics, label, format.
TEST_METRICS = (
    ("loss", "Test loss", "{:.4f}"),
    ("accuracy", "Test accuracy", "{:.4f}"),
    ("precision_macro", "Macro precision", "{:.4f}"),
    ("recall_macro", "Macro recall", "{:.4f}"),
    ("f1_macro", "Macro F1", "{:.4f}"),
    ("perplexity", "Perplexity", "{:.3f}"),
    ("examples", "Test examples", "{:,}"),
)


def status_color(status: str, palette: QPalette | None = None) -> QColor:
    return theme.accent(STATUS_COLORS.get(status, theme.FAMILY_COLORS["Layers"]), palette)


def status_icon(status: str) -> QIcon:
    return icons.icon(STATUS_ICONS.get(status, "warning"), status_color(status))


class RunResults(QWidget):
    """Results of one run: test metrics, confusion matrix, error, folder.

    Attributes:
        title, status_label, error_label, note_label, path_label: labels.
        metric_values: test-metric key (`accuracy`, `f1_macro`, …) -> value label; rows of
            metrics the run does not have are hidden.
        confusion_table: the confusion matrix heat-table (rows true, columns predicted).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: RunInfo | None = None
        self.title = QLabel(self)
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("runError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note_label = QLabel(self)
        self.note_label.setWordWrap(True)
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        self.metric_names: dict[str, QLabel] = {}
        self.metric_values: dict[str, QLabel] = {}
        for i, (key, label, _fmt) in enumerate(TEST_METRICS):
            name = QLabel(label, self)
            value = QLabel("—", self)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(name, i, 0)
            grid.addWidget(value, i, 1)
            self.metric_names[key] = name
            self.metric_values[key] = value
        grid.setRowStretch(len(TEST_METRICS), 1)
        self.matrix_label = QLabel("Confusion matrix (rows: true class, columns: predicted; "
                                   "colour: share of the true class)", self)
        self.matrix_label.setWordWrap(True)
        self.confusion_table = QTableWidget(self)
        self.confusion_table.setObjectName("confusionMatrix")
        self.confusion_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.confusion_table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.confusion_table.setFont(theme.monospace_font(self.font().pointSizeF() * 0.9))
        self.confusion_table.setMinimumHeight(120)
        self.path_label = QLabel(self)
        self.path_label.setWordWrap(True)
        self.path_label.setTextFormat(Qt.TextFormat.PlainText)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.placeholder = QLabel("Select a run to see its results.", self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

        metrics_box = QWidget(self)
        metrics_box.setMinimumWidth(280)  # room for "Completed · 12 epoch(s) · …" on a line
        metrics = QVBoxLayout(metrics_box)
        metrics.setContentsMargins(0, 0, 0, 0)
        metrics.addWidget(self.title)
        metrics.addWidget(self.status_label)
        metrics.addLayout(grid)
        metrics.addWidget(self.note_label)
        metrics.addStretch(1)
        matrix = QVBoxLayout()
        matrix.addWidget(self.matrix_label)
        matrix.addWidget(self.confusion_table, 1)
        top = QHBoxLayout()
        top.addWidget(metrics_box, 0)
        top.addLayout(matrix, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.placeholder)
        layout.addLayout(top, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.path_label)
        self._details = [self.title, self.status_label, self.note_label, self.matrix_label,
                         self.confusion_table, self.path_label, self.error_label,
                         *self.metric_names.values(), *self.metric_values.values()]
        self.show_run(None)

    def show_run(self, run: RunInfo | None) -> None:
        self.run = run
        self.placeholder.setVisible(run is None)
        if run is None:
            for w in self._details:
                w.hide()
            return
        pal = self.palette()
        self.title.setText(run.id)
        self.title.show()
        color = status_color(run.status, pal)
        epochs = run.meta.get("epochs_completed", 0)
        best = format_best(run.meta.get("best_val_metric"))
        self.status_label.setText(f"{run.status.capitalize()} · {epochs} epoch(s) · "
                                  f"{format_duration(run_seconds(run))}"
                                  + (f" · best val {best}" if best != "—" else ""))
        self.status_label.setStyleSheet(f"color: {color.name()};")
        self.status_label.show()
        test = read_test_metrics(run)
        for key, _label, fmt in TEST_METRICS:
            value = test.get(key)
            shown = isinstance(value, (int, float)) and not isinstance(value, bool)
            self.metric_names[key].setVisible(shown)
            self.metric_values[key].setVisible(shown)
            self.metric_values[key].setText(fmt.format(value) if shown else "—")
        self.note_label.setVisible(not test)
        if not test:
            self.note_label.setText(
                "No test metrics yet: the run is still training." if run.status == "running"
                else "No test metrics: the run ended before its test evaluation."
                + (" Resume it to finish training." if can_resume(run) else ""))
            self.note_label.setStyleSheet(f"color: {theme.dim_text(pal).name()};")
        self._show_matrix(test.get("confusion_matrix"), run)
        error = run.meta.get("error")
        self.error_label.setVisible(bool(error))
        self.error_label.setText(f"Error: {error}" if error else "")
        self.error_label.setStyleSheet(f"color: {theme.error_color(pal).name()};")
        self.path_label.setText(f"Folder: {run.dir}")
        self.path_label.show()

    def changeEvent(self, event: QEvent) -> None:
        # Colours are computed from the palette when shown: redo them for light/dark.
        if event.type() == QEvent.Type.PaletteChange and self.run is not None:
            self.show_run(self.run)
        super().changeEvent(event)

    def matrix_values(self) -> list[list[int]]:
        """The numbers shown in the heat-table (tests, copy)."""
        t = self.confusion_table
        return [[int(t.item(i, j).text()) for j in range(t.columnCount())]
                for i in range(t.rowCount())]

    def _show_matrix(self, matrix: Any, run: RunInfo) -> None:
        t = self.confusion_table
        t.clear()
        ok = (isinstance(matrix, list) and matrix and all(isinstance(r, list) for r in matrix)
              and all(len(r) == len(matrix) for r in matrix))
        if not ok:
            t.setRowCount(0)
            t.setColumnCount(0)
            self.matrix_label.hide()
            t.hide()
            return
        n = len(matrix)
        self.matrix_label.show()
        if n > MAX_MATRIX_CLASSES:
            self.matrix_label.setText(f"Confusion matrix: {n} classes, too many to show "
                                      f"(it is in the run folder's {FINAL_JSON}).")
            t.setRowCount(0)
            t.setColumnCount(0)
            t.hide()
            return
        self.matrix_label.setText("Confusion matrix (rows: true class, columns: predicted; "
                                  "colour: share of the true class)")
        binding = run.meta.get("binding") if isinstance(run.meta.get("binding"), dict) else {}
        names = binding.get("class_names")
        labels = ([str(x) for x in names] if isinstance(names, list) and len(names) == n
                  else [str(i) for i in range(n)])
        t.setRowCount(n)
        t.setColumnCount(n)
        t.setHorizontalHeaderLabels(labels)
        t.setVerticalHeaderLabels(labels)
        pal = self.palette()
        base = pal.color(QPalette.ColorRole.Base)
        text = pal.color(QPalette.ColorRole.Text)
        dim = theme.dim_text(pal)
        good, bad = QColor(theme.OK_COLOR), QColor(theme.ERROR_COLOR)
        for i, row in enumerate(matrix):
            counts = [int(v) if isinstance(v, (int, float)) and math.isfinite(v) else 0
                      for v in row]
            total = sum(counts)
            for j, count in enumerate(counts):
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = count / total if total else 0.0
                if count:
                    bg = theme.mix(base, good if i == j else bad, 0.15 + 0.7 * share)
                    item.setBackground(bg)
                    item.setForeground(QColor("#FFFFFF") if bg.lightnessF() < 0.5 else text)
                else:
                    item.setForeground(dim)
                item.setToolTip(f"true {labels[i]}, predicted {labels[j]}: {count:,}"
                                + (f" ({100 * share:.1f} % of class {labels[i]})"
                                   if total else ""))
                t.setItem(i, j, item)
        mode = (QHeaderView.ResizeMode.ResizeToContents if n <= 30
                else QHeaderView.ResizeMode.Fixed)
        for h in (t.horizontalHeader(), t.verticalHeader()):
            h.setMinimumSectionSize(24)
            h.setSectionResizeMode(mode)
        t.show()
