"""Inside a pretrained backbone, read-only: the canvas shows a `pretrained_backbone` block as
one card; "Show Inside…" (its context menu, or a double-click) opens this window listing the
backbone's layers and their sublayers with output shapes, parameter counts and whether the
block's `trainable` / `unfreeze_top` settings train them.

The listing is computed off the GUI thread (`core.blocks.pretrained.describe_backbone` as a
`gui.jobs.Job`): reading a preset imports keras-hub and builds the backbone without its
weights, a second or two.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QDialog,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.blocks.pretrained import describe_backbone
from resnet_studio.gui.jobs import Job

COLUMNS = ("Layer", "Type", "Output shape", "Parameters", "Training")


class BackboneView(QDialog):
    """A non-modal window over one backbone block's parameters (a copy: edits to the block
    afterwards are not followed; opening it again reads them anew).

    Signals:
        ready(): the listing arrived (or its error is shown).
    """

    ready = Signal()

    def __init__(self, block_name: str, params: dict[str, Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Inside {block_name} (read-only)")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(760, 560)
        self.params = dict(params)
        self.info: dict[str, Any] | None = None
        self.error: str | None = None
        self.header = QLabel(f"Reading {params.get('preset') or 'the preset'}…")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setEditTriggers(QTreeWidget.EditTrigger.NoEditTriggers)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.tree)
        self._job: Job | None = Job(describe_backbone, self.params,
                                    name=f"backbone-{block_name}", parent=self)
        self._job.finished.connect(self._on_finished)
        self._job.failed.connect(self._on_failed)
        self._job.start()

    def rows(self) -> list[QTreeWidgetItem]:
        """Every item of the tree, top-level layers and their sublayers, in order."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            out.append(item)
            out.extend(item.child(j) for j in range(item.childCount()))
        return out

    def _on_failed(self, message: str, _details: str) -> None:
        self.error = message.removeprefix("pretrained_backbone: ")
        self.header.setText(f"Cannot show this backbone: {self.error}")

    def _on_finished(self, info: object) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.deleteLater()
        if isinstance(info, dict):
            self._fill(info)
        self.ready.emit()

    def _fill(self, info: dict[str, Any]) -> None:
        self.info = info
        frozen = info["total"] - info["trainable"]
        self.header.setText(
            f"<b>{info['class']}</b> from {info['preset']}<br>{info['total']:,} parameters: "
            f"{info['trainable']:,} fine-tuned, {frozen:,} frozen or fixed "
            f"(trainable={self.params.get('trainable', True)}, "
            f"unfreeze_top={self.params.get('unfreeze_top', 0)}). "
            "Shapes: ? is the batch (and, for text, the sequence length).")
        grey = QBrush(self.palette().placeholderText().color())
        bold = QFont(self.font())
        bold.setBold(True)
        parent: QTreeWidgetItem | None = None
        for row in info["rows"]:
            has_weights = row["params"] > 0
            training = ("fine-tuned" if row["trainable"] else "frozen") if has_weights else "—"
            item = QTreeWidgetItem([row["name"], row["type"], row["shape"],
                                    f"{row['params']:,}" if has_weights else "", training])
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if has_weights and row["trainable"]:
                item.setFont(4, bold)
            elif has_weights:
                item.setForeground(4, grey)
            if row["depth"] and parent is not None:
                parent.addChild(item)
            else:
                self.tree.addTopLevelItem(item)
                parent = item
        self.tree.expandAll()
        for column in range(1, len(COLUMNS)):
            self.tree.resizeColumnToContents(column)

    def closeEvent(self, event) -> None:
        if self._job is not None:  # reading a preset cannot be interrupted: let it end
            self._job.cancel_and_wait()
        super().closeEvent(event)


def show_backbone(parent: QWidget, block_name: str, params: dict[str, Any]) -> BackboneView:
    """Opens the read-only view of a backbone block (non-modal) and returns it."""
    view = BackboneView(block_name, params, parent)
    view.show()
    return view
