"""A finished run's predictions on its test split: which examples it gets wrong, and how sure
it was (the Predictions view, `resnet-studio predictions RUN_DIR`).

`run_predictions(run_dir, samples=..., state=...)` is a job function (core/jobs.py): it
rebuilds the run's model from its folder (`restore.load_run_model`, the same road as
evaluation and export), runs it over the test split in inference mode, orders the examples
misclassified first, and caches the result in the run folder (`runs/predictions.py`). A
second call with the same checkpoint reads the cache.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from resnet_studio.core.jobs import JobState
from resnet_studio.core.runs.predictions import (
    Predictions,
    cached_predictions,
    checkpoint_identity,
    misclassified_first,
    save_predictions,
)

DEFAULT_SAMPLES = 256  # inputs kept for display: the view's grid pages through these


class NotClassification(ValueError):
    """The run is not a classifier (a language model predicts tokens, not labels)."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits, in float64 (stable: the max is subtracted first)."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def run_predictions(run_dir: str | os.PathLike[str], samples: int = DEFAULT_SAMPLES,
                    state: JobState | None = None, *, use_cache: bool = True) -> Predictions:
    """The run's predictions on its test split (cached in the run folder).

    Args:
        run_dir: A run folder with a checkpoint.
        samples: How many inputs (in display order) to keep for display.
        state: Job state: progress per batch, cooperative cancel between batches.
        use_cache: Read the cached predictions when they match the checkpoint.

    Raises:
        FileNotFoundError: no run or no checkpoint there.
        NotClassification: a language model.
        DatasetError: the run's data cannot be loaded.
        JobCancelled: cancelled.
    """
    from resnet_studio.core.runs import checkpoint_complete, read_run

    state = state or JobState()
    info = read_run(run_dir)
    if not checkpoint_complete(info.dir):
        raise FileNotFoundError(f"{info.dir}: no checkpoint (the run ended before its first "
                                "epoch completed): nothing to predict with")
    task = (info.meta.get("binding") or {}).get("task", "classification")
    if task == "language_model":
        raise NotClassification(f"{info.dir}: a language model predicts the next token, not "
                                "a label: predictions are shown for classification runs")
    if use_cache:
        cached = cached_predictions(info.dir, samples)
        if cached is not None:
            return cached
    state.progress(float("nan"), "Loading the run's model and data…")
    from resnet_studio.core.runs.inference import data_changed
    from resnet_studio.core.training.restore import load_run_model

    checkpoint = checkpoint_identity(info.dir)
    trainer, data = load_run_model(info)
    if data.info.task == "language_model":
        raise NotClassification(f"{info.dir}: a language model predicts the next token, not "
                                "a label: predictions are shown for classification runs")
    state.check()
    notes = []
    changed = data_changed(info.dir, trainer.test_ds, data.info.sizes.get("test", -1))
    if changed:
        notes.append(changed)
    y_true, y_pred, confidence = predict(trainer.model, trainer.test_ds, state,
                                         data.info.sizes.get("test", -1))
    order = misclassified_first(y_true, y_pred, confidence)
    shown = order[:samples]
    if data.x_test is not None:
        inputs = np.asarray(data.x_test)[shown]
    else:  # a streamed source: a second pass picks the shown examples
        inputs = _gather(trainer.test_ds, shown)
    texts = None
    test_texts = (data.texts or {}).get("test")
    if test_texts is not None and len(test_texts) == len(y_true):
        texts = [str(test_texts[int(i)]) for i in shown]
    names = list(data.info.class_names) if data.info.class_names else None
    result = Predictions(run_id=info.id, checkpoint=checkpoint, y_true=y_true, y_pred=y_pred,
                         confidence=confidence, order=order, samples=inputs, texts=texts,
                         class_names=names, input_kind=data.info.input_kind, notes=notes)
    save_predictions(info.dir, result)
    state.progress(1.0, "Done")
    return result


def predict(model: Any, dataset: Any, state: JobState | None = None, total: int = -1
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true labels, predicted labels, confidence) over a batched (x, y) dataset.

    The model is called in inference mode (`training=False`: batch normalisation uses its
    moving statistics, dropout is off), as evaluation does.
    """
    state = state or JobState()
    ys, preds, confs = [], [], []
    seen = 0
    for x, y in dataset:
        state.check()
        p = softmax(np.asarray(model(x, training=False)))
        k = p.argmax(axis=-1)
        ys.append(np.asarray(y).astype(np.int64).reshape(-1))
        preds.append(k.reshape(-1))
        confs.append(np.take_along_axis(p, k[..., None], axis=-1)[..., 0].reshape(-1))
        seen += len(ys[-1])
        if total > 0:
            state.progress(min(1.0, seen / total), f"Predicting: {seen:,} of {total:,} "
                                                   "test examples")
    if not ys:
        raise ValueError("the test split is empty: there is nothing to predict")
    return (np.concatenate(ys), np.concatenate(preds).astype(np.int64),
            np.concatenate(confs).astype(np.float32))


def _gather(dataset: Any, indices: np.ndarray) -> np.ndarray:
    """The inputs at `indices` (of a batched dataset in its fixed order), in that order."""
    wanted = {int(i): n for n, i in enumerate(indices)}
    out: list[Any] = [None] * len(indices)
    start = 0
    for x, _ in dataset:
        x = np.asarray(x)
        for j in range(len(x)):
            n = wanted.get(start + j)
            if n is not None:
                out[n] = x[j]
        start += len(x)
    if not out:
        return np.zeros((0,), np.float32)
    return np.stack(out)
