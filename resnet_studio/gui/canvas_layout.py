"""Where the architecture canvas puts things: card, frame, arc and drop-slot rectangles.

Geometry only, in unzoomed units: `layout_spec` turns a spec (plus the canvas width and the
collapsed containers) into a `CanvasLayout`, which also answers hit tests. The canvas widget
(`gui.canvas`) paints and handles input from this one set of rectangles, so what is drawn,
what is clicked and where a drop lands always agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize

from resnet_studio.core import editing
from resnet_studio.core.blocks import registry
from resnet_studio.core.builder import block_names
from resnet_studio.core.spec import ArchitectureSpec, BlockSpec

Path = editing.Path

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
class ListLayout:
    """One list of sibling cards (the top level or a container's children) and its gaps."""

    parent: Path
    area: QRectF | None  # None = the whole canvas (top level)
    slots: list[DropSlot]
    depth: int


@dataclass
class CanvasLayout:
    """Every rectangle of one laid-out spec, in unzoomed canvas units."""

    nodes: list[Node] = field(default_factory=list)
    lists: list[ListLayout] = field(default_factory=list)
    content: QSize = field(default_factory=lambda: QSize(600, 400))
    title_rect: QRectF = field(default_factory=QRectF)
    input_rect: QRectF = field(default_factory=QRectF)
    output_rect: QRectF = field(default_factory=QRectF)
    column: tuple[float, float] = (0.0, 0.0)  # (card x, card width)

    def walk(self, nodes: list[Node] | None = None) -> Iterator[Node]:
        """Every node depth first (children of collapsed containers are not laid out)."""
        for n in self.nodes if nodes is None else nodes:
            yield n
            yield from self.walk(n.children)

    def node(self, path: Path) -> Node | None:
        return next((n for n in self.walk() if n.path == tuple(path)), None)

    def hit(self, scene: QPointF) -> tuple[str, Node] | None:
        """('chevron' | 'arc' | 'card', node) under a point; the innermost block wins."""
        found: tuple[str, Node] | None = None
        for n in self.walk():
            if n.chevron is not None and n.chevron.adjusted(-4, -4, 4, 4).contains(scene):
                found = ("chevron", n)
            elif n.arc is not None and n.arc.contains(scene) and not n.rect.contains(scene):
                found = ("arc", n)
            elif n.rect.contains(scene):
                found = ("card", n)
        return found

    def drop_slot_at(self, scene: QPointF) -> DropSlot | None:
        """The gap nearest to a point, in the innermost list (container) holding it."""
        best: ListLayout | None = None
        for lst in self.lists:
            if lst.area is None or lst.area.contains(scene):
                if best is None or lst.depth > best.depth:
                    best = lst
        if best is None or not best.slots:
            return None
        return min(best.slots, key=lambda s: abs(s.y - scene.y()))


def _max_depth(blocks: list[BlockSpec], depth: int = 0) -> int:
    return max((_max_depth(b.blocks, depth + 1) if b.blocks else depth
                for b in blocks), default=depth)


def layout_spec(spec: ArchitectureSpec, width: float, collapsed: set[str], title_height: float
                ) -> CanvasLayout:
    """Lays a spec out for a canvas `width` units wide.

    Args:
        spec: The architecture.
        width: The canvas width in unzoomed units.
        collapsed: Names (in the built model) of the containers shown collapsed.
        title_height: Height of the title font's line.
    """
    names = block_names(spec)
    nest = FRAME_PAD_LEFT + FRAME_PAD_RIGHT
    need = NESTED_MIN_W + nest * _max_depth(spec.blocks)
    card_w = max(need, min(CARD_MAX_W, max(CARD_MIN_W, width - 2 * SIDE_MARGIN - ARC_MARGIN)))
    total = ARC_MARGIN + card_w
    x0 = max(SIDE_MARGIN, (width - total) / 2) + ARC_MARGIN
    out = CanvasLayout(column=(x0, card_w))
    out.title_rect = QRectF(x0 - ARC_MARGIN, 14, card_w + ARC_MARGIN, title_height + 22)
    y = out.title_rect.bottom() + 10
    out.input_rect = QRectF(x0, y, card_w, PILL_H)
    y = out.input_rect.bottom() + GAP
    out.nodes, y = _layout_list(out, spec.blocks, (), x0, card_w, y, names, collapsed, None, 0)
    out.output_rect = QRectF(x0, y, card_w, PILL_H)
    bottom = out.output_rect.bottom() + 28
    # The smallest width that shows every card whole (not the current width: the scroll
    # area must be able to shrink the canvas again).
    min_w = 2 * SIDE_MARGIN + ARC_MARGIN + max(need, CARD_MIN_W)
    out.content = QSize(int(min_w), int(bottom))
    return out


def _layout_list(out: CanvasLayout, blocks: list[BlockSpec], parent: Path, x: float, w: float,
                 y: float, names: dict[str, str], collapsed: set[str], area: QRectF | None,
                 depth: int) -> tuple[list[Node], float]:
    nodes: list[Node] = []
    top = y
    for i, block in enumerate(blocks):
        path = (*parent, i)
        bt = registry.BLOCK_TYPES.get(block.type)
        name = names.get(editing.location_of(path), block.type)
        head = QRectF(x, y, w, CARD_H)
        node = Node(path, block, bt, name, QRectF(head), head)
        if block.blocks is not None:
            node.collapsed = name in collapsed
            node.chevron = QRectF(x + 8, y + 10, 18, 18)
            if not node.collapsed:
                cx, cw = x + FRAME_PAD_LEFT, w - FRAME_PAD_LEFT - FRAME_PAD_RIGHT
                cy = head.bottom() + FRAME_PAD_TOP
                frame_area = QRectF(x, head.bottom(), w, 0)  # height set below
                node.children, end = _layout_list(out, block.blocks, path, cx, cw, cy, names,
                                                  collapsed, frame_area, depth + 1)
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
    out.lists.append(ListLayout(parent, area, slots, depth))
    return nodes, y
