"""Model summary: totals, input/output shapes and a per-block table, all from Keras.

Shows the state of the background build too: TensorFlow still loading, building, the model
does not build (with the reason), or the numbers of the last successful build.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core import editing
from resnet_studio.core.builder import BlockSummary
from resnet_studio.gui import icons, theme
from resnet_studio.gui.formatting import format_shape
from resnet_studio.gui.summary_worker import SummaryResult

PATH_ROLE = Qt.ItemDataRole.UserRole
SHARE_ROLE = Qt.ItemDataRole.UserRole + 1
COL_BLOCK, COL_SHAPE, COL_PARAMS = range(3)
MIN_TABLE_HEIGHT = 84  # three rows of the per-block table, whatever the message above


class _ShareDelegate(QStyledItemDelegate):
    """Parameter column: the count over a bar showing its share of the model."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        share = index.data(SHARE_ROLE)
        if isinstance(share, float) and share > 0:
            # A thin bar under the number: its share of the whole model.
            r = QRect(option.rect).adjusted(3, 0, -3, -1)
            width = max(2, int(r.width() * min(1.0, share)))
            color = theme.accent(theme.family_color("Convolutional"), option.palette)
            color.setAlphaF(0.75)
            painter.fillRect(QRect(r.right() - width + 1, r.bottom() - 2, width, 2), color)


