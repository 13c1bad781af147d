"""What a run achieved: final.json's test metrics, read with run.json's summary as fallback."""

from __future__ import annotations

import json
import os
from typing import Any

from resnet_studio.core.runs import layout
from resnet_studio.core.runs.jsonfile import write_json
from resnet_studio.core.runs.store import RunInfo


def write_final(run_dir: str | os.PathLike[str], final: dict[str, Any]) -> None:
    """final.json: the test metrics (with the confusion matrix) and the run id."""
    write_json(layout.final_json(run_dir), final)


def read_final(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """final.json's content, or None when it is missing or unreadable."""
    try:
        final = json.loads(layout.final_json(run_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return final if isinstance(final, dict) else None


def read_test_metrics(run: RunInfo) -> dict[str, Any]:
    """final.json's test metrics (with the confusion matrix), else run.json's summary."""
    final = read_final(run.dir)
    test = final.get("test") if final is not None else None
    if not isinstance(test, dict):
        test = run.meta.get("test")
    return dict(test) if isinstance(test, dict) else {}
