"""Every action of the main window, its menus and its toolbar.

Actions are made once, named `action_<key>` (tests and the shortcut table find them by key
in `MainWindow.actions`), and call the window's parts: `files`, `edit`, `runs`, `panes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QApplication, QToolBar, QWidget

from resnet_studio.gui import icons
from resnet_studio.gui.window import help_menu
from resnet_studio.gui.window.help_menu import APP_NAME

if TYPE_CHECKING:
    from resnet_studio.gui.main_window import MainWindow

COMPARE_TIP = ("Train the architecture and its plain twin (every shortcut removed) from the "
               "same initial weights, and compare their loss and gradient flow")
TABS = ("Architecture", "Training", "Compare", "Runs")
# Toolbar labels (View › Show Toolbar Labels): one short word under each icon.
ICON_TEXT = {"gallery": "Presets", "move_up": "Up", "move_down": "Down", "wrap": "Wrap",
             "unwrap": "Unwrap", "toggle_shortcut": "Shortcut", "zoom_out": "Zoom Out",
             "zoom_reset": "100 %", "zoom_in": "Zoom In", "compare": "Compare",
             "pause_training": "Pause", "stop_training": "Stop"}
# Keys that work from any window of the app (the edit keys stay with the canvas or window).
APP_WIDE = ("new", "gallery", "open", "save", "save_as", "quit", "train", "stop_training",
            "pause_training", "shortcuts_help")


class WindowActions:
    """Makes the actions (`actions`, by key) and puts them in menus and the toolbar."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self.actions: dict[str, QAction] = {}
        self.icon_actions: list[tuple[QAction, str]] = []  # re-tinted on a palette change
        self._make_actions()

    def refresh_icons(self) -> None:
        for action, name in self.icon_actions:
            action.setIcon(icons.icon(name))

    # ------------------------------------------------------------------ actions
    def _action(self, key: str, text: str, slot: Callable[[], object] | None = None, *,
                shortcut: QKeySequence | str | list | None = None, icon: str | None = None,
                tip: str = "", checkable: bool = False, canvas_only: bool = False) -> QAction:
        a = QAction(text, self.win)
        a.setObjectName(f"action_{key}")
        if shortcut is not None:
            seqs = shortcut if isinstance(shortcut, list) else [shortcut]
            a.setShortcuts([QKeySequence(s) for s in seqs])
        if icon:
            a.setIcon(icons.icon(icon))
            self.icon_actions.append((a, icon))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(f"{text.replace('&', '').replace('…', '')} — {tip}")
        a.setCheckable(checkable)
        if slot is not None:
            a.triggered.connect(lambda _checked=False: slot())
        if canvas_only:
            # Keys like Delete must not act on blocks while typing in a form field.
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.win.scroll.addAction(a)
        self.actions[key] = a
        return a

    def _undo_redo(self, key: str, action: QAction, keys: QKeySequence.StandardKey) -> None:
        action.setShortcuts(QKeySequence.keyBindings(keys))
        action.setIcon(icons.icon(key))
        self.icon_actions.append((action, key))
        self.actions[key] = action

    def _make_actions(self) -> None:
        win, K, A = self.win, QKeySequence.StandardKey, self._action
        files, edit, doc, runs = win.files, win.edit, win.doc, win.runs
        A("new", "&New", files.new_document, shortcut=K.New, icon="new",
          tip="Start a blank architecture: an input and a classifier head")
        A("gallery", "New from &Preset…", files.show_gallery, shortcut="Ctrl+Shift+N",
          icon="gallery", tip="Pick a shipped architecture from the preset gallery")
        A("open", "&Open…", files.open_dialog, shortcut=K.Open, icon="open",
          tip="Open an architecture file (.json)")
        A("save", "&Save", files.save, shortcut=K.Save, icon="save", tip="Save the architecture")
        A("save_as", "Save &As…", files.save_as, shortcut=K.SaveAs,
          tip="Save the architecture to a new file")
        A("revert", "&Revert to Saved", files.revert, icon="revert",
          tip="Discard unsaved changes")
        A("quit", "&Quit", win.close, shortcut=K.Quit, tip="Close ResNet Studio")

        self._undo_redo("undo", doc.undo_stack.createUndoAction(win, "&Undo"), K.Undo)
        self._undo_redo("redo", doc.undo_stack.createRedoAction(win, "&Redo"), K.Redo)
        A("cut", "Cu&t", edit.cut, shortcut=K.Cut, icon="cut", canvas_only=True)
        A("copy", "&Copy", edit.copy, shortcut=K.Copy, icon="copy", canvas_only=True)
        A("paste", "&Paste", edit.paste, shortcut=K.Paste, icon="paste", canvas_only=True)
        A("duplicate", "D&uplicate", doc.duplicate, shortcut="Ctrl+D", icon="duplicate",
          tip="Insert a copy of the selected blocks after them")
        A("delete", "&Delete", doc.remove, shortcut=[K.Delete, "Backspace"], icon="delete",
          tip="Delete the selected blocks", canvas_only=True)
        A("select_all", "Select &All", edit.select_all, shortcut=K.SelectAll, canvas_only=True)
        A("move_up", "Move &Up", lambda: doc.move_by(-1), shortcut="Alt+Up",
          icon="move-up", tip="Move the selected blocks up (out of a container at its top)")
        A("move_down", "Move Do&wn", lambda: doc.move_by(+1), shortcut="Alt+Down",
          icon="move-down", tip="Move the selected blocks down")
        A("wrap", "&Wrap in Residual Container", doc.wrap, shortcut="Ctrl+G", icon="wrap",
          tip="Put the selected consecutive blocks inside a residual container: y = F(x) + x")
        A("unwrap", "Un&wrap Container", doc.unwrap, shortcut="Ctrl+Shift+G",
          icon="unwrap", tip="Replace the selected container by its blocks")
        A("toggle_shortcut", "Toggle &Shortcut", doc.toggle_shortcut, shortcut="Ctrl+K",
          icon="shortcut", tip="Switch the selected block's residual shortcut off or on")
        A("plain_twin", "Remove All Shortcuts (Plain Twin)",
          lambda: doc.set_all_shortcuts("none"),
          tip="Set every shortcut to none: the same network without residual connections")
        A("rename", "Re&name Block", edit.rename_block, shortcut="F2",
          tip="Edit the selected block's name in the inspector")
        A("find", "&Find Block Type", edit.find_block_type, shortcut=K.Find, icon="search",
          tip="Search the block palette")

        A("zoom_in", "Zoom &In", lambda: edit.set_zoom(win.canvas.zoom * 1.15),
          shortcut=[K.ZoomIn, "Ctrl+="], icon="zoom-in")
        A("zoom_out", "Zoom &Out", lambda: edit.set_zoom(win.canvas.zoom / 1.15),
          shortcut=K.ZoomOut, icon="zoom-out")
        A("zoom_reset", "&Actual Size", lambda: edit.set_zoom(1.0), shortcut="Ctrl+0",
          icon="zoom-reset")
        A("expand_all", "&Expand All Containers", lambda: win.canvas.set_all_collapsed(False))
        A("collapse_all", "&Collapse All Containers", lambda: win.canvas.set_all_collapsed(True))
        A("reset_layout", "&Reset Layout", win.panes.reset_layout,
          tip="Put the panels back where they were at first start")

        A("train", "&Train", win.train_requested.emit, shortcut="F5", icon="train",
          tip="Train the architecture on its dataset with the Training tab's settings")
        A("compare", "Compare with &Plain Twin", runs.start_compare, shortcut="Ctrl+Shift+F5",
          icon="shortcut", tip=COMPARE_TIP)
        A("pause_training", "&Pause / Resume", runs.toggle_pause, shortcut="F6", icon="pause",
          tip="Hold training between batches, or continue")
        A("stop_training", "&Stop", runs.stop_training, shortcut="Shift+F5", icon="stop",
          tip="Stop after the current batch (a checkpoint is kept)")
        A("export_model", "&Export Model…", runs.export_model, shortcut="Ctrl+E", icon="export",
          tip="Export the latest (or the selected) run as SavedModel, .keras, TFLite or code")
        A("insight", "Pre&dictions and Histograms", runs.show_insight, icon="search",
          tip="The test examples the latest (or the selected) run gets wrong, and its "
          "per-layer weight and activation histograms")
        for i, name in enumerate(TABS):
            A(f"tab_{name.lower()}", f"Show &{name}", lambda _c=False, i=i:
              win.tabs.setCurrentIndex(i), shortcut=f"Ctrl+{i + 1}")

        A("residual_help", "&Residual Connections", lambda: help_menu.show_residual_help(win),
          icon="help", tip="What residual blocks compute, and why they keep the gradient "
          "flowing")
        A("shortcuts_help", "&Keyboard Shortcuts", lambda: help_menu.show_shortcuts(win),
          shortcut=K.HelpContents, icon="keyboard")
        A("tour", "Take the &Tour", lambda: win.tour.start(),
          tip="Five short steps: blocks, canvas, inspector, training and runs")
        A("toolbar_text", "Show Toolbar &Labels", None, checkable=True,
          tip="Show each toolbar button's name under its icon")
        a = self.actions["toolbar_text"]
        a.setChecked(win.settings.toolbar_text())
        a.toggled.connect(self.set_toolbar_text)
        A("about", f"&About {APP_NAME}", lambda: help_menu.show_about(win), icon="help")
        A("about_qt", "About &Qt", QApplication.aboutQt)

        # Commands that act on the whole document or app answer their keys wherever the
        # focus is: in a form field, in a floating dock (another window, so a window-wide
        # shortcut missed it: Ctrl+N "did nothing" from the inspector, issue 18 item 9).
        for key in APP_WIDE:
            self.actions[key].setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)

        self.appearance_group = QActionGroup(win)
        current = win.settings.appearance()
        for value, text in (("system", "Follow the &System"), ("light", "&Light"),
                            ("dark", "&Dark")):
            a = QAction(text, self.appearance_group)
            a.setCheckable(True)
            a.setChecked(value == current)
            a.setData(value)
            self.actions[f"appearance_{value}"] = a
        self.appearance_group.triggered.connect(win.panes.on_appearance)

    # ------------------------------------------------------------------ menus, toolbar
    def make_menus(self) -> None:
        win, a = self.win, self.actions
        mb = win.menuBar()
        m = mb.addMenu("&File")
        m.addActions([a["new"], a["gallery"], a["open"]])
        win.recent_menu = m.addMenu("Open &Recent")
        win.recent_menu.aboutToShow.connect(win.files.fill_recent_menu)
        m.addSeparator()
        m.addActions([a["save"], a["save_as"], a["revert"]])
        m.addSeparator()
        m.addAction(a["quit"])
        m = mb.addMenu("&Edit")
        for group in (["undo", "redo"], ["cut", "copy", "paste", "duplicate", "delete"],
                      ["select_all", "move_up", "move_down"],
                      ["wrap", "unwrap", "toggle_shortcut", "plain_twin"], ["rename", "find"]):
            if group[0] != "undo":
                m.addSeparator()
            m.addActions([a[k] for k in group])
        m = mb.addMenu("&View")
        m.addActions([a[f"tab_{name.lower()}"] for name in TABS])
        m.addSeparator()
        for dock in win.panes.docks():
            m.addAction(dock.toggleViewAction())
        m.addSeparator()
        m.addActions([a["zoom_in"], a["zoom_out"], a["zoom_reset"]])
        m.addSeparator()
        m.addActions([a["expand_all"], a["collapse_all"]])
        m.addSeparator()
        m.addAction(a["toolbar_text"])
        appearance = m.addMenu("A&ppearance")
        appearance.addActions(self.appearance_group.actions())
        m.addAction(a["reset_layout"])
        m = mb.addMenu("&Train")
        m.addActions([a["train"], a["compare"], a["pause_training"], a["stop_training"]])
        m.addSeparator()
        m.addAction(a["export_model"])
        m.addAction(a["insight"])
        m = mb.addMenu("&Help")
        m.addActions([a["residual_help"], a["tour"]])
        m.addSeparator()
        m.addActions([a["shortcuts_help"], a["about"], a["about_qt"]])

    def make_toolbar(self) -> QToolBar:
        win, a = self.win, self.actions
        tb = QToolBar("Main Toolbar", win)
        tb.setObjectName("mainToolbar")
        tb.setIconSize(QSize(20, 20))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        for i, group in enumerate((["new", "gallery", "open", "save"], ["undo", "redo"],
                                   ["duplicate", "delete", "move_up", "move_down"],
                                   ["wrap", "unwrap", "toggle_shortcut"],
                                   ["zoom_out", "zoom_reset", "zoom_in"])):
            if i:
                tb.addSeparator()
            tb.addActions([a[k] for k in group])
        spacer = QWidget(tb)
        spacer.setSizePolicy(spacer.sizePolicy().Policy.Expanding,
                             spacer.sizePolicy().Policy.Preferred)
        tb.addWidget(spacer)
        tb.addActions([a["train"], a["compare"], a["pause_training"], a["stop_training"]])
        train_button = tb.widgetForAction(a["train"])
        train_button.setObjectName("trainButton")
        win.train_button = train_button
        win.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        for key, short in ICON_TEXT.items():  # labels under icons stay one short word
            a[key].setIconText(short)
        self.toolbar = tb
        self.set_toolbar_text(a["toolbar_text"].isChecked(), save=False)
        return tb

    def set_toolbar_text(self, on: bool, save: bool = True) -> None:
        """Text under the toolbar's icons (View › Show Toolbar Labels), remembered."""
        style = Qt.ToolButtonStyle
        self.toolbar.setToolButtonStyle(style.ToolButtonTextUnderIcon if on
                                        else style.ToolButtonIconOnly)
        # Train always says its name: the one button a new user must find.
        self.win.train_button.setToolButtonStyle(style.ToolButtonTextUnderIcon if on
                                                 else style.ToolButtonTextBesideIcon)
        if save:
            self.win.settings.set_toolbar_text(on)
