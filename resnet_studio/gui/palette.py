"""Block palette: every block type grouped by family, with icon, one-line help and search.

Drag a block onto the canvas, or double-click it (or press Enter) to add it after the
selected block. Reads only the block registry, so it works before TensorFlow has loaded.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, Qt, Signal
from PySide6.QtGui import QDrag, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.blocks import registry
from resnet_studio.gui import icons

BLOCK_TYPE_MIME = "application/x-resnet-studio-block-type"
TYPE_ROLE = Qt.ItemDataRole.UserRole
FIRST_FAMILY = "Containers"
HELP_LINES = 4  # the help box below the list keeps this height whatever the text
HELP_CHARS = 130  # longer help is cut there (the whole text is in the item's tooltip)


def block_tooltip(bt: registry.BlockType) -> str:
    rows = "".join(f"<tr><td><b>{p.name}</b></td><td>{p.help}</td></tr>" for p in bt.params)
    cite = f"<p><i>{bt.citation}</i></p>" if bt.citation else ""
    table = f"<table cellspacing=2>{rows}</table>" if rows else ""
    return (f"<p><b>{bt.title}</b> <code>{bt.type}</code><br>{bt.help}</p>{table}{cite}"
            "<p style='color:gray'>Drag onto the canvas or double-click to add.</p>")


def palette_families() -> list[tuple[str, list[registry.BlockType]]]:
    """The families in palette order: Containers first. The residual container is what this
    app is about, and at the end of a 34-row list it sat below the fold of a 900-pixel
    window (issue 18, item 9); the other families keep the registry's order."""
    groups = [(f, types) for f, types in registry.by_family().items() if types]
    return sorted(groups, key=lambda g: g[0] != FIRST_FAMILY)  # stable: the rest keep order


class _Tree(QTreeWidget):
    """The tree, with drags that carry the block type (not Qt's item format)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._press: QPoint | None = None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return super().mouseMoveEvent(event)
        if (event.position().toPoint() - self._press).manhattanLength() < \
                QApplication.startDragDistance():
            return None
        item = self.itemAt(self._press)
        self._press = None
        block_type = item.data(0, TYPE_ROLE) if item else None
        if not block_type:
            return None
        mime = QMimeData()
        mime.setData(BLOCK_TYPE_MIME, block_type.encode())
        mime.setText(block_type)
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(item.icon(0).pixmap(32, 32))
        drag.exec(Qt.DropAction.CopyAction)
        return None


class BlockPalette(QWidget):
    """Signals:
        add_requested(str): the user double-clicked (or pressed Enter on) a block type.
    """

    add_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search blocks…")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icons.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.textChanged.connect(self._on_search)
        self.search.returnPressed.connect(self._add_first_match)
        self.tree = _Tree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(14)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(icons.pixmap("family-layers", 20).size())
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setDragEnabled(True)
        self.tree.itemActivated.connect(self._on_activated)
        self.tree.setMouseTracking(True)
        self.tree.itemEntered.connect(self._show_help)
        self.tree.currentItemChanged.connect(lambda item, _prev: self._show_help(item))
        self.help = QLabel(self)
        self.help.setWordWrap(True)
        self.help.setTextFormat(Qt.TextFormat.RichText)
        # A fixed height: a help text that grew the box shrank the list under the mouse
        # while the wheel scrolled it (the full help is in each item's tooltip).
        self.help.setFixedHeight(self.fontMetrics().height() * HELP_LINES + 14)
        self.help.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.help.setFrameShape(QFrame.Shape.StyledPanel)
        self.help.setMargin(6)
        self.empty = QLabel("No block matches.", self)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setEnabled(False)
        self.empty.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.help)
        self.items: dict[str, QTreeWidgetItem] = {}
        self._populate()
        self._show_help(None)

    def _populate(self) -> None:
        self.tree.clear()
        self.items.clear()
        bold = self.tree.font()
        bold.setBold(True)
        for family, types in palette_families():
            group = QTreeWidgetItem([family])
            group.setIcon(0, icons.family_icon(family))
            group.setFont(0, bold)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setToolTip(0, f"{family} blocks")
            self.tree.addTopLevelItem(group)
            for bt in sorted(types, key=lambda t: t.title.lower()):
                item = QTreeWidgetItem([bt.title])
                item.setData(0, TYPE_ROLE, bt.type)
                item.setIcon(0, icons.family_icon(family))
                item.setToolTip(0, block_tooltip(bt))
                item.setStatusTip(0, bt.help)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsDragEnabled)
                group.addChild(item)
                self.items[bt.type] = item
            group.setExpanded(True)

    def focus_search(self) -> None:
        """Puts the cursor in the search field, its text selected (Find Block Type)."""
        self.search.setFocus()
        self.search.selectAll()

    def refresh_icons(self) -> None:
        """Re-tints icons after the palette (light/dark) changed."""
        text = self.search.text()
        self._populate()
        self._on_search(text)

    def _show_help(self, item: QTreeWidgetItem | None) -> None:
        """One-line help of the block under the mouse (or selected) below the list."""
        block_type = item.data(0, TYPE_ROLE) if item is not None else None
        if not block_type:
            self.help.setText("<span style='color:gray'>Drag a block onto the canvas, or "
                              "double-click it to add it after the selection.</span>")
            return
        bt = registry.BLOCK_TYPES[block_type]
        text = bt.help if len(bt.help) <= HELP_CHARS else bt.help[:HELP_CHARS - 1] + "…"
        self.help.setText(f"<b>{bt.title}</b><br>{text}")

    def _on_search(self, text: str) -> None:
        needle = text.strip().lower()
        shown = 0
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            visible = 0
            for j in range(group.childCount()):
                item = group.child(j)
                bt = registry.BLOCK_TYPES[item.data(0, TYPE_ROLE)]
                hay = f"{bt.title} {bt.type} {bt.help} {bt.family}".lower()
                match = all(word in hay for word in needle.split())
                item.setHidden(not match)
                visible += match
            group.setHidden(visible == 0)
            shown += visible
        self.empty.setVisible(shown == 0)
        self.tree.setVisible(shown > 0)

    def _add_first_match(self) -> None:
        for bt_type, item in self.items.items():
            if not item.isHidden() and not item.parent().isHidden():
                self.add_requested.emit(bt_type)
                return

    def _on_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        block_type = item.data(0, TYPE_ROLE)
        if block_type:
            self.add_requested.emit(block_type)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Down from the search box goes to the list, like a launcher.
        if event.key() == Qt.Key.Key_Down and self.search.hasFocus():
            self.tree.setFocus()
            return
        super().keyPressEvent(event)
