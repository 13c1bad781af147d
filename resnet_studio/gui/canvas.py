"""Architecture canvas: the spec as a vertical flow of block cards.

Each card shows the block's type, name and key parameters, and — from the last Keras build —
its output shape and parameter count. Residual shortcuts are arcs in the left margin of the
blocks they skip: solid for identity, with a W_s box for a projection, dashed for zero_pad,
grey and crossed out for none (click an arc to switch the shortcut off and on). `residual`
containers are frames holding their children's cards, collapsible with the chevron.

The widget paints everything itself from a layout computed in unzoomed units (`_layout`), so
hit-testing, drag-and-drop targets and painting share one set of rectangles.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDrag,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QApplication, QScrollArea, QSizePolicy, QToolTip, QWidget

from resnet_studio.core import editing
from resnet_studio.core.blocks import registry
from resnet_studio.core.builder import BlockSummary, block_names
from resnet_studio.core.spec import BlockSpec, validate
from resnet_studio.gui import icons, theme
from resnet_studio.gui.document import Document
from resnet_studio.gui.palette import BLOCK_TYPE_MIME
from resnet_studio.gui.summary_worker import SummaryResult, problems_by_block

Path = editing.Path
BLOCK_PATHS_MIME = "application/x-resnet-studio-block-paths"

# Layout in unzoomed pixels. Cards are tall enough for three lines of text at the default
# font; gaps leave room for the connector arrows; the left pads hold the shortcut arcs.
CARD_H = 78.0
GAP = 26.0
ARC_MARGIN = 46.0
ARC_BULGE = 22.0
FRAME_PAD_LEFT = 42.0
FRAME_PAD_RIGHT = 12.0
FRAME_PAD_TOP = 18.0
FRAME_PAD_BOTTOM = 14.0
EMPTY_H = 46.0
CARD_MIN_W, CARD_MAX_W, NESTED_MIN_W = 330.0, 470.0, 230.0
SIDE_MARGIN = 24.0
PILL_H = 30.0
ZOOM_MIN, ZOOM_MAX = 0.5, 2.0

SHORTCUT_TEXT = {
    "identity": "identity: y = F(x) + x",
    "projection": "projection: y = F(x) + W_s·x (a 1×1 convolution or dense layer where the "
                  "shape changes)",
    "zero_pad": "zero_pad: y = F(x) + pad(x) (subsample and add zero channels; no parameters)",
    "none": "none: a plain block, y = F(x)",
}


@dataclass
class Node:
    """One block's place on the canvas."""

    path: Path
    block: BlockSpec
    btype: registry.BlockType | None
    name: str  # the block's name in the built model
    rect: QRectF  # the card, or a container's whole frame
    head: QRectF  # the card part (== rect except for expanded containers)
    children: list[Node] = field(default_factory=list)
    collapsed: bool = False
    chevron: QRectF | None = None
    placeholder: QRectF | None = None
    arc: QRectF | None = None

    @property
    def family(self) -> str:
        return self.btype.family if self.btype else "Layers"

    @property
    def is_container(self) -> bool:
        return self.block.blocks is not None


@dataclass
class DropSlot:
    """A gap between cards where dropped blocks would land."""

    parent: Path
    index: int
    y: float
    x0: float
    x1: float


@dataclass
class _ListLayout:
    parent: Path
    area: QRectF | None  # None = the whole canvas (top level)
    slots: list[DropSlot]
    depth: int


