"""Where things are in a run folder, and where run folders are.

A run folder (docs/architecture.md, "The run folder"):

    run.json            what the run is and how it went (schema_version, status, config…)
    architecture.json   the architecture, bound to the dataset (a preset dict)
    metrics.jsonl       one JSON record per logged batch and per epoch, appended
    gradients/          layers.json (columns) + norms.bin (fixed-size records, appended)
    checkpoints/last/   weights, optimizer and random-generator state, training position
    final.json          test metrics after the last epoch
    tensorboard/        TensorBoard event files
    exports/            exported models (the export dialog's default folder)
    tokenizer.json      text runs: the tokenizer's kind and settings
    vocabulary.txt      text runs with a learnt or preset vocabulary: one token a line
    backbones/<block>/  pretrained-backbone runs: the preset's config and tokenizer, no
                        weights (runs/backbones.py)

Only this package spells these names; everything else asks it for paths or, better, for
what the files hold.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from resnet_studio.core.userdata import studio_home

RUN_JSON = "run.json"
ARCHITECTURE_JSON = "architecture.json"
METRICS_JSONL = "metrics.jsonl"
FINAL_JSON = "final.json"
GRADIENTS = "gradients"
GRADIENT_LAYERS = "layers.json"
GRADIENT_NORMS = "norms.bin"
CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = "last"
CHECKPOINT_PREFIX = "ckpt-"  # checkpoints/ckpt-000000040-3fa2/: `last` is a symlink to one
PARTIAL_PREFIX = ".partial-"  # a checkpoint being written (a leftover if its writer died)
TENSORBOARD = "tensorboard"
EXPORTS = "exports"
TOKENIZER_JSON = "tokenizer.json"
VOCABULARY_TXT = "vocabulary.txt"
SUBFOLDERS = (CHECKPOINTS, GRADIENTS, TENSORBOARD, EXPORTS)

PathLike = str | os.PathLike[str]


def default_runs_root() -> Path:
    """The runs folder: `runs` in the user-data folder ($RESNET_STUDIO_HOME if set)."""
    return studio_home() / "runs"


def new_run_dir(root: PathLike, preset: str) -> Path:
    """A fresh, sortable, unique folder name: 20261127-184500-resnet8-digits-3fa2."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{stamp}-{preset}-{secrets.token_hex(2)}"


def run_json(run_dir: PathLike) -> Path:
    return Path(run_dir) / RUN_JSON


def architecture_json(run_dir: PathLike) -> Path:
    return Path(run_dir) / ARCHITECTURE_JSON


def metrics_jsonl(run_dir: PathLike) -> Path:
    return Path(run_dir) / METRICS_JSONL


def final_json(run_dir: PathLike) -> Path:
    return Path(run_dir) / FINAL_JSON


def gradients_dir(run_dir: PathLike) -> Path:
    return Path(run_dir) / GRADIENTS


def checkpoint_dir(run_dir: PathLike, name: str = LAST_CHECKPOINT) -> Path:
    """checkpoints/<name>. When `last` is missing (a process killed inside the one-time
    switch from a folder to a symlink, or the two-rename scheme of earlier versions), the
    newest complete checkpoint left in checkpoints/ instead: recovered on open, read-only."""
    path = Path(run_dir) / CHECKPOINTS / name
    if name != LAST_CHECKPOINT or os.path.exists(path):
        return path
    return _newest_leftover(path.parent) or path


def _newest_leftover(root: Path) -> Path | None:
    import json

    best: tuple[int, str] | None = None
    found = None
    try:
        entries = list(os.scandir(root))
    except OSError:
        return None
    for e in entries:
        if not e.name.startswith((CHECKPOINT_PREFIX, ".last-")) or not e.is_dir():
            continue
        p = Path(e.path)
        if not ((p / "model.weights.h5").is_file() and (p / "optimizer.npz").is_file()):
            continue
        try:
            step = int(json.loads((p / "state.json").read_text("utf-8"))["step"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if best is None or (step, e.name) > best:
            best, found = (step, e.name), p
    return found


def tokenizer_json(run_dir: PathLike) -> Path:
    return Path(run_dir) / TOKENIZER_JSON


def vocabulary_txt(run_dir: PathLike) -> Path:
    return Path(run_dir) / VOCABULARY_TXT


def exports_dir(run_dir: PathLike) -> Path:
    return Path(run_dir) / EXPORTS


def is_run_dir(path: PathLike) -> bool:
    """A folder holding a run.json (readable or not)."""
    return run_json(path).is_file()


def has_checkpoint(run_dir: PathLike, name: str = LAST_CHECKPOINT) -> bool:
    """The checkpoint folder exists (checkpoints are replaced atomically, whole; a leftover
    is found by `checkpoint_dir`)."""
    return checkpoint_dir(run_dir, name).is_dir()


def checkpoint_complete(run_dir: PathLike, name: str = LAST_CHECKPOINT) -> bool:
    """The checkpoint holds the weights and the training position: it can be loaded."""
    ckpt = checkpoint_dir(run_dir, name)
    return (ckpt / "model.weights.h5").is_file() and (ckpt / "state.json").is_file()
