"""A run keeps what its pretrained backbones need to be rebuilt: `backbones/<block>/`.

A `pretrained_backbone` block reads a keras-hub preset folder. Once a run has trained, its
weights are in the run's checkpoint, so what the run still needs from the preset is only
its description: `config.json` (the backbone's architecture), `metadata.json`,
`tokenizer.json` and `assets/` (the tokenizer's vocabulary). Those are copied into the run
folder when the run starts — never `model.weights.h5`, which can be hundreds of megabytes and
is superseded by the checkpoint — with a `run_copy.json` saying where they came from. A run
read back (`read_architecture`: evaluate, export, predict, resume, the lesion and landscape
tools) builds its backbones from these copies, so it works after the preset folder is
deleted or moved. The block skips loading pretrained weights from such a copy: the
checkpoint brings them (`blocks/pretrained.py`).

Handles (`bert_tiny_en_uncased`) are not copied: the run keeps the handle, and keras-hub
finds it again in its download cache.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from resnet_studio.core.blocks.pretrained import RUN_COPY_MARKER as MARKER
from resnet_studio.core.runs.jsonfile import write_json

BACKBONES_DIR = "backbones"
PRESET_FILES = ("config.json", "metadata.json", "tokenizer.json", "preprocessor.json")
PRESET_DIRS = ("assets",)
PathLike = str | os.PathLike[str]


def backbone_dir(run_dir: PathLike, block_name: str) -> Path:
    """Where the run keeps the preset description of the block `block_name`."""
    return Path(run_dir) / BACKBONES_DIR / block_name


def _backbone_blocks(spec: Any) -> list[tuple[str, Any]]:
    """(name, block) of every pretrained_backbone block, nested ones included."""
    return [(block.name or re.sub(r"\W+", "_", path).strip("_"), block)
            for path, block in spec.walk() if block.type == "pretrained_backbone"]


def _source_folder(preset: str) -> Path | None:
    """The preset as a local folder, or None for a handle."""
    path = Path(preset).expanduser()
    return path if (path / "config.json").is_file() else None


def save_backbones(run_dir: PathLike, spec: Any) -> list[Path]:
    """Copies each backbone's preset description (not its weights) into the run folder.

    Returns:
        The folders written (none for architectures without a pretrained backbone).
    """
    written = []
    for name, block in _backbone_blocks(spec):
        preset = str(block.params.get("preset", ""))
        source = _source_folder(preset) if preset else None
        if source is None:
            continue
        if (source / MARKER).is_file():  # already a run's copy (a run started from a run)
            origin = dict(_read_json(source / MARKER))
        else:
            origin = {"preset": preset, "folder": str(source.resolve())}
        target = backbone_dir(run_dir, name)
        tmp = target.with_name(f".{name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for file in PRESET_FILES:
            if (source / file).is_file():
                shutil.copy2(source / file, tmp / file)
        for folder in PRESET_DIRS:
            if (source / folder).is_dir():
                shutil.copytree(source / folder, tmp / folder)
        write_json(tmp / MARKER, {**origin, "weights": "the run's checkpoint"})
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        written.append(target)
    return written


def _read_json(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def use_run_copies(spec: Any, run_dir: PathLike) -> Any:
    """`spec` with each backbone's `preset` pointing at the run's copy, where there is one.

    The run's copy is what the run trained with, so it is used even when the original
    folder still exists (it may have changed since).
    """
    for name, block in _backbone_blocks(spec):
        copy = backbone_dir(run_dir, name)
        if (copy / "config.json").is_file() and (copy / MARKER).is_file():
            block.params["preset"] = str(copy.resolve())
    return spec


def is_run_copy(folder: PathLike) -> bool:
    """True for a backbone folder copied into a run (its weights are in the checkpoint)."""
    return (Path(folder) / MARKER).is_file()
