"""A run's test predictions, cached in its folder as `predictions.npz`.

Computed from the run's last checkpoint by `core.training.predictions` (the Predictions view,
`resnet-studio predictions RUN_DIR`); kept here so that opening the view again costs a file
read, not a pass over the test split. The file says which checkpoint it was computed from
(`checkpoint`: the checkpoint folder's name and step), so a run resumed and trained further
computes them again. Written atomically: a temporary file renamed into place.

What it holds (`Predictions`): for every test example in test-split order the true label,
the predicted label and the model's confidence (softmax probability of the prediction);
`order`, the display order (misclassified first, most confidently wrong first, then the
correct ones in test order); and for the first examples of that order the inputs exactly as
the model received them (`samples`) and, for text runs, the texts.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.runs import diskio, layout

PREDICTIONS_NPZ = "predictions.npz"

PathLike = str | os.PathLike[str]


@dataclass
class Predictions:
    """A run's predictions on its test split.

    Attributes:
        run_id: The run folder's name.
        checkpoint: Identity of the weights used ("ckpt-000000040-3fa2@40").
        y_true, y_pred, confidence: One entry per test example, in test-split order.
        order: Indices into those arrays in display order (`misclassified_first`).
        samples: Inputs of the examples `order[:len(samples)]`, as the model received them.
        texts: Their texts (text datasets), else None.
        class_names: Names of the classes when the dataset has them, else None.
        input_kind: "image", "sequence" or "tokens" (how to draw a sample).
        notes: Sentences the user should know (the test data changed since training…).
    """

    run_id: str
    checkpoint: str
    y_true: np.ndarray
    y_pred: np.ndarray
    confidence: np.ndarray
    order: np.ndarray
    samples: np.ndarray
    texts: list[str] | None = None
    class_names: list[str] | None = None
    input_kind: str = "image"
    notes: list[str] = field(default_factory=list)

    @property
    def examples(self) -> int:
        return int(len(self.y_true))

    @property
    def misclassified(self) -> int:
        return int(np.count_nonzero(self.y_true != self.y_pred))

    @property
    def accuracy(self) -> float:
        return 1.0 - self.misclassified / self.examples if self.examples else float("nan")

    def label(self, k: int) -> str:
        """The name of class `k` (its number when the dataset names none)."""
        names = self.class_names
        return str(names[k]) if names and 0 <= k < len(names) else str(k)

    def rows(self, limit: int | None = None, misclassified_only: bool = False
             ) -> list[dict[str, Any]]:
        """The shown examples in display order: index (in the test split), true and
        predicted label and name, confidence, whether it is right, its position in `order`
        (`n`: its input is `samples[n]`) and, for text, its text."""
        out = []
        for n, i in enumerate(self.order[: len(self.samples)]):
            i = int(i)
            wrong = bool(self.y_true[i] != self.y_pred[i])
            if misclassified_only and not wrong:
                break  # misclassified examples come first
            t, p = int(self.y_true[i]), int(self.y_pred[i])
            out.append({"index": i, "true": t, "true_name": self.label(t), "predicted": p,
                        "predicted_name": self.label(p),
                        "confidence": float(self.confidence[i]), "correct": not wrong,
                        "n": n})
            if self.texts is not None and n < len(self.texts):
                out[-1]["text"] = self.texts[n]
            if limit is not None and len(out) >= limit:
                break
        return out


def misclassified_first(y_true: np.ndarray, y_pred: np.ndarray, confidence: np.ndarray
                        ) -> np.ndarray:
    """Display order: the misclassified examples, most confident first, then the correct ones
    in test-split order. Ties keep test-split order (a stable sort)."""
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))
    right = np.flatnonzero(np.asarray(y_true) == np.asarray(y_pred))
    wrong = wrong[np.argsort(-np.asarray(confidence, np.float64)[wrong], kind="stable")]
    return np.concatenate([wrong, right]).astype(np.int64)


def predictions_path(run_dir: PathLike) -> Path:
    return Path(run_dir) / PREDICTIONS_NPZ


def checkpoint_identity(run_dir: PathLike) -> str:
    """Which weights the last checkpoint holds: its folder's name and training step (a
    resumed run writes a new folder), "" when the run has none."""
    from resnet_studio.core.runs.checkpoints import checkpoint_step

    ckpt = layout.checkpoint_dir(run_dir)
    if not ckpt.is_dir():
        return ""
    return f"{Path(os.path.realpath(ckpt)).name}@{checkpoint_step(run_dir)}"


def save_predictions(run_dir: PathLike, p: Predictions) -> None:
    """Writes predictions.npz atomically (StoreWriteError on a full or read-only disk)."""
    path = predictions_path(run_dir)
    meta = {"run_id": p.run_id, "checkpoint": p.checkpoint, "class_names": p.class_names,
            "input_kind": p.input_kind, "notes": p.notes}
    arrays = {"y_true": np.asarray(p.y_true, np.int64), "y_pred": np.asarray(p.y_pred, np.int64),
              "confidence": np.asarray(p.confidence, np.float32),
              "order": np.asarray(p.order, np.int64), "samples": np.asarray(p.samples),
              "meta": np.array(json.dumps(meta))}
    if p.texts is not None:
        arrays["texts"] = np.array(list(p.texts), dtype=str)
    tmp = path.with_name(f".{PREDICTIONS_NPZ}.{secrets.token_hex(4)}.tmp.npz")
    with diskio.guarded(path):
        try:
            np.savez(tmp, **arrays)
            diskio.fsync_file(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def load_predictions(run_dir: PathLike) -> Predictions | None:
    """The cached predictions, or None (never computed, or unreadable)."""
    try:
        with np.load(predictions_path(run_dir), allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            texts = [str(t) for t in f["texts"]] if "texts" in f.files else None
            return Predictions(run_id=str(meta.get("run_id", "")),
                               checkpoint=str(meta.get("checkpoint", "")),
                               y_true=f["y_true"], y_pred=f["y_pred"],
                               confidence=f["confidence"], order=f["order"],
                               samples=f["samples"], texts=texts,
                               class_names=meta.get("class_names"),
                               input_kind=str(meta.get("input_kind", "image")),
                               notes=list(meta.get("notes") or []))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cached_predictions(run_dir: PathLike, samples: int) -> Predictions | None:
    """The cached predictions if they were computed from the run's current last checkpoint
    and hold at least `samples` inputs (or every example), else None."""
    p = load_predictions(run_dir)
    if p is None or not p.checkpoint or p.checkpoint != checkpoint_identity(run_dir):
        return None
    if len(p.samples) < min(samples, p.examples):
        return None
    return p
