"""Inspector: a form generated from the selected block's parameter schema.

Integers are spin boxes with the schema's range, floats spin boxes (or a checked text field
for tiny values such as epsilons), choices combo boxes, booleans check boxes; every label
and editor carries the param's help as a tooltip. Input is validated as it is typed and
committed (one undoable command) when it is complete. A param that differs from its default
has a bold label and a reset button. With nothing selected the inspector edits the model
itself (name, title, input, dataset).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core import editing
from resnet_studio.core.blocks import registry
from resnet_studio.core.builder import block_names
from resnet_studio.core.params import Param
from resnet_studio.core.spec import (
    INPUT_KINDS,
    INPUT_RANKS,
    MAX_INPUT_DIM,
    MAX_VOCAB,
    NAME_RE,
    validate,
)
from resnet_studio.gui import icons, theme
from resnet_studio.gui.binding_notice import BindingNotice
from resnet_studio.gui.document import Document
from resnet_studio.gui.formatting import SHORTCUT_TEXT, format_count, format_shape, format_value
from resnet_studio.gui.number_fields import INT_LIMIT, CheckedDoubleSpinBox, CheckedSpinBox
from resnet_studio.gui.summary_worker import SummaryResult, problems_by_block

Path = editing.Path
# The model page's vocabulary field, with the range the preset reader accepts.
VOCAB_PARAM = Param("vocab_size", "int", 0, "Token ids (0 = from the dataset).", minimum=0,
                    maximum=MAX_VOCAB)


def _dataset_choices() -> list[str]:
    try:
        from resnet_studio.core.data import dataset_names

        return [n for n in dataset_names() if ":" not in n]  # built-ins, not the patterns
    except ImportError:  # the data package is optional for the editor
        return ["digits", "mnist1d", "python-docs", "synthetic-images", "synthetic-sequences"]


class ParamField(QObject):
    """Editor, reset button and message line for one param.

    Signals:
        committed(str, object): a complete, valid value was entered.
        reset(str): the reset button was pressed.
    """

    committed = Signal(str, object)
    reset = Signal(str)

    def __init__(self, param: Param, parent: QWidget) -> None:
        super().__init__(parent)
        self.param = param
        self.label = QLabel(param.name.replace("_", " "), parent)
        self.label.setToolTip(param.help)
        self.message = QLabel(parent)
        self.message.setWordWrap(True)
        self.message.hide()
        font = self.message.font()
        font.setPointSizeF(font.pointSizeF() * 0.92)
        self.message.setFont(font)
        self.reset_button = QToolButton(parent)
        self.reset_button.setIcon(icons.icon("revert"))
        self.reset_button.setAutoRaise(True)
        self.reset_button.setToolTip(f"Reset to the default ({format_value(param.default)})")
        self.reset_button.clicked.connect(lambda: self.reset.emit(self.param.name))
        self.widget = self._make_editor(parent)
        self.widget.setToolTip(f"{param.help}\nAccepted: {param.describe_range()}.")
        self.widget.setObjectName(f"param_{param.name}")
        self.row = QWidget(parent)
        row = QHBoxLayout(self.row)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.widget, 1)
        row.addWidget(self.reset_button)
        self._problem = ""  # from validation/build, shown when the typed input is fine

    # -- editors
    def _make_editor(self, parent: QWidget) -> QWidget:
        p = self.param
        if p.kind == "bool":
            w = QCheckBox(parent)
            w.toggled.connect(lambda v: self.committed.emit(p.name, bool(v)))
            return w
        if p.kind == "choice":
            w = QComboBox(parent)
            for c in p.choices:
                w.addItem(str(c), c)
                if p.name == "shortcut" and c in SHORTCUT_TEXT:
                    w.setItemData(w.count() - 1, SHORTCUT_TEXT[c], Qt.ItemDataRole.ToolTipRole)
            w.currentIndexChanged.connect(lambda i: self.committed.emit(p.name, w.itemData(i)))
            return w
        # Numbers: boxes whose range is the schema's and that never clamp or drop what was
        # typed (number_fields.py); what cannot be applied is said in red under the field.
        if p.kind == "int" and (p.maximum is None or p.maximum <= INT_LIMIT):
            w = CheckedSpinBox(p, parent)
            if w.minimum() == 0 and "0 =" in p.help:
                auto = p.help.split("0 =", 1)[1].strip(" )").rstrip(".")
                w.setSpecialValueText(f"auto ({auto})" if auto else "auto")
            self._spin_setup(w)
            w.valueChanged.connect(lambda v: self.committed.emit(p.name, int(v)))
            return w
        if p.kind == "float" and self._fits_spin_box():
            w = CheckedDoubleSpinBox(p, parent)
            self._spin_setup(w)
            w.valueChanged.connect(lambda v: self.committed.emit(p.name, float(v)))
            return w
        # float (tiny values), str, str_list: a text field checked against the schema.
        w = QLineEdit(parent)
        w.textEdited.connect(self._on_text_edited)
        w.editingFinished.connect(self._on_text_finished)
        if p.kind == "str_list":
            w.setPlaceholderText(", ".join(str(c) for c in p.choices))
        return w

    def _fits_spin_box(self) -> bool:
        p = self.param
        tiny = p.default not in (0, 0.0) and abs(p.default) < 1e-3
        return p.minimum is not None and p.maximum is not None and p.maximum <= 1000 and not tiny

    def _spin_setup(self, w: CheckedSpinBox | CheckedDoubleSpinBox) -> None:
        # Commits on Enter / focus out / arrow steps, not on every keystroke ("1" of "128").
        w.lineEdit().textEdited.connect(lambda _t: self._check_spin(w))
        w.rejected.connect(self._on_rejected)
        w.installEventFilter(self)

    def _on_rejected(self, text: str) -> None:
        shown = text if len(text) <= 24 else text[:21] + "…"
        self._show_message(f"“{shown}” was not applied: expected "
                           f"{self.param.describe_range()}.", error=True)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # Spin boxes and combo boxes in a scrolling form must not eat the wheel unless focused.
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()
            return True
        return False

    def _check_spin(self, w: QAbstractSpinBox) -> None:
        if w.hasAcceptableInput():
            self._show_message(self._problem, error=bool(self._problem))
        else:
            self._show_message(f"Expected {self.param.describe_range()}.", error=True)

    def _parse_text(self, text: str) -> Any:
        p = self.param
        if p.kind == "int":
            try:
                return int(text.strip().replace(",", "").replace("_", ""))
            except ValueError:
                return text
        if p.kind == "float":
            try:
                return float(text.strip().replace(",", "."))
            except ValueError:
                return text
        if p.kind == "str_list":
            return [t.strip() for t in text.split(",") if t.strip()]
        return text

    def _text_problem(self, text: str) -> str:
        problems = self.param.check(self._parse_text(text), "")
        return f"Expected {self.param.describe_range()}." if problems else ""

    def _on_text_edited(self, text: str) -> None:
        problem = self._text_problem(text)
        self._show_message(problem or self._problem, error=bool(problem or self._problem))

    def _on_text_finished(self) -> None:
        w = self.widget
        assert isinstance(w, QLineEdit)
        if self._text_problem(w.text()):
            self._on_rejected(w.text())  # the text stays, in red, for the user to correct
        else:
            self.committed.emit(self.param.name, self.param.normalize(self._parse_text(w.text())))

    # -- state
    def set_value(self, value: Any, explicit: bool) -> None:
        """Shows a value without committing it."""
        w = self.widget
        with QSignalBlocker(w):
            if isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                w.setCurrentIndex(max(0, w.findData(value)))
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                if not w.hasFocus() or w.value() != value:
                    w.setValue(value)
            elif isinstance(w, QLineEdit) and not w.hasFocus():
                w.setText(", ".join(value) if isinstance(value, list) else format_value(value))
        changed = explicit and value != self.param.default
        font = self.label.font()
        font.setBold(changed)
        self.label.setFont(font)
        self.reset_button.setVisible(changed)

    def set_problem(self, message: str) -> None:
        self._problem = message
        self._show_message(message, error=bool(message))

    def _show_message(self, text: str, error: bool) -> None:
        self.message.setVisible(bool(text))
        self.message.setText(text)
        color = theme.error_color(self.message.palette()).name()
        self.message.setStyleSheet(f"color: {color};" if error else "")
        if isinstance(self.widget, (QLineEdit, QAbstractSpinBox)):
            self.widget.setStyleSheet(f"border: 1px solid {color}; border-radius: 3px;"
                                      if error else "")


class Inspector(QWidget):
    """Signals:
        status_message(str): short feedback for the status bar.
    """

    status_message = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = document
        self.fields: dict[str, ParamField] = {}
        self._block_key: tuple[Path, str] | None = None
        self._result: SummaryResult | None = None
        self.stack = QStackedWidget(self)
        self._model_page = self._make_model_page()
        self._multi_page = self._make_multi_page()
        self._block_scroll = QScrollArea(self)
        self._block_scroll.setWidgetResizable(True)
        self._block_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.stack.addWidget(self._model_page)
        self.stack.addWidget(self._multi_page)
        self.stack.addWidget(self._block_scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # Where the dataset's value replaces this block's (or the input's) when training.
        self.binding_notice = BindingNotice(document, self)
        layout.addWidget(self.binding_notice)
        layout.addWidget(self.stack)
        document.changed.connect(self._on_changed)
        document.selection_changed.connect(self._on_selection_changed)
        document.replaced.connect(lambda: self._refresh_model(force=True))
        self._on_selection_changed()

    # ------------------------------------------------------------------ API
    def editor(self, name: str) -> QWidget:
        """The editor widget of a param of the selected block (tests, keyboard focus)."""
        return self.fields[name].widget

    def focus_first_editor(self) -> None:
        if self.stack.currentWidget() is self._block_scroll and self.fields:
            next(iter(self.fields.values())).widget.setFocus(Qt.FocusReason.OtherFocusReason)
        elif self.stack.currentWidget() is self._model_page:
            self.model_name.setFocus()

    def focus_name(self) -> None:
        """Puts the cursor in the block's name field, its text selected (Rename, F2)."""
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def set_result(self, result: SummaryResult) -> None:
        self._result = result
        self.binding_notice.set_result(result)
        self._refresh_block()

    # ------------------------------------------------------------------ pages
    def _make_model_page(self) -> QWidget:
        page = QWidget(self)
        outer = QVBoxLayout(page)
        outer.setContentsMargins(10, 10, 10, 10)
        heading = QLabel("<b>Model</b>", page)
        hint = QLabel("Select a block on the canvas to edit it; drag blocks in from the palette.",
                      page)
        hint.setWordWrap(True)
        hint.setEnabled(False)
        outer.addWidget(heading)
        outer.addWidget(hint)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.model_name = QLineEdit(page)
        self.model_name.setToolTip("File-safe name: letters, digits, '_' or '-'.")
        self.model_name.textEdited.connect(self._check_model_name)
        self.model_name.editingFinished.connect(self._commit_model_name)
        self.model_title = QLineEdit(page)
        self.model_title.editingFinished.connect(
            lambda: self._commit_info("title", self.model_title.text()))
        self.model_description = QPlainTextEdit(page)
        self.model_description.setFixedHeight(90)
        self.model_description.installEventFilter(self)
        self.input_kind = QComboBox(page)
        for kind in INPUT_KINDS:
            self.input_kind.addItem(kind, kind)
        self.input_kind.setToolTip("image (H, W, C) · sequence (T, F) · tokens (T,) integer ids · "
                                   "vector (F,)")
        self.input_kind.currentIndexChanged.connect(self._on_input_kind)
        self.input_shape = QLineEdit(page)
        self.input_shape.setToolTip("Shape of one example, without the batch axis, e.g. 32, 32, 3")
        self.input_shape.textEdited.connect(self._check_input)
        self.input_shape.editingFinished.connect(self._commit_input)
        self.input_vocab = CheckedSpinBox(VOCAB_PARAM, page)
        self.input_vocab.setSpecialValueText("from the dataset")
        self.input_vocab.valueChanged.connect(self._commit_input)
        self.input_vocab.lineEdit().textEdited.connect(
            lambda t: self._set_message(self.input_message, self.input_vocab,
                                        self.input_vocab.text_problem(t)))
        self.input_vocab.rejected.connect(
            lambda t: self._set_message(self.input_message, self.input_vocab,
                                        f"“{t[:24]}” was not applied: expected "
                                        f"{VOCAB_PARAM.describe_range()}."))
        self.input_message = QLabel(page)
        self.input_message.setWordWrap(True)
        self.input_message.hide()
        self.dataset = QComboBox(page)
        self.dataset.setEditable(True)
        self.dataset.addItems(_dataset_choices())
        self.dataset.setToolTip("Dataset trained on by default: a built-in name, tfds:NAME, "
                                "folder:PATH or npz:PATH")
        self.dataset.lineEdit().editingFinished.connect(
            lambda: self._commit_info("dataset", self.dataset.currentText().strip()))
        self.dataset.activated.connect(
            lambda _i: self._commit_info("dataset", self.dataset.currentText().strip()))
        form.addRow("Name", self.model_name)
        form.addRow("Title", self.model_title)
        form.addRow("Description", self.model_description)
        form.addRow("Input", self.input_kind)
        form.addRow("Shape", self.input_shape)
        form.addRow("Vocabulary", self.input_vocab)
        form.addRow("", self.input_message)
        form.addRow("Dataset", self.dataset)
        outer.addLayout(form)
        self.model_problems = QLabel(page)
        self.model_problems.setWordWrap(True)
        outer.addWidget(self.model_problems)
        outer.addStretch(1)
        return page

    def _make_multi_page(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(10, 10, 10, 10)
        self.multi_label = QLabel(page)
        layout.addWidget(self.multi_label)
        for text, icon, slot in (("Wrap in residual container", "wrap", self.doc.wrap),
                                 ("Duplicate", "duplicate", self.doc.duplicate),
                                 ("Delete", "delete", self.doc.remove)):
            b = QPushButton(icons.icon(icon), text, page)
            b.clicked.connect(lambda _c=False, s=slot: s())
            layout.addWidget(b)
        self.multi_delete = b  # greyed, with the reason, when it would leave no block
        self.multi_hint = QLabel(page)
        self.multi_hint.setWordWrap(True)
        self.multi_hint.setEnabled(False)
        layout.addWidget(self.multi_hint)
        layout.addStretch(1)
        return page

    def _build_block_page(self, path: Path) -> None:
        spec = self.doc.spec
        block = editing.get_block(spec, path)
        bt = registry.BLOCK_TYPES.get(block.type)
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(6)
        head = QHBoxLayout()
        family = bt.family if bt else "Layers"
        icon = QLabel(page)
        icon.setPixmap(icons.pixmap(f"family-{family.lower()}", 28,
                                    theme.accent(theme.family_color(family))))
        head.addWidget(icon)
        title = QLabel(f"<b>{bt.title if bt else block.type}</b><br>"
                       f"<span style='color:{theme.dim_text(self.palette()).name()}'>"
                       f"{family} · <code>{block.type}</code> · "
                       f"{editing.location_of(path)}</span>", page)
        title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head.addWidget(title, 1)
        outer.addLayout(head)
        if bt is not None:
            help_label = QLabel(bt.help, page)
            help_label.setWordWrap(True)
            outer.addWidget(help_label)
            if bt.citation:
                cite = QLabel(f"<i>{bt.citation}</i>", page)
                cite.setWordWrap(True)
                cite.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                f = cite.font()
                f.setPointSizeF(f.pointSizeF() * 0.9)
                cite.setFont(f)
                cite.setEnabled(False)
                outer.addWidget(cite)
        self.block_errors = QLabel(page)
        self.block_errors.setWordWrap(True)
        self.block_errors.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.block_errors.setFrameShape(QFrame.Shape.StyledPanel)
        self.block_errors.setMargin(6)
        self.block_errors.hide()
        outer.addWidget(self.block_errors)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.name_edit = QLineEdit(page)
        self.name_edit.setObjectName("block_name")
        self.name_edit.setToolTip("Optional unique name; the block's Keras layers are prefixed "
                                  "with it. Empty = automatic.")
        self.name_edit.textEdited.connect(self._check_block_name)
        self.name_edit.editingFinished.connect(self._commit_block_name)
        self.name_message = QLabel(page)
        self.name_message.setWordWrap(True)
        self.name_message.hide()
        form.addRow("name", self.name_edit)
        form.addRow("", self.name_message)
        self.fields = {}
        if bt is not None:
            for param in bt.params:
                field = ParamField(param, page)
                field.committed.connect(self._commit_param)
                field.reset.connect(self._reset_param)
                form.addRow(field.label, field.row)
                form.addRow("", field.message)
                self.fields[param.name] = field
            if not bt.params:
                none = QLabel("This block has no parameters.", page)
                none.setEnabled(False)
                form.addRow("", none)
        outer.addLayout(form)
        sep = QFrame(page)
        sep.setFrameShape(QFrame.Shape.HLine)
        sep.setFrameShadow(QFrame.Shadow.Sunken)
        outer.addWidget(sep)
        self.block_output = QLabel(page)
        self.block_output.setWordWrap(True)
        self.block_output.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.block_output)
        outer.addStretch(1)
        page.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        old = self._block_scroll.takeWidget()
        if old is not None:
            old.deleteLater()
        self._block_scroll.setWidget(page)

    # ------------------------------------------------------------------ updates
    def _selected_block(self) -> Path | None:
        sel = self.doc.selection
        return sel[0] if len(sel) == 1 else None

    def _on_selection_changed(self) -> None:
        sel = self.doc.selection
        if not sel:
            self._block_key = None
            self.stack.setCurrentWidget(self._model_page)
            self._refresh_model()
            return
        if len(sel) > 1:
            self._block_key = None
            self.multi_label.setText(f"<b>{len(sel)} blocks selected</b>")
            why = editing.removal_problem(self.doc.spec, sel)
            self.multi_delete.setEnabled(not why)
            self.multi_delete.setToolTip(why or "Delete the selected blocks")
            ok = editing.is_contiguous(editing.normalize_selection(sel))
            self.multi_hint.setText("" if ok else "Only consecutive blocks in the same list can "
                                                  "be wrapped in a residual container.")
            self.stack.setCurrentWidget(self._multi_page)
            return
        self._show_block(sel[0])

    def _show_block(self, path: Path) -> None:
        block = editing.get_block(self.doc.spec, path)
        key = (path, block.type)
        if key != self._block_key:
            self._block_key = key
            self._build_block_page(path)
        self.stack.setCurrentWidget(self._block_scroll)
        self._refresh_block()

    def _on_changed(self) -> None:
        path = self._selected_block()
        if path is not None and editing.has_block(self.doc.spec, path):
            self._show_block(path)
        elif not self.doc.selection:
            self._refresh_model()

    def _refresh_block(self) -> None:
        path = self._selected_block()
        if path is None or self._block_key is None or not editing.has_block(self.doc.spec, path):
            return
        spec = self.doc.spec
        block = editing.get_block(spec, path)
        bt = registry.BLOCK_TYPES.get(block.type)
        if not self.name_edit.hasFocus():
            self.name_edit.setText(block.name or "")
        auto = block_names(spec).get(editing.location_of(path), block.type)
        self.name_edit.setPlaceholderText(f"automatic: {auto}")
        values = bt.resolve(block.params) if bt else {}
        messages = problems_by_block(validate(spec)).get(path, [])
        if self._result is not None and self._result.spec == spec:
            messages += self._result.block_problems().get(path, [])
        for name, field in self.fields.items():
            field.set_value(values.get(name), name in block.params)
            prefix = f"params.{name}: "
            field.set_problem(" ".join(m[len(prefix):] for m in messages if m.startswith(prefix)))
        other = [m for m in messages if not m.startswith("params.")]
        err = theme.error_color(self.palette()).name()
        self.block_errors.setVisible(bool(other))
        self.block_errors.setText("".join(f"<p style='color:{err}'>⚠ {m}</p>" for m in other))
        info = None
        if self._result is not None:
            info = self._result.block_summaries().get(path)
        stale = self._result is None or self._result.spec != spec
        if info is not None:
            note = " (updating…)" if stale else ""
            self.block_output.setText(f"Output <code>{format_shape(info.output_shape)}</code> · "
                                      f"{format_count(info.params)}{note}")
        elif self._result is not None and self._result.summary is None and not stale:
            self.block_output.setText("Not built: the model does not build (see above or the "
                                      "summary).")
        else:
            self.block_output.setText("Output: computing with Keras…")

    def _refresh_model(self, force: bool = False) -> None:
        """Shows the model's fields; a field being typed in keeps its text unless `force`
        (another document was opened: the old text must not be committed into it when the
        field loses focus, as Ctrl+N from the Title field did)."""
        spec = self.doc.spec
        for w, text in ((self.model_name, spec.name), (self.model_title, spec.title)):
            if force or not w.hasFocus():
                w.setText(text)
        if force or not self.model_description.hasFocus():
            self.model_description.setPlainText(spec.description)
        with QSignalBlocker(self.input_kind):
            self.input_kind.setCurrentIndex(self.input_kind.findData(spec.input.kind))
        if force or not self.input_shape.hasFocus():
            self.input_shape.setText(", ".join(str(d) for d in spec.input.shape))
        with QSignalBlocker(self.input_vocab):
            self.input_vocab.setValue(spec.input.vocab_size)
        self.input_vocab.setEnabled(spec.input.kind == "tokens")
        with QSignalBlocker(self.dataset):
            self.dataset.setEditText(spec.dataset or "")
        problems = [str(p) for p in validate(spec) if editing.path_of(p.location) is None]
        err = theme.error_color(self.palette()).name()
        self.model_problems.setText("".join(f"<p style='color:{err}'>⚠ {m}</p>"
                                            for m in problems))

    # ------------------------------------------------------------------ commits
    def _commit_param(self, name: str, value: Any) -> None:
        path = self._selected_block()
        if path is None:
            return
        block = editing.get_block(self.doc.spec, path)
        bt = registry.BLOCK_TYPES.get(block.type)
        if bt is not None and name in block.params and block.params[name] == value:
            return
        if bt is not None and name not in block.params and bt.param(name).default == value:
            return
        self.doc.set_param(path, name, value)

    def _reset_param(self, name: str) -> None:
        path = self._selected_block()
        if path is not None:
            self.doc.reset_param(path, name)

    def _name_problem(self, text: str) -> str:
        path = self._selected_block()
        if path is None or not text:
            return ""
        try:
            editing.rename_block(self.doc.spec, path, text)
        except editing.EditError as e:
            return str(e)
        return ""

    def _check_block_name(self, text: str) -> None:
        problem = self._name_problem(text)
        self._set_message(self.name_message, self.name_edit, problem)

    def _commit_block_name(self) -> None:
        path = self._selected_block()
        if path is None:
            return
        text = self.name_edit.text().strip()
        if self._name_problem(text):
            return
        block = editing.get_block(self.doc.spec, path)
        if (block.name or "") != text:
            self.doc.rename(path, text or None)

    def _set_message(self, label: QLabel, editor: QWidget, text: str) -> None:
        color = theme.error_color(self.palette()).name()
        label.setText(text)
        label.setVisible(bool(text))
        label.setStyleSheet(f"color: {color};" if text else "")
        editor.setStyleSheet(f"border: 1px solid {color}; border-radius: 3px;" if text else "")

    def _check_model_name(self, text: str) -> None:
        bad = "" if NAME_RE.match(text) else ("Letters, digits, '_' or '-', starting with a "
                                              "letter (at most 64).")
        self._set_message(self.input_message, self.model_name, bad)

    def _commit_model_name(self) -> None:
        text = self.model_name.text().strip()
        if NAME_RE.match(text):
            self._commit_info("name", text)

    def _commit_info(self, field: str, value: str) -> None:
        if getattr(self.doc.spec, field) != (value or None if field == "dataset" else value):
            self.doc.set_info(field, value)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.model_description and event.type() == QEvent.Type.FocusOut:
            self._commit_info("description", self.model_description.toPlainText())
        return super().eventFilter(obj, event)

    def _parse_shape(self) -> tuple[tuple[int, ...] | None, str]:
        kind = self.input_kind.currentData()
        rank = INPUT_RANKS[kind]
        text = self.input_shape.text().replace("×", ",").replace("x", ",")
        try:
            dims = tuple(int(t) for t in text.split(",") if t.strip())
        except ValueError:
            return None, f"Expected {rank} whole number(s) separated by commas."
        if any(d > MAX_INPUT_DIM for d in dims):
            return None, f"Each size is at most {MAX_INPUT_DIM:,}."
        if len(dims) != rank or any(d < 1 for d in dims):
            example = {"image": "32, 32, 3", "sequence": "40, 1", "tokens": "128",
                       "vector": "64"}[kind]
            return None, f"A {kind} input has {rank} positive size(s), e.g. {example}."
        return dims, ""

    def _check_input(self, _text: str = "") -> None:
        _, problem = self._parse_shape()
        self._set_message(self.input_message, self.input_shape, problem)

    def _on_input_kind(self, _index: int) -> None:
        self.input_vocab.setEnabled(self.input_kind.currentData() == "tokens")
        self._check_input()
        self._commit_input()

    def _commit_input(self) -> None:
        dims, problem = self._parse_shape()
        if dims is None:
            return
        kind = self.input_kind.currentData()
        vocab = self.input_vocab.value() if kind == "tokens" else 0
        inp = self.doc.spec.input
        if (inp.kind, tuple(inp.shape), inp.vocab_size) != (kind, dims, vocab):
            self.doc.set_input(kind, dims, vocab)

