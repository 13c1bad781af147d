"""The arms table of the Experiments tab: one row per arm, one column per parameter.

Each cell is the editor the inspector and the training panel use for that parameter
(`gui.inspector.ParamField`, built from the same `Param` schema), so a value is accepted or
refused here exactly as it is there. A cell shows the value the arm will run with — the arm's
own override (bold, with a reset button), else the experiment's, else the base preset's — and
editing it sets the arm's override. Architecture parameters apply to every block that has
them (an experiment's `architecture`), training parameters to the arm's training.

What the table has no column for (an arm's `blocks`, `insert_after`, any other override) is
kept as loaded: the built experiment is the loaded one with the table's edits.
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.gui.inspector import ParamField

# Columns shown when the base architecture has the parameter (architecture) or always
# (training), in this order; an arm's override of anything else adds its column too.
ARCH_COLUMNS = ("repeat", "shortcut", "variant", "zero_init_residual", "scaling", "scale",
                "layer_norm")
TRAINING_COLUMNS = ("optimizer", "learning_rate", "momentum", "weight_decay", "schedule",
                    "warmup_epochs", "global_clipnorm", "epochs")


def _arch_params(base: Any) -> dict[str, Any]:
    """Parameter name -> (Param, the base's value on the first block that has it)."""
    from resnet_studio.core.blocks import registry

    out: dict[str, Any] = {}
    for _, block in base.walk():
        bt = registry.BLOCK_TYPES.get(block.type)
        for p in bt.params if bt is not None else ():
            if p.name not in out:
                out[p.name] = (p, block.params.get(p.name, p.default))
    return out


class ArmsEditor(QWidget):
    """Edits the arms of an experiment dict (the JSON of an experiment file).

    Signals:
        changed(): an arm was added, removed, renamed or edited.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: dict[str, Any] = {}
        self.base: Any = None
        self.columns: list[tuple[str, str]] = []  # (section, parameter): section arch/training
        self.params: dict[tuple[str, str], Any] = {}
        self.fields: list[dict[tuple[str, str], ParamField]] = []  # per row
        self.table = QTableWidget(0, 0)
        self.table.verticalHeader().setVisible(False)
        # Three arms visible whatever the splitter does (a cell is an editor plus its reset).
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height() +
                                    3 * 34 + 16)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.add_button = QPushButton("Add arm")
        self.remove_button = QPushButton("Remove arm")
        self.add_button.setToolTip("A copy of the selected arm (or of the last one)")
        self.add_button.clicked.connect(self.add_arm)
        self.remove_button.clicked.connect(self.remove_arm)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    # ------------------------------------------------------------------ loading
    def set_experiment(self, experiment: Any) -> None:
        """Shows `experiment` (an Experiment) for editing."""
        self.data = experiment.to_dict()
        self.base = experiment.base_spec()
        from resnet_studio.core.training_config import TRAINING_PARAMS

        arch = _arch_params(self.base)
        training = {p.name: p for p in TRAINING_PARAMS}
        used = {(s, k) for a in self.data["arms"] for s in ("architecture", "training")
                for k in a.get(s, {})}
        cols = [("architecture", k) for k in ARCH_COLUMNS if k in arch]
        cols += [("training", k) for k in TRAINING_COLUMNS]
        cols += sorted(c for c in used if c not in cols and
                       (c[1] in arch if c[0] == "architecture" else c[1] in training))
        self.columns = cols
        self.params = {(s, k): arch[k][0] if s == "architecture" else training[k]
                       for s, k in cols}
        self._rebuild()

    def _rebuild(self) -> None:
        self.table.clear()
        self.fields = []
        self.table.setColumnCount(1 + len(self.columns))
        self.table.setHorizontalHeaderLabels(["Arm"] + [k.replace("_", " ")
                                                        for _, k in self.columns])
        for i, (section, key) in enumerate(self.columns, start=1):
            item = self.table.horizontalHeaderItem(i)
            item.setToolTip(f"{section}: {self.params[(section, key)].help}")
        arms = self.data.get("arms", [])
        self.table.setRowCount(len(arms))
        for row, arm in enumerate(arms):
            name = QLineEdit(arm.get("name", ""))
            name.setObjectName("arm_name")
            name.editingFinished.connect(lambda r=row, w=name: self._rename(r, w.text()))
            self.table.setCellWidget(row, 0, name)
            fields: dict[tuple[str, str], ParamField] = {}
            for col, column in enumerate(self.columns, start=1):
                f = ParamField(self.params[column], self.table)
                f.label.hide()
                f.message.hide()
                f.committed.connect(lambda _n, v, r=row, c=column: self.set_value(r, c, v))
                f.reset.connect(lambda _n, r=row, c=column: self.reset_value(r, c))
                fields[column] = f
                self.table.setCellWidget(row, col, f.row)
            self.fields.append(fields)
            self._show_row(row)
        self.table.resizeColumnsToContents()
        self.remove_button.setEnabled(len(arms) > 1)

    # ------------------------------------------------------------------ values
    def effective(self, row: int, column: tuple[str, str]) -> tuple[Any, bool]:
        """(value arm `row` runs with for `column`, whether the arm sets it itself)."""
        section, key = column
        arm = self.data["arms"][row]
        if key in arm.get(section, {}):
            return arm[section][key], True
        if key in self.data.get(section, {}):
            return self.data[section][key], False
        if section == "architecture":
            return _arch_params(self.base)[key][1], False
        return self.base.training.get(key, self.params[column].default), False

    def _show_row(self, row: int) -> None:
        for column, f in self.fields[row].items():
            value, explicit = self.effective(row, column)
            f.set_value(value, explicit)

    def set_value(self, row: int, column: tuple[str, str], value: Any) -> None:
        """Sets arm `row`'s override of `column` (what editing its cell does)."""
        section, key = column
        self.data["arms"][row].setdefault(section, {})[key] = value
        self._show_row(row)
        self.changed.emit()

    def reset_value(self, row: int, column: tuple[str, str]) -> None:
        section, key = column
        arm = self.data["arms"][row]
        arm.get(section, {}).pop(key, None)
        if section in arm and not arm[section]:
            del arm[section]
        self._show_row(row)
        self.changed.emit()

    def field(self, row: int, key: str) -> ParamField:
        """The editor of arm `row`'s parameter `key` (tests, keyboard focus)."""
        return next(f for (_, k), f in self.fields[row].items() if k == key)

    def _rename(self, row: int, name: str) -> None:
        if row < len(self.data["arms"]) and name != self.data["arms"][row].get("name"):
            self.data["arms"][row]["name"] = name.strip()
            self.changed.emit()

    @Slot()
    def add_arm(self) -> None:
        arms = self.data.get("arms", [])
        if not arms:
            return
        row = self.table.currentRow() if self.table.currentRow() >= 0 else len(arms) - 1
        arm = copy.deepcopy(arms[row])
        names = {a.get("name") for a in arms}
        n = 2
        while f"{arm['name']}-{n}" in names:
            n += 1
        arm["name"] = f"{arm['name']}-{n}"
        arms.append(arm)
        self._rebuild()
        self.changed.emit()

    @Slot()
    def remove_arm(self) -> None:
        arms = self.data.get("arms", [])
        if len(arms) <= 1:
            return
        row = self.table.currentRow() if self.table.currentRow() >= 0 else len(arms) - 1
        del arms[row]
        self._rebuild()
        self.changed.emit()

    def experiment_dict(self) -> dict[str, Any]:
        """The experiment as JSON data (an experiment file's content) with the edits."""
        return copy.deepcopy(self.data)
