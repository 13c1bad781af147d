"""The main window: tabs for the architecture canvas, training and runs in the middle;
palette left, inspector and summary right.

The window owns the Document and the background services (TensorFlow import, Keras summary
builds, autosave) and composes the parts in `gui.window` that do the work: actions and
menus, files and recovery, edit commands, the run tabs and their runs, the status
indicators and the docks. Every user-facing failure is a dialog that names the file or
field; the document is never changed by a failed open.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QMainWindow, QMessageBox, QScrollArea, QTabWidget

from resnet_studio.core.presets import DEFAULT_PRESET, load_preset, preset_names
from resnet_studio.core.spec import ArchitectureSpec
from resnet_studio.gui import icons, theme
from resnet_studio.gui.autosave import Autosaver
from resnet_studio.gui.canvas import ArchitectureCanvas
from resnet_studio.gui.document import Document
from resnet_studio.gui.learn_panel import ResidualHelpDialog
from resnet_studio.gui.settings import Settings
from resnet_studio.gui.summary_worker import SummaryService
from resnet_studio.gui.tf_loader import TfLoader
from resnet_studio.gui.window import help_menu
from resnet_studio.gui.window.actions import WindowActions
from resnet_studio.gui.window.edit import EditCommands
from resnet_studio.gui.window.files import FileCommands, format_problems
from resnet_studio.gui.window.help_menu import APP_NAME
from resnet_studio.gui.window.panes import WindowPanes
from resnet_studio.gui.window.run_tabs import RunTabs
from resnet_studio.gui.window.status import StatusIndicators
from resnet_studio.gui.window.tour import Tour

if TYPE_CHECKING:  # imported when their tabs are built (window.run_tabs)
    from resnet_studio.gui.training.compare_view import CompareView
    from resnet_studio.gui.training.runs_view import RunsView
    from resnet_studio.gui.training.view import TrainingView

__all__ = ["APP_NAME", "MainWindow", "format_problems"]


class MainWindow(QMainWindow):
    """The editor window.

    Args:
        spec: Architecture to open (default: the default preset).
        path: Its file, if it has one (shipped presets have none: Save asks where).
        restore_layout: Restore geometry and docks from the settings (off for screenshots).

    Attributes:
        files, edit, runs, status, panes: the parts of the window (gui.window).
        actions: every QAction by key.

    Signals:
        train_requested: the user asked to train the open architecture (Train action).
        summary_ready(object): a Keras build of the current spec finished (SummaryResult,
            built or not).
        run_started(str): a training or comparison run's folder, as it starts.
        run_finished: a training run or a whole comparison has ended.
    """

    train_requested = Signal()
    summary_ready = Signal(object)
    run_started = Signal(str)
    run_finished = Signal()

    def __init__(self, spec: ArchitectureSpec | None = None, path: str | None = None, *,
                 restore_layout: bool = True) -> None:
        super().__init__()
        self.settings = Settings()
        self.doc = Document(spec if spec is not None else load_preset(DEFAULT_PRESET), path,
                            self)
        self.service = SummaryService(self)
        self.service.dataset_source = self._editor_dataset
        self.tf_loader = TfLoader(self)
        self.autosaver = Autosaver(self.doc, self)
        self.closing = False
        self.persist_layout = restore_layout
        self.residual_help: ResidualHelpDialog | None = None
        self.last_error_box: QMessageBox | None = None
        self.setWindowIcon(icons.icon("app"))
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)

        self.canvas = ArchitectureCanvas(self.doc)
        self.canvas.setObjectName("canvas")
        self.scroll = QScrollArea(self)
        self.scroll.setWidget(self.canvas)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.scroll, icons.icon("family-containers"), "Architecture")
        self.runs = RunTabs(self, self.tabs)
        self.setCentralWidget(self.tabs)

        self.panes = WindowPanes(self)
        self.tour = Tour(self)  # the first-run tour (run_app offers it; Help shows it)
        self.files = FileCommands(self)
        self.edit = EditCommands(self)
        self._actions = WindowActions(self)
        self.actions = self._actions.actions
        self._actions.make_menus()
        self.toolbar = self._actions.make_toolbar()
        self.status = StatusIndicators(self)
        self._connect()
        self.resize(1400, 900)
        self.panes.initial_sizes()
        if restore_layout:
            self.canvas.set_zoom(self.settings.zoom())
            self.panes.restore_layout()
        self._update_title()
        self.edit.update_actions()
        self.runs.update_compare_action()
        self.service.request(self.doc.spec)

    def _connect(self) -> None:
        d = self.doc
        d.changed.connect(self._on_doc_changed)
        d.selection_changed.connect(self._on_selection_changed)
        d.file_changed.connect(self._update_title)
        d.edit_failed.connect(self.edit.on_edit_failed)
        self.palette_view.add_requested.connect(self.edit.add_block)
        self.canvas.activated.connect(self.edit.on_canvas_activated)
        self.canvas.context_menu_requested.connect(self.edit.show_context_menu)
        self.summary_view.block_clicked.connect(lambda path: self.doc.set_selection([path]))
        self.service.building.connect(self.status.on_building)
        self.service.finished.connect(self.status.on_summary)
        self.tf_loader.ready.connect(self.status.on_backend_ready)
        self.tf_loader.failed.connect(self.status.on_backend_failed)
        self.train_requested.connect(self.runs.start_training)
        self.learn_panel.help_requested.connect(lambda: help_menu.show_residual_help(self))
        self.tabs.currentChanged.connect(self.runs.on_tab_changed)
        self.runs.update_training_actions()

    def _editor_dataset(self) -> tuple[str, Any]:
        """(dataset, training settings) the editor binds the architecture to: the Training
        tab's choice once it exists, else the architecture's own dataset."""
        view = self.runs.built("training")
        if view is None:
            return self.doc.spec.dataset or "", None
        try:
            config = view.run_settings()[0]
        except ValueError:  # a bad setting (the panel says which): the preset's settings
            config = None
        return view.dataset(), config

    # ------------------------------------------------------------------ the run tabs
    @property
    def training_view(self) -> TrainingView:
        return self.runs.view("training")

    @property
    def compare_view(self) -> CompareView:
        return self.runs.view("compare")

    @property
    def runs_view(self) -> RunsView:
        return self.runs.view("runs")

    def start_training(self) -> bool:
        """Trains the open architecture with the Training tab's settings (RunTabs)."""
        return self.runs.start_training()

    def start_compare(self, limit: int | None = None) -> bool:
        """Compares the open architecture with its plain twin (RunTabs)."""
        return self.runs.start_compare(limit)

    def start_backend(self) -> None:
        """Makes the Training view, then imports TensorFlow (RunTabs.start_backend); call
        once the window has been shown."""
        self.runs.start_backend()

    # ------------------------------------------------------------------ files
    def open_path(self, path: str | os.PathLike[str], ask: bool = True) -> bool:
        return self.files.open_path(path, ask)

    def open_preset(self, name: str) -> bool:
        return self.files.open_preset(name)

    def offer_recovery(self) -> None:
        self.files.offer_recovery()

    def reset_layout(self) -> None:
        self.panes.reset_layout()

    def show_error(self, title: str, text: str, informative: str = "",
                   details: str = "", *, blocking: bool = True) -> None:
        """Every user-facing error goes through here: a dialog, never a traceback.

        `blocking=False` shows it window-modal without a nested event loop (errors that
        arrive from a background thread must not stall the caller).
        """
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok,
                          self)
        box.setObjectName("errorDialog")
        if informative:
            box.setInformativeText(informative)
        if details:
            box.setDetailedText(details)
        self.last_error_box = box
        if blocking:
            box.exec()
        else:
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    # ------------------------------------------------------------------ document events
    def _on_doc_changed(self) -> None:
        self.service.request(self.doc.spec)
        self.edit.update_actions()
        self.runs.update_compare_action()
        self._update_title()  # an unsaved document is called by its spec's name

    def _on_selection_changed(self) -> None:
        sel = self.doc.selection
        self.edit.update_actions()
        self.summary_view.select_path(sel[0] if len(sel) == 1 else None)
        if len(sel) == 1:
            self.canvas.ensure_visible(sel[0])

    def _update_title(self) -> None:
        name = self.doc.display_name()
        shipped = self.doc.path is None and self.doc.spec.name in preset_names()
        suffix = " (preset)" if shipped else ""
        self.setWindowTitle(f"{name}[*]{suffix} — {APP_NAME}")
        self.setWindowModified(self.doc.is_dirty)
        self.actions["revert"].setEnabled(self.doc.path is not None and self.doc.is_dirty)

    def changeEvent(self, event: QEvent) -> None:
        if theme.is_palette_change(event):  # icons are tinted with the palette's text colour
            icons.clear_cache()
            self._actions.refresh_icons()
            self.palette_view.refresh_icons()
            self.canvas.update()
        super().changeEvent(event)

    # ------------------------------------------------------------------ drops, close
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(
                u.toLocalFile().lower().endswith(".json") for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls()
                 if u.toLocalFile().lower().endswith(".json")]
        if files:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_path(files[0]))

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.closing and not (self.files.maybe_save()
                                     and self.runs.confirm_stop_all("close the window")):
            event.ignore()
            return
        self.closing = True
        if self.persist_layout:
            self.panes.save_layout()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stops the background threads (waits for a running build, import or run)."""
        self.autosaver.stop()
        self.service.shutdown()
        self.tf_loader.shutdown()
        self.runs.shutdown()
