"""The painting half of the architecture canvas: cards, frames, arcs, pills and drop marks.

`CanvasPainting` is mixed into `gui.canvas.ArchitectureCanvas`; it only reads the widget's
state (the `CanvasLayout` in `_geo`, the document, hover, the last build result) and draws it
in unzoomed units, so painting stays apart from input handling and from geometry
(`gui.canvas_layout`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)

from resnet_studio.core import editing
from resnet_studio.gui import icons, theme
from resnet_studio.gui.canvas_layout import ARC_BULGE, CanvasLayout, DropSlot, Node
from resnet_studio.gui.formatting import format_count, format_shape, key_param_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from resnet_studio.core.binding import Difference
    from resnet_studio.core.builder import BlockSummary
    from resnet_studio.gui.document import Document
    from resnet_studio.gui.summary_worker import SummaryResult

# Amber: a value the dataset replaces when training (core.binding), not an error.
WARNING_COLOR = "#D97706"


class CanvasPainting:
    """paintEvent and its helpers for ArchitectureCanvas (a QWidget)."""

    doc: Document
    zoom: float
    _geo: CanvasLayout
    _hover: tuple[str, tuple[int, ...]] | None
    _drop: DropSlot | None
    _result: SummaryResult | None
    _infos: dict[tuple[int, ...], BlockSummary]
    _stale: bool
    # Methods of ArchitectureCanvas that painting asks (declared, not defined, here).
    differences_for: Callable[[tuple[int, ...] | None], list[Difference]]
    projection_drawn: Callable[[tuple[int, ...]], bool]

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
        self._paint_pill(p, self._geo.input_rect, "Input", self._input_text(), pal, error=False,
                         warning=bool(self.differences_for(None)))
        first = self._geo.nodes[0].rect.top() if self._geo.nodes else self._geo.output_rect.top()
        self._paint_connector(p, self._geo.input_rect.bottom(), first, pal)
        self._paint_list(p, self._geo.nodes, pal)
        if self._geo.nodes:
            self._paint_connector(p, self._geo.nodes[-1].rect.bottom(), self._geo.output_rect.top(), pal)
        out_text, out_error = self._output_text()
        self._paint_pill(p, self._geo.output_rect, "Output", out_text, pal, error=out_error)
        if self._drop is not None:
            self._paint_drop(p, self._drop, pal)
        p.end()

    def _paint_dots(self, p: QPainter, pal: QPalette) -> None:
        """A faint dot grid, like a drawing board (skipped when zoomed far out)."""
        if self.zoom < 0.75:
            return
        color = theme.mix(pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text),
                          0.10)
        step = 24
        # One dot drawn once into a tile, then tiled: a ResNet-152 canvas has thousands of
        # dots, and every edit repaints it (benchmarks/bench_editor.py).
        ratio = self.devicePixelRatioF() * self.zoom
        key = (color.rgba(), round(ratio, 3))
        if getattr(self, "_dot_tile_key", None) != key:
            tile = QPixmap(max(1, round(step * ratio)), max(1, round(step * ratio)))
            tile.setDevicePixelRatio(ratio)
            tile.fill(Qt.GlobalColor.transparent)
            tp = QPainter(tile)
            tp.setRenderHint(QPainter.RenderHint.Antialiasing)
            tp.setPen(QPen(color, 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            tp.drawPoint(QPointF(step / 2, step / 2))
            tp.end()
            self._dot_tile, self._dot_tile_key = tile, key
        w, h = self.width() / self.zoom, self.height() / self.zoom
        # Tiles start at (step/2, step/2): their dots fall on multiples of `step`.
        p.drawTiledPixmap(QRectF(step / 2, step / 2, w - step, h - step), self._dot_tile)

    def _input_text(self) -> str:
        """The input as training will feed it: the dataset's shape, kind and vocabulary where
        they differ from the spec's (then "yours: …" says what the spec has)."""
        inp = self.doc.spec.input
        kind, shape, vocab = inp.kind, tuple(inp.shape), inp.vocab_size
        yours = []
        for d in self.differences_for(None):
            if d.field == "shape":
                shape = d.dataset
                yours.append(" × ".join(str(v) for v in d.user))
            elif d.field == "kind":
                kind = d.dataset
                yours.append(str(d.user))
            elif d.field == "vocab_size":
                vocab = d.dataset
                yours.append(f"vocabulary {d.user}")
        dims = " × ".join(str(d) for d in shape)
        text = f"{kind} {dims}" + (f", vocabulary {vocab}" if vocab else "")
        return text + (f"  (dataset's; yours: {', '.join(yours)})" if yours else "")

    def _output_text(self) -> tuple[str, bool]:
        r = self._result
        if r is None:
            return "waiting for Keras…", False
        if r.summary is None:
            return "the model does not build", True
        return format_shape(r.summary.output_shape), False

    def _paint_header(self, p: QPainter, pal: QPalette) -> None:
        spec = self.doc.spec
        r = self._geo.title_rect
        p.setFont(self._title_font())
        p.setPen(pal.color(QPalette.ColorRole.Text))
        fm = QFontMetricsF(p.font())
        title = spec.title or spec.name
        p.drawText(QRectF(r.left(), r.top(), r.width(), fm.height()),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   fm.elidedText(title, Qt.TextElideMode.ElideRight, r.width()))
        p.setFont(self.font())
        fm2 = QFontMetricsF(self.font())
        p.setPen(theme.dim_text(pal))
        p.drawText(QRectF(r.left(), r.top() + fm.height() + 2, r.width(), fm2.height() + 4),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   fm2.elidedText(self.header_text(), Qt.TextElideMode.ElideRight, r.width()))

    def header_text(self) -> str:
        """The line under the title: name, the dataset the numbers are bound to, and the
        parameter count of the model training would build."""
        spec = self.doc.spec
        parts = [spec.name]
        r_info = self._result
        dataset = r_info.dataset if r_info is not None and r_info.dataset else spec.dataset
        if dataset:
            parts.append(f"dataset {dataset}")
        if r_info is not None and r_info.summary is not None:
            parts.append(f"{r_info.summary.total_params:,} parameters")
        return "  ·  ".join(parts)

    def _paint_pill(self, p: QPainter, r: QRectF, label: str, text: str, pal: QPalette,
                    error: bool, warning: bool = False) -> None:
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
        if warning and not error:
            border = theme.accent(WARNING_COLOR, pal)
        p.setPen(QPen(border, 1.6 if warning else 1.2))
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
            x = self._geo.column[0] + self._geo.column[1] / 2
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
        elif self.differences_for(node.path):
            warn = theme.accent(WARNING_COLOR, pal)
            border, width = warn, 2.2 if not selected else 2.6
            fill = theme.mix(fill, warn, 0.07)
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
        for d in self.differences_for(node.path):  # the dataset's value differs: say which
            right = self._paint_badge(p, QPointF(right, top + (line_h - fm.height() - 2) / 2),
                                      f"⚠ {d.field} {d.dataset}",
                                      theme.accent(WARNING_COLOR, pal)) - 6
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
        # A projection where the block keeps its shape is built as an identity: drawn so.
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
        if self.projection_drawn(node.path):
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
