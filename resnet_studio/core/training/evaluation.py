"""Test-set evaluation: loss, accuracy, macro precision/recall/F1, confusion matrix; loss and
perplexity for language models."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def evaluate(model: Any, dataset: Any, task: str, num_classes: int | None) -> dict[str, Any]:
    """Runs `model` over a batched (x, y) dataset and returns the test metrics.

    Computed from the logits in float64 with numpy, independently of Keras's metric objects,
    so the numbers can be checked by hand.
    """
    losses: list[np.ndarray] = []
    correct = total = 0
    preds: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for x, y in dataset:
        logits = np.asarray(model(x, training=False), dtype=np.float64)
        y = np.asarray(y).astype(np.int64)
        logp = _log_softmax(logits)
        nll = -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
        losses.append(nll.reshape(-1))
        pred = logits.argmax(axis=-1)
        correct += int((pred == y).sum())
        total += int(y.size)
        if task == "classification":
            preds.append(pred.reshape(-1))
            labels.append(y.reshape(-1))
    if total == 0:
        raise ValueError("the test split is empty")
    loss = float(np.concatenate(losses).mean())
    out: dict[str, Any] = {"loss": loss, "accuracy": correct / total, "examples": total}
    if task == "language_model":
        out["perplexity"] = float(math.exp(min(loss, 700.0)))
        return out
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true, y_pred = np.concatenate(labels), np.concatenate(preds)
    classes = list(range(num_classes or int(max(y_true.max(), y_pred.max()) + 1)))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=classes,
                                                 average="macro", zero_division=0)
    out.update({"precision_macro": float(p), "recall_macro": float(r), "f1_macro": float(f),
                "confusion_matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist()})
    return out
