"""The runs view: every run in the run store, its results, and what can be done with it.

A sortable table (one row per run folder, several rows can be selected to overlay their
curves) over a results panel for the current run: test metrics, the confusion matrix as a
heat-table, the error of a failed run and the folder. Actions: open the curves, resume a
stopped or interrupted run from its checkpoint, export, delete, show the folder.

The store is the file system, and other processes (the CLI, a second window) write to it, so
the view polls: a slow timer (while the view is visible) stats every run.json and re-reads
only those whose size or mtime changed, plus the runs marked `running` (their process may
have died without touching the file, which `read_run` reports as `interrupted`). The owner
calls `refresh()` after a run of its own finishes. Unreadable folders are skipped
(`list_runs`, `read_run`); nothing here lets a broken folder raise in the GUI.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QHideEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.runs import (
    RunInfo,
    RunIsRunning,
    RunScanner,
    can_resume,
    current_state,
    delete_run,
    has_checkpoint,
    is_compared,
)
from resnet_studio.core.runs.summary import (
    format_best,
    format_duration,
    format_started,
    run_seconds,
)
from resnet_studio.gui import icons, theme
from resnet_studio.gui.training.run_results import RunResults, status_color, status_icon

POLL_MS = 3000  # slow enough to cost nothing, quick enough that a CLI run shows up soon
EMPTY_TEXT = "No runs yet — train a model and it appears here"
MAX_NAMED = 10  # runs named in the delete confirmation

STATUS_ORDER = ("running", "completed", "stopped", "interrupted", "failed")
STATUS_HELP = {
    "completed": "Trained all epochs and evaluated on the test split.",
    "running": "Training now (in this or another process).",
    "stopped": "Stopped by the user; resume continues from the last checkpoint.",
    "interrupted": "The process ended without finishing (killed, crashed or the machine "
                   "restarted); resume continues from the last checkpoint.",
    "failed": "Training failed; the error is shown below the table.",
}

COLUMNS = ("Run", "Preset", "Dataset", "Status", "Best val", "Test acc", "Params", "Duration",
           "Started")
(COL_RUN, COL_PRESET, COL_DATASET, COL_STATUS, COL_BEST, COL_TEST, COL_PARAMS, COL_DURATION,
 COL_STARTED) = range(len(COLUMNS))
NUMERIC_COLUMNS = (COL_BEST, COL_TEST, COL_PARAMS, COL_DURATION)
RUN_ROLE = Qt.ItemDataRole.UserRole
_NO_PARENT = QModelIndex()  # a table has no parent index
SORT_ROLE = Qt.ItemDataRole.UserRole + 1




def _key(path: str | os.PathLike[str]) -> str:
    """Comparable form of a run folder path."""
    return os.path.normcase(os.path.abspath(os.fspath(path)))


# --------------------------------------------------------------------------- table model
@dataclass
class _Row:
    run: RunInfo
    texts: tuple[str, ...]
    keys: tuple[Any, ...]


def _row(run: RunInfo) -> _Row:
    m = run.meta
    best = m.get("best_val_metric")
    test = m.get("test") if isinstance(m.get("test"), dict) else {}
    acc = test.get("accuracy") if isinstance(test.get("accuracy"), (int, float)) else None
    params = m.get("params") if isinstance(m.get("params"), int) else None
    seconds = run_seconds(run)
    best_key = -math.inf
    if isinstance(best, dict):
        if isinstance(best.get("accuracy"), (int, float)):
            best_key = float(best["accuracy"])
        elif isinstance(best.get("loss"), (int, float)):
            best_key = -float(best["loss"])
    texts = (run.id, str(m.get("preset") or "—"), str(m.get("dataset") or "—"), run.status,
             format_best(best), f"{acc:.3f}" if acc is not None else "—",
             f"{params:,}" if params is not None else "—", format_duration(seconds),
             format_started(m.get("started")))
    status_rank = STATUS_ORDER.index(run.status) if run.status in STATUS_ORDER else 99
    keys = (run.id.lower(), texts[1].lower(), texts[2].lower(), status_rank, best_key,
            acc if acc is not None else -math.inf, params if params is not None else -1,
            seconds if seconds is not None else -1.0, str(m.get("started") or ""))
    return _Row(run, texts, keys)


class RunsModel(QAbstractTableModel):
    """The runs, one per row, in store order (newest first); a proxy sorts them."""

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
            return {COL_BEST: "Best validation epoch (lowest validation loss)",
                    COL_TEST: "Accuracy on the test split, after the last epoch",
                    COL_DURATION: "Training time (h:mm:ss)"}.get(section)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
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
        return f"{run.dir}\n{epochs}{of} epochs completed"


class _SortProxy(QSortFilterProxyModel):
    """Sorts on SORT_ROLE keys (numbers stay numbers: 9 sorts before 10)."""

    def lessThan(self, left: QModelIndex | QPersistentModelIndex,
                 right: QModelIndex | QPersistentModelIndex) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)


# --------------------------------------------------------------------------- the view
class RunsView(theme.FollowsPalette, QWidget):
    """The runs found in the run store.

    Args:
        root: Runs root; None follows `default_runs_root()`, read at every refresh (the
            environment or the settings may change it).

    Signals:
        selection_changed(list): the selected RunInfos (table order), to overlay curves.
            Emitted when the user changes the selection, by `select_runs`, and by a refresh
            that removed selected runs; not by polls that only updated their numbers.
        resume_requested(object): RunInfo of a stopped or interrupted run with a checkpoint.
        export_requested(object): RunInfo (the owner opens an ExportDialog).
        compress_requested(object): RunInfo (the owner opens a CompressDialog).
        open_requested(object): RunInfo to show in the training plots (double-click, Open).
        compare_requested(object): RunInfo of either run of a plain-twin comparison, to show
            the pair in the Compare tab (Open Comparison).
        geometry_requested(object): RunInfo of a run with a checkpoint, to study it (and its
            plain-twin partner, if any) in the Geometry tab (Study Geometry…).

    Attributes:
        table: the QTableView (model `model`, sorted through `proxy`).
        results: the RunResults panel of the current run.
        empty_label: the empty-state text.
        poll_timer: re-reads changed run.json files while the view is visible.
        open_action, compare_action, resume_action, export_action, delete_action,
        refresh_action, reveal_action: the actions of the buttons and the context menu.
    """

    selection_changed = Signal(list)
    resume_requested = Signal(object)
    export_requested = Signal(object)
    compress_requested = Signal(object)
    open_requested = Signal(object)
    compare_requested = Signal(object)
    insight_requested = Signal(object)  # RunInfo: its predictions and histograms
    geometry_requested = Signal(object)

    def __init__(self, root: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scanner = RunScanner(root)
        self._updating = False
        self._icon_actions: list[tuple[QAction, str]] = []

        self.model = RunsModel(self)
        self.proxy = _SortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setDynamicSortFilter(True)
        self.table = QTableView(self)
        self.table.setObjectName("runsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_STARTED, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        self.table.customContextMenuRequested.connect(self._on_context_menu)
        self.table.doubleClicked.connect(self._on_double_clicked)
        sel = self.table.selectionModel()
        sel.selectionChanged.connect(self._on_selection_changed)
        sel.currentChanged.connect(self._on_current_changed)

        self.empty_label = QLabel(EMPTY_TEXT, self)
        self.empty_label.setObjectName("runsEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.root_label = QLabel(self)
        self.root_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.root_label.setWordWrap(True)
        self.root_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        empty = QWidget(self)
        empty_layout = QVBoxLayout(empty)
        empty_layout.addStretch(1)
        empty_layout.addWidget(self.empty_label)
        empty_layout.addWidget(self.root_label)
        empty_layout.addStretch(1)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(empty)

        self.results = RunResults(self)
        scroll = QScrollArea(self)
        scroll.setWidget(self.results)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.results_scroll = scroll
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(scroll)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([420, 340])  # proportions: the results need room too

        self.open_action = self._action("Open", "open", self._open,
                                        "Show the run's curves in the training plots")
        self.compare_action = self._action("Open Comparison", "shortcut", self._compare,
                                           "Show this run and its plain-twin partner side by "
                                           "side in the Compare tab")
        self.insight_action = self._action(
            "Predictions && Histograms", "search", self._insight, "Show the run's test "
            "predictions (misclassified first) and its per-layer weight and activation "
            "histograms in the Insight tab")
        self.resume_action = self._action("Resume", "train", self._resume,
                                          "Continue a stopped or interrupted run from its "
                                          "last checkpoint")
        self.export_action = self._action("Export…", "save", self._export,
                                          "Export the run's model (SavedModel, .keras, TFLite, "
                                          "Python)")
        self.compress_action = self._action("Compress…", None, self._compress,
                                            "Prune the run's model and see its sparsity/"
                                            "accuracy curve (with its plain twin's)")
        self.geometry_action = self._action(
            "Study Geometry…", None, lambda: self._emit_single(self.geometry_requested),
            "Lesion study and loss landscape of the run (and its plain twin) in the "
            "Geometry tab")
        self.delete_action = self._action("Delete…", "delete", self._delete,
                                          "Delete the selected run folders from disk")
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.refresh_action = self._action("Refresh", None, self.refresh,
                                           "Read the run store again")
        # No F5 (QKeySequence.Refresh on Linux): the main window trains with it.
        self.reveal_action = self._action("Show in File Manager", "open", self._reveal,
                                          "Open the run folder in the file manager")
        self.addAction(self.delete_action)
        bar = QHBoxLayout()
        bar.setSpacing(4)
        self.buttons: dict[str, QToolButton] = {}
        for key, action in (("open", self.open_action), ("insight", self.insight_action),
                            ("compare", self.compare_action),
                            ("resume", self.resume_action),
                            ("export", self.export_action), ("delete", self.delete_action),
                            (None, None), ("reveal", self.reveal_action),
                            ("refresh", self.refresh_action)):
            if action is None:
                bar.addStretch(1)
                continue
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setAutoRaise(True)
            bar.addWidget(button)
            self.buttons[str(key)] = button
        self.open_button = self.buttons["open"]
        self.resume_button = self.buttons["resume"]
        self.export_button = self.buttons["export"]
        self.delete_button = self.buttons["delete"]
        self.refresh_button = self.buttons["refresh"]
        self.reveal_button = self.buttons["reveal"]

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)

        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self.poll)
        self.refresh()

    # ------------------------------------------------------------------ API
    def runs_root(self) -> Path:
        return self.scanner.runs_root()

    def set_root(self, root: Path) -> None:
        self.scanner.set_root(root)
        self.refresh()

    def refresh(self) -> None:
        """Re-reads the whole store; keeps the selection by run folder."""
        self._apply(self.scanner.scan(reuse=False))

    @Slot()
    def poll(self) -> None:
        """Re-reads the run.json files that changed (and running runs); cheap when idle."""
        self._apply(self.scanner.scan(reuse=True))

    def runs(self) -> list[RunInfo]:
        """All listed runs, newest first (store order, whatever the table's sort)."""
        return self.model.runs()

    def selected_runs(self) -> list[RunInfo]:
        """The selected runs in table order."""
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        out = []
        for index in rows:
            run = self.proxy.mapToSource(index).data(RUN_ROLE)
            if isinstance(run, RunInfo):
                out.append(run)
        return out

    def current_run(self) -> RunInfo | None:
        """The run in the results panel: the current row if selected, else the first
        selected run."""
        selected = self.selected_runs()
        index = self.table.currentIndex()
        if index.isValid():
            run = index.data(RUN_ROLE)
            if any(r.dir == run.dir for r in selected):
                return run
        return selected[0] if selected else None

    def select_runs(self, run_dirs: list[str | Path]) -> None:
        """Selects the runs in these folders (others are deselected); unknown ones ignored."""
        wanted = {_key(d) for d in run_dirs}
        selection = QItemSelection()
        first: QModelIndex | None = None
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            run = index.data(RUN_ROLE)
            if isinstance(run, RunInfo) and _key(run.dir) in wanted:
                selection.select(index, self.proxy.index(row, len(COLUMNS) - 1))
                first = first or index
        sel = self.table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        sel.select(selection, flags.ClearAndSelect | flags.Rows)
        if first is not None:
            sel.setCurrentIndex(first, flags.NoUpdate)
            self.table.scrollTo(first)
        self._update_results()
        self._update_actions()

    def delete_runs(self, runs: list[RunInfo], confirm: bool = True) -> bool:
        """Deletes run folders after a confirmation naming them; True if all were deleted.

        Refuses (with a message, whatever `confirm`) when any of them is running, in this
        process or another one: its status is read again from disk first. Folders without
        a run.json are never removed (they are not runs, or are already gone).
        """
        targets, running = current_state(runs)
        if running:
            names = self._names(running)
            QMessageBox.warning(
                self, "Cannot Delete a Running Run",
                f"{names} {'is' if len(running) == 1 else 'are'} still training "
                f"({self._where(running[0])}). Stop the run first; nothing was deleted.")
            return False
        if not targets:
            self.refresh()
            return False
        if confirm:
            many = len(targets) > 1
            question = (f"Delete {len(targets)} runs?" if many
                        else f"Delete the run {targets[0].id}?")
            answer = QMessageBox.question(
                self, "Delete Runs" if many else "Delete Run",
                f"{question}\n\n{self._names(targets, bullets=True)}\n\nTheir folders "
                "(checkpoints, metrics, exports) are removed from disk. This cannot be undone.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return False
        errors = []
        for run in targets:
            try:
                delete_run(run)
            except RunIsRunning as e:  # started since the confirmation
                errors.append(str(e))
            except OSError as e:
                errors.append(f"{run.dir}: {e.strerror or e}")
        self.refresh()
        if errors:
            QMessageBox.critical(self, "Cannot Delete", "Some run folders could not be "
                                 "deleted:\n\n" + "\n".join(errors))
            return False
        return True

    # ------------------------------------------------------------------ events
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.poll()  # catch up with what happened while hidden
        self.poll_timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self.poll_timer.stop()
        super().hideEvent(event)

    def _apply_palette(self) -> None:
        # Icons are tinted with the palette's text colour, status colours adjusted for the
        # background: both follow a light/dark switch.
        for action, name in self._icon_actions:
            action.setIcon(icons.icon(name))
        self.table.viewport().update()

    def build_context_menu(self) -> QMenu:
        menu = QMenu(self)
        for action in (self.open_action, self.insight_action, self.compare_action,
                       self.resume_action,
                       self.export_action, self.compress_action, self.geometry_action, None,
                       self.reveal_action, None, self.delete_action, None,
                       self.refresh_action):
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        return menu

    # ------------------------------------------------------------------ internals
    def _action(self, text: str, icon: str | None, slot: Any, tip: str) -> QAction:
        action = QAction(text, self)
        if icon:
            action.setIcon(icons.icon(icon))
            self._icon_actions.append((action, icon))
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _apply(self, runs: list[RunInfo]) -> None:
        before = [_key(r.dir) for r in self.selected_runs()]
        shown = self.results.run
        current = self.table.currentIndex().data(RUN_ROLE)
        self._updating = True
        try:
            self.model.set_runs(runs)
            if [_key(r.dir) for r in self.selected_runs()] != before:  # model was reset
                self._reselect(before, current)
        finally:
            self._updating = False
        after = [_key(r.dir) for r in self.selected_runs()]
        has_runs = bool(runs)
        self.stack.setCurrentIndex(0 if has_runs else 1)
        self.root_label.setText(f"Runs folder: {self.runs_root()}")
        self.root_label.setStyleSheet(f"color: {theme.dim_text(self.palette()).name()};")
        self.results_scroll.setVisible(has_runs)
        new = self.current_run()
        if new is None or shown is None or new.dir != shown.dir or new.meta != shown.meta \
                or new.status != shown.status:
            self._update_results()
        self._update_actions()
        if after != before:
            self.selection_changed.emit(self.selected_runs())

    def _reselect(self, keys: list[str], current: Any) -> None:
        wanted = set(keys)
        selection = QItemSelection()
        current_index: QModelIndex | None = None
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            run = index.data(RUN_ROLE)
            if not isinstance(run, RunInfo):
                continue
            if _key(run.dir) in wanted:
                selection.select(index, self.proxy.index(row, len(COLUMNS) - 1))
            if isinstance(current, RunInfo) and run.dir == current.dir:
                current_index = index
        sel = self.table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        sel.select(selection, flags.ClearAndSelect | flags.Rows)
        if current_index is not None:
            sel.setCurrentIndex(current_index, flags.NoUpdate)

    def _update_results(self) -> None:
        self.results.show_run(self.current_run())

    def _update_actions(self) -> None:
        selected = self.selected_runs()
        one = selected[0] if len(selected) == 1 else None
        self.open_action.setEnabled(one is not None)
        self.compare_action.setEnabled(one is not None and is_compared(one))
        self.resume_action.setEnabled(one is not None and can_resume(one))
        self.export_action.setEnabled(one is not None and one.status != "running"
                                      and has_checkpoint(one.dir))
        self.compress_action.setEnabled(self.export_action.isEnabled())
        self.insight_action.setEnabled(one is not None)
        self.geometry_action.setEnabled(self.export_action.isEnabled())
        self.delete_action.setEnabled(bool(selected) and
                                      all(r.status != "running" for r in selected))
        self.reveal_action.setEnabled(one is not None)

    @staticmethod
    def _names(runs: list[RunInfo], bullets: bool = False) -> str:
        names = [f"{r.id} ({r.status})" if bullets else r.id for r in runs[:MAX_NAMED]]
        more = len(runs) - MAX_NAMED
        if bullets:
            return "\n".join([f"• {n}" for n in names] + ([f"… and {more} more"] if more > 0
                                                          else []))
        text = ", ".join(names) + (f" and {more} more" if more > 0 else "")
        return f"The run {text}" if len(runs) == 1 else f"The runs {text}"

    @staticmethod
    def _where(run: RunInfo) -> str:
        pid, host = run.meta.get("pid"), run.meta.get("host")
        if pid == os.getpid():
            return "in this window"
        return f"process {pid} on {host}" if host else f"process {pid}"

    @Slot()
    def _on_selection_changed(self) -> None:
        if self._updating:
            return
        self._update_results()
        self._update_actions()
        self.selection_changed.emit(self.selected_runs())

    @Slot()
    def _on_current_changed(self) -> None:
        if not self._updating:
            self._update_results()

    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        run = index.data(RUN_ROLE)
        if isinstance(run, RunInfo):
            self.open_requested.emit(run)

    @Slot(QPoint)
    def _on_context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row()):
            self.table.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
        self.build_context_menu().exec(self.table.viewport().mapToGlobal(pos))

    def _single(self) -> RunInfo | None:
        selected = self.selected_runs()
        return selected[0] if len(selected) == 1 else None

    @Slot()
    def _open(self) -> None:
        run = self._single()
        if run is not None:
            self.open_requested.emit(run)

    def _emit_single(self, signal: Any) -> None:
        run = self._single()
        if run is not None:
            signal.emit(run)

    @Slot()
    def _insight(self) -> None:
        run = self._single()
        if run is not None:
            self.insight_requested.emit(run)

    @Slot()
    def _compare(self) -> None:
        run = self._single()
        if run is not None and is_compared(run):
            self.compare_requested.emit(run)

    @Slot()
    def _resume(self) -> None:
        run = self._single()
        if run is not None and can_resume(run):
            self.resume_requested.emit(run)

    @Slot()
    def _export(self) -> None:
        run = self._single()
        if run is not None:
            self.export_requested.emit(run)

    @Slot()
    def _compress(self) -> None:
        run = self._single()
        if run is not None:
            self.compress_requested.emit(run)

    @Slot()
    def _delete(self) -> None:
        selected = self.selected_runs()
        if selected:
            self.delete_runs(selected)

    @Slot()
    def _reveal(self) -> None:
        run = self._single()
        if run is not None:
            from resnet_studio.gui.reveal import show_in_folder

            show_in_folder(self, run.dir)  # a dialog with the path where nothing opens
