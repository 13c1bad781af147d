"""Bytes on disk, plain and compressed: what sparsity saves once a file is zipped.

A pruned model's files are exactly as large as the dense model's: a zero is stored like any
other float32 (or int8). Sparsity turns into bytes only through a format that does not store
the zeros, and the standard way to show it (TensorFlow Model Optimization's pruning guide) is
to compress the ordinary file with a general-purpose compressor and compare. We use gzip
(DEFLATE, zlib's default level 6: what `zip` and `zipfile.ZIP_DEFLATED` use), with a fixed
header timestamp so the same file always gives the same number.

DEFLATE finds runs of zero bytes and frequent byte values: unstructured zeros scattered
among float32 weights compress to roughly their entropy (the positions still cost bits), so
an 80 % sparse checkpoint shrinks about 3x, not 5x (docs/compression.md measures it).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

LEVEL = 6
_CHUNK = 1 << 20


def gzip_size(data: bytes) -> int:
    """Bytes of `data` once gzip-compressed (level 6, timestamp 0)."""
    return len(gzip.compress(data, compresslevel=LEVEL, mtime=0))


def file_sizes(path: str | os.PathLike[str]) -> dict[str, int]:
    """{"size_bytes", "compressed_size_bytes"} of a file, or of every file under a folder
    (each compressed on its own, as a zip archive does)."""
    p = Path(path)
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    size = compressed = 0
    for f in files:
        size += f.stat().st_size
        compressed += _gzip_file_size(f)
    return {"size_bytes": size, "compressed_size_bytes": compressed}


def _gzip_file_size(path: Path) -> int:
    """gzip size of a file, streamed (a large checkpoint is never read into memory whole)."""
    counter = _Counter()
    with open(path, "rb") as src, gzip.GzipFile(fileobj=counter, mode="wb",
                                                compresslevel=LEVEL, mtime=0) as gz:
        while chunk := src.read(_CHUNK):
            gz.write(chunk)
    return counter.n


class _Counter:
    """A write-only file object that only counts bytes."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: Any) -> int:
        self.n += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def model_sizes(model: Any, sample: Any) -> dict[str, int] | None:
    """Plain and gzip size of the model's float32 TFLite file: its weights and graph, nothing
    else (a checkpoint also holds the optimizer's moments, which pruning leaves dense).
    None when the model cannot be converted to TFLite (some text layers)."""
    import tempfile

    import numpy as np

    from resnet_studio.core.export import ExportError, export_model

    with tempfile.TemporaryDirectory(prefix="sizes-") as tmp:
        target = Path(tmp) / "model.tflite"
        try:
            export_model(model, "tflite", target, sample=np.asarray(sample))
        except ExportError:
            return None
        return file_sizes(target)


def pruned_sizes(run_dir: str | os.PathLike[str], model: Any, sample: Any) -> dict[str, int]:
    """What prune.py records in a run's run.json `sizes`: `size_bytes` and
    `compressed_size_bytes` of the float32 TFLite file (absent if it cannot be converted),
    `checkpoint_size_bytes` and `checkpoint_compressed_size_bytes` of the last checkpoint's
    weights file (model and optimizer state)."""
    out: dict[str, int] = dict(model_sizes(model, sample) or {})
    ckpt = run_sizes(run_dir)
    if ckpt is not None:
        out["checkpoint_size_bytes"] = ckpt["size_bytes"]
        out["checkpoint_compressed_size_bytes"] = ckpt["compressed_size_bytes"]
    return out


def checkpoint_weights(run_dir: str | os.PathLike[str]) -> Path:
    """The weights file of a run's last checkpoint (what a resumed or exported run loads)."""
    from resnet_studio.core.runs import layout

    return layout.checkpoint_dir(run_dir) / "model.weights.h5"


def run_sizes(run_dir: str | os.PathLike[str]) -> dict[str, int] | None:
    """Plain and gzip size of a run's checkpointed weights; None without a checkpoint."""
    path = checkpoint_weights(run_dir)
    return file_sizes(path) if path.is_file() else None
