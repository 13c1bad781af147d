"""Spin boxes that never change what the user typed behind their back.

Qt's spin boxes drop keystrokes that cannot lead to a value in range and clamp on Enter:
typing "99999999999" into a 1..65,536 field left 9,999, "-5abc" left 5, a learning rate of
250 became 25 (issue 18, item 8). These accept any text, judge it with the parameter's own
schema (`core.params.Param`, the same check a preset file gets), and on Enter or focus-out
keep the previous value when the text is not acceptable. `rejected(text)` tells the field
so it can say, in red, what was not applied and why.

The range of each box is the schema's: whatever a preset file may hold, the box can show.
"""

from __future__ import annotations

from PySide6.QtCore import QLocale, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QSpinBox, QWidget

from resnet_studio.core.params import Param

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
FLOAT_DECIMALS = 10  # enough for any rate the schemas allow; shown with 6 significant digits
_State = QValidator.State


def _plain_number(text: str, locale: QLocale) -> str:
    """The text without group separators, with "." as the decimal point."""
    t = text.strip().replace("\u00a0", "").replace(" ", "")
    point, group = locale.decimalPoint(), locale.groupSeparator()
    if point == ",":
        return t.replace(group, "").replace(",", ".") if group else t.replace(",", ".")
    return t.replace(group or ",", "").replace(",", "")


class _Checked:
    """What both boxes share: parse, check against the schema, remember what was typed."""

    param: Param

    def _setup(self) -> None:
        box: QAbstractSpinBox = self  # type: ignore[assignment]
        box.setKeyboardTracking(False)
        box.setAccelerated(True)
        box.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToPreviousValue)
        self._typed: str | None = None
        box.lineEdit().textEdited.connect(self._remember)
        box.editingFinished.connect(self._finished)

    _convert: type = float  # int or float: what the text must parse as

    def _parse(self, text: str) -> float | int | None:
        box: QAbstractSpinBox = self  # type: ignore[assignment]
        try:
            return self._convert(_plain_number(text, box.locale()))
        except ValueError:
            return None

    def valueFromText(self, text: str) -> float | int:
        value = self._parse(text)
        return self.value() if value is None else value  # type: ignore[attr-defined]

    def fixup(self, text: str) -> str:
        return text  # no silent correction

    def text_problem(self, text: str) -> str:
        """Why `text` cannot be applied ("" when it can)."""
        box: QAbstractSpinBox = self  # type: ignore[assignment]
        if box.specialValueText() and text == box.specialValueText():
            return ""
        value = self._parse(text)
        if value is None or self.param.check(value, ""):
            return f"Expected {self.param.describe_range()}."
        return ""

    def validate(self, text: str, pos: int) -> object:
        # Intermediate, never Invalid: every keystroke stays visible, so the field can say
        # what is wrong instead of silently dropping characters.
        return _State.Intermediate if self.text_problem(text) else _State.Acceptable

    def _remember(self, text: str) -> None:
        self._typed = text

    def _finished(self) -> None:
        typed, self._typed = self._typed, None
        if typed is not None and self.text_problem(typed):
            self.rejected.emit(typed)  # type: ignore[attr-defined]


class CheckedSpinBox(_Checked, QSpinBox):
    """An integer box over a `Param` of kind int.

    Signals:
        rejected(str): the text typed was not applied (the previous value is kept).
    """

    rejected = Signal(str)
    _convert = int

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        lo = int(param.minimum) if param.minimum is not None else -INT_LIMIT
        lo += 1 if param.exclusive_minimum else 0
        hi = int(min(param.maximum, INT_LIMIT)) if param.maximum is not None else INT_LIMIT
        self.setRange(lo, hi)
        self.setGroupSeparatorShown(hi >= 10_000)
        self._setup()


class CheckedDoubleSpinBox(_Checked, QDoubleSpinBox):
    """A number box over a `Param` of kind float; shows 0.9 rather than 0.9000.

    Signals:
        rejected(str): the text typed was not applied (the previous value is kept).
    """

    rejected = Signal(str)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self.setDecimals(FLOAT_DECIMALS)
        lo = float(param.minimum or 0.0)
        # An exclusive minimum (a rate > 0): the arrows stop at the smallest step above it.
        self.setRange(lo + (10.0 ** -FLOAT_DECIMALS if param.exclusive_minimum else 0.0),
                      float(param.maximum))
        self.setSingleStep(0.05 if (param.maximum or 1) <= 1 else 0.1)
        self._setup()

    def textFromValue(self, value: float) -> str:
        return self.locale().toString(float(value), "g", 6)

