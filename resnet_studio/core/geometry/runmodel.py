"""What the geometric studies share: a trained run's model and data, a fixed evaluation
subset, cross-entropy from logits, progress and cancellation, and atomic result files.

A study never changes a run's weights: it rebuilds the run's model in this process, loads the
last checkpoint into it, and either copies those weights into another freshly built model
(lesions) or evaluates the model as a pure function of weight tensors (landscapes).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# progress(done, total, what): called between units of work (grid points, lesioned models).
Progress = Callable[[int, int, str], None]
# cancel(): True to stop at the next check.
CancelCheck = Callable[[], bool]

RESULTS_DIR = "geometry"  # inside the run folder


class GeometryError(ValueError):
    """A run cannot be studied (no run there, no checkpoint, a task the study cannot use).
    The message names the folder and what is missing."""


class Cancelled(Exception):
    """The study was cancelled; nothing was written."""


def no_progress(done: int, total: int, what: str) -> None:
    """The default progress callback: ignores the report."""


def never() -> bool:
    """The default cancel check: never cancels."""
    return False


def check_cancel(cancel: CancelCheck) -> None:
    """Raises Cancelled when `cancel()` says so."""
    if cancel():
        raise Cancelled("cancelled")


@dataclass
class RunModel:
    """A run's trained model, rebuilt in this process.

    Attributes:
        run_dir: The run folder.
        trainer: The Trainer that rebuilt it (`trainer.built.model` holds the checkpoint's
            weights; `trainer.data` the dataset with the run's seed and splits).
        residual: Whether the model has at least one shortcut.
        step: Training step of the checkpoint (keys cached results).
    """

    run_dir: Path
    trainer: Any
    residual: bool
    step: int

    @property
    def model(self) -> Any:
        return self.trainer.built.model

    @property
    def data(self) -> Any:
        return self.trainer.data


def open_run(run_dir: str | os.PathLike[str]) -> RunModel:
    """Rebuilds the model of the run in `run_dir` with its last checkpoint's weights.

    Raises:
        GeometryError: no run, no checkpoint, or not a classification/language-model run.
    """
    from resnet_studio.core.runs import checkpoint_complete, is_run_dir, read_run
    from resnet_studio.core.runs.checkpoints import checkpoint_step
    from resnet_studio.core.runs.layout import RUN_JSON
    from resnet_studio.core.training.restore import load_run_model

    path = Path(run_dir)
    if not is_run_dir(path):
        raise GeometryError(f"{path}: not a run folder (no {RUN_JSON})")
    if not checkpoint_complete(path):
        raise GeometryError(f"{path}: the run has no checkpoint (it ended before its first "
                            "epoch); train it first")
    try:
        info = read_run(path)
        trainer, data = load_run_model(info)
    except (OSError, KeyError, json.JSONDecodeError) as e:
        raise GeometryError(f"{path}: cannot read the run ({e})") from None
    if data.info.task not in ("classification", "language_model"):
        raise GeometryError(f"{path}: the {data.info.task} task has no cross-entropy loss")
    step = checkpoint_step(path)
    residual = any(u.residual for u in trainer.built.units)
    return RunModel(path, trainer, residual, step)


def split_arrays(data: Any, split: str, samples: int | None = None, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a split; with `samples`, a fixed random subset of that many examples
    (seeded, so the same settings always use the same examples)."""
    if data.in_memory:
        x, y = data.arrays(split)
    else:  # streamed: the first examples in the split's fixed order
        xs, ys = [], []
        limit = samples if samples else None
        for i, (a, b) in enumerate(data.split(split)):
            if limit is not None and i >= 4 * limit:
                break
            xs.append(np.asarray(a))
            ys.append(np.asarray(b))
        if not xs:
            raise GeometryError(f"the {split} split of {data.info.name} is empty")
        x, y = np.stack(xs), np.stack(ys)
    if samples and samples < len(x):
        idx = np.sort(np.random.default_rng(seed).choice(len(x), samples, replace=False))
        x, y = x[idx], y[idx]
    return x, y


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of logits against integer targets, in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    y = np.asarray(y).astype(np.int64)
    nll = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    return float(nll.mean()), float((z.argmax(axis=-1) == y).mean())


def copy_weights(src: Any, dst: Any) -> int:
    """Copies every layer's weights from model `src` into the layer of the same name in
    `dst` (names come from the spec, so a rebuilt model has the same ones). Returns the number
    of layers copied; layers only in `dst` (lesion gates) keep their own."""
    copied = 0
    by_name = {layer.name: layer for layer in dst.layers}
    for layer in src.layers:
        if not layer.weights:
            continue
        target = by_name.get(layer.name)
        if target is None:
            raise GeometryError(f"layer {layer.name} of the trained model is missing from "
                                "the rebuilt one")
        target.set_weights(layer.get_weights())
        copied += 1
    return copied


def settings_key(settings: dict[str, Any]) -> str:
    """A short digest of a study's settings (file names of cached results)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def results_dir(run_dir: Path) -> Path:
    return Path(run_dir) / RESULTS_DIR


def atomic_save_npz(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
    """Writes arrays and a JSON `meta` to `path` (.npz): to a temporary file in the same
    folder first, then renamed over `path`, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name: a study process killed while writing is cleaned up by its pid
    # (remove_temporary_files) without touching another process's file in flight.
    tmp = path.parent / f".{path.stem}-{os.getpid()}-{secrets.token_hex(4)}.tmp.npz"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, meta=np.asarray(json.dumps(meta, default=_jsonable)), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def remove_temporary_files(run_dirs: list[Path], pid: int) -> list[Path]:
    """Removes the temporary result files that process `pid` left in the runs' result
    folders (it was killed while writing); returns them."""
    removed = []
    for run_dir in run_dirs:
        for tmp in results_dir(Path(run_dir)).glob(f".*-{pid}-*.tmp.npz"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def load_npz(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, meta) of a file written by `atomic_save_npz`."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files if k != "meta"}
        meta = json.loads(str(data["meta"]))
    return arrays, meta


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
