"""A run to continue: everything the Trainer needs to resume it, read once for the CLI
(`train --resume`), the GUI (Runs → Resume) and for evaluating or exporting a stored run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet_studio.core.runs import layout, lock
from resnet_studio.core.runs.lock import RunLocked
from resnet_studio.core.runs.store import RunInfo, read_run

# What the runs view offers to resume. A failed run may fail again the same way, so it is
# not offered, but an explicit `train --resume` of one is allowed (RESUME_ALLOWED).
RESUMABLE = ("stopped", "interrupted")
RESUME_ALLOWED = ("stopped", "interrupted", "failed")


class NotResumable(ValueError):
    """The run cannot be resumed (unreadable, wrong status, no checkpoint); the message
    says why and names the folder."""


@dataclass
class ResumeTarget:
    """A stored run and how to continue it (the Trainer's arguments)."""

    info: RunInfo
    spec: Any  # ArchitectureSpec, bound to the run's data
    config: Any  # TrainingConfig: the run's, with the overrides
    dataset: str | None
    preset: str | None
    limit: int | None
    data_dir: str | None

    @property
    def run_dir(self) -> Path:
        return self.info.dir


def can_resume(run: RunInfo) -> bool:
    """Stopped or interrupted, with a checkpoint to continue from."""
    return run.status in RESUMABLE and layout.has_checkpoint(run.dir)


def read_architecture(run_dir: str | os.PathLike[str]) -> Any:
    """The run's architecture (architecture.json, already bound to its data).

    Raises:
        OSError: the file cannot be read. ValueError: it is not JSON.
        SpecError: it is not a valid architecture.
    """
    from resnet_studio.core.runs.backbones import use_run_copies
    from resnet_studio.core.spec import spec_from_dict

    path = layout.architecture_json(run_dir)
    spec = spec_from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
    return use_run_copies(spec, run_dir)  # pretrained backbones: the run's own copies


def nothing_to_do(run_dir: Path | str, done: int, epochs: int) -> str:
    return (f"{run_dir}: nothing to do: {done} epoch{'s' if done != 1 else ''} already "
            f"trained and the run is set to {epochs}; pass --epochs {done + 1} or more to "
            "train further")


def epochs_done(run_dir: Path | str) -> int | None:
    """Whole epochs the last checkpoint covers (None when its state cannot be read)."""
    try:
        state = json.loads((layout.checkpoint_dir(run_dir) / "state.json").read_text("utf-8"))
        return int(state["epoch"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def resume_target(run_dir: str | os.PathLike[str],
                  overrides: dict[str, Any] | None = None) -> ResumeTarget:
    """The run in `run_dir` ready to resume, with training `overrides` (epochs…).

    Raises:
        NotResumable: not a readable run, not stopped/interrupted/failed, or no checkpoint.
        RunLocked: another trainer owns the run now (names its pid and host).
        SpecError: architecture.json is not a valid architecture.
        ValueError: an override is not valid (TrainingConfig's message).
    """
    from resnet_studio.core.training_config import TrainingConfig

    try:
        info = read_run(run_dir)
    except (OSError, ValueError) as e:
        raise NotResumable(str(e)) from None
    owner = lock.holder(info.dir)
    if owner is not None:
        raise RunLocked(info.dir, owner)
    if info.status not in RESUME_ALLOWED:
        raise NotResumable(f"{run_dir}: status is {info.status}; only stopped, interrupted "
                           "or failed runs can be resumed")
    if not layout.checkpoint_complete(info.dir):
        raise NotResumable(f"{info.dir}: no checkpoint to resume from (the run ended before "
                           "its first epoch); start a new run instead")
    try:
        spec = read_architecture(info.dir)
    except (OSError, json.JSONDecodeError) as e:
        raise NotResumable(f"{layout.architecture_json(info.dir)}: unreadable ({e})") from None
    meta = info.meta
    config = TrainingConfig.from_sources(meta.get("config") or {}, overrides)
    done = epochs_done(info.dir)
    if done is not None and done >= config.epochs:
        raise NotResumable(nothing_to_do(info.dir, done, config.epochs))
    return ResumeTarget(info, spec, config, meta.get("dataset"), meta.get("preset"),
                        meta.get("limit"), meta.get("data_dir"))
