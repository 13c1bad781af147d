"""Small JSON files of a run folder, written atomically (a crash leaves old or new)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from resnet_studio.core.jsonio import to_jsonable
from resnet_studio.core.spec import atomic_write_text


def write_json(path: Path, data: Any) -> None:
    """Writes `data` atomically; a full or read-only disk is a StoreWriteError naming it."""
    from resnet_studio.core.runs.diskio import guarded

    text = json.dumps(data, indent=2, default=to_jsonable) + "\n"
    with guarded(path):
        atomic_write_text(path, text, backup=False)


def now() -> str:
    """Local time as run.json stores it: 2026-11-27T18:45:00+0100."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