def format_shape(shape: tuple[int | None, ...] | list[int | None]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def format_count(n: int) -> str:
    return f"{n:,} params"


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def key_param_text(bt: registry.BlockType | None, block: BlockSpec) -> str:
    """'filters 32 · stride 2 · shortcut zero_pad' (repeat is shown as ×N instead)."""
    if bt is None:
        return f"unknown block type {block.type!r}"
    values = bt.resolve(block.params)
    names = bt.key_params or tuple(p.name for p in bt.params[:3])
    parts = []
    for name in names:
        if name == "repeat" or name not in values:
            continue
        value = values[name]
        param = bt.param(name)
        if value == 0 and param.kind == "int" and "0 =" in param.help:
            parts.append(f"{name.replace('_', ' ')} auto")
        elif name == "kernel_size":
            parts.append(f"{value}×{value} kernel")
        else:
            parts.append(f"{name.replace('_', ' ')} {format_value(value)}")
    return " · ".join(parts) if parts else bt.help


class ArchitectureCanvas(QWidget):
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
        self._nodes: list[Node] = []
        self._lists: list[_ListLayout] = []
        self._content = QSize(600, 400)
        self._title_rect = QRectF()
        self._input_rect = QRectF()
        self._output_rect = QRectF()
        self._column = (0.0, 0.0)
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
        self._signature = self._structure(result.spec)
        self._stale = result.spec != self.doc.spec
        self.update()

    def errors_for(self, path: Path) -> list[str]:
        """Messages shown on a block's card (validation, then the last build)."""
        return self._spec_errors.get(path, []) + self._build_errors.get(path, [])

    def info_for(self, path: Path) -> BlockSummary | None:
        return self._infos.get(path)

    def nodes(self) -> list[Node]:
        """Every laid-out node, depth first (children of collapsed containers excluded)."""
        return list(self._walk(self._nodes))

    def node(self, path: Path) -> Node | None:
        return next((n for n in self._walk(self._nodes) if n.path == tuple(path)), None)

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
        self.setMinimumSize(QSize(int(self._content.width() * self.zoom),
                                  int(self._content.height() * self.zoom)))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(int(self._content.width() * self.zoom),
                     int(self._content.height() * self.zoom))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        old = self._column
        self._layout()
        if self._column != old:
            self.setMinimumSize(QSize(int(self._content.width() * self.zoom),
                                      int(self._content.height() * self.zoom)))
        self.update()

    # ------------------------------------------------------------------ layout
    def _max_depth(self, blocks: list[BlockSpec], depth: int = 0) -> int:
        return max((self._max_depth(b.blocks, depth + 1) if b.blocks else depth
                    for b in blocks), default=depth)

    def _layout(self) -> None:
        spec = self.doc.spec
        names = block_names(spec)
        width = self.width() / self.zoom if self.width() > 0 else 800
        nest = FRAME_PAD_LEFT + FRAME_PAD_RIGHT
        need = NESTED_MIN_W + nest * self._max_depth(spec.blocks)
        card_w = max(need, min(CARD_MAX_W, max(CARD_MIN_W, width - 2 * SIDE_MARGIN - ARC_MARGIN)))
        total = ARC_MARGIN + card_w
        x0 = max(SIDE_MARGIN, (width - total) / 2) + ARC_MARGIN
        self._column = (x0, card_w)
        self._lists = []
        fm = QFontMetricsF(self._title_font())
        self._title_rect = QRectF(x0 - ARC_MARGIN, 14, card_w + ARC_MARGIN, fm.height() + 22)
        y = self._title_rect.bottom() + 10
        self._input_rect = QRectF(x0, y, card_w, PILL_H)
        y = self._input_rect.bottom() + GAP
        self._nodes, y = self._layout_list(spec.blocks, (), x0, card_w, y, names, None, 0)
        self._output_rect = QRectF(x0, y, card_w, PILL_H)
        bottom = self._output_rect.bottom() + 28
        # The smallest width that shows every card whole (not the current width: the scroll
        # area must be able to shrink the canvas again).
        min_w = 2 * SIDE_MARGIN + ARC_MARGIN + max(need, CARD_MIN_W)
        self._content = QSize(int(min_w), int(bottom))

    def _layout_list(self, blocks: list[BlockSpec], parent: Path, x: float, w: float, y: float,
                     names: dict[str, str], area: QRectF | None, depth: int
                     ) -> tuple[list[Node], float]:
        nodes: list[Node] = []
        top = y
        for i, block in enumerate(blocks):
            path = (*parent, i)
            bt = registry.BLOCK_TYPES.get(block.type)
            name = names.get(editing.location_of(path), block.type)
            head = QRectF(x, y, w, CARD_H)
            node = Node(path, block, bt, name, QRectF(head), head)
            if block.blocks is not None:
                node.collapsed = name in self._collapsed
                node.chevron = QRectF(x + 8, y + 10, 18, 18)
                if not node.collapsed:
                    cx, cw = x + FRAME_PAD_LEFT, w - FRAME_PAD_LEFT - FRAME_PAD_RIGHT
                    cy = head.bottom() + FRAME_PAD_TOP
                    frame_area = QRectF(x, head.bottom(), w, 0)  # height set below
                    node.children, end = self._layout_list(block.blocks, path, cx, cw, cy, names,
                                                           frame_area, depth + 1)
                    if not block.blocks:
                        node.placeholder = QRectF(cx, cy, cw, EMPTY_H)
                        end = cy + EMPTY_H + GAP
                    bottom = end - GAP + FRAME_PAD_BOTTOM
                    node.rect = QRectF(x, y, w, bottom - y)
                    frame_area.setBottom(node.rect.bottom())
            if bt is not None and bt.has_shortcut:
                r = node.rect
                node.arc = QRectF(r.left() - ARC_BULGE - 10, r.top() + 6, ARC_BULGE + 12,
                                  r.height() - 12)
            nodes.append(node)
            y = node.rect.bottom() + GAP
        # Drop slots: before each node and after the last.
        if parent:
            first_y = top - FRAME_PAD_TOP / 2
            last_y = (nodes[-1].rect.bottom() + FRAME_PAD_BOTTOM / 2) if nodes else top + \
                EMPTY_H / 2
        else:
            first_y = top - GAP / 2
            last_y = nodes[-1].rect.bottom() + GAP / 2 if nodes else top
        slots = [DropSlot(parent, 0, first_y, x, x + w)]
        for i in range(1, len(nodes)):
            slots.append(DropSlot(parent, i, (nodes[i - 1].rect.bottom() + nodes[i].rect.top())
                                  / 2, x, x + w))
        if nodes:
            slots.append(DropSlot(parent, len(nodes), last_y, x, x + w))
        self._lists.append(_ListLayout(parent, area, slots, depth))
        return nodes, y

    def _walk(self, nodes: list[Node]) -> Iterator[Node]:
        for n in nodes:
            yield n
            yield from self._walk(n.children)

    # ------------------------------------------------------------------ hit testing
    def _to_scene(self, pos: QPointF | QPoint) -> QPointF:
        return QPointF(pos.x() / self.zoom, pos.y() / self.zoom)

    def _hit(self, scene: QPointF) -> tuple[str, Node] | None:
        """('chevron' | 'arc' | 'card', node) under a point; the innermost block wins."""
        found: tuple[str, Node] | None = None
        for n in self._walk(self._nodes):
            if n.chevron is not None and n.chevron.adjusted(-4, -4, 4, 4).contains(scene):
                found = ("chevron", n)
            elif n.arc is not None and n.arc.contains(scene) and not n.rect.contains(scene):
                found = ("arc", n)
            elif n.rect.contains(scene):
                found = ("card", n)
        return found

    def drop_slot_at(self, scene: QPointF) -> DropSlot | None:
        """The gap nearest to a point, in the innermost list (container) holding it."""
        best: _ListLayout | None = None
        for lst in self._lists:
            if lst.area is None or lst.area.contains(scene):
                if best is None or lst.depth > best.depth:
                    best = lst
        if best is None or not best.slots:
            return None
        return min(best.slots, key=lambda s: abs(s.y - scene.y()))

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        scene = self._to_scene(event.position())
        hit = self._hit(scene)
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
        hit = self._hit(self._to_scene(event.position()))
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
        hit = self._hit(scene)
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
        hit = self._hit(self._to_scene(event.pos()))
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
        order = [n.path for n in self._walk(self._nodes)]
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
        order = [n.path for n in self._walk(self._nodes)]
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
        hit = self._hit(scene)
        if hit is None:
            if self._input_rect.contains(scene):
                inp = self.doc.spec.input
                return (f"<b>Input</b>: one {inp.kind} example of shape "
                        f"{format_shape(inp.shape)} (batch axis not shown). Edit it in the "
                        "inspector with no block selected.")
            return ""
        kind, node = hit
        if kind == "arc":
            mode = editing.shortcut_of(self.doc.spec, node.path) or "none"
            return (f"<b>Shortcut</b> of {node.name} — {SHORTCUT_TEXT.get(mode, mode)}<br>"
                    "Click to switch it " + ("on" if mode == "none" else "off") + ".")
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
        return "<br>".join(lines)

    # ------------------------------------------------------------------ painting
    def _title_font(self) -> QFont:
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 1.35)
        f.setBold(True)
        return f

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        p.scale(self.zoom, self.zoom)
        self._paint_dots(p, pal)
        self._paint_header(p, pal)
        self._paint_pill(p, self._input_rect, "Input", self._input_text(), pal, error=False)
        first = self._nodes[0].rect.top() if self._nodes else self._output_rect.top()
        self._paint_connector(p, self._input_rect.bottom(), first, pal)
        self._paint_list(p, self._nodes, pal)
        if self._nodes:
            self._paint_connector(p, self._nodes[-1].rect.bottom(), self._output_rect.top(), pal)
        out_text, out_error = self._output_text()
        self._paint_pill(p, self._output_rect, "Output", out_text, pal, error=out_error)
        if self._drop is not None:
            self._paint_drop(p, self._drop, pal)
        p.end()

    def _paint_dots(self, p: QPainter, pal: QPalette) -> None:
        """A faint dot grid, like a drawing board (skipped when zoomed far out)."""
        if self.zoom < 0.75:
            return
        color = theme.mix(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text),
                          0.10)
        p.setPen(QPen(color, 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        step = 24
        w, h = self.width() / self.zoom, self.height() / self.zoom
        pts = [QPointF(x, y) for x in range(step, int(w), step) for y in range(step, int(h), step)]
        p.drawPoints(pts)

    def _input_text(self) -> str:
        inp = self.doc.spec.input
        dims = " × ".join(str(d) for d in inp.shape)
        vocab = f", vocabulary {inp.vocab_size}" if inp.vocab_size else ""
        return f"{inp.kind} {dims}{vocab}"

    def _output_text(self) -> tuple[str, bool]:
        r = self._result
        if r is None:
            return "waiting for Keras…", False
        if r.summary is None:
            return "the model does not build", True
        return format_shape(r.summary.output_shape), False

    def _paint_header(self, p: QPainter, pal: QPalette) -> None:
        spec = self.doc.spec
        r = self._title_rect
        p.setFont(self._title_font())
        p.setPen(pal.color(QPalette.ColorRole.Text))
        fm = QFontMetricsF(p.font())
        title = spec.title or spec.name
        p.drawText(QRectF(r.left(), r.top(), r.width(), fm.height()),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   fm.elidedText(title, Qt.TextElideMode.ElideRight, r.width()))
        p.setFont(self.font())
        fm2 = QFontMetricsF(self.font())
        parts = [spec.name]
        if spec.dataset:
            parts.append(f"dataset {spec.dataset}")
        r_info = self._result
        if r_info is not None and r_info.summary is not None:
            parts.append(f"{r_info.summary.total_params:,} parameters")
        p.setPen(theme.dim_text(pal))
        p.drawText(QRectF(r.left(), r.top() + fm.height() + 2, r.width(), fm2.height() + 4),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   fm2.elidedText("  ·  ".join(parts), Qt.TextElideMode.ElideRight, r.width()))

    def _paint_pill(self, p: QPainter, r: QRectF, label: str, text: str, pal: QPalette,
                    error: bool) -> None:
        font = QFont(self.font())
        fm = QFontMetricsF(font)
        bold = QFont(font)
        bold.setBold(True)
        fmb = QFontMetricsF(bold)
        width = min(r.width(), fmb.horizontalAdvance(label) + fm.horizontalAdvance(text) + 44)
        pill = QRectF(r.center().x() - width / 2, r.top(), width, r.height())
        base = pal.color(QPalette.ColorRole.Base)
        text_color = pal.color(QPalette.ColorRole.Text)
        border = theme.error_color(pal) if error else theme.mix(base, text_color, 0.35)
        p.setPen(QPen(border, 1.2))
        p.setBrush(theme.mix(base, text_color, 0.05))
        p.drawRoundedRect(pill, r.height() / 2, r.height() / 2)
        x = pill.left() + 18
        p.setFont(bold)
        p.setPen(text_color)
        p.drawText(QRectF(x, pill.top(), fmb.horizontalAdvance(label) + 2, pill.height()),
                   Qt.AlignmentFlag.AlignVCenter, label)
        x += fmb.horizontalAdvance(label) + 8
        p.setFont(font)
        p.setPen(theme.error_color(pal) if error else theme.dim_text(pal))
        p.drawText(QRectF(x, pill.top(), pill.right() - x - 12, pill.height()),
                   Qt.AlignmentFlag.AlignVCenter,
                   fm.elidedText(text, Qt.TextElideMode.ElideRight, pill.right() - x - 12))

    def _paint_connector(self, p: QPainter, y0: float, y1: float, pal: QPalette,
                         x: float | None = None) -> None:
        if y1 - y0 < 6:
            return
        if x is None:
            x = self._column[0] + self._column[1] / 2
        color = theme.mix(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text),
                          0.45)
        p.setPen(QPen(color, 1.4))
        p.drawLine(QPointF(x, y0 + 2), QPointF(x, y1 - 3))
        arrow = QPainterPath()
        arrow.moveTo(x - 4, y1 - 8)
        arrow.lineTo(x, y1 - 2)
        arrow.lineTo(x + 4, y1 - 8)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(arrow)

    def _paint_list(self, p: QPainter, nodes: list[Node], pal: QPalette) -> None:
        for i, node in enumerate(nodes):
            if i > 0:
                self._paint_connector(p, nodes[i - 1].rect.bottom(), node.rect.top(), pal,
                                      node.rect.center().x())
            if node.is_container:
                self._paint_container(p, node, pal)
            else:
                self._paint_card(p, node, node.path in self.doc.selection)
            if node.arc is not None:
                self._paint_arc(p, node, pal)

    def _card_colors(self, node: Node, selected: bool) -> tuple[QColor, QColor, float]:
        pal = self.palette()
        fam = theme.accent(theme.family_color(node.family), pal)
        fill = theme.card_fill(node.family, pal)
        border = theme.mix(pal.color(QPalette.ColorRole.Base), fam, 0.55)
        width = 1.2
        hovered = self._hover is not None and self._hover[1] == node.path and \
            self._hover[0] == "card"
        if hovered:
            border = fam
        if selected:
            highlight = pal.color(QPalette.ColorRole.Highlight)
            fill = theme.mix(fill, highlight, 0.10)
            border, width = highlight, 2.2
        if self.errors_for(node.path):
            border, width = theme.error_color(pal), 2.2 if not selected else 2.6
            fill = theme.mix(fill, theme.error_color(pal), 0.07)
        return fill, border, width

    def _paint_card(self, p: QPainter, node: Node, selected: bool) -> None:
        pal = self.palette()
        r = node.head
        fill, border, width = self._card_colors(node, selected)
        fam = theme.accent(theme.family_color(node.family), pal)
        # Soft shadow under the card.
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 60 if theme.is_dark(pal) else 22))
        p.drawRoundedRect(r.translated(0, 2), 9, 9)
        p.setBrush(fill)
        p.setPen(QPen(border, width))
        p.drawRoundedRect(r, 9, 9)
        # Family colour strip along the left edge.
        clip = QPainterPath()
        clip.addRoundedRect(r, 9, 9)
        p.save()
        p.setClipPath(clip)
        p.fillRect(QRectF(r.left(), r.top(), 5, r.height()), fam)
        p.restore()
        self._paint_card_text(p, node, r, pal, left=r.left() + 16)

    def _paint_card_text(self, p: QPainter, node: Node, r: QRectF, pal: QPalette, left: float,
                         extra: str = "") -> None:
        bt = node.btype
        fam = theme.accent(theme.family_color(node.family), pal)
        text = pal.color(QPalette.ColorRole.Text)
        dim = theme.dim_text(pal)
        base_font = QFont(self.font())
        fm = QFontMetricsF(base_font)
        line_h = fm.height() + 4
        top = r.top() + 9
        icon_rect = QRectF(left, top + (line_h - 18) / 2, 18, 18)
        icons.paint(p, f"family-{node.family.lower()}", icon_rect, fam)
        x = icon_rect.right() + 8
        right = r.right() - 12
        # Line 1: title, name, ×N badge.
        title_font = QFont(base_font)
        title_font.setBold(True)
        fmt = QFontMetricsF(title_font)
        badge = ""
        if bt is not None and any(prm.name == "repeat" for prm in bt.params):
            repeat = bt.resolve(node.block.params)["repeat"]
            if repeat > 1:
                badge = f"×{repeat}"
        if badge:
            right_badge = self._paint_badge(p, QPointF(right, top + (line_h - fm.height() - 2) / 2),
                                            badge, fam)
            right = right_badge - 6
        title = bt.title if bt else node.block.type
        p.setFont(title_font)
        p.setPen(text)
        title_w = min(fmt.horizontalAdvance(title), right - x)
        p.drawText(QRectF(x, top, title_w + 1, line_h), Qt.AlignmentFlag.AlignVCenter,
                   fmt.elidedText(title, Qt.TextElideMode.ElideRight, right - x))
        name_x = x + title_w + 8
        if right - name_x > 30:
            p.setFont(base_font)
            p.setPen(dim)
            p.drawText(QRectF(name_x, top, right - name_x, line_h), Qt.AlignmentFlag.AlignVCenter,
                       fm.elidedText(node.name, Qt.TextElideMode.ElideRight, right - name_x))
        # Line 2: key params.
        right = r.right() - 12
        y2 = top + line_h + 1
        p.setFont(base_font)
        params = key_param_text(bt, node.block) + extra
        p.setPen(theme.mix(text, pal.color(QPalette.ColorRole.Base), 0.22))
        p.drawText(QRectF(x, y2, right - x, line_h), Qt.AlignmentFlag.AlignVCenter,
                   fm.elidedText(params, Qt.TextElideMode.ElideRight, right - x))
        # Line 3: output shape and parameters, or the error.
        y3 = y2 + line_h + 1
        errors = self.errors_for(node.path)
        if errors:
            err = theme.error_color(pal)
            icons.paint(p, "warning", QRectF(x - 1, y3 + (line_h - 15) / 2, 15, 15), err)
            p.setPen(err)
            p.drawText(QRectF(x + 19, y3, right - x - 19, line_h), Qt.AlignmentFlag.AlignVCenter,
                       fm.elidedText(errors[0], Qt.TextElideMode.ElideRight, right - x - 19))
            return
        info = self._infos.get(node.path)
        mono = theme.monospace_font(base_font.pointSizeF() * 0.95)
        fmm = QFontMetricsF(mono)
        if info is None:
            waiting = "not built" if (self._result is not None and not self._stale
                                      and self._result.summary is None) else "…"
            p.setPen(dim)
            p.drawText(QRectF(x, y3, right - x, line_h), Qt.AlignmentFlag.AlignVCenter, waiting)
            return
        shape_color = theme.mix(text, pal.color(QPalette.ColorRole.Base), 0.5 if self._stale
                                else 0.08)
        count = format_count(info.params)
        count_w = fm.horizontalAdvance(count)
        p.setFont(base_font)
        p.setPen(theme.mix(dim, pal.color(QPalette.ColorRole.Base), 0.4) if self._stale
                 else dim)
        p.drawText(QRectF(right - count_w - 2, y3, count_w + 2, line_h),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, count)
        p.setFont(mono)
        p.setPen(shape_color)
        shape = "→ " + format_shape(info.output_shape)
        p.drawText(QRectF(x, y3, right - x - count_w - 10, line_h), Qt.AlignmentFlag.AlignVCenter,
                   fmm.elidedText(shape, Qt.TextElideMode.ElideRight, right - x - count_w - 10))

    def _paint_badge(self, p: QPainter, top_right: QPointF, text: str, color: QColor) -> float:
        """A filled pill with white bold text, right-aligned at `top_right`; returns its left."""
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 0.9)
        fm = QFontMetricsF(font)
        w = fm.horizontalAdvance(text) + 12
        h = fm.height() + 3
        rect = QRectF(top_right.x() - w, top_right.y(), w, h)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawRoundedRect(rect, h / 2, h / 2)
        p.setFont(font)
        p.setPen(QColor("white"))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        return rect.left()

    def _paint_container(self, p: QPainter, node: Node, pal: QPalette) -> None:
        selected = node.path in self.doc.selection
        fam = theme.accent(theme.family_color("Containers"), pal)
        base = pal.color(QPalette.ColorRole.Base)
        _, border, width = self._card_colors(node, selected)
        if not selected and not self.errors_for(node.path):
            border = theme.mix(base, fam, 0.6)
        frame_fill = theme.mix(base, fam, 0.10 if theme.is_dark(pal) else 0.045)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 50 if theme.is_dark(pal) else 18))
        p.drawRoundedRect(node.rect.translated(0, 2), 11, 11)
        p.setBrush(frame_fill)
        p.setPen(QPen(border, width))
        p.drawRoundedRect(node.rect, 11, 11)
        # Header band.
        head_fill = theme.card_fill("Containers", pal)
        if selected:
            head_fill = theme.mix(head_fill, pal.color(QPalette.ColorRole.Highlight), 0.10)
        clip = QPainterPath()
        clip.addRoundedRect(node.rect.adjusted(1, 1, -1, -1), 10, 10)
        p.save()
        p.setClipPath(clip)
        p.fillRect(node.head, head_fill)
        if not node.collapsed:
            p.setPen(QPen(theme.mix(base, fam, 0.35), 1))
            p.drawLine(QPointF(node.head.left(), node.head.bottom()),
                       QPointF(node.head.right(), node.head.bottom()))
        p.restore()
        # Chevron.
        assert node.chevron is not None
        hovered = self._hover == ("chevron", node.path)
        icons.paint(p, "collapse" if node.collapsed else "expand", node.chevron,
                    fam if hovered else theme.dim_text(pal))
        n = len(node.block.blocks or [])
        extra = f" · {n} block{'s' if n != 1 else ''}" + (" (collapsed)" if node.collapsed else "")
        self._paint_card_text(p, node, node.head, pal, left=node.chevron.right() + 6,
                              extra=extra)
        if node.placeholder is not None:
            self._paint_placeholder(p, node.placeholder, pal)
        if not node.collapsed and node.children:
            self._paint_connector(p, node.head.bottom(), node.children[0].rect.top(), pal,
                                  node.children[0].rect.center().x())
            self._paint_list(p, node.children, pal)

    def _paint_placeholder(self, p: QPainter, r: QRectF, pal: QPalette) -> None:
        dim = theme.dim_text(pal)
        pen = QPen(dim, 1.2, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(r, 8, 8)
        p.setFont(self.font())
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, "Drop blocks here")

    def _paint_arc(self, p: QPainter, node: Node, pal: QPalette) -> None:
        mode = editing.shortcut_of(self.doc.spec, node.path)
        if mode is None:
            return
        r = node.rect
        x = r.left() - 3
        y0 = r.top() + min(16.0, r.height() * 0.2)
        y1 = r.bottom() - min(16.0, r.height() * 0.2)
        hovered = self._hover == ("arc", node.path)
        base = pal.color(QPalette.ColorRole.Base)
        if mode == "none":
            color = theme.mix(base, pal.color(QPalette.ColorRole.Text), 0.38)
        else:
            color = theme.accent(theme.SHORTCUT_COLOR, pal)
        if hovered:
            color = color.lighter(120) if theme.is_dark(pal) else color.darker(115)
        pen_w = 2.6 if hovered else 2.0
        style = Qt.PenStyle.DashLine if mode in ("zero_pad", "none") else Qt.PenStyle.SolidLine
        pen = QPen(color, pen_w, style, Qt.PenCapStyle.RoundCap)
        if style == Qt.PenStyle.DashLine:
            pen.setDashPattern([3.0, 2.2] if mode == "zero_pad" else [1.5, 2.5])
        bulge = ARC_BULGE * 1.33  # control points of a cubic reach ~3/4 of the way
        path = QPainterPath()
        path.moveTo(x, y0)
        path.cubicTo(x - bulge, y0, x - bulge, y1, x, y1)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(pen)
        p.drawPath(path)
        # Start dot and arrowhead into the block's output.
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawEllipse(QPointF(x, y0), 2.6, 2.6)
        head = QPainterPath()
        head.moveTo(x + 1, y1)
        head.lineTo(x - 6, y1 - 4.5)
        head.lineTo(x - 6, y1 + 4.5)
        head.closeSubpath()
        p.drawPath(head)
        mid = QPointF(x - ARC_BULGE, (y0 + y1) / 2)
        if mode == "projection":
            font = QFont(self.font())
            font.setBold(True)
            font.setPointSizeF(font.pointSizeF() * 0.85)
            fm = QFontMetricsF(font)
            sub = QFont(font)
            sub.setPointSizeF(font.pointSizeF() * 0.75)
            fms = QFontMetricsF(sub)
            w = fm.horizontalAdvance("W") + fms.horizontalAdvance("s") + 8
            h = fm.height() + 2
            box = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)
            p.setBrush(pal.color(QPalette.ColorRole.Base))
            p.setPen(QPen(color, 1.5))
            p.drawRoundedRect(box, 3, 3)
            p.setPen(color)
            p.setFont(font)
            wx = box.left() + 4
            p.drawText(QPointF(wx, box.top() + fm.ascent() + 1), "W")
            p.setFont(sub)
            p.drawText(QPointF(wx + fm.horizontalAdvance("W"), box.top() + fm.ascent() + 3), "s")
        elif mode == "none":
            p.setPen(QPen(color, 2.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            d = 4.5
            p.drawLine(QPointF(mid.x() - d, mid.y() - d), QPointF(mid.x() + d, mid.y() + d))
            p.drawLine(QPointF(mid.x() - d, mid.y() + d), QPointF(mid.x() + d, mid.y() - d))

    def _paint_drop(self, p: QPainter, slot: DropSlot, pal: QPalette) -> None:
        color = pal.color(QPalette.ColorRole.Highlight)
        p.setPen(QPen(color, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLine(QPointF(slot.x0 + 6, slot.y), QPointF(slot.x1 - 6, slot.y))
        p.setBrush(pal.color(QPalette.ColorRole.Base))
        p.setPen(QPen(color, 2))
        for x in (slot.x0 + 4, slot.x1 - 4):
            p.drawEllipse(QPointF(x, slot.y), 4, 4)
