"""The Learn side panel (what the selected block computes: a diagram of its main path and
shortcut, and its formula for the current params) and the Residual Connections help page.

The texts live in learn.py; this module only draws them. The panel follows the document:
selecting another block, or changing a shortcut, variant or scaling in the inspector,
updates it at once (it is a few labels and one small QPainter drawing).

The shortcut is drawn as Keras builds it: a block whose `shortcut` is `projection` but which
keeps its input's shape gets no projection layer (He et al.'s option B projects only where
the shape changes), so where the last summary lists no projection layer in the block
(`SummaryResult.has_projection`), the panel explains it with the identity shortcut.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core import editing
from resnet_studio.core.blocks import registry
from resnet_studio.core.spec import BlockSpec
from resnet_studio.gui import theme
from resnet_studio.gui.document import Document
from resnet_studio.gui.learn import (
    OVERVIEW_HTML,
    RESIDUAL_HELP_HTML,
    SHORTCUT_LABELS,
    STYLE_CSS,
    WRAP_HINT,
    Explanation,
    Unit,
    explain,
)
from resnet_studio.gui.summary_worker import SummaryResult

BOX_H = 22.0
GAP = 11.0  # vertical space between boxes: room for an arrow head
NODE_R = 8.0
MARGIN = 10.0
ARC_OFFSET = 26.0  # shortcut line's distance from the boxes
MAX_BOX_W = 210.0
LABEL_W = 110.0  # room right of the shortcut line for its label


def _html(body: str) -> str:
    return f"<style>{STYLE_CSS}</style>{body}"


def _plain(html: str) -> str:
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setHtml(html)
    return doc.toPlainText()


class BlockDiagram(QWidget):
    """The units of a block, top (input x) to bottom (output y): main-path boxes, the
    shortcut drawn beside them into the ⊕, layers after the addition. A plain unit has no
    ⊕ and no shortcut line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.units: list[Unit] = []
        self.family = "Layers"
        self.repeat = 1
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_explanation(self, e: Explanation | None) -> None:
        self.units = list(e.units) if e is not None else []
        self.family = e.family if e is not None else "Layers"
        self.repeat = e.repeat if e is not None else 1
        self.updateGeometry()
        self.setFixedHeight(int(self._height()))
        self.update()

    def _unit_boxes(self, u: Unit) -> list[tuple[str, bool]]:
        """(text, dashed) boxes of the main path, scaling and drop path last (dashed)."""
        boxes = [(b, False) for b in u.boxes]
        if u.drop_path:
            boxes.append(("drop path", True))
        if u.scale:
            boxes.append((u.scale, True))
        return boxes

    def _height(self) -> float:
        if not self.units:
            return 0.0
        h = MARGIN + 16  # "x"
        for u in self.units:
            if u.label:
                h += 16
            h += GAP + len(self._unit_boxes(u)) * (BOX_H + GAP)
            if u.shortcut:
                h += 2 * NODE_R + GAP
            h += len(u.post) * (BOX_H + GAP)
        h += 18 + MARGIN  # "y"
        if self.repeat > 1:
            h += 18
        return h

    def sizeHint(self) -> QSize:
        return QSize(300, int(self._height()))

    def paintEvent(self, _event: object) -> None:
        if not self.units:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        dim = theme.dim_text(pal)
        family = theme.accent(theme.family_color(self.family), pal)
        fill = theme.card_fill(self.family, pal)
        arc = theme.accent(theme.SHORTCUT_COLOR, pal)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.92)
        p.setFont(font)
        fm = QFontMetricsF(font)
        width = float(self.width())
        box_w = max(120.0, min(MAX_BOX_W, width - 2 * MARGIN - ARC_OFFSET - LABEL_W))
        left = MARGIN + 8
        cx = left + box_w / 2
        arc_x = left + box_w + ARC_OFFSET
        y = MARGIN
        p.setPen(text)
        p.drawText(QRectF(cx - 20, y, 40, 16), Qt.AlignmentFlag.AlignCenter, "x")
        y += 16
        line_pen = QPen(dim, 1.3)
        for u in self.units:
            if u.label:
                p.setPen(dim)
                p.drawText(QRectF(left, y, box_w + 60, 16),
                           Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                           f"{u.label} sub-layer")
                y += 16
            fork_y = y + GAP / 2
            self._arrow(p, line_pen, cx, y, y + GAP)
            y += GAP
            for i, (label, dashed) in enumerate(self._unit_boxes(u)):
                rect = QRectF(left, y, box_w, BOX_H)
                pen = QPen(family if not dashed else arc, 1.2)
                if dashed:
                    pen.setStyle(Qt.PenStyle.DashLine)
                p.setPen(pen)
                p.setBrush(fill)
                p.drawRoundedRect(rect, 4, 4)
                p.setPen(text)
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                           fm.elidedText(label, Qt.TextElideMode.ElideRight, box_w - 8))
                y += BOX_H
                last = i == len(self._unit_boxes(u)) - 1
                if not last or u.shortcut or u.post:
                    self._arrow(p, line_pen, cx, y, y + GAP)
                y += GAP
            if u.shortcut:
                node = QPointF(cx, y + NODE_R)
                # The shortcut: from the fork, right, down, into the ⊕.
                path = QPainterPath(QPointF(cx, fork_y))
                path.lineTo(arc_x - 6, fork_y)
                path.quadTo(arc_x, fork_y, arc_x, fork_y + 6)
                path.lineTo(arc_x, node.y() - 6)
                path.quadTo(arc_x, node.y(), arc_x - 6, node.y())
                path.lineTo(cx + NODE_R, node.y())
                dash = u.shortcut != "identity"
                pen = QPen(arc, 2.0, Qt.PenStyle.DashLine if dash else Qt.PenStyle.SolidLine)
                p.setPen(pen)
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawPath(path)
                self._head(p, arc, QPointF(cx + NODE_R, node.y()), left=True)
                p.setBrush(QColor(pal.color(QPalette.ColorRole.Base)))
                p.setPen(QPen(arc, 1.6))
                p.drawEllipse(node, NODE_R, NODE_R)
                p.drawLine(QPointF(cx - NODE_R + 3, node.y()), QPointF(cx + NODE_R - 3,
                                                                        node.y()))
                p.drawLine(QPointF(cx, node.y() - NODE_R + 3), QPointF(cx, node.y() + NODE_R
                                                                       - 3))
                label = _plain(SHORTCUT_LABELS.get(u.shortcut, u.shortcut))
                p.setPen(arc)
                mid = (fork_y + node.y()) / 2
                p.drawText(QRectF(arc_x + 6, mid - 9, LABEL_W, 18),
                           Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                           fm.elidedText(label, Qt.TextElideMode.ElideRight, LABEL_W - 4))
                y += 2 * NODE_R
                if u.post:
                    self._arrow(p, line_pen, cx, y, y + GAP)
                y += GAP
            for j, label in enumerate(u.post):
                rect = QRectF(left, y, box_w, BOX_H)
                p.setPen(QPen(family, 1.2))
                p.setBrush(fill)
                p.drawRoundedRect(rect, 4, 4)
                p.setPen(text)
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
                y += BOX_H
                y += GAP
                del j
        p.setPen(text)
        p.drawText(QRectF(cx - 20, y - 4, 40, 16), Qt.AlignmentFlag.AlignCenter, "y")
        y += 16
        if self.repeat > 1:
            p.setPen(dim)
            p.drawText(QRectF(left, y, box_w + 60, 16),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       f"× {self.repeat} units in this block")
        p.end()

    def _arrow(self, p: QPainter, pen: QPen, x: float, y0: float, y1: float) -> None:
        p.setPen(pen)
        p.drawLine(QPointF(x, y0), QPointF(x, y1 - 1))
        self._head(p, pen.color(), QPointF(x, y1), left=False)

    @staticmethod
    def _head(p: QPainter, color: QColor, tip: QPointF, *, left: bool) -> None:
        """A small filled arrow head pointing down (or left) at `tip`."""
        s = 4.0
        path = QPainterPath(tip)
        if left:
            path.lineTo(tip.x() + s * 1.4, tip.y() - s)
            path.lineTo(tip.x() + s * 1.4, tip.y() + s)
        else:
            path.lineTo(tip.x() - s, tip.y() - s * 1.4)
            path.lineTo(tip.x() + s, tip.y() - s * 1.4)
        path.closeSubpath()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawPath(path)