class SummaryView(QWidget):
    """Signals:
        block_clicked(object): a table row was clicked (its block path).
    """

    block_clicked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: SummaryResult | None = None
        self.total_params: int | None = None
        self.state_icon = QLabel(self)
        self.state = QLabel(self)
        self.state.setWordWrap(True)
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state.setObjectName("summary_state")
        head = QHBoxLayout()
        head.setSpacing(6)
        head.addWidget(self.state_icon, 0, Qt.AlignmentFlag.AlignTop)
        head.addWidget(self.state, 1)
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        self.values: dict[str, QLabel] = {}
        rows = (("total", "Total parameters"), ("trainable", "Trainable"),
                ("non_trainable", "Non-trainable"), ("statistics", "BatchNorm statistics"),
                ("input", "Input shape"), ("output", "Output shape"))
        for i, (key, text) in enumerate(rows):
            label = QLabel(text, self)
            value = QLabel("—", self)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if key == "total":
                f = value.font()
                f.setBold(True)
                f.setPointSizeF(f.pointSizeF() * 1.15)
                value.setFont(f)
                label.setFont(f)
            if key in ("input", "output"):
                value.setFont(theme.monospace_font(value.font().pointSizeF()))
            grid.addWidget(label, i, 0)
            grid.addWidget(value, i, 1)
            self.values[key] = value
        self.values["statistics"].setToolTip(
            "BatchNorm moving mean and variance: state updated during training, not "
            "parameters (total + statistics = Keras's model.count_params()).")
        self.table = QTreeWidget(self)
        self.table.setColumnCount(3)
        self.table.setHeaderLabels(["Block", "Output shape", "Params"])
        self.table.setRootIsDecorated(True)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setItemDelegateForColumn(COL_PARAMS, _ShareDelegate(self.table))
        header = self.table.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_BLOCK, QHeaderView.ResizeMode.Stretch)
        for col in (COL_SHAPE, COL_PARAMS):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemClicked.connect(self._on_item_clicked)
        # A long build error wraps over many lines: in a short dock the rows below it were
        # squeezed until they overlapped and clipped. The contents scroll instead, the
        # wrapped text keeps the height it needs, and the table keeps a usable minimum.
        self.table.setMinimumHeight(MIN_TABLE_HEIGHT)
        body = QWidget(self)
        body.setObjectName("summaryBody")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addLayout(grid)
        layout.addWidget(self.table, 1)
        self.scroll = QScrollArea(self)
        self.scroll.setWidget(body)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        self.set_waiting("Loading TensorFlow…")

    # ------------------------------------------------------------------ states
    def _set_state(self, text: str, icon: str, color: str | None = None) -> None:
        pal = self.palette()
        c = theme.accent(color, pal) if color else pal.color(QPalette.ColorRole.WindowText)
        self.state_icon.setPixmap(icons.pixmap(icon, 18, c))
        self.state.setText(text)
        self.state.setStyleSheet(f"color: {c.name()};" if color else "")

    def set_waiting(self, text: str) -> None:
        """TensorFlow loading, or a build running; keeps the last numbers, greyed."""
        self._set_state(text, "busy")
        self._dim(True)

    def set_failed_backend(self, error: str) -> None:
        self._set_state(f"TensorFlow could not be loaded, so nothing can be built: {error}",
                        "warning", theme.ERROR_COLOR)

    def set_result(self, result: SummaryResult) -> None:
        self.result = result
        self._dim(False)
        s = result.summary
        if s is None:
            self.total_params = None
            self._set_state(result.headline(), "warning", theme.ERROR_COLOR)
            for v in self.values.values():
                v.setText("—")
            self.values["input"].setText(format_shape((None, *result.spec.input.shape)))
            if result.partial is not None:  # the blocks before the failing one
                self._fill_table(result.partial.blocks, result.partial.total_params)
            else:
                self.table.clear()
            return
        self.total_params = s.total_params
        # The numbers are those of the spec bound to the chosen dataset (core.binding).
        bound = f" for training on {result.dataset}" if result.dataset else ""
        n = len(result.differences)
        if n:
            bound += (f"; {n} value{'s' if n > 1 else ''} replaced by the dataset's "
                      "(amber on the canvas)")
        if result.dataset_error:
            bound += (f" as written: the dataset's sizes could not be read "
                      f"({result.dataset_error})")
        self._set_state(f"Built by Keras in {result.seconds:.2f} s{bound}", "ok",
                        theme.OK_COLOR)
        self.values["total"].setText(f"{s.total_params:,}")
        self.values["trainable"].setText(f"{s.trainable_params:,}")
        self.values["non_trainable"].setText(f"{s.non_trainable_params:,}")
        self.values["statistics"].setText(f"{s.statistics:,}")
        self.values["input"].setText(format_shape(s.input_shape))
        self.values["output"].setText(format_shape(s.output_shape))
        self._fill_table(s.blocks, s.total_params)

    def _dim(self, dim: bool) -> None:
        self.table.setEnabled(not dim)
        for v in self.values.values():
            v.setEnabled(not dim)

    def _fill_table(self, blocks: list[BlockSummary], total: int) -> None:
        expanded = {self.table.topLevelItem(i).text(COL_BLOCK)
                    for i in range(self.table.topLevelItemCount())
                    if self.table.topLevelItem(i).isExpanded()}
        self.table.clear()

        def add(parent: QTreeWidgetItem | None, b: BlockSummary) -> None:
            item = QTreeWidgetItem([b.name, format_shape(b.output_shape), f"{b.params:,}"])
            item.setData(COL_BLOCK, PATH_ROLE, b.location)
            item.setData(COL_PARAMS, SHARE_ROLE, b.params / total if total else 0.0)
            item.setTextAlignment(COL_PARAMS, Qt.AlignmentFlag.AlignRight |
                                  Qt.AlignmentFlag.AlignVCenter)
            item.setFont(COL_SHAPE, theme.monospace_font(self.table.font().pointSizeF() * 0.95))
            item.setToolTip(COL_BLOCK, f"{b.name} ({b.type}, {b.location}): {len(b.layers)} "
                                       "Keras layer(s)\n"
                                       + ", ".join(b.layers[:12])
                                       + (" …" if len(b.layers) > 12 else ""))
            item.setToolTip(COL_PARAMS, f"{b.params:,} parameters "
                                        f"({100 * b.params / total:.1f} % of the model)"
                            if total else "")
            if parent is None:
                self.table.addTopLevelItem(item)
            else:
                parent.addChild(item)
            for c in b.children:
                add(item, c)
            if b.children and (parent is not None or b.name in expanded or not expanded):
                item.setExpanded(True)

        for b in blocks:
            add(None, b)
        # Branch arrows only when there is something to expand (containers).
        self.table.setRootIsDecorated(any(b.children for b in blocks))

    def select_path(self, path: tuple[int, ...] | None) -> None:
        """Highlights the row of a block (follows the canvas selection)."""
        self.table.clearSelection()
        if path is None:
            return
        it = self._find(path)
        if it is not None:
            it.setSelected(True)
            self.table.scrollToItem(it)

    def _find(self, path: tuple[int, ...]) -> QTreeWidgetItem | None:
        stack = [self.table.topLevelItem(i) for i in range(self.table.topLevelItemCount())]
        while stack:
            it = stack.pop()
            if it.data(COL_BLOCK, PATH_ROLE) == editing.location_of(path):
                return it
            stack.extend(it.child(i) for i in range(it.childCount()))
        return None

    def _on_item_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        path = editing.path_of(item.data(COL_BLOCK, PATH_ROLE) or "")
        if path is not None:
            self.block_clicked.emit(path)
