"""User settings (QSettings): window geometry, dock layout, recent files, appearance,
toolbar labels and whether the first-run tour was seen.

With `RESNET_STUDIO_HOME` set (tests, portable installs) everything lives in an INI file in
that folder; otherwise in the platform's usual place (registry, plist, ~/.config).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from resnet_studio.core.userdata import HOME_ENV

ORGANIZATION = "ResNet Studio"
APPLICATION = "resnet-studio"
MAX_RECENT = 10
# Bumped when the dock layout changes incompatibly: an old saved state would misplace docks.
LAYOUT_VERSION = 1


class Settings:
    """Typed access to the few things the editor remembers between sessions."""

    def __init__(self) -> None:
        home = os.environ.get(HOME_ENV)
        if home:
            self.q = QSettings(str(Path(home) / "settings.ini"), QSettings.Format.IniFormat)
        else:
            self.q = QSettings(ORGANIZATION, APPLICATION)

    # -- window
    def geometry(self) -> QByteArray | None:
        v = self.q.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        if self.q.value("window/layout_version", 0, type=int) != LAYOUT_VERSION:
            return None
        v = self.q.value("window/state")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)
        self.q.setValue("window/layout_version", LAYOUT_VERSION)

    def clear_window(self) -> None:
        self.q.remove("window")

    # -- recent files
    def recent_files(self) -> list[str]:
        v = self.q.value("files/recent", [])
        if isinstance(v, str):  # QSettings returns a lone string for a one-item list
            v = [v]
        return [str(x) for x in (v or []) if x]

    def add_recent(self, path: str | os.PathLike[str]) -> list[str]:
        p = str(Path(path).resolve())
        files = [p] + [f for f in self.recent_files() if f != p]
        files = files[:MAX_RECENT]
        self.q.setValue("files/recent", files)
        return files

    def clear_recent(self) -> None:
        self.q.setValue("files/recent", [])

    def last_folder(self) -> str:
        return str(self.q.value("files/last_folder", str(Path.home())))

    def set_last_folder(self, folder: str) -> None:
        self.q.setValue("files/last_folder", folder)

    # -- appearance
    def appearance(self) -> str:
        return str(self.q.value("view/appearance", "system"))

    def set_appearance(self, value: str) -> None:
        self.q.setValue("view/appearance", value)

    def zoom(self) -> float:
        try:
            return float(self.q.value("view/zoom", 1.0))
        except (TypeError, ValueError):
            return 1.0

    def set_zoom(self, value: float) -> None:
        self.q.setValue("view/zoom", value)

    def toolbar_text(self) -> bool:
        """View › Show Toolbar Labels: text under the toolbar's icons."""
        return self.q.value("view/toolbar_text", False, type=bool)

    def set_toolbar_text(self, on: bool) -> None:
        self.q.setValue("view/toolbar_text", bool(on))

    # -- first-run tour
    def tour_done(self) -> bool:
        """The first-run tour was finished or skipped: it does not start by itself again."""
        return self.q.value("tour/done", False, type=bool)

    def set_tour_done(self, done: bool) -> None:
        self.q.setValue("tour/done", bool(done))
        self.q.sync()

    def sync(self) -> None:
        self.q.sync()
