"""Show in Folder that never does nothing.

`QDesktopServices.openUrl` returns False where no file manager is registered (a bare X
session, a container, the offscreen platform) and Qt only writes a warning to the log: the
user clicked and saw nothing (issue 18, item 9). Here a failed open becomes a small dialog
with the path, selectable and with a Copy button, so the user can get there another way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

# Replaced by tests (and kept here, not in Qt, so a test can see the failure path).
open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl


def show_in_folder(parent: QWidget, path: str | os.PathLike[str]) -> QMessageBox | None:
    """Opens the file manager on `path` (a folder, or the folder holding a file).

    Returns:
        None when the file manager opened; otherwise the (non-blocking) dialog showing the
        path, which is also on the clipboard after Copy.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    if open_url(QUrl.fromLocalFile(str(folder))):
        return None
    box = QMessageBox(QMessageBox.Icon.Information, "Show in Folder",
                      "No file manager could be opened on this system. The folder is:",
                      QMessageBox.StandardButton.Close, parent)
    box.setObjectName("revealDialog")
    box.setInformativeText(str(folder))
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    copy = box.addButton("Copy Path", QMessageBox.ButtonRole.ActionRole)
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(str(folder)))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
