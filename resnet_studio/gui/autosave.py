"""Autosave of the open document and recovery after a crash.

While the document has unsaved changes, a copy is written every `AUTOSAVE_SECONDS` to
`<studio home>/autosave/session-<pid>.json` (atomically), together with the file it belongs
to. A clean exit, or saving the document, removes it. At start-up, autosaves left behind by
a process that is no longer running are offered for recovery.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from resnet_studio.core.spec import ArchitectureSpec, SpecError, atomic_write_text, spec_from_dict
from resnet_studio.core.userdata import studio_home
from resnet_studio.gui.document import Document

# Often enough that a crash loses little, rarely enough that writing never shows.
AUTOSAVE_SECONDS = 30
FORMAT = 1


def autosave_dir() -> Path:
    return studio_home() / "autosave"


@dataclass
class Recoverable:
    """An autosave left by a session that ended without cleaning up."""

    file: Path
    spec: ArchitectureSpec
    original: Path | None  # the document's own file, if it had one
    saved_at: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        what = self.original.name if self.original else f"“{self.spec.title or self.spec.name}”"
        return f"{what} (autosaved {when})"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours, or the platform cannot tell: leave it alone
    return True


def find_recoverable(folder: Path | None = None) -> list[Recoverable]:
    """Autosaves whose process is gone, newest first. Unreadable files are skipped."""
    folder = folder or autosave_dir()
    out = []
    for f in sorted(folder.glob("session-*.json")):
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
            if _alive(int(data["pid"])):
                continue
            spec = spec_from_dict(data["spec"], str(f))
            original = Path(data["path"]) if data.get("path") else None
            out.append(Recoverable(f, spec, original, float(data.get("saved_at", 0))))
        except (OSError, ValueError, KeyError, TypeError, SpecError):
            continue
    return sorted(out, key=lambda r: r.saved_at, reverse=True)


class Autosaver(QObject):
    """Writes the document's unsaved state periodically; removes it once saved or closed."""

    def __init__(self, document: Document, parent: QObject | None = None,
                 interval_s: float = AUTOSAVE_SECONDS) -> None:
        super().__init__(parent)
        self.doc = document
        self.file = autosave_dir() / f"session-{os.getpid()}.json"
        self._written_revision = -1
        self._timer = QTimer(self)
        self._timer.setInterval(int(interval_s * 1000))
        self._timer.timeout.connect(self.save_now)
        self._timer.start()
        document.file_changed.connect(self._on_file_changed)

    def save_now(self) -> bool:
        """Writes the autosave if there are unsaved changes not yet written. True if written."""
        if not self.doc.is_dirty:
            return False
        if self.doc.revision == self._written_revision and self.file.exists():
            return False
        data = {"format": FORMAT, "pid": os.getpid(), "saved_at": time.time(),
                "path": str(self.doc.path) if self.doc.path else None,
                "spec": self.doc.spec.to_dict()}
        try:
            atomic_write_text(self.file, json.dumps(data, indent=1) + "\n", backup=False)
        except OSError:
            return False  # the next tick tries again; a full disk must not stop editing
        self._written_revision = self.doc.revision
        return True

    def discard(self) -> None:
        """Removes this session's autosave (clean exit, or the document was saved)."""
        self.file.unlink(missing_ok=True)
        self._written_revision = -1

    def stop(self) -> None:
        self._timer.stop()
        self.discard()

    def _on_file_changed(self) -> None:
        if not self.doc.is_dirty:
            self.discard()
