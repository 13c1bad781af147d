"""The runs table's model: one row per run, with its name (editable), status, what it
trained and with which settings, and how it went; sorted by a proxy on typed keys.

The columns compare runs at a glance: the main hyperparameters (optimizer, learning rate,
weight decay, schedule, batch size, epochs) beside the dataset, the parameter count and the test accuracy
(`core.runs.summary.hyperparameters`). The name is edited in place (F2, or a click on a
selected name); the model only asks for the rename (`rename_requested`): the view stores it
through `core.runs.rename_run` and reports a refusal.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QWidget

from resnet_studio.core.runs import RunInfo
from resnet_studio.core.runs.summary import (
    format_best,
    format_duration,
    format_learning_rate,
    format_started,
    hyperparameters,
    run_seconds,
)
from resnet_studio.gui.training.run_results import status_color, status_icon

STATUS_ORDER = ("running", "completed", "stopped", "interrupted", "failed")
STATUS_HELP = {
    "completed": "Trained all epochs and evaluated on the test split.",
    "running": "Training now (in this or another process).",
    "stopped": "Stopped by the user; resume continues from the last checkpoint.",
    "interrupted": "The process ended without finishing (killed, crashed or the machine "
                   "restarted); resume continues from the last checkpoint.",
    "failed": "Training failed; the error is shown below the table.",
}

COLUMNS = ("Name", "Status", "Preset", "Dataset", "Optimizer", "LR", "WD", "Schedule", "Batch",
           "Epochs", "Params", "Best val", "Test acc", "Duration", "Started", "Folder")
(COL_NAME, COL_STATUS, COL_PRESET, COL_DATASET, COL_OPTIMIZER, COL_LR, COL_WD, COL_SCHEDULE,
 COL_BATCH, COL_EPOCHS, COL_PARAMS, COL_BEST, COL_TEST, COL_DURATION, COL_STARTED,
 COL_RUN) = range(len(COLUMNS))
NUMERIC_COLUMNS = (COL_LR, COL_WD, COL_BATCH, COL_EPOCHS, COL_PARAMS, COL_BEST, COL_TEST,
                   COL_DURATION)
HEADER_TIPS = {
    COL_NAME: "The run's name (F2 or a click on a selected name renames it; empty: the "
              "default, preset · dataset · short id)",
    COL_OPTIMIZER: "Optimizer", COL_LR: "Learning rate (the peak of its schedule)",
    COL_WD: "Weight decay λ (0: off)", COL_SCHEDULE: "Learning-rate schedule",
    COL_BATCH: "Batch size", COL_EPOCHS: "Epochs completed / planned",
    COL_BEST: "Best validation epoch (lowest validation loss)",
    COL_TEST: "Accuracy on the test split, after the last epoch",
    COL_PARAMS: "Trainable and non-trainable parameters",
    COL_DURATION: "Training time (h:mm:ss)", COL_RUN: "The run's folder in the runs folder",
}
RUN_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
_NO_PARENT = QModelIndex()  # a table has no parent index


def run_key(path: str | os.PathLike[str]) -> str:
    """Comparable form of a run folder path."""
    return os.path.normcase(os.path.abspath(os.fspath(path)))


@dataclass
class _Row:
    run: RunInfo
    texts: tuple[str, ...]
    keys: tuple[Any, ...]


def _or_dash(value: Any, fmt: str = "{}") -> str:
    return "—" if value is None else fmt.format(value)


def _row(run: RunInfo) -> _Row:
    m = run.meta
    h = hyperparameters(run)
    best = m.get("best_val_metric")
    seconds = run_seconds(run)
    best_key = -math.inf
    if isinstance(best, dict):
        if isinstance(best.get("accuracy"), (int, float)):
            best_key = float(best["accuracy"])
        elif isinstance(best.get("loss"), (int, float)):
            best_key = -float(best["loss"])
    done = m.get("epochs_completed") if isinstance(m.get("epochs_completed"), int) else 0
    epochs = f"{done}/{h['epochs']}" if h["epochs"] is not None else str(done)
    acc, params = h["test_accuracy"], h["params"]
    texts = (run.name, run.status, str(m.get("preset") or "—"), h["dataset"] or "—",
             h["optimizer"] or "—", format_learning_rate(h["learning_rate"]),
             format_learning_rate(h["weight_decay"]), h["schedule"] or "—",
             _or_dash(h["batch_size"]), epochs, _or_dash(params, "{:,}"), format_best(best),
             _or_dash(acc, "{:.3f}"), format_duration(seconds),
             format_started(m.get("started")), run.id)
    status_rank = STATUS_ORDER.index(run.status) if run.status in STATUS_ORDER else 99

    def num(value: Any) -> float:
        return -math.inf if value is None else float(value)

    keys = (run.name.lower(), status_rank, texts[COL_PRESET].lower(),
            texts[COL_DATASET].lower(), texts[COL_OPTIMIZER].lower(),
            num(h["learning_rate"]), num(h["weight_decay"]), texts[COL_SCHEDULE].lower(),
            num(h["batch_size"]), (done, num(h["epochs"])),
            num(params), best_key, num(acc), -1.0 if seconds is None else seconds,
            str(m.get("started") or ""), run.id.lower())
    return _Row(run, texts, keys)


class RunsModel(QAbstractTableModel):
    """The runs, one per row, in store order (newest first); a proxy sorts them.

    Signals:
        rename_requested(object, str): RunInfo and the name typed for it.
    """

    rename_requested = Signal(object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []

    def runs(self) -> list[RunInfo]:
        return [r.run for r in self._rows]

    def set_runs(self, runs: list[RunInfo]) -> None:
        """Updates rows in place when the same folders are listed (selection and scroll
        survive a poll), else resets."""
        old = [r.run for r in self._rows]
        if len(old) == len(runs) and all(a is b for a, b in zip(old, runs, strict=True)):
            return
        if [r.dir for r in old] == [r.dir for r in runs]:
            for i, run in enumerate(runs):
                if run is not old[i]:
                    self._rows[i] = _row(run)
                    self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows = [_row(r) for r in runs]
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _NO_PARENT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(section)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() == COL_NAME and \
                self._rows[index.row()].run.status != "running":  # its writer owns run.json
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or \
                index.column() != COL_NAME:
            return False
        row = self._rows[index.row()]
        if str(value) != row.run.name:
            self.rename_requested.emit(row.run, str(value))
        return False  # the row changes when the store is read again, not before

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = self._rows[index.row()], index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return row.texts[col]
        if role == SORT_ROLE:
            return row.keys[col]
        if role == RUN_ROLE:
            return row.run
        if role == Qt.ItemDataRole.TextAlignmentRole and col in NUMERIC_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if col == COL_STATUS:
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(status_color(row.run.status))
            if role == Qt.ItemDataRole.DecorationRole:
                return status_icon(row.run.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row.run, col)
        return None

    @staticmethod
    def _tooltip(run: RunInfo, col: int) -> str:
        if col == COL_STATUS:
            text = STATUS_HELP.get(run.status, run.status)
            error = run.meta.get("error")
            return f"{text}\n\n{error}" if run.status == "failed" and error else text
        if col == COL_PARAMS:
            return "Trainable and non-trainable parameters"
        epochs = run.meta.get("epochs_completed", 0)
        total = (run.meta.get("config") or {}).get("epochs") if isinstance(
            run.meta.get("config"), dict) else None
        of = f" of {total}" if total else ""
        return f"{run.name}\n{run.dir}\n{epochs}{of} epochs completed"


class SortProxy(QSortFilterProxyModel):
    """Sorts on SORT_ROLE keys (numbers stay numbers: 9 sorts before 10)."""

    def lessThan(self, left: QModelIndex | QPersistentModelIndex,
                 right: QModelIndex | QPersistentModelIndex) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)
