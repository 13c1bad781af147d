"""The main window: tabs for the architecture canvas, training and runs in the middle;
palette left, inspector and summary right.

The window owns the Document and the background services (TensorFlow import, Keras summary
builds, autosave) and wires them to the views. Every user-facing failure is a dialog that
names the file or field; the document is never changed by a failed open.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from resnet_studio import __version__
from resnet_studio.core import editing
from resnet_studio.core.blocks import registry
from resnet_studio.core.presets import DEFAULT_PRESET, load_preset, preset_names
from resnet_studio.core.runs import RunInfo
from resnet_studio.core.spec import ArchitectureSpec, SpecError
from resnet_studio.gui import icons, theme
from resnet_studio.gui.autosave import Autosaver, Recoverable, find_recoverable
from resnet_studio.gui.canvas import ArchitectureCanvas
from resnet_studio.gui.document import Document
from resnet_studio.gui.gallery import PresetGallery
from resnet_studio.gui.inspector import Inspector
from resnet_studio.gui.learn_panel import LearnPanel, ResidualHelpDialog
from resnet_studio.gui.palette import BlockPalette
from resnet_studio.gui.settings import Settings
from resnet_studio.gui.summary_view import SummaryView
from resnet_studio.gui.summary_worker import SummaryResult, SummaryService
from resnet_studio.gui.tf_loader import BackendInfo, TfLoader

if TYPE_CHECKING:  # imported when their tabs are built (see _LAZY_TABS)
    from resnet_studio.gui.training.compare_view import CompareView
    from resnet_studio.gui.training.runs_view import RunsView
    from resnet_studio.gui.training.view import TrainingView

APP_NAME = "ResNet Studio"
FILE_FILTER = "ResNet Studio architectures (*.json);;All files (*)"
MAX_PROBLEMS_SHOWN = 8
# The tabs whose views are made after the window appears, when first needed (MainWindow._view).
_LAZY_TABS = ("training", "compare", "runs")
_TAB_TITLES = {"training": "Training", "compare": "Compare", "runs": "Runs"}
_TAB_ICONS = {"training": "train", "compare": "shortcut", "runs": "runs"}
COMPARE_TIP = ("Train the architecture and its plain twin (every shortcut removed) from the "
               "same initial weights, and compare their loss and gradient flow")
COMPARE_DISABLED_TIP = ("The architecture has no shortcut to remove: its plain twin would be "
                        "itself. Open a residual architecture (e.g. lab-sigmoid-mlp) or wrap "
                        "blocks in a residual container (Ctrl+G).")


def format_problems(error: SpecError) -> str:
    lines = [f"• {p}" for p in error.problems[:MAX_PROBLEMS_SHOWN]]
    if len(error.problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"… and {len(error.problems) - MAX_PROBLEMS_SHOWN} more")
    return "\n".join(lines)


class MainWindow(QMainWindow):
    """The editor window.

    Args:
        spec: Architecture to open (default: the default preset).
        path: Its file, if it has one (shipped presets have none: Save asks where).
        restore_layout: Restore geometry and docks from the settings (off for screenshots).

    Signals:
        train_requested: the user asked to train the open architecture (Train action).
        summary_ready(object): a Keras build of the current spec finished (SummaryResult,
            built or not).
    """

    train_requested = Signal()
    summary_ready = Signal(object)
    run_started = Signal(str)  # a training or comparison run's folder, as it starts
    run_finished = Signal()  # a training run or a whole comparison has ended

    def __init__(self, spec: ArchitectureSpec | None = None, path: str | None = None, *,
                 restore_layout: bool = True) -> None:
        super().__init__()
        self.settings = Settings()
        self.doc = Document(spec if spec is not None else load_preset(DEFAULT_PRESET), path,
                            self)
        self.service = SummaryService(self)
        self.tf_loader = TfLoader(self)
        self.autosaver = Autosaver(self.doc, self)
        self._closing = False
        self._editing_docks: list[bool] | None = None  # dock visibility while away from editing
        self.persist_layout = restore_layout
        self._icon_actions: list[tuple[QAction, str]] = []
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
        # The Training, Compare and Runs tabs start as empty pages; each view (and with it
        # pyqtgraph) is made when first needed, the Training one by start_backend() once the
        # window has appeared. Made at once they held the first paint back by ~0.6 s
        # (benchmarks/bench_startup.py).
        self._views: dict[str, QWidget] = {}
        self._backend_info: BackendInfo | None = None
        self._compare_enabled: tuple[bool, str] | None = None
        for key in _LAZY_TABS:
            page = QWidget(self.tabs)
            page.setObjectName(f"{key}Page")
            self.tabs.addTab(page, icons.icon(_TAB_ICONS[key]), _TAB_TITLES[key])
        self.setCentralWidget(self.tabs)

        self.palette_view = BlockPalette(self)
        self.inspector = Inspector(self.doc, self)
        self.summary_view = SummaryView(self)
        self.palette_dock = self._dock("Blocks", "paletteDock", self.palette_view,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", "inspectorDock", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.summary_dock = self._dock("Model Summary", "summaryDock", self.summary_view,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(self.inspector_dock, self.summary_dock, Qt.Orientation.Vertical)
        self.learn_panel = LearnPanel(self.doc, self)
        self.learn_dock = self._dock("Learn", "learnDock", self.learn_panel,
                                     Qt.DockWidgetArea.RightDockWidgetArea)
        self._place_learn_dock()
        self.residual_help: ResidualHelpDialog | None = None

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_status_bar()
        self._connect()
        self.resize(1400, 900)
        self.resizeDocks([self.palette_dock, self.inspector_dock], [250, 370],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.inspector_dock, self.summary_dock], [560, 290],
                         Qt.Orientation.Vertical)
        if restore_layout:
            self.canvas.set_zoom(self.settings.zoom())
            self._restore_layout()
        self._update_title()
        self._update_actions()
        self._update_compare_action()
        self.service.request(self.doc.spec)

    # ------------------------------------------------------------------ construction
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea
              ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, key: str, text: str, slot: Callable[[], object] | None = None, *,
                shortcut: QKeySequence | str | list | None = None, icon: str | None = None,
                tip: str = "", checkable: bool = False, canvas_only: bool = False) -> QAction:
        a = QAction(text, self)
        a.setObjectName(f"action_{key}")
        if shortcut is not None:
            seqs = shortcut if isinstance(shortcut, list) else [shortcut]
            a.setShortcuts([QKeySequence(s) for s in seqs])
        if icon:
            a.setIcon(icons.icon(icon))
            self._icon_actions.append((a, icon))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(f"{text.replace('&', '').replace('…', '')} — {tip}")
        a.setCheckable(checkable)
        if slot is not None:
            a.triggered.connect(lambda _checked=False: slot())
        if canvas_only:
            # Keys like Delete must not act on blocks while typing in a form field.
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.scroll.addAction(a)
        self.actions[key] = a
        return a

    def _make_actions(self) -> None:
        self.actions: dict[str, QAction] = {}
        K = QKeySequence.StandardKey
        A = self._action
        A("new", "&New", self.new_document, shortcut=K.New, icon="new",
          tip="Start a new architecture from the default preset")
        A("gallery", "New from &Preset…", self.show_gallery, shortcut="Ctrl+Shift+N",
          icon="gallery", tip="Pick a shipped architecture from the preset gallery")
        A("open", "&Open…", self.open_dialog, shortcut=K.Open, icon="open",
          tip="Open an architecture file (.json)")
        A("save", "&Save", self.save, shortcut=K.Save, icon="save",
          tip="Save the architecture")
        A("save_as", "Save &As…", self.save_as, shortcut=K.SaveAs,
          tip="Save the architecture to a new file")
        A("revert", "&Revert to Saved", self.revert, icon="revert",
          tip="Discard unsaved changes")
        A("quit", "&Quit", self.close, shortcut=K.Quit, tip="Close ResNet Studio")

        undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcuts(QKeySequence.keyBindings(K.Undo))
        undo.setIcon(icons.icon("undo"))
        self._icon_actions.append((undo, "undo"))
        self.actions["undo"] = undo
        redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts(QKeySequence.keyBindings(K.Redo))
        redo.setIcon(icons.icon("redo"))
        self._icon_actions.append((redo, "redo"))
        self.actions["redo"] = redo
        A("cut", "Cu&t", self.cut, shortcut=K.Cut, icon="cut", canvas_only=True)
        A("copy", "&Copy", self.copy, shortcut=K.Copy, icon="copy", canvas_only=True)
        A("paste", "&Paste", self.paste, shortcut=K.Paste, icon="paste", canvas_only=True)
        A("duplicate", "D&uplicate", self.doc.duplicate, shortcut="Ctrl+D", icon="duplicate",
          tip="Insert a copy of the selected blocks after them")
        A("delete", "&Delete", self.doc.remove, shortcut=[K.Delete, "Backspace"], icon="delete",
          tip="Delete the selected blocks", canvas_only=True)
        A("select_all", "Select &All", self.select_all, shortcut=K.SelectAll, canvas_only=True)
        A("move_up", "Move &Up", lambda: self.doc.move_by(-1), shortcut="Alt+Up",
          icon="move-up", tip="Move the selected blocks up (out of a container at its top)")
        A("move_down", "Move Do&wn", lambda: self.doc.move_by(+1), shortcut="Alt+Down",
          icon="move-down", tip="Move the selected blocks down")
        A("wrap", "&Wrap in Residual Container", self.doc.wrap, shortcut="Ctrl+G", icon="wrap",
          tip="Put the selected consecutive blocks inside a residual container: y = F(x) + x")
        A("unwrap", "Un&wrap Container", self.doc.unwrap, shortcut="Ctrl+Shift+G",
          icon="unwrap", tip="Replace the selected container by its blocks")
        A("toggle_shortcut", "Toggle &Shortcut", self.doc.toggle_shortcut, shortcut="Ctrl+K",
          icon="shortcut", tip="Switch the selected block's residual shortcut off or on")
        A("plain_twin", "Remove All Shortcuts (Plain Twin)",
          lambda: self.doc.set_all_shortcuts("none"),
          tip="Set every shortcut to none: the same network without residual connections")
        A("rename", "Re&name Block", self.rename_block, shortcut="F2",
          tip="Edit the selected block's name in the inspector")
        A("find", "&Find Block Type", self.find_block_type, shortcut=K.Find, icon="search",
          tip="Search the block palette")

        A("zoom_in", "Zoom &In", lambda: self.set_zoom(self.canvas.zoom * 1.15),
          shortcut=[K.ZoomIn, "Ctrl+="], icon="zoom-in")
        A("zoom_out", "Zoom &Out", lambda: self.set_zoom(self.canvas.zoom / 1.15),
          shortcut=K.ZoomOut, icon="zoom-out")
        A("zoom_reset", "&Actual Size", lambda: self.set_zoom(1.0), shortcut="Ctrl+0",
          icon="zoom-reset")
        A("expand_all", "&Expand All Containers", lambda: self.canvas.set_all_collapsed(False))
        A("collapse_all", "&Collapse All Containers", lambda: self.canvas.set_all_collapsed(True))
        A("reset_layout", "&Reset Layout", self.reset_layout,
          tip="Put the panels back where they were at first start")

        A("train", "&Train", self.train_requested.emit, shortcut="F5", icon="train",
          tip="Train the architecture on its dataset with the Training tab's settings")
        A("compare", "Compare with &Plain Twin", self.start_compare, shortcut="Ctrl+Shift+F5",
          icon="shortcut", tip=COMPARE_TIP)
        A("pause_training", "&Pause / Resume", self.toggle_pause, shortcut="F6", icon="pause",
          tip="Hold training between batches, or continue")
        A("stop_training", "&Stop", self.stop_training, shortcut="Shift+F5", icon="stop",
          tip="Stop after the current batch (a checkpoint is kept)")
        A("export_model", "&Export Model…", self.export_model, shortcut="Ctrl+E", icon="export",
          tip="Export the latest (or the selected) run as SavedModel, .keras, TFLite or code")
        for i, name in enumerate(("Architecture", "Training", "Compare", "Runs")):
            A(f"tab_{name.lower()}", f"Show &{name}", lambda _c=False, i=i:
              self.tabs.setCurrentIndex(i), shortcut=f"Ctrl+{i + 1}")

        A("residual_help", "&Residual Connections", self.show_residual_help, icon="help",
          tip="What residual blocks compute, and why they keep the gradient flowing")
        A("shortcuts_help", "&Keyboard Shortcuts", self.show_shortcuts, shortcut=K.HelpContents,
          icon="keyboard")
        A("about", f"&About {APP_NAME}", self.show_about, icon="help")
        A("about_qt", "About &Qt", QApplication.aboutQt)

        self.appearance_group = QActionGroup(self)
        current = self.settings.appearance()
        for value, text in (("system", "Follow the &System"), ("light", "&Light"),
                            ("dark", "&Dark")):
            a = QAction(text, self.appearance_group)
            a.setCheckable(True)
            a.setChecked(value == current)
            a.setData(value)
            self.actions[f"appearance_{value}"] = a
        self.appearance_group.triggered.connect(self._on_appearance)

    def _make_menus(self) -> None:
        mb = self.menuBar()
        a = self.actions
        m = mb.addMenu("&File")
        m.addActions([a["new"], a["gallery"], a["open"]])
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addSeparator()
        m.addActions([a["save"], a["save_as"], a["revert"]])
        m.addSeparator()
        m.addAction(a["quit"])
        m = mb.addMenu("&Edit")
        m.addActions([a["undo"], a["redo"]])
        m.addSeparator()
        m.addActions([a["cut"], a["copy"], a["paste"], a["duplicate"], a["delete"]])
        m.addSeparator()
        m.addActions([a["select_all"], a["move_up"], a["move_down"]])
        m.addSeparator()
        m.addActions([a["wrap"], a["unwrap"], a["toggle_shortcut"], a["plain_twin"]])
        m.addSeparator()
        m.addActions([a["rename"], a["find"]])
        m = mb.addMenu("&View")
        m.addActions([a["tab_architecture"], a["tab_training"], a["tab_compare"],
                      a["tab_runs"]])
        m.addSeparator()
        for dock in (self.palette_dock, self.inspector_dock, self.summary_dock,
                     self.learn_dock):
            m.addAction(dock.toggleViewAction())
        m.addSeparator()
        m.addActions([a["zoom_in"], a["zoom_out"], a["zoom_reset"]])
        m.addSeparator()
        m.addActions([a["expand_all"], a["collapse_all"]])
        m.addSeparator()
        appearance = m.addMenu("A&ppearance")
        appearance.addActions(self.appearance_group.actions())
        m.addAction(a["reset_layout"])
        m = mb.addMenu("&Train")
        m.addActions([a["train"], a["compare"], a["pause_training"], a["stop_training"]])
        m.addSeparator()
        m.addAction(a["export_model"])
        m = mb.addMenu("&Help")
        m.addAction(a["residual_help"])
        m.addSeparator()
        m.addActions([a["shortcuts_help"], a["about"], a["about_qt"]])

    def _make_toolbar(self) -> None:
        tb = QToolBar("Main Toolbar", self)
        tb.setObjectName("mainToolbar")
        tb.setIconSize(QSize(20, 20))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        a = self.actions
        tb.addActions([a["new"], a["gallery"], a["open"], a["save"]])
        tb.addSeparator()
        tb.addActions([a["undo"], a["redo"]])
        tb.addSeparator()
        tb.addActions([a["duplicate"], a["delete"], a["move_up"], a["move_down"]])
        tb.addSeparator()
        tb.addActions([a["wrap"], a["unwrap"], a["toggle_shortcut"]])
        tb.addSeparator()
        tb.addActions([a["zoom_out"], a["zoom_reset"], a["zoom_in"]])
        spacer = QWidget(tb)
        spacer.setSizePolicy(spacer.sizePolicy().Policy.Expanding,
                             spacer.sizePolicy().Policy.Preferred)
        tb.addWidget(spacer)
        tb.addActions([a["train"], a["compare"], a["pause_training"], a["stop_training"]])
        train_button = tb.widgetForAction(a["train"])
        train_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        train_button.setObjectName("trainButton")
        self.train_button = train_button
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        self.build_status = QLabel(self)
        self.build_status.setObjectName("buildStatus")
        self.build_icon = QLabel(self)
        self.backend_status = QLabel(self)
        self.backend_status.setObjectName("backendStatus")
        self.backend_icon = QLabel(self)
        for widgets in ((self.build_icon, self.build_status),
                        (self.backend_icon, self.backend_status)):
            box = QWidget(self)
            row = QHBoxLayout(box)
            row.setContentsMargins(8, 0, 8, 0)
            row.setSpacing(5)
            for w in widgets:
                row.addWidget(w)
            sb.addPermanentWidget(box)
        self._set_status(self.build_icon, self.build_status, "busy", "Waiting for TensorFlow")
        self._set_status(self.backend_icon, self.backend_status, "busy",
                         "Loading TensorFlow in the background…")

    def _set_status(self, icon_label: QLabel, text_label: QLabel, icon: str, text: str,
                    color: str | None = None) -> None:
        c = theme.accent(color) if color else None
        icon_label.setPixmap(icons.pixmap(icon, 16, c))
        text_label.setText(text)
        text_label.setStyleSheet(f"color: {c.name()};" if c is not None else "")

    def _connect(self) -> None:
        d = self.doc
        d.changed.connect(self._on_doc_changed)
        d.selection_changed.connect(self._on_selection_changed)
        d.file_changed.connect(self._update_title)
        d.edit_failed.connect(self._on_edit_failed)
        self.palette_view.add_requested.connect(self.add_block)
        self.canvas.activated.connect(self._on_canvas_activated)
        self.canvas.context_menu_requested.connect(self._show_context_menu)
        self.summary_view.block_clicked.connect(self._on_summary_block_clicked)
        self.service.building.connect(self._on_building)
        self.service.finished.connect(self._on_summary)
        self.tf_loader.ready.connect(self._on_backend_ready)
        self.tf_loader.failed.connect(self._on_backend_failed)
        self.train_requested.connect(self.start_training)
        self.learn_panel.help_requested.connect(self.show_residual_help)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self._update_training_actions()

    # ------------------------------------------------------------------ lazy tabs
    @property
    def training_view(self) -> TrainingView:
        return self._view("training")  # type: ignore[return-value]

    @property
    def compare_view(self) -> CompareView:
        return self._view("compare")  # type: ignore[return-value]

    @property
    def runs_view(self) -> RunsView:
        return self._view("runs")  # type: ignore[return-value]

    def _built(self, key: str) -> Any:
        """The view if it has been made, else None (nothing to ask a tab never opened)."""
        return self._views.get(key)

    def _view(self, key: str) -> QWidget:
        view = self._views.get(key)
        if view is not None:
            return view
        if key == "training":
            view = self._make_training_view()
        elif key == "compare":
            view = self._make_compare_view()
        else:
            view = self._make_runs_view()
        self._views[key] = view
        # The page the tab was made with gives way to the view, at the same index.
        page = self.findChild(QWidget, f"{key}Page")
        index = self.tabs.indexOf(page)
        current = self.tabs.currentIndex()
        blocked = self.tabs.blockSignals(True)  # the tab does not change for the user
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, view, icons.icon(_TAB_ICONS[key]), _TAB_TITLES[key])
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(blocked)
        page.deleteLater()
        if key == "runs" and self.tabs.currentWidget() is view:
            view.refresh()
        return view

    def _make_training_view(self) -> TrainingView:
        from resnet_studio.gui.training.view import TrainingView

        # Dataset previews wait until the TensorFlow import has ended (PreviewLoader.hold).
        tv = TrainingView(self.doc, self,
                          hold_previews=self.tf_loader.state in ("idle", "loading"))
        tv.setObjectName("trainingView")
        tv.error.connect(self._on_training_error)
        tv.run_started.connect(self._on_run_started)
        tv.run_finished.connect(self._on_run_finished)
        tv.panel.pause_requested.connect(self._update_training_actions)
        tv.panel.resume_requested.connect(self._update_training_actions)
        tv.panel.stop_requested.connect(self._update_training_actions)
        # One model trains at a time: each view asks the other to stop before starting.
        tv.run_guard = lambda action: self._confirm_stop("compare", action)
        if self._backend_info is not None:
            self._apply_backend_info(tv, self._backend_info)
        return tv

    def _make_compare_view(self) -> CompareView:
        from resnet_studio.gui.training.compare_view import CompareView

        cv = CompareView(self)
        cv.setObjectName("compareView")
        cv.error.connect(self._on_training_error)
        cv.run_started.connect(self._on_compare_run_started)
        cv.finished.connect(self._on_run_finished)
        cv.state_changed.connect(self._update_training_actions)
        cv.start_requested.connect(self.start_compare)
        cv.run_guard = lambda action: self._confirm_stop("training", action)
        if self._compare_enabled is not None:
            cv.set_start_enabled(*self._compare_enabled)
        return cv

    def _make_runs_view(self) -> RunsView:
        from resnet_studio.gui.training.runs_view import RunsView

        rv = RunsView(parent=self)
        rv.setObjectName("runsView")
        rv.open_requested.connect(self.open_run)
        rv.compare_requested.connect(self.open_comparison)
        rv.resume_requested.connect(self.resume_run)
        rv.export_requested.connect(self.export_run)
        rv.selection_changed.connect(self._on_runs_selected)
        return rv

    def _confirm_stop(self, key: str, action: str) -> bool:
        """Asks the view `key` to stop its run before `action`; True if it has none."""
        view = self._built(key)
        return view is None or view.confirm_stop(action)

    # ------------------------------------------------------------------ background
    def start_backend(self) -> None:
        """Makes the Training tab's view (Train needs it), then starts importing TensorFlow in
        the next turn of the event loop. Call once the window has been shown: either would
        hold its first paint back (the import holds the GIL for seconds; the view imports
        pyqtgraph). The Compare and Runs views are made when first opened (~0.2 s each):
        made here, they delayed the import, and so the first training step, as much."""
        if self._closing:
            return
        if self._built("training") is None:
            self._view("training")
            QTimer.singleShot(0, self, self.start_backend)
            return
        self.tf_loader.start()

    def shutdown(self) -> None:
        """Stops the background threads (waits for a running build or import)."""
        self.autosaver.stop()
        self.service.shutdown()
        self.tf_loader.shutdown()
        for key in ("training", "compare"):
            view = self._built(key)
            if view is not None:
                view.shutdown()

    @Slot(object)
    def _on_backend_ready(self, info: BackendInfo) -> None:
        gpu = info.gpus > 0
        self._set_status(self.backend_icon, self.backend_status, "cpu", info.describe(),
                         theme.OK_COLOR if gpu else None)
        self.backend_status.setToolTip(f"TensorFlow {info.tensorflow}, Keras {info.keras}. "
                                       f"Training will run on: {info.device}.")
        self.service.set_backend_ready()
        self._backend_info = info
        view = self._built("training")
        if view is not None:
            self._apply_backend_info(view, info)

    @staticmethod
    def _apply_backend_info(view: TrainingView, info: BackendInfo) -> None:
        view.panel.set_gpu_available(info.gpus > 0, info.device)
        view.panel.set_devices(list(info.devices))
        view.panel.loader.release()

    @Slot(str)
    def _on_backend_failed(self, error: str) -> None:
        self._set_status(self.backend_icon, self.backend_status, "warning",
                         "TensorFlow could not be loaded", theme.ERROR_COLOR)
        self.backend_status.setToolTip(error)
        self.summary_view.set_failed_backend(error)
        self._set_status(self.build_icon, self.build_status, "warning", "Cannot build",
                         theme.ERROR_COLOR)
        view = self._built("training")
        if view is not None:  # the previews do not need TensorFlow for built-in datasets
            view.panel.loader.release()

    @Slot(int)
    def _on_building(self, _generation: int) -> None:
        self._set_status(self.build_icon, self.build_status, "busy", "Building with Keras…")
        self.summary_view.set_waiting("Building with Keras…")

    @Slot(object)
    def _on_summary(self, result: SummaryResult) -> None:
        self.canvas.set_result(result)
        self.inspector.set_result(result)
        self.summary_view.set_result(result)
        self.summary_view.select_path(self.doc.selection[0] if len(self.doc.selection) == 1
                                      else None)
        if result.ok:
            self._set_status(self.build_icon, self.build_status, "ok", result.headline())
        else:
            self._set_status(self.build_icon, self.build_status, "warning",
                             "Model does not build", theme.ERROR_COLOR)
        self.build_status.setToolTip(result.headline())
        self.summary_ready.emit(result)

    # ------------------------------------------------------------------ document events
    def _on_doc_changed(self) -> None:
        self.service.request(self.doc.spec)
        self._update_actions()
        self._update_compare_action()
        self._update_title()  # an unsaved document is called by its spec's name

    def _on_selection_changed(self) -> None:
        sel = self.doc.selection
        self._update_actions()
        self.summary_view.select_path(sel[0] if len(sel) == 1 else None)
        if len(sel) == 1:
            self.canvas.ensure_visible(sel[0])

    def _on_edit_failed(self, message: str) -> None:
        self.statusBar().showMessage(message, 6000)
        QApplication.beep()

    def _on_canvas_activated(self, _path: object) -> None:
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        self.inspector.focus_first_editor()

    def _on_summary_block_clicked(self, path: editing.Path) -> None:
        self.doc.set_selection([path])

    def _update_title(self) -> None:
        name = self.doc.display_name()
        shipped = self.doc.path is None and self.doc.spec.name in preset_names()
        suffix = " (preset)" if shipped else ""
        self.setWindowTitle(f"{name}[*]{suffix} — {APP_NAME}")
        self.setWindowModified(self.doc.is_dirty)
        self.actions["revert"].setEnabled(self.doc.path is not None and self.doc.is_dirty)

    def _update_actions(self) -> None:
        sel = editing.normalize_selection(self.doc.selection)
        spec = self.doc.spec
        a = self.actions
        has = bool(sel)
        for key in ("cut", "copy", "duplicate", "delete"):
            a[key].setEnabled(has)
        siblings = has and all(p[:-1] == sel[0][:-1] for p in sel)
        a["move_up"].setEnabled(siblings)
        a["move_down"].setEnabled(siblings)
        a["wrap"].setEnabled(has and editing.is_contiguous(sel))
        single = sel[0] if len(sel) == 1 else None
        a["unwrap"].setEnabled(single is not None and
                               editing.get_block(spec, single).blocks is not None)
        a["toggle_shortcut"].setEnabled(single is not None and
                                        editing.shortcut_of(spec, single) is not None)
        a["rename"].setEnabled(single is not None)

    # ------------------------------------------------------------------ edit actions
    def add_block(self, block_type: str) -> None:
        if self.doc.add_block(block_type):
            self.canvas.setFocus()

    def select_all(self) -> None:
        self.doc.set_selection([n.path for n in self.canvas.nodes() if len(n.path) == 1])

    def copy(self) -> None:
        if self.doc.selection:
            QGuiApplication.clipboard().setText(self.doc.copy_text())
            n = len(editing.normalize_selection(self.doc.selection))
            self.statusBar().showMessage(f"Copied {n} block{'s' if n != 1 else ''}", 3000)

    def cut(self) -> None:
        if self.doc.selection:
            QGuiApplication.clipboard().setText(self.doc.copy_text())
            self.doc.remove()

    def paste(self) -> None:
        self.doc.paste(QGuiApplication.clipboard().text())

    def rename_block(self) -> None:
        if len(self.doc.selection) == 1:
            self.inspector_dock.show()
            self.inspector_dock.raise_()
            self.inspector.name_edit.setFocus()
            self.inspector.name_edit.selectAll()

    def find_block_type(self) -> None:
        self.palette_dock.show()
        self.palette_dock.raise_()
        self.palette_view.search.setFocus()
        self.palette_view.search.selectAll()

    def set_zoom(self, zoom: float) -> None:
        self.canvas.set_zoom(zoom)
        self.settings.set_zoom(self.canvas.zoom)
        self.statusBar().showMessage(f"Zoom {self.canvas.zoom:.0%}", 1500)

    def _show_context_menu(self, pos, path: object) -> None:
        a = self.actions
        menu = QMenu(self)
        if path is not None:
            path = tuple(path)
            block = editing.get_block(self.doc.spec, path)
            menu.addActions([a["cut"], a["copy"], a["paste"], a["duplicate"], a["delete"]])
            menu.addSeparator()
            menu.addActions([a["move_up"], a["move_down"], a["wrap"]])
            if block.blocks is not None:
                menu.addAction(a["unwrap"])
                collapsed = self.canvas.is_collapsed(path)
                act = menu.addAction("Expand" if collapsed else "Collapse")
                act.triggered.connect(lambda: self.canvas.set_collapsed(path, not collapsed))
            mode = editing.shortcut_of(self.doc.spec, path)
            if mode is not None:
                menu.addSeparator()
                menu.addAction(a["toggle_shortcut"])
                sub = menu.addMenu(icons.icon("shortcut"), "Shortcut")
                bt = registry.get_block_type(block.type)
                group = QActionGroup(sub)
                for choice in bt.param("shortcut").choices:
                    act = sub.addAction(choice)
                    act.setCheckable(True)
                    act.setChecked(choice == mode)
                    group.addAction(act)
                    act.triggered.connect(lambda _c=False, m=choice:
                                          self.doc.set_shortcut(path, m))
            menu.addSeparator()
            menu.addAction(a["rename"])
            self._add_insert_menu(menu, "Insert After", path[:-1], path[-1] + 1)
        else:
            menu.addAction(a["paste"])
            parent, index = self.doc.insertion_point()
            self._add_insert_menu(menu, "Add Block", parent, index)
            menu.addSeparator()
            menu.addActions([a["select_all"], a["expand_all"], a["collapse_all"]])
        menu.exec(pos)

    def _add_insert_menu(self, menu: QMenu, title: str, parent: tuple, index: int) -> None:
        sub = menu.addMenu(title)
        for family, types in registry.by_family().items():
            fam_menu = sub.addMenu(icons.family_icon(family), family)
            for bt in sorted(types, key=lambda t: t.title.lower()):
                act = fam_menu.addAction(bt.title)
                act.setToolTip(bt.help)
                act.triggered.connect(lambda _c=False, t=bt.type:
                                      self.doc.add_block(t, parent, index))

    # ------------------------------------------------------------------ training
    def start_training(self) -> bool:
        """Trains the open architecture with the Training tab's settings (Train, F5).

        Shows the Training tab; if a run is going, asks before stopping it.
        """
        self.tabs.setCurrentWidget(self.training_view)
        started = self.training_view.start()
        self._update_training_actions()
        return started

    def toggle_pause(self) -> None:
        compare = self._built("compare")
        view = compare if compare is not None and compare.running else self._built("training")
        if view is None:
            return
        if view.paused:
            view.resume()
        else:
            view.pause()
        self._update_training_actions()

    def stop_training(self) -> None:
        """Stop (Shift+F5): the comparison if one is going, else the training run."""
        compare, training = self._built("compare"), self._built("training")
        if compare is not None and compare.running:
            compare.stop()
        elif training is not None:
            training.stop()
        self._update_training_actions()

    def start_compare(self, limit: int | None = None) -> bool:
        """Compares the open architecture with its plain twin, with the Training tab's
        settings and dataset (Train → Compare with Plain Twin). Shows the Compare tab; asks
        before stopping a run in progress."""
        from resnet_studio.core.runs import default_runs_root

        if not self.actions["compare"].isEnabled():
            self.statusBar().showMessage(COMPARE_DISABLED_TIP, 6000)
            return False
        panel = self.training_view.panel
        try:
            config = panel.config()
        except ValueError as e:
            self.show_error("Cannot Compare", "A training setting is not valid.",
                            details=str(e))
            return False
        dataset = panel.dataset()
        if not dataset:
            self.show_error("Cannot Compare", "Choose a dataset in the Training tab first.")
            return False
        from resnet_studio.gui.training.compare_worker import CompareRequest

        self.tabs.setCurrentWidget(self.compare_view)
        request = CompareRequest(self.doc.spec.copy(), dataset, config, default_runs_root())
        started = self.compare_view.start(request, limit=limit)
        self._update_training_actions()
        return started

    def open_comparison(self, info: RunInfo) -> None:
        """Shows a stored pair (either of its runs) in the Compare tab."""
        if self.compare_view.running:
            self.statusBar().showMessage("A comparison is training: its live plots stay in "
                                         "view", 5000)
            return
        if self.compare_view.show_pair(info.dir):
            self.tabs.setCurrentWidget(self.compare_view)

    def show_residual_help(self) -> None:
        """Help → Residual Connections (one non-modal window, raised when shown again)."""
        if self.residual_help is None:
            self.residual_help = ResidualHelpDialog(self)
        self.residual_help.show()
        self.residual_help.raise_()
        self.residual_help.activateWindow()

    def open_run(self, info: RunInfo) -> None:
        """Shows a stored run's curves and gradients in the Training tab."""
        if self.training_view.training:
            self.statusBar().showMessage("A run is training: its live plots stay in view", 5000)
            return
        if self.training_view.show_run(info.dir):
            self.tabs.setCurrentWidget(self.training_view)

    def resume_run(self, info: RunInfo) -> None:
        """Continues a stopped or interrupted run from its last checkpoint."""
        self.tabs.setCurrentWidget(self.training_view)
        self.training_view.resume_run(info.dir)
        self._update_training_actions()

    def export_model(self) -> None:
        """Exports the run selected in the Runs tab, else the latest run of this window."""
        from resnet_studio.core.runs import read_run

        runs = self._built("runs")
        selected = runs.selected_runs() if runs is not None and \
            self.tabs.currentWidget() is runs else []
        if selected:
            self.export_run(selected[0])
            return
        training = self._built("training")
        run_dir = training.last_run_dir if training is not None else None
        if run_dir is None or training.training:
            self.statusBar().showMessage("Train a model first, or pick a finished run in the "
                                         "Runs tab", 6000)
            self.tabs.setCurrentWidget(self.runs_view)
            return
        try:
            self.export_run(read_run(run_dir))
        except (OSError, ValueError) as e:
            self.show_error("Cannot Export", f"Cannot read the run in {run_dir}.", str(e))

    def export_run(self, info: RunInfo) -> None:
        from resnet_studio.gui.training.export_dialog import ExportDialog

        dialog = ExportDialog(info, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.export_dialog = dialog
        dialog.open()

    @Slot(str, str, str)
    def _on_training_error(self, title: str, text: str, details: str) -> None:
        # Not modal-blocking: the run's thread and the plots keep going behind the dialog.
        self.show_error(title, text, details=details, blocking=False)
        self._update_training_actions()

    @Slot(str)
    def _on_run_started(self, run_dir: str) -> None:
        self._update_training_actions()
        self._refresh_runs()
        self.run_started.emit(run_dir)

    @Slot(object)
    def _on_run_finished(self, _finished: object) -> None:
        self._update_training_actions()
        self._refresh_runs()
        self.run_finished.emit()

    @Slot(str, str)
    def _on_compare_run_started(self, _role: str, run_dir: str) -> None:
        self._update_training_actions()
        self._refresh_runs()
        self.run_started.emit(run_dir)

    def _refresh_runs(self) -> None:
        runs = self._built("runs")  # else it lists the runs when it is made
        if runs is not None:
            runs.refresh()

    @Slot(list)
    def _on_runs_selected(self, runs: list) -> None:
        """Selected runs' curves overlay the training plots (the shown run excluded)."""
        from resnet_studio.core.runs import read_metrics

        shown = self.training_view.last_run_dir
        overlays = [(r.id, read_metrics(r.dir)) for r in runs[:8] if r.dir != shown]
        self.training_view.plots.set_overlays(overlays)

    @Slot(int)
    def _on_tab_changed(self, index: int) -> None:
        """Workspaces: the editing docks belong to the Architecture tab; Training and Runs
        use the whole width for plots and tables. The docks come back as they were."""
        docks = (self.palette_dock, self.inspector_dock, self.summary_dock, self.learn_dock)
        editing_tab = self.tabs.widget(index) is self.scroll
        if not editing_tab and self._editing_docks is None:
            self._editing_docks = [d.isVisible() for d in docks]
            for d in docks:
                d.hide()
        elif editing_tab and self._editing_docks is not None:
            for d, visible in zip(docks, self._editing_docks, strict=True):
                d.setVisible(visible)
            self._editing_docks = None
        page = self.tabs.widget(index)
        key = next((k for k in _LAZY_TABS if page.objectName() == f"{k}Page"), None)
        if key is not None:  # a tab opened for the first time: its view is made now
            self._view(key)
        elif page is self._built("runs"):
            page.refresh()

    def _update_training_actions(self) -> None:
        tv, cv = self._built("training"), self._built("compare")
        training = bool((tv is not None and tv.training) or (cv is not None and cv.running))
        a = self.actions
        a["pause_training"].setEnabled(training)
        a["stop_training"].setEnabled(training)
        comparing = cv is not None and cv.running
        paused = cv.paused if comparing else (tv is not None and tv.paused)
        a["pause_training"].setText("&Resume" if paused else "&Pause")

    def _update_compare_action(self) -> None:
        """Compare needs a shortcut to remove; the tooltip says why it is disabled."""
        from resnet_studio.core.training.compare import has_shortcuts

        try:
            ok = has_shortcuts(self.doc.spec)
        except (KeyError, ValueError, SpecError):  # an invalid spec: the canvas says why
            ok = False
        a = self.actions["compare"]
        a.setEnabled(ok)
        tip = COMPARE_TIP if ok else COMPARE_DISABLED_TIP
        a.setStatusTip(tip)
        a.setToolTip(f"Compare with Plain Twin — {tip}")
        self._compare_enabled = (ok, tip)
        compare = self._built("compare")
        if compare is not None:
            compare.set_start_enabled(ok, tip)

    # ------------------------------------------------------------------ files
    def maybe_save(self) -> bool:
        """Asks about unsaved changes; False when the user cancels."""
        if not self.doc.is_dirty:
            return True
        box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME,
                          f"Save the changes to “{self.doc.display_name()}”?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText("Your changes will be lost if you don't save them.")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

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

    def new_document(self) -> None:
        if not self.maybe_save():
            return
        spec = load_preset(DEFAULT_PRESET)
        spec.name, spec.title = "untitled", "Untitled architecture"
        spec.description = f"Started from {DEFAULT_PRESET}."
        self.doc.replace(spec)
        self.statusBar().showMessage("New architecture (from the default preset)", 4000)

    def show_gallery(self) -> None:
        gallery = PresetGallery(self.service, self, current=self.doc.spec.name)
        if gallery.exec() == QDialog.DialogCode.Accepted and gallery.selected_name():
            self.open_preset(gallery.selected_name())

    def open_preset(self, name: str) -> bool:
        """Opens a shipped preset (unsaved: Save asks for a file)."""
        if not self.maybe_save():
            return False
        try:
            spec = load_preset(name)
        except SpecError as e:
            self.show_error("Cannot Open Preset", f"Could not open the preset “{name}”.",
                            format_problems(e), str(e))
            return False
        self.doc.replace(spec)
        self.statusBar().showMessage(f"Opened the preset {name}", 4000)
        return True

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open Architecture",
                                              self.settings.last_folder(), FILE_FILTER)
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str | os.PathLike[str], ask: bool = True) -> bool:
        """Opens an architecture file; on any problem shows a dialog naming the file and the
        problem, and leaves the current document untouched."""
        if ask and not self.maybe_save():
            return False
        p = FsPath(path)
        try:
            self.doc.open(p)
        except SpecError as e:
            self.show_error("Cannot Open File", f"Could not open “{p.name}”.",
                            format_problems(e), f"File: {p}\n\n{e}")
            return False
        self.settings.add_recent(p)
        self.settings.set_last_folder(str(p.resolve().parent))
        self.statusBar().showMessage(f"Opened {p}", 4000)
        return True

    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self._save_to(self.doc.path)

    def save_as(self) -> bool:
        start = FsPath(self.settings.last_folder()) / f"{self.doc.spec.name}.json"
        if self.doc.path is not None:
            start = self.doc.path
        path, _ = QFileDialog.getSaveFileName(self, "Save Architecture As", str(start),
                                              FILE_FILTER)
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self._save_to(FsPath(path))

    def _save_to(self, path: FsPath) -> bool:
        try:
            saved = self.doc.save(path)
        except OSError as e:
            self.show_error("Cannot Save", f"Could not save “{path.name}”.",
                            f"{e.strerror or e}. The previous file, if any, is unchanged.",
                            f"File: {path}\n\n{e}")
            return False
        self.settings.add_recent(saved)
        self.settings.set_last_folder(str(saved.parent))
        self.statusBar().showMessage(f"Saved {saved}", 4000)
        return True

    def revert(self) -> None:
        if self.doc.path is None or not self.doc.is_dirty:
            return
        box = QMessageBox(QMessageBox.Icon.Question, APP_NAME,
                          f"Discard the changes to “{self.doc.display_name()}”?",
                          QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                          self)
        if box.exec() == QMessageBox.StandardButton.Discard:
            self.open_path(self.doc.path, ask=False)

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files = [f for f in self.settings.recent_files() if FsPath(f).exists()]
        for i, f in enumerate(files):
            act = menu.addAction(f"&{i + 1} {FsPath(f).name}" if i < 9 else FsPath(f).name)
            act.setToolTip(f)
            act.setStatusTip(f)
            act.triggered.connect(lambda _c=False, path=f: self.open_path(path))
        if not files:
            empty = menu.addAction("No recent files")
            empty.setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear Menu")
        clear.setEnabled(bool(files))
        clear.triggered.connect(self.settings.clear_recent)

    # ------------------------------------------------------------------ recovery
    def offer_recovery(self) -> None:
        """Asks whether to restore an autosave left by a session that did not close cleanly."""
        found = find_recoverable()
        if not found:
            return
        latest = found[0]
        box = QMessageBox(QMessageBox.Icon.Question, "Recover Unsaved Changes",
                          "ResNet Studio did not close cleanly last time.",
                          QMessageBox.StandardButton.NoButton, self)
        box.setInformativeText(f"Unsaved changes to {latest.describe()} were kept. Restore "
                               "them?")
        restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(restore)
        box.exec()
        if box.clickedButton() is restore:
            self.recover(latest)
        for r in found:
            r.file.unlink(missing_ok=True)

    def recover(self, entry: Recoverable) -> None:
        """Opens a recovered autosave as an unsaved document (its file, if any, untouched)."""
        self.doc.replace(entry.spec, entry.original, modified=True)
        self.statusBar().showMessage(f"Recovered {entry.describe()}", 6000)

    # ------------------------------------------------------------------ view
    def _restore_layout(self) -> None:
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)

    def _place_learn_dock(self) -> None:
        """The Learn panel shares a tab with the Model Summary, behind it: both explain the
        selection without editing it, and the Inspector (the form being edited) and the
        canvas keep their room. One click on its tab brings it forward."""
        self.tabifyDockWidget(self.summary_dock, self.learn_dock)
        self.summary_dock.raise_()

    def reset_layout(self) -> None:
        self.settings.clear_window()
        for dock in (self.palette_dock, self.inspector_dock, self.summary_dock,
                     self.learn_dock):
            dock.setFloating(False)
            dock.show()
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.palette_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector_dock)
        self.splitDockWidget(self.inspector_dock, self.summary_dock, Qt.Orientation.Vertical)
        self._place_learn_dock()
        self.toolbar.show()
        self.resizeDocks([self.palette_dock, self.inspector_dock], [250, 370],
                         Qt.Orientation.Horizontal)

    def _on_appearance(self, action: QAction) -> None:
        value = action.data()
        self.settings.set_appearance(value)
        app = QApplication.instance()
        theme.apply_appearance(app, value)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._refresh_icons()
        super().changeEvent(event)

    def _refresh_icons(self) -> None:
        icons.clear_cache()
        for action, name in self._icon_actions:
            action.setIcon(icons.icon(name))
        self.palette_view.refresh_icons()
        self.canvas.update()

    def show_shortcuts(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard Shortcuts")
        table = QTableWidget(0, 2, dialog)
        table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        rows = [(a.text().replace("&", ""), ", ".join(
            s.toString(QKeySequence.SequenceFormat.NativeText) for s in a.shortcuts()))
            for a in self.actions.values() if a.shortcuts()]
        rows += [("Select the previous / next block", "Up / Down"),
                 ("Extend the selection", "Shift+Up / Shift+Down, Shift+click"),
                 ("Add a block to the selection", "Ctrl+click"),
                 ("Collapse / expand a container", "Left / Right"),
                 ("Edit the selected block", "Enter, double-click"),
                 ("Toggle a shortcut", "click its arc"),
                 ("Zoom", "Ctrl+wheel")]
        for text, keys in rows:
            r = table.rowCount()
            table.insertRow(r)
            table.setItem(r, 0, QTableWidgetItem(text))
            table.setItem(r, 1, QTableWidgetItem(keys))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        layout.addWidget(buttons)
        dialog.resize(520, 560)
        dialog.exec()

    def show_about(self) -> None:
        info = self.tf_loader.info
        backend = info.describe() if info else "TensorFlow is still loading"
        QMessageBox.about(
            self, f"About {APP_NAME}",
            f"<h3>{APP_NAME} {__version__}</h3>"
            "<p>Build, train and understand residual networks block by block. Shapes and "
            "parameter counts are computed by Keras on every edit.</p>"
            f"<p>{backend}</p>")

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
        if not self._closing and not self.maybe_save():
            event.ignore()
            return
        if not self._closing and not (self._confirm_stop("training", "close the window")
                                      and self._confirm_stop("compare", "close the window")):
            event.ignore()
            return
        self._closing = True
        if self.persist_layout:
            self.tabs.setCurrentWidget(self.scroll)  # save the editing docks as the user left them
            self.settings.save_window(self.saveGeometry(), self.saveState())
            self.settings.sync()
        self.shutdown()
        event.accept()
