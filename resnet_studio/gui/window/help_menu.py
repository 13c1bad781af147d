"""Help → Keyboard Shortcuts, About and Residual Connections."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio import __version__
from resnet_studio.gui.learn_panel import ResidualHelpDialog

if TYPE_CHECKING:
    from resnet_studio.gui.main_window import MainWindow

APP_NAME = "ResNet Studio"
# Keys handled by the canvas itself rather than by an action.
CANVAS_KEYS = (("Select the previous / next block", "Up / Down"),
               ("Extend the selection", "Shift+Up / Shift+Down, Shift+click"),
               ("Add a block to the selection", "Ctrl+click"),
               ("Collapse / expand a container", "Left / Right"),
               ("Edit the selected block", "Enter, double-click"),
               ("Toggle a shortcut", "click its arc"),
               ("Zoom", "Ctrl+wheel"))


class ShortcutsDialog(QDialog):
    """A table of every action with a shortcut, then the canvas's own keys."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.table = table = QTableWidget(0, 2, self)
        table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        native = QKeySequence.SequenceFormat.NativeText
        rows = [(a.text().replace("&", ""), ", ".join(s.toString(native) for s in a.shortcuts()))
                for a in actions if a.shortcuts()]
        for text, keys in [*rows, *CANVAS_KEYS]:
            r = table.rowCount()
            table.insertRow(r)
            table.setItem(r, 0, QTableWidgetItem(text))
            table.setItem(r, 1, QTableWidgetItem(keys))
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(520, 560)


def show_shortcuts(win: MainWindow) -> None:
    ShortcutsDialog(list(win.actions.values()), win).exec()


def show_about(win: MainWindow) -> None:
    info = win.tf_loader.info
    backend = info.describe() if info else "TensorFlow is still loading"
    QMessageBox.about(
        win, f"About {APP_NAME}",
        f"<h3>{APP_NAME} {__version__}</h3>"
        "<p>Build, train and understand residual networks block by block. Shapes and "
        "parameter counts are computed by Keras on every edit.</p>"
        f"<p>{backend}</p>")


def show_residual_help(win: MainWindow) -> None:
    """Help → Residual Connections (one non-modal window, raised when shown again)."""
    if win.residual_help is None:
        win.residual_help = ResidualHelpDialog(win)
    win.residual_help.show()
    win.residual_help.raise_()
    win.residual_help.activateWindow()
