"""Architecture canvas: the spec as a vertical flow of block cards.

Each card shows the block's type, name and key parameters, and — from the last Keras build —
its output shape and parameter count. Residual shortcuts are arcs in the left margin of the
blocks they skip: solid for identity, with a W_s box for a projection, dashed for zero_pad,
grey and crossed out for none (click an arc to switch the shortcut off and on). `residual`
containers are frames holding their children's cards, collapsible with the chevron.

The widget paints everything itself from a layout computed in unzoomed units (`canvas_layout.layout_spec`), so
hit-testing, drag-and-drop targets and painting share one set of rectangles; the geometry
lives in `gui.canvas_layout`, the text formatting in `gui.formatting`.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QPoint, QPointF, QSize, Qt, Signal
from PySide6.QtGui import (
    QDrag,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFontMetricsF,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import QApplication, QScrollArea, QSizePolicy, QToolTip, QWidget

from resnet_studio.core import editing
from resnet_studio.core.binding import Difference
from resnet_studio.core.builder import BlockSummary, block_names
from resnet_studio.core.spec import validate
from resnet_studio.gui import theme
from resnet_studio.gui.canvas_layout import (
    ZOOM_MAX,
    ZOOM_MIN,
    CanvasLayout,
    DropSlot,
    Node,
    Path,
    layout_spec,
)
from resnet_studio.gui.canvas_paint import WARNING_COLOR, CanvasPainting
from resnet_studio.gui.document import Document
from resnet_studio.gui.formatting import (
    SHORTCUT_TEXT,
    format_count,
    format_shape,
    format_value,
)
from resnet_studio.gui.palette import BLOCK_TYPE_MIME
from resnet_studio.gui.summary_worker import SummaryResult, problems_by_block

BLOCK_PATHS_MIME = "application/x-resnet-studio-block-paths"

class ArchitectureCanvas(CanvasPainting, QWidget):
    """Signals:
        activated(object): a block was double-clicked or Enter was pressed (its path).
        context_menu_requested(QPoint, object): right-click at a global position, on a
            block path or None for the background.
    """

    activated = Signal(object)
    context_menu_requested = Signal(QPoint, object)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = document
        self.zoom = 1.0
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Architecture canvas")
        self._collapsed: set[str] = set()
        self._geo = CanvasLayout()
        self._hover: tuple[str, Path] | None = None
        self._press_pos: QPointF | None = None
        self._press_path: Path | None = None
        self._anchor: Path | None = None
        self._cursor: Path | None = None
        self._drop: DropSlot | None = None
        # What Keras said (from the summary service) and what validation says (synchronous).
        self._result: SummaryResult | None = None
        self._infos: dict[Path, BlockSummary] = {}
        self._build_errors: dict[Path, list[str]] = {}
        # Where the spec's values differ from the chosen dataset's (core.binding).
        self._differences: dict[Path | None, list[Difference]] = {}
        self._spec_errors: dict[Path, list[str]] = {}
        self._stale = True
        self._signature: tuple | None = None
        document.changed.connect(self._on_doc_changed)
        document.selection_changed.connect(self.update)
        self._on_doc_changed()

    # ------------------------------------------------------------------ public
    def set_result(self, result: SummaryResult) -> None:
        """Shows a build result (from SummaryService.finished)."""
        self._result = result
        self._infos = result.block_summaries()
        self._build_errors = result.block_problems()
        self._differences = result.block_differences()
        self._signature = self._structure(result.spec)
        self._stale = result.spec != self.doc.spec
        self.update()

    def errors_for(self, path: Path) -> list[str]:
        """Messages shown on a block's card (validation, then the last build)."""
        return self._spec_errors.get(path, []) + self._build_errors.get(path, [])

    def differences_for(self, path: Path | None) -> list[Difference]:
        """Where the block at `path` (None: the input) differs from the dataset's values,
        as of the last build (the card's warning badge)."""
        return self._differences.get(None if path is None else tuple(path), [])

    def projection_drawn(self, path: Path) -> bool:
        """Whether the shortcut of the block at `path` is drawn with a W_s box: where Keras
        built a projection (the last summary lists a projection layer in the block); before
        the first build, where the spec asks for one."""
        if editing.shortcut_of(self.doc.spec, path) not in ("projection", "projection_all"):
            return False
        built = None
        if self._result is not None and not self._stale:
            built = self._result.has_projection(path)
        return True if built is None else built

    def info_for(self, path: Path) -> BlockSummary | None:
        return self._infos.get(path)

    def nodes(self) -> list[Node]:
        """Every laid-out node, depth first (children of collapsed containers excluded)."""
        return list(self._geo.walk())

    def node(self, path: Path) -> Node | None:
        return self._geo.node(path)

    def card_center(self, path: Path) -> QPoint:
        """Widget coordinates of a card's header centre (for tests and keyboard menus)."""
        n = self.node(path)
        if n is None:
            raise KeyError(path)
        c = n.head.center()
        return QPoint(int(c.x() * self.zoom), int(c.y() * self.zoom))

    def is_collapsed(self, path: Path) -> bool:
        n = self.node(path)
        return bool(n and n.collapsed)

    def set_collapsed(self, path: Path, collapsed: bool) -> None:
        names = block_names(self.doc.spec)
        key = names.get(editing.location_of(tuple(path)))
        if key is None:
            return
        (self._collapsed.add if collapsed else self._collapsed.discard)(key)
        # Hidden children cannot stay selected.
        if collapsed:
            sel = [p for p in self.doc.selection if not (len(p) > len(path)
                                                        and p[:len(path)] == tuple(path))]
            self.doc.set_selection(sel or [path])
        self._relayout()

    def set_all_collapsed(self, collapsed: bool) -> None:
        names = block_names(self.doc.spec)
        if collapsed:
            self._collapsed = {names[loc] for loc, b in self.doc.spec.walk()
                               if b.blocks is not None}
            self.doc.set_selection([p for p in self.doc.selection if len(p) == 1])
        else:
            self._collapsed.clear()
        self._relayout()

    def set_zoom(self, zoom: float) -> None:
        self.zoom = min(ZOOM_MAX, max(ZOOM_MIN, round(zoom, 2)))
        self._relayout()

    def ensure_visible(self, path: Path) -> None:
        n = self.node(path)
        area = self._scroll_area()
        if n is None or area is None:
            return
        r = n.head
        area.ensureVisible(int(r.center().x() * self.zoom), int(r.center().y() * self.zoom),
                           int(r.width() * self.zoom / 2) + 8,
                           int(r.height() * self.zoom / 2) + 24)

    # ------------------------------------------------------------------ model changes
    @staticmethod
    def _structure(spec) -> tuple:
        return tuple((loc, b.type) for loc, b in spec.walk())

    def _on_doc_changed(self) -> None:
        spec = self.doc.spec
        self._spec_errors = problems_by_block(validate(spec))
        if self._signature != self._structure(spec):
            # Blocks moved or changed type: old shapes would sit on the wrong cards.
            self._infos, self._build_errors = {}, {}
        self._stale = self._result is None or self._result.spec != spec
        self._relayout()

    def _relayout(self) -> None:
        self._layout()
        self.updateGeometry()
        self.setMinimumSize(QSize(int(self._geo.content.width() * self.zoom),
                                  int(self._geo.content.height() * self.zoom)))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(int(self._geo.content.width() * self.zoom),
                     int(self._geo.content.height() * self.zoom))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        old = self._geo.column
        self._layout()
        if self._geo.column != old:
            self.setMinimumSize(QSize(int(self._geo.content.width() * self.zoom),
                                      int(self._geo.content.height() * self.zoom)))
        self.update()

    # ------------------------------------------------------------------ hit testing
    # ------------------------------------------------------------------ layout
    def _layout(self) -> None:
        width = self.width() / self.zoom if self.width() > 0 else 800
        self._geo = layout_spec(self.doc.spec, width, self._collapsed,
                                QFontMetricsF(self._title_font()).height())

    def drop_slot_at(self, scene: QPointF) -> DropSlot | None:
        """The gap nearest to a scene point, in the innermost container holding it."""
        return self._geo.drop_slot_at(scene)

    # ------------------------------------------------------------------ hit testing
    def _to_scene(self, pos: QPointF | QPoint) -> QPointF:
        return QPointF(pos.x() / self.zoom, pos.y() / self.zoom)

    # ------------------------------------------------------------------ mouse

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        scene = self._to_scene(event.position())
        hit = self._geo.hit(scene)
        self._press_pos = event.position()
        self._press_path = None
        mods = event.modifiers()
        if event.button() == Qt.MouseButton.RightButton:
            if hit is not None and hit[1].path not in self.doc.selection:
                self.doc.set_selection([hit[1].path])
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if hit is None:
            if not mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier):
                self.doc.set_selection([])
            return
        kind, node = hit
        if kind == "chevron":
            self.set_collapsed(node.path, not node.collapsed)
            return
        if kind == "arc":
            self.doc.toggle_shortcut(node.path)
            return
        path = node.path
        sel = self.doc.selection
        if mods & Qt.KeyboardModifier.ControlModifier:
            self.doc.set_selection([p for p in sel if p != path] if path in sel
                                   else [*sel, path])
            self._anchor = path
        elif mods & Qt.KeyboardModifier.ShiftModifier and self._anchor is not None:
            self.doc.set_selection(self._range(self._anchor, path))
        else:
            if path not in sel:
                self.doc.set_selection([path])
            self._anchor = path
            self._press_path = path  # a click (no drag) on a multi-selection selects one

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press_path is not None and len(self.doc.selection) > 1:
            self.doc.set_selection([self._press_path])
        self._press_pos = None
        self._press_path = None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        hit = self._geo.hit(self._to_scene(event.position()))
        if hit is None or hit[0] != "card":
            return
        node = hit[1]
        if node.is_container and node.head.contains(self._to_scene(event.position())) \
                and node.collapsed:
            self.set_collapsed(node.path, False)
            return
        self.doc.set_selection([node.path])
        self.activated.emit(node.path)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        scene = self._to_scene(event.position())
        if self._press_pos is not None and event.buttons() & Qt.MouseButton.LeftButton:
            if (event.position() - self._press_pos).manhattanLength() >= \
                    QApplication.startDragDistance() and self.doc.selection:
                self._start_drag()
            return
        hit = self._geo.hit(scene)
        hover = (hit[0], hit[1].path) if hit else None
        if hover != self._hover:
            self._hover = hover
            self.setCursor(Qt.CursorShape.PointingHandCursor if hover and hover[0] in
                           ("arc", "chevron") else Qt.CursorShape.ArrowCursor)
            self.update()

    def leaveEvent(self, event) -> None:
        self._hover = None
        self.update()

    def contextMenuEvent(self, event) -> None:
        hit = self._geo.hit(self._to_scene(event.pos()))
        path = hit[1].path if hit else None
        if path is not None and path not in self.doc.selection:
            self.doc.set_selection([path])
        self.context_menu_requested.emit(event.globalPos(), path)

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            step = 1.1 if event.angleDelta().y() > 0 else 1 / 1.1
            self.set_zoom(self.zoom * step)
            event.accept()
            return
        super().wheelEvent(event)

    def _range(self, a: Path, b: Path) -> list[Path]:
        """Visible blocks between two, in document order, among a's siblings when possible."""
        order = [n.path for n in self._geo.walk()]
        if a not in order or b not in order:
            return [b]
        i, j = sorted((order.index(a), order.index(b)))
        span = order[i:j + 1]
        same = [p for p in span if p[:-1] == a[:-1]]
        return same if b in same else span

    # ------------------------------------------------------------------ drag and drop
    def _start_drag(self) -> None:
        paths = editing.normalize_selection(self.doc.selection)
        self._press_pos = None
        self._press_path = None
        mime = QMimeData()
        mime.setData(BLOCK_PATHS_MIME, self.paths_mime_payload(paths))
        mime.setText(self.doc.copy_text(paths))
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(self._drag_pixmap(paths))
        drag.exec(Qt.DropAction.MoveAction | Qt.DropAction.CopyAction, Qt.DropAction.MoveAction)
        self._drop = None
        self.update()

    def _drag_pixmap(self, paths: list[Path]) -> QPixmap:
        node = self.node(paths[0])
        if node is None:
            return QPixmap()
        r = node.head
        dpr = self.devicePixelRatioF()
        pm = QPixmap(int(r.width() * dpr) + 2, int(r.height() * dpr) + 2)
        pm.setDevicePixelRatio(dpr)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setOpacity(0.85)
        p.translate(-r.left() + 1, -r.top() + 1)
        self._paint_card(p, node, selected=True)
        if len(paths) > 1:
            self._paint_badge(p, QPointF(r.right() - 10, r.top() + 4), f"{len(paths)} blocks",
                              self.palette().color(QPalette.ColorRole.Highlight))
        p.end()
        return pm

    def _accepts(self, mime: QMimeData) -> bool:
        return mime.hasFormat(BLOCK_PATHS_MIME) or mime.hasFormat(BLOCK_TYPE_MIME)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if not self._accepts(event.mimeData()):
            event.ignore()
            return
        scene = self._to_scene(event.position())
        slot = self.drop_slot_at(scene)
        if slot is not None and event.mimeData().hasFormat(BLOCK_PATHS_MIME):
            moving = self._mime_paths(event.mimeData())
            if any(slot.parent[:len(p)] == p for p in moving):
                slot = None  # a container cannot go inside itself
        self._drop = slot
        area = self._scroll_area()
        if area is not None:  # scroll when dragging near the top or bottom edge
            pos = event.position()
            area.ensureVisible(int(pos.x()), int(pos.y()), 0, 40)
        if slot is None:
            event.ignore()
        elif event.mimeData().hasFormat(BLOCK_PATHS_MIME) and self._mime_paths(event.mimeData()):
            event.setDropAction(Qt.DropAction.MoveAction)
            event.accept()
        else:
            event.acceptProposedAction()
        self.update()

    def dragLeaveEvent(self, event) -> None:
        self._drop = None
        self.update()

    def dropEvent(self, event: QDropEvent) -> None:
        slot = self.drop_slot_at(self._to_scene(event.position()))
        self._drop = None
        self.update()
        mime = event.mimeData()
        if slot is None:
            event.ignore()
            return
        if mime.hasFormat(BLOCK_PATHS_MIME):
            paths = self._mime_paths(mime)
            if paths:  # blocks of this document: move them
                event.setDropAction(Qt.DropAction.MoveAction)
                self.doc.move(paths, slot.parent, slot.index)
            else:  # blocks dragged from another window: copy them
                event.setDropAction(Qt.DropAction.CopyAction)
                self.doc.paste(mime.text())
            event.accept()
        elif mime.hasFormat(BLOCK_TYPE_MIME):
            block_type = bytes(mime.data(BLOCK_TYPE_MIME)).decode()
            self.doc.add_block(block_type, slot.parent, slot.index)
            event.acceptProposedAction()
        self.setFocus()

    def paths_mime_payload(self, paths: list[Path]) -> bytes:
        """Drag payload naming blocks of this document (by path)."""
        return json.dumps({"document": id(self.doc),
                           "paths": [list(p) for p in paths]}).encode()

    def _mime_paths(self, mime: QMimeData) -> list[Path]:
        """Paths of dragged blocks when they come from this document, else []."""
        try:
            data = json.loads(bytes(mime.data(BLOCK_PATHS_MIME)).decode())
            if data.get("document") != id(self.doc):
                return []
            return [tuple(int(i) for i in p) for p in data["paths"]]
        except (ValueError, TypeError, KeyError, AttributeError):
            return []

    def _scroll_area(self) -> QScrollArea | None:
        w = self.parentWidget()
        while w is not None and not isinstance(w, QScrollArea):
            w = w.parentWidget()
        return w

    # ------------------------------------------------------------------ keyboard
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        order = [n.path for n in self._geo.walk()]
        sel = self.doc.selection
        current = self._cursor if self._cursor in sel else (sel[-1] if sel else None)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Home, Qt.Key.Key_End) and \
                not mods & (Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ControlModifier):
            if not order:
                return
            if key == Qt.Key.Key_Home:
                target = order[0]
            elif key == Qt.Key.Key_End:
                target = order[-1]
            elif current is None or current not in order:
                target = order[0] if key == Qt.Key.Key_Down else order[-1]
            else:
                i = order.index(current) + (1 if key == Qt.Key.Key_Down else -1)
                target = order[max(0, min(len(order) - 1, i))]
            if shift and self._anchor is not None:
                self.doc.set_selection(self._range(self._anchor, target))
            else:
                self.doc.set_selection([target])
                self._anchor = target
            self._cursor = target  # the moving end of a Shift+arrow range
            self.ensure_visible(target)
            return
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and current is not None:
            node = self.node(current)
            if node is not None and node.is_container and \
                    node.collapsed != (key == Qt.Key.Key_Left):
                self.set_collapsed(current, key == Qt.Key.Key_Left)
            elif key == Qt.Key.Key_Left and len(current) > 1:
                self.doc.set_selection([current[:-1]])
            elif key == Qt.Key.Key_Right and node is not None and node.children:
                self.doc.set_selection([node.children[0].path])
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and current is not None:
            self.activated.emit(current)
            return
        if key == Qt.Key.Key_Escape:
            self.doc.set_selection([])
            return
        if key == Qt.Key.Key_Menu:
            target = current
            pos = self.card_center(target) if target else QPoint(20, 20)
            self.context_menu_requested.emit(self.mapToGlobal(pos), target)
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ tooltips
    def event(self, event) -> bool:
        if event.type() == event.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            text = self._tooltip(self._to_scene(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def _tooltip(self, scene: QPointF) -> str:
        hit = self._geo.hit(scene)
        if hit is None:
            if self._geo.input_rect.contains(scene):
                inp = self.doc.spec.input
                text = (f"<b>Input</b>: one {inp.kind} example of shape "
                        f"{format_shape(inp.shape)} (batch axis not shown). Edit it in the "
                        "inspector with no block selected.")
                return text + "".join(f"<br>{_difference_html(d)}"
                                      for d in self.differences_for(None))
            return ""
        kind, node = hit
        if kind == "arc":
            mode = editing.shortcut_of(self.doc.spec, node.path) or "none"
            built = ""
            if mode == "projection" and not self.projection_drawn(node.path):
                built = ("<br>Keras builds no projection here: the block keeps its input's "
                         "shape, so x is added unchanged (identity).")
            return (f"<b>Shortcut</b> of {node.name} — {SHORTCUT_TEXT.get(mode, mode)}{built}"
                    "<br>Click to switch it " + ("on" if mode == "none" else "off") + ".")
        if kind == "chevron":
            return "Expand" if node.collapsed else "Collapse"
        bt = node.btype
        lines = [f"<b>{bt.title if bt else node.block.type}</b> &nbsp;<code>{node.name}</code>"
                 f" <span style='color:gray'>({editing.location_of(node.path)})</span>"]
        if bt is not None:
            lines.append(bt.help)
            values = bt.resolve(node.block.params)
            rows = "".join(
                f"<tr><td>{'<b>' if p.name in node.block.params else ''}{p.name}"
                f"{'</b>' if p.name in node.block.params else ''}</td>"
                f"<td>{format_value(values[p.name])}</td></tr>" for p in bt.params)
            if rows:
                lines.append(f"<table cellspacing=1>{rows}</table>")
        info = self._infos.get(node.path)
        if info is not None:
            lines.append(f"Output {format_shape(info.output_shape)} · "
                         f"{format_count(info.params)}")
        for msg in self.errors_for(node.path):
            lines.append(f"<span style='color:{theme.ERROR_COLOR}'>⚠ {msg}</span>")
        lines += [_difference_html(d) for d in self.differences_for(node.path)]
        return "<br>".join(lines)


def _difference_html(d: Difference) -> str:
    return (f"<span style='color:{WARNING_COLOR}'>⚠ {d.message()}</span> (the inspector "
            "offers to use the dataset's value)")