class LearnPanel(theme.FollowsPalette, QWidget):
    """What the selected block computes. With no single block selected: the overview.

    Signals:
        help_requested(): the "Residual connections" link was clicked.

    Attributes:
        title_label, help_label, formula_label, citation_label: the texts.
        diagram: the BlockDiagram.
        explanation: what is shown (None for the overview).
    """

    help_requested = Signal()

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = document
        self.explanation: Explanation | None = None
        self._result: SummaryResult | None = None
        inner = QWidget(self)
        self.title_label = QLabel(inner)
        self.title_label.setObjectName("learnTitle")
        f = self.title_label.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.1)
        self.title_label.setFont(f)
        self.title_label.setWordWrap(True)
        self.help_label = QLabel(inner)
        self.help_label.setObjectName("learnHelp")
        self.help_label.setWordWrap(True)
        self.diagram = BlockDiagram(inner)
        self.diagram.setObjectName("learnDiagram")
        self.formula_label = QLabel(inner)
        self.formula_label.setObjectName("learnFormula")
        self.formula_label.setWordWrap(True)
        self.formula_label.setTextFormat(Qt.TextFormat.RichText)
        self.formula_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.citation_label = QLabel(inner)
        self.citation_label.setWordWrap(True)
        self.more_label = QLabel("<a href='help:residual'>Read more: residual connections, "
                                 "ReZero, LayerScale, stochastic depth…</a>", inner)
        self.more_label.setObjectName("learnMore")
        self.more_label.setWordWrap(True)
        self.more_label.linkActivated.connect(lambda _link: self.help_requested.emit())
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(6)
        for w in (self.title_label, self.help_label, self.diagram, self.formula_label,
                  self.citation_label, self.more_label):
            lay.addWidget(w)
        lay.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.doc.selection_changed.connect(self.update_view)
        self.doc.changed.connect(self.update_view)
        self._apply_palette()
        self.update_view()

    def set_result(self, result: SummaryResult) -> None:
        """The last summary (SummaryService.finished): where Keras built a projection."""
        self._result = result
        self.update_view()

    def _as_built(self, block: BlockSpec, path: editing.Path) -> tuple[BlockSpec, bool]:
        """`block` with the shortcut Keras builds: identity where the spec says projection
        and the last summary of this spec lists no projection layer in the block."""
        r = self._result
        bt = registry.BLOCK_TYPES.get(block.type)
        if (r is None or r.spec != self.doc.spec or bt is None or not bt.has_shortcut
                or bt.resolve(block.params).get("shortcut") != "projection"
                or r.has_projection(path) is not False):
            return block, False
        shown = BlockSpec(block.type, {**block.params, "shortcut": "identity"}, block.name,
                          block.blocks)
        return shown, True

    def update_view(self) -> None:
        """Shows the single selected block, or the overview."""
        sel = editing.normalize_selection(self.doc.selection)
        block = None
        no_projection = False
        if len(sel) == 1:
            try:
                block = editing.get_block(self.doc.spec, sel[0])
            except (IndexError, KeyError):
                block = None
        try:
            if block is not None:
                shown, no_projection = self._as_built(block, sel[0])
            e = explain(shown) if block is not None else None
        except KeyError:  # an unknown block type: the canvas already reports it
            e = None
        self.explanation = e
        if e is None:
            self.title_label.setText("Residual connections")
            self.help_label.setText("")
            self.help_label.hide()
            self.diagram.set_explanation(None)
            self.formula_label.setText(_html(OVERVIEW_HTML))
            self.citation_label.hide()
            return
        name = block.name if block is not None and block.name else ""
        self.title_label.setText(f"{e.title}" + (f" — {name}" if name else ""))
        self.help_label.setText(e.help)
        self.help_label.show()
        self.diagram.set_explanation(e)
        html = e.formula_html
        if no_projection:
            html += ("<p>Its shortcut is set to <i>projection</i>, but the block keeps its "
                     "input's shape, so Keras builds no W<sub>s</sub>: x is added unchanged "
                     "(a projection is only built where the shape changes, He et al.'s "
                     "option B).</p>")
        parent = self._container_of(sel[0])
        if parent is not None:
            html += (f"<p>It is part of the residual branch F of the container "
                     f"<b>{parent}</b>, whose shortcut adds x back after the branch.</p>")
        elif not registry.get_block_type(e.type).has_shortcut:
            html += WRAP_HINT
        self.formula_label.setText(_html(html))
        self.citation_label.setText(e.citation)
        self.citation_label.setVisible(bool(e.citation))

    def _container_of(self, path: editing.Path) -> str | None:
        """The name of the residual container directly holding `path`, if any."""
        from html import escape

        if len(path) < 2:
            return None
        try:
            parent = editing.get_block(self.doc.spec, path[:-1])
        except (IndexError, KeyError):
            return None
        if parent.type != "residual":
            return None
        return escape(parent.name or "residual")

    def formula_text(self) -> str:
        """The formula label's text without markup (tests)."""
        return _plain(self.formula_label.text())

    def _apply_palette(self) -> None:
        dim = theme.dim_text(self.palette())
        self.citation_label.setStyleSheet(f"color: {dim.name()}; font-size: 8pt;")
        self.diagram.update()


class ResidualHelpDialog(QDialog):
    """Help → Residual Connections: the page in a QTextBrowser (links open in a browser)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Residual Connections")
        self.setObjectName("residualHelp")
        self.browser = QTextBrowser(self)
        self.browser.setObjectName("residualHelpText")
        self.browser.setOpenExternalLinks(True)
        self.browser.document().setDefaultStyleSheet(STYLE_CSS)
        self.browser.setHtml(RESIDUAL_HELP_HTML)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
        lay.addWidget(buttons)
        self.resize(780, 760)

    def text(self) -> str:
        return self.browser.toPlainText()
