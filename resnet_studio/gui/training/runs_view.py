"""The runs view: every run in the run store, its results, and what can be done with it.

A sortable table (runs_table.py: one row per run folder with its name, settings and
results; the name renames in place) over the current run's results (test metrics, the
confusion matrix as a heat-table, the error of a failed run, the folder) and, beside them,
the curves of every selected run over each other (runs_curves.py). Actions: open the run in
the Training tab, resume a stopped or interrupted run from its checkpoint, export, rename,
delete, show the folder.

The store is the file system, and other processes (the CLI, a second window) write to it, so
the view polls: a slow timer (while the view is visible) stats every run.json and re-reads
only those whose size or mtime changed, plus the runs marked `running` (their process may
have died without touching the file, which `read_run` reports as `interrupted`). The owner
calls `refresh()` after a run of its own finishes. Unreadable folders are skipped
(`list_runs`, `read_run`); nothing here lets a broken folder raise in the GUI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
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
    rename_run,
)
from resnet_studio.gui import icons, theme
from resnet_studio.gui.training.run_results import RunResults
from resnet_studio.gui.training.runs_curves import RunsCurves
from resnet_studio.gui.training.runs_table import (
    COL_NAME,
    COL_STARTED,
    COLUMNS,
    RUN_ROLE,
    SORT_ROLE,
    RunsModel,
    SortProxy,
    run_key,
)

POLL_MS = 3000  # slow enough to cost nothing, quick enough that a CLI run shows up soon
EMPTY_TEXT = "No runs yet — train a model and it appears here"
MAX_NAMED = 10  # runs named in the delete confirmation


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
        self._drawn: dict[str, RunInfo] = {}  # the runs the curves show, by folder
        self._icon_actions: list[tuple[QAction, str]] = []

        self.model = RunsModel(self)
        self.proxy = SortProxy(self)
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
        # The name is renamed in place: F2, or a click on the name of the selected run
        # (a double-click opens the run).
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.SelectedClicked)
        self.model.rename_requested.connect(self.rename)
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
        # The selected runs' curves, over each other, beside the current run's results.
        self.curves = RunsCurves(self)
        self.bottom = QSplitter(Qt.Orientation.Horizontal, self)
        self.bottom.addWidget(scroll)
        self.bottom.addWidget(self.curves)
        self.bottom.setStretchFactor(0, 2)
        self.bottom.setStretchFactor(1, 3)
        self.bottom.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(self.bottom)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        # Proportions: the results and the selected runs' curves need the room.
        self.splitter.setSizes([300, 460])

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
        self.rename_action = self._action("Rename", None, self._edit_name,
                                          "Rename the run (F2); an empty name restores the "
                                          "default")
        self.rename_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        self.rename_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.refresh_action = self._action("Refresh", None, self.refresh,
                                           "Read the run store again")
        # No F5 (QKeySequence.Refresh on Linux): the main window trains with it.
        self.reveal_action = self._action("Show in File Manager", "open", self._reveal,
                                          "Open the run folder in the file manager")
        self.addAction(self.delete_action)
        self.addAction(self.rename_action)
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
        wanted = {run_key(d) for d in run_dirs}
        selection = QItemSelection()
        first: QModelIndex | None = None
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            run = index.data(RUN_ROLE)
            if isinstance(run, RunInfo) and run_key(run.dir) in wanted:
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

    def rename(self, run: RunInfo, name: str) -> bool:
        """Stores a new name for the run (an empty one restores the default); says why in
        a message when it cannot (too long, training, gone). True when renamed."""
        try:
            rename_run(run.dir, name)
        except (ValueError, RunIsRunning, OSError) as e:
            QMessageBox.warning(self, "Cannot Rename the Run", str(e))
            return False
        self.poll()  # its run.json changed: the row and the curves' legend follow
        return True

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
                       self.export_action, self.compress_action, self.geometry_action,
                       self.rename_action, None,
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
        before = [run_key(r.dir) for r in self.selected_runs()]
        shown = self.results.run
        current = self.table.currentIndex().data(RUN_ROLE)
        self._updating = True
        try:
            self.model.set_runs(runs)
            if [run_key(r.dir) for r in self.selected_runs()] != before:  # model was reset
                self._reselect(before, current)
        finally:
            self._updating = False
        after = [run_key(r.dir) for r in self.selected_runs()]
        has_runs = bool(runs)
        self.stack.setCurrentIndex(0 if has_runs else 1)
        self.root_label.setText(f"Runs folder: {self.runs_root()}")
        self.root_label.setStyleSheet(f"color: {theme.dim_text(self.palette()).name()};")
        self.bottom.setVisible(has_runs)
        new = self.current_run()
        if new is None or shown is None or new.dir != shown.dir or new.meta != shown.meta \
                or new.status != shown.status:
            self._update_results()
        self._update_actions()
        selected = self.selected_runs()
        if after != before or any(r is not self._drawn.get(run_key(r.dir)) for r in selected):
            self._draw_curves(selected)  # another selection, or a selected run changed
        if after != before:
            self.selection_changed.emit(selected)

    def _reselect(self, keys: list[str], current: Any) -> None:
        wanted = set(keys)
        selection = QItemSelection()
        current_index: QModelIndex | None = None
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            run = index.data(RUN_ROLE)
            if not isinstance(run, RunInfo):
                continue
            if run_key(run.dir) in wanted:
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
        self.rename_action.setEnabled(one is not None and one.status != "running")
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
        selected = self.selected_runs()
        self._draw_curves(selected)
        self.selection_changed.emit(selected)

    def _draw_curves(self, runs: list[RunInfo]) -> None:
        self._drawn = {run_key(r.dir): r for r in runs}
        self.curves.set_runs(runs)

    @Slot()
    def _edit_name(self) -> None:
        run = self._single()
        if run is None:
            return
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, COL_NAME)
            if index.data(RUN_ROLE) is run:
                self.table.setCurrentIndex(index)
                self.table.edit(index)
                return

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
