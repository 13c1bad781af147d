"""Compare-pair links: the two runs of a plain-twin comparison name each other.

Each run's run.json holds `"compare": {"role": "residual" | "plain", "partner": NAME}`, the
partner being the sibling folder of the other run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from resnet_studio.core.runs import layout
from resnet_studio.core.runs.store import RunInfo

ROLES = ("residual", "plain")


def pair_meta(role: str, partner_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """run.json fields linking a run of `role` to its partner's folder."""
    return {"compare": {"role": role, "partner": Path(partner_dir).name}}


def is_compared(run: RunInfo) -> bool:
    """One run of a plain-twin comparison (run.json `"compare": {"role", "partner"}`)."""
    pair = run.meta.get("compare")
    return isinstance(pair, dict) and pair.get("role") in ROLES


def pair_dirs(run: RunInfo) -> dict[str, Path] | None:
    """{"residual": folder, "plain": folder} of the comparison `run` belongs to (either run),
    or None when it is not part of one. The partner's folder may no longer exist."""
    if not is_compared(run):
        return None
    pair = run.meta["compare"]
    other = "plain" if pair["role"] == "residual" else "residual"
    return {pair["role"]: run.dir, other: run.dir.parent / str(pair.get("partner", ""))}


def partner_exists(path: str | os.PathLike[str]) -> bool:
    """A folder of a pair still holds its run."""
    return layout.is_run_dir(path)
