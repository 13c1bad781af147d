"""The records a run appends while it trains: metrics.jsonl and the gradient-norm file.

metrics.jsonl holds one JSON object per line (`kind` "batch" or "epoch", with its `step`);
gradients/norms.bin holds fixed-size records (little-endian int64 step, then one float32
norm per layer, the layers named in gradients/layers.json). Both are only appended to, so a
killed process can leave a torn last record, which every reader here drops.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.runs import diskio, layout
from resnet_studio.core.runs.jsonfile import write_json
from resnet_studio.core.spec import atomic_write_text

RECORD_DESCRIPTION = "little-endian int64 step, then float32 norm per layer"


def gradient_record(n_layers: int) -> np.dtype:
    """The dtype of one record of norms.bin for `n_layers` layers."""
    return np.dtype([("step", "<i8"), ("norms", "<f4", (n_layers,))])


def write_gradient_layers(run_dir: Path, layer_names: list[str], layer_blocks: list[str]
                          ) -> None:
    """gradients/layers.json: the columns of norms.bin and the block of each."""
    write_json(layout.gradients_dir(run_dir) / layout.GRADIENT_LAYERS,
               {"layers": layer_names, "blocks": layer_blocks, "record": RECORD_DESCRIPTION})


def append_metrics(run_dir: Path, lines: list[str], sync: bool) -> None:
    """Appends JSON lines to metrics.jsonl (fsync'd when `sync`)."""
    path = layout.metrics_jsonl(run_dir)
    with diskio.guarded(path), open(path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        if sync:
            f.flush()
            os.fsync(f.fileno())


def append_gradients(run_dir: Path, records: np.ndarray, sync: bool) -> None:
    """Appends records (dtype `gradient_record`) to norms.bin (fsync'd when `sync`)."""
    path = layout.gradients_dir(run_dir) / layout.GRADIENT_NORMS
    with diskio.guarded(path), open(path, "ab") as f:
        f.write(records.tobytes())
        if sync:
            f.flush()
            os.fsync(f.fileno())


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """metrics.jsonl records; a torn last line (killed mid-write) is skipped."""
    path = layout.metrics_jsonl(run_dir)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def read_gradient_layers(run_dir: str | os.PathLike[str]) -> tuple[list[str], list[str]]:
    """(layer names, their blocks) from gradients/layers.json."""
    path = layout.gradients_dir(run_dir) / layout.GRADIENT_LAYERS
    meta = json.loads(path.read_text(encoding="utf-8"))
    return list(meta["layers"]), list(meta["blocks"])


def read_gradients(run_dir: str | os.PathLike[str]
                   ) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(layer names, their blocks, steps (S,), norms (S, L)); a torn last record is dropped."""
    names, blocks = read_gradient_layers(run_dir)
    record = gradient_record(len(names))
    path = layout.gradients_dir(run_dir) / layout.GRADIENT_NORMS
    raw = path.read_bytes() if path.exists() else b""
    n = len(raw) // record.itemsize
    arr = np.frombuffer(raw[: n * record.itemsize], dtype=record)
    return names, blocks, arr["step"].copy(), arr["norms"].copy()


def read_gradients_or_empty(run_dir: str | os.PathLike[str]
                            ) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """`read_gradients`, or no layers and no steps when the files are missing or unreadable
    (a run that failed before its first step)."""
    try:
        return read_gradients(run_dir)
    except (OSError, ValueError, KeyError, TypeError):
        return [], [], np.zeros(0, np.int64), np.zeros((0, 0), np.float32)


def truncate_records(run_dir: str | os.PathLike[str], step: int) -> None:
    """Drops metrics and gradient records after `step` (a resumed run redoes those steps).

    A process killed after its last checkpoint has usually flushed some records of steps the
    checkpoint does not include; without this, the resumed run would log those steps twice.
    Both files are replaced atomically. A torn last record is dropped too.
    """
    d = Path(run_dir)
    path = layout.metrics_jsonl(d)
    if path.exists():
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        kept = []
        for line in lines:
            try:  # a damaged line (not JSON, no integer step) is dropped like a torn one
                record = json.loads(line)
                record_step = int(record.get("step", 0))
            except (ValueError, TypeError, AttributeError):
                continue
            if record_step <= step:
                kept.append(line)
        if len(kept) != len(lines):
            with diskio.guarded(path):
                atomic_write_text(path, "".join(line + "\n" for line in kept), backup=False)
    grads = layout.gradients_dir(d) / layout.GRADIENT_NORMS
    if grads.exists():
        names, _, steps, _ = read_gradients(d)
        record = gradient_record(len(names))
        keep = int(np.searchsorted(steps, step, side="right"))  # steps only increase
        if grads.stat().st_size != keep * record.itemsize:
            raw = grads.read_bytes()[: keep * record.itemsize]
            tmp = grads.with_name(f".norms-{secrets.token_hex(4)}.tmp")
            with open(tmp, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, grads)
