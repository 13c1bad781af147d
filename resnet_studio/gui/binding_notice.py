"""The inspector's warning where the spec's value differs from the chosen dataset's, with a
one-click fix.

Training binds the architecture to its dataset (core.binding): the dataset's input shape,
classes and vocabulary win. The editor summarizes the bound model, so its numbers are the
trained model's; this notice says where that replaced the user's value (the selected block's
differences, or the input's when no block is selected) and offers "Use the dataset's value",
an ordinary undoable edit of the spec (`Document.set_param` / `Document.set_input`).
"""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from resnet_studio.core import editing
from resnet_studio.core.binding import Difference
from resnet_studio.gui.document import Document
from resnet_studio.gui.summary_worker import SummaryResult

WARNING_COLOR = "#D97706"  # the canvas's badge colour (canvas_paint.WARNING_COLOR)


class BindingNotice(QFrame):
    """A warning line and a fix button; hidden where spec and dataset agree.

    Attributes:
        label: The warning text.
        fix_button: "Use the dataset's value".
    """

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bindingNotice")
        self.doc = document
        self._result: SummaryResult | None = None
        self._shown: list[Difference] = []
        self.label = QLabel(self)
        self.label.setObjectName("bindingWarning")
        self.label.setWordWrap(True)
        self.fix_button = QPushButton("Use the dataset's value", self)
        self.fix_button.setObjectName("useDatasetValue")
        self.fix_button.setToolTip("Write the dataset's value into the architecture (undoable)")
        self.fix_button.clicked.connect(self.apply_fix)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 4)
        lay.addWidget(self.label)
        lay.addWidget(self.fix_button)
        self.setStyleSheet(f"#bindingNotice {{ border: 1px solid {WARNING_COLOR}; "
                           f"border-radius: 4px; }}")
        document.selection_changed.connect(self.refresh)
        self.refresh()

    def set_result(self, result: SummaryResult) -> None:
        self._result = result
        self.refresh()

    def differences(self) -> list[Difference]:
        """What the notice shows: the selected block's differences, or the input's."""
        return list(self._shown)

    def refresh(self) -> None:
        r = self._result
        sel = self.doc.selection
        shown: list[Difference] = []
        if r is not None and r.spec == self.doc.spec and len(sel) <= 1:
            shown = r.block_differences().get(tuple(sel[0]) if sel else None, [])
        self._shown = shown
        self.setVisible(bool(shown))
        if not shown:
            return
        where = f"training on <b>{escape(r.dataset)}</b>" if r and r.dataset else "training"
        lines = "".join(f"<p style='color:{WARNING_COLOR}'>⚠ {escape(d.message())}</p>"
                        for d in shown)
        self.label.setText(f"{lines}<p>The numbers shown are those of {where}.</p>")
        self.fix_button.setText("Use the dataset's value" if len(shown) == 1 else
                                "Use the dataset's values")

    def apply_fix(self) -> bool:
        """Writes the dataset's values into the spec (one undoable edit)."""
        shown = self._shown
        if not shown:
            return False
        if shown[0].location == "input":
            inp = self.doc.spec.input
            values = {d.field: d.dataset for d in shown}
            return self.doc.set_input(values.get("kind", inp.kind),
                                      tuple(values.get("shape", inp.shape)),
                                      int(values.get("vocab_size", inp.vocab_size)))
        path = editing.path_of(shown[0].location)
        if path is None:
            return False
        ok = True
        for d in shown:
            ok = self.doc.set_param(path, d.field, d.dataset) and ok
        return ok
