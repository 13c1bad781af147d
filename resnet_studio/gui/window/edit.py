"""Edit commands on the canvas: clipboard, rename, find, zoom, the context menu, and which
edit actions apply to the current selection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QActionGroup, QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu, QToolTip

from resnet_studio.core import editing
from resnet_studio.core.blocks import registry
from resnet_studio.gui import icons

if TYPE_CHECKING:
    from resnet_studio.gui.main_window import MainWindow


class EditCommands:
    """The Edit menu's commands that need more than one Document call."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self.doc = win.doc
        self.canvas = win.canvas
        self.last_refusal = ""  # the last refused edit's reason (shown over the canvas)

    def add_block(self, block_type: str) -> None:
        if self.doc.add_block(block_type):
            self.canvas.setFocus()

    def select_all(self) -> None:
        self.doc.set_selection([n.path for n in self.canvas.nodes() if len(n.path) == 1])

    def copy(self) -> None:
        if self.doc.selection:
            QGuiApplication.clipboard().setText(self.doc.copy_text())
            n = len(editing.normalize_selection(self.doc.selection))
            self.win.statusBar().showMessage(f"Copied {n} block{'s' if n != 1 else ''}", 3000)

    def cut(self) -> None:
        if self.doc.selection:
            QGuiApplication.clipboard().setText(self.doc.copy_text())
            self.doc.remove()

    def paste(self) -> None:
        self.doc.paste(QGuiApplication.clipboard().text())

    def rename_block(self) -> None:
        if len(self.doc.selection) == 1:
            self.win.panes.show_dock(self.win.inspector_dock)
            self.win.inspector.focus_name()

    def find_block_type(self) -> None:
        self.win.panes.show_dock(self.win.palette_dock)
        self.win.palette_view.focus_search()

    def set_zoom(self, zoom: float) -> None:
        self.canvas.set_zoom(zoom)
        self.win.settings.set_zoom(self.canvas.zoom)
        self.win.statusBar().showMessage(f"Zoom {self.canvas.zoom:.0%}", 1500)

    def on_edit_failed(self, message: str) -> None:
        """An edit was refused: the reason where the user is looking (over the canvas) and
        in the status bar, not in the status bar alone."""
        self.win.statusBar().showMessage(message, 8000)
        self.last_refusal = message
        if self.canvas.isVisible():
            viewport = self.win.scroll.viewport()
            width = QFontMetrics(QToolTip.font()).horizontalAdvance(message)
            x = max(8, (viewport.width() - width) // 2)  # centred over the canvas
            QToolTip.showText(viewport.mapToGlobal(QPoint(x, 12)), message, viewport, QRect(),
                              8000)
        QApplication.beep()

    def on_canvas_activated(self, path: object) -> None:
        if path is not None and self._is_backbone(tuple(path)):
            self.show_inside(tuple(path))  # one card on the canvas; its layers, read-only
            return
        self.win.panes.show_dock(self.win.inspector_dock)
        self.win.inspector.focus_first_editor()

    def update_actions(self) -> None:
        """Enables the actions that apply to the selection."""
        sel = editing.normalize_selection(self.doc.selection)
        spec = self.doc.spec
        a = self.win.actions
        has = bool(sel)
        for key in ("copy", "duplicate"):
            a[key].setEnabled(has)
        # Deleting the last block is refused where it is asked, with the reason on the
        # greyed action (tooltip, status tip, context menu), not after the key press.
        why = editing.removal_problem(spec, sel) if has else ""
        for key, tip in (("cut", ""), ("delete", "Delete the selected blocks")):
            a[key].setEnabled(has and not why)
            a[key].setStatusTip(why or tip)
            a[key].setToolTip(why or a[key].text().replace("&", "") + (f" — {tip}" if tip
                                                                        else ""))
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

    def _is_backbone(self, path: tuple) -> bool:
        return editing.get_block(self.doc.spec, path).type == "pretrained_backbone"

    def show_inside(self, path: tuple) -> None:
        """Opens the read-only view of a pretrained backbone's layers (gui/backbone_view)."""
        from resnet_studio.gui.backbone_view import show_backbone

        block = editing.get_block(self.doc.spec, path)
        self.backbone_view = show_backbone(self.win, block.name or block.type, block.params)

    # ------------------------------------------------------------------ context menu
    def show_context_menu(self, pos: QPoint, path: object) -> None:
        a = self.win.actions
        menu = QMenu(self.win)
        menu.setToolTipsVisible(True)  # a greyed Delete says why
        if path is not None:
            path = tuple(path)
            block = editing.get_block(self.doc.spec, path)
            if block.type == "pretrained_backbone":
                menu.addAction("Show Inside…").triggered.connect(lambda: self.show_inside(path))
                menu.addSeparator()
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
                self._add_shortcut_menu(menu, path, block.type, mode)
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

    def _add_shortcut_menu(self, menu: QMenu, path: tuple, block_type: str, mode: str) -> None:
        sub = menu.addMenu(icons.icon("shortcut"), "Shortcut")
        group = QActionGroup(sub)
        for choice in registry.get_block_type(block_type).param("shortcut").choices:
            act = sub.addAction(choice)
            act.setCheckable(True)
            act.setChecked(choice == mode)
            group.addAction(act)
            act.triggered.connect(lambda _c=False, m=choice: self.doc.set_shortcut(path, m))

    def _add_insert_menu(self, menu: QMenu, title: str, parent: tuple, index: int) -> None:
        sub = menu.addMenu(title)
        for family, types in registry.by_family().items():
            fam_menu = sub.addMenu(icons.family_icon(family), family)
            for bt in sorted(types, key=lambda t: t.title.lower()):
                act = fam_menu.addAction(bt.title)
                act.setToolTip(bt.help)
                act.triggered.connect(lambda _c=False, t=bt.type:
                                      self.doc.add_block(t, parent, index))
