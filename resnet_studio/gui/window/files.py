"""File → New, Open, Save, Revert, Open Recent, and recovering an autosave after a crash.

Every failure is a dialog naming the file and the problem (`MainWindow.show_error`); the
document is never changed by a failed open.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from resnet_studio.core import editing
from resnet_studio.core.presets import load_preset
from resnet_studio.core.spec import SpecError
from resnet_studio.gui.autosave import Recoverable, find_recoverable
from resnet_studio.gui.gallery import PresetGallery
from resnet_studio.gui.window.help_menu import APP_NAME

if TYPE_CHECKING:
    from resnet_studio.gui.main_window import MainWindow

FILE_FILTER = "ResNet Studio architectures (*.json);;All files (*)"
MAX_PROBLEMS_SHOWN = 8
_Button = QMessageBox.StandardButton


def format_problems(error: SpecError) -> str:
    lines = [f"• {p}" for p in error.problems[:MAX_PROBLEMS_SHOWN]]
    if len(error.problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"… and {len(error.problems) - MAX_PROBLEMS_SHOWN} more")
    return "\n".join(lines)


class FileCommands:
    """The window's document files: opening, saving, recent files and recovery."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self.doc = win.doc
        self.settings = win.settings

    def _message(self, text: str, ms: int = 4000) -> None:
        self.win.statusBar().showMessage(text, ms)

    def maybe_save(self) -> bool:
        """Asks about unsaved changes; False when the user cancels."""
        if not self.doc.is_dirty:
            return True
        box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME,
                          f"Save the changes to “{self.doc.display_name()}”?",
                          _Button.Save | _Button.Discard | _Button.Cancel, self.win)
        box.setInformativeText("Your changes will be lost if you don't save them.")
        box.setDefaultButton(_Button.Save)
        answer = box.exec()
        if answer == _Button.Save:
            return self.save()
        return answer == _Button.Discard

    def new_document(self) -> None:
        if not self.maybe_save():
            return
        self.doc.replace(editing.blank_spec())
        self._message("New architecture: an input and a classifier head. Add blocks from the "
                      "palette (they go in before the head); File › New from Preset starts "
                      "from a shipped network.", 10000)

    def show_gallery(self) -> None:
        gallery = PresetGallery(self.win.service, self.win, current=self.doc.spec.name)
        if gallery.exec() == QDialog.DialogCode.Accepted and gallery.selected_name():
            self.open_preset(gallery.selected_name())

    def open_preset(self, name: str) -> bool:
        """Opens a shipped preset (unsaved: Save asks for a file)."""
        if not self.maybe_save():
            return False
        try:
            spec = load_preset(name)
        except SpecError as e:
            self.win.show_error("Cannot Open Preset", f"Could not open the preset “{name}”.",
                                format_problems(e), str(e))
            return False
        self.doc.replace(spec)
        self._message(f"Opened the preset {name}")
        return True

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self.win, "Open Architecture",
                                              self.settings.last_folder(), FILE_FILTER)
        if path:
            self.open_path(path, ask=False)

    def open_path(self, path: str | os.PathLike[str], ask: bool = True) -> bool:
        """Opens an architecture file; on any problem shows a dialog naming the file and the
        problem, and leaves the current document untouched."""
        if ask and not self.maybe_save():
            return False
        p = Path(path)
        try:
            self.doc.open(p)
        except SpecError as e:
            self.win.show_error("Cannot Open File", f"Could not open “{p.name}”.",
                                format_problems(e), f"File: {p}\n\n{e}")
            return False
        self.settings.add_recent(p)
        self.settings.set_last_folder(str(p.resolve().parent))
        self._message(f"Opened {p}")
        return True

    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self._save_to(self.doc.path)

    def save_as(self) -> bool:
        start = Path(self.settings.last_folder()) / f"{self.doc.spec.name}.json"
        if self.doc.path is not None:
            start = self.doc.path
        path, _ = QFileDialog.getSaveFileName(self.win, "Save Architecture As", str(start),
                                              FILE_FILTER)
        if not path:
            return False
        if not path.lower().endswith(".json"):
            path += ".json"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        try:
            saved = self.doc.save(path)
        except OSError as e:
            self.win.show_error("Cannot Save", f"Could not save “{path.name}”.",
                                f"{e.strerror or e}. The previous file, if any, is unchanged.",
                                f"File: {path}\n\n{e}")
            return False
        self.settings.add_recent(saved)
        self.settings.set_last_folder(str(saved.parent))
        self._message(f"Saved {saved}")
        return True

    def revert(self) -> None:
        if self.doc.path is None or not self.doc.is_dirty:
            return
        box = QMessageBox(QMessageBox.Icon.Question, APP_NAME,
                          f"Discard the changes to “{self.doc.display_name()}”?",
                          _Button.Discard | _Button.Cancel, self.win)
        if box.exec() == _Button.Discard:
            self.open_path(self.doc.path, ask=False)

    def fill_recent_menu(self) -> None:
        menu = self.win.recent_menu
        menu.clear()
        files = [f for f in self.settings.recent_files() if Path(f).exists()]
        for i, f in enumerate(files):
            act = menu.addAction(f"&{i + 1} {Path(f).name}" if i < 9 else Path(f).name)
            act.setToolTip(f)
            act.setStatusTip(f)
            act.triggered.connect(lambda _c=False, path=f: self.open_path(path))
        if not files:
            empty = menu.addAction("No recent files")
            empty.setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear Menu")
        clear.setEnabled(bool(files))
        clear.triggered.connect(self.settings.clear_recent)

    # ------------------------------------------------------------------ recovery
    def offer_recovery(self) -> None:
        """Asks whether to restore an autosave left by a session that did not close cleanly."""
        found = find_recoverable()
        if not found:
            return
        latest = found[0]
        box = QMessageBox(QMessageBox.Icon.Question, "Recover Unsaved Changes",
                          "ResNet Studio did not close cleanly last time.",
                          _Button.NoButton, self.win)
        box.setInformativeText(f"Unsaved changes to {latest.describe()} were kept. Restore "
                               "them?")
        restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(restore)
        box.exec()
        if box.clickedButton() is restore:
            self.recover(latest)
        for r in found:
            r.file.unlink(missing_ok=True)

    def recover(self, entry: Recoverable) -> None:
        """Opens a recovered autosave as an unsaved document (its file, if any, untouched)."""
        self.doc.replace(entry.spec, entry.original, modified=True)
        self._message(f"Recovered {entry.describe()}", 6000)
