"""The history of one run as the views show it: the curves and gradient norms, whether they
came live from the Trainer's events or from the run's folder (Qt-free).

`RunHistory` is the one model behind the training plots, the comparison's two runs and the
curves of the runs picked in the runs table (every road from metrics.jsonl to a plot goes
through `load`). Live, `apply(event)` appends each event to
preallocated buffers (`series.Series`, `series.GradientHistory`: amortised O(1), no redraw);
from disk, `load_run(run_dir)` (or `load(records, ...)`) fills the same buffers in a few
vectorised numpy calls and leaves exactly what the live feed of the same records would
have left. Views subscribe (`subscribe(callback)`) and are told after every change; they
redraw from their own timer, never per event.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from resnet_studio.core.runs.records import read_gradients_or_empty, read_metrics
from resnet_studio.core.runs.series import Ema, GradientHistory, Series, smooth_ema
from resnet_studio.core.runs.store import read_run

EMA_WEIGHT = 0.95  # ~20-batch window: the trend of a noisy per-batch loss without much lag
# Points each step series keeps (4 MiB per series): runs up to 262,144 steps are kept
# exactly; longer ones keep their older part as a min/max envelope (series.Series), so the
# views' memory and redraw cost stop growing with the run (benchmarks/bench_gui.py).
MAX_SERIES_POINTS = 2**18
TASKS = ("classification", "language_model")


def _survivors(steps: np.ndarray, rewinds: np.ndarray) -> np.ndarray:
    """Which records a sequential feed keeps: a record survives unless a later rewinding
    record (a batch of a resumed run) has a step <= its own (the live path truncates then)."""
    later = np.where(rewinds, steps, np.inf)
    after = np.minimum.accumulate(later[::-1])[::-1]  # min over j >= i
    after = np.r_[after[1:], np.inf]  # min over j > i
    return steps < after


def _parse_records(records: list[dict[str, Any]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Metric records (`read_metrics`) as (x = step, y) arrays, keeping what a live feed
    would keep.

    Keys: "loss", "lr", "accuracy" (per batch: the running train accuracy), "val_loss",
    "val_accuracy", "train_loss" (per epoch). A series is present only where its records
    hold a number.
    """
    rows = [r for r in records if r.get("kind") in ("batch", "epoch")
            and isinstance(r.get("step"), (int, float))]
    kinds = np.array([r["kind"] == "batch" for r in rows], dtype=bool)
    steps = np.array([r["step"] for r in rows], dtype=np.float64)
    keep = _survivors(steps, kinds) if rows else np.zeros(0, dtype=bool)
    wanted = {"loss": (True, "loss"), "lr": (True, "lr"), "accuracy": (True, "train_accuracy"),
              "val_loss": (False, "val_loss"), "val_accuracy": (False, "val_accuracy"),
              "train_loss": (False, "train_loss")}
    groups = {True: np.flatnonzero(kinds & keep), False: np.flatnonzero(~kinds & keep)}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, (batch, name) in wanted.items():
        # One comprehension per field over its kind of record, not a Python loop per record
        # and field: a long run has hundreds of thousands of records.
        idx = groups[batch]
        values = [rows[i].get(name) for i in idx]
        present = np.array([isinstance(v, (int, float)) for v in values], dtype=bool)
        ys = np.array([v if p else math.nan for v, p in zip(values, present, strict=True)],
                      dtype=np.float64)
        out[key] = (steps[idx[present]], ys[present])
    return out


class RunHistory:
    """The curves and gradient norms of one run.

    Attributes:
        loss, smooth_loss, accuracy, lr: per-batch series (x = step); `smooth_loss` is the
            debiased EMA of `loss` (TensorBoard's smoothing, weight EMA_WEIGHT).
        val_loss, val_accuracy: per-epoch validation series (x = the epoch's last step).
        gradients: per-layer gradient norms (bounded), or None without `gradients`.
        layers, blocks: the weighted layers (depth order) and their blocks.
        task: "classification" or "language_model".
        label: what the views call the run (its folder name).
        batches, grad_events: events appended since `begin` (progress, tests).
        rewinds: times a resumed run restarted below the last step seen.
        generation: how many runs `begin` has started in this history.

    Args:
        max_points: Most points each step series keeps (see series.Series).
        gradients: Keep the gradient norms (the comparison keeps them in its own profile).
    """

    def __init__(self, *, max_points: int | None = MAX_SERIES_POINTS,
                 gradients: bool = True) -> None:
        self._max_points = max_points
        self._keep_gradients = gradients
        self.loss = Series(max_points=max_points)
        self.smooth_loss = Series(max_points=max_points)
        self.accuracy = Series(max_points=max_points)
        self.lr = Series(max_points=max_points)
        self.val_loss = Series(64, max_points=max_points)
        self.val_accuracy = Series(64, max_points=max_points)
        self.gradients: GradientHistory | None = GradientHistory(0) if gradients else None
        self.ema = Ema(EMA_WEIGHT)
        self.layers: list[str] = []
        self.blocks: list[str] = []
        self.task = "classification"
        self.label = ""
        self.batches = self.grad_events = self.rewinds = 0
        self.generation = 0  # bumped by every `begin`: observers tell a new run from more data
        self._listeners: list[Callable[[], None]] = []

    # -- observers
    def subscribe(self, callback: Callable[[], None]) -> None:
        """`callback()` after every change (in the thread that changed the history)."""
        self._listeners.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _changed(self) -> None:
        for callback in self._listeners:
            callback()

    # -- filling
    def series(self) -> tuple[Series, ...]:
        return (self.loss, self.smooth_loss, self.accuracy, self.lr, self.val_loss,
                self.val_accuracy)

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers."""
        grads = 0 if self.gradients is None else self.gradients.nbytes
        return sum(s.nbytes for s in self.series()) + grads

    def begin(self, layers: list[str], blocks: list[str], *, task: str = "classification",
              label: str = "") -> None:
        """Empties the history for a run with these weighted layers (depth order)."""
        if task == "text-classification":  # DatasetInfo.to_dict's name for text sets
            task = "classification"
        if task not in TASKS:
            raise ValueError(f"Expected task in {TASKS}, received: task={task!r}")
        if len(blocks) != len(layers):
            raise ValueError("Expected one block name per layer, received: "
                             f"len(layers)={len(layers)}, len(blocks)={len(blocks)}")
        self.layers, self.blocks = list(layers), list(blocks)
        self.task, self.label = task, label
        for s in self.series():
            s.clear()
        if self._keep_gradients:
            self.gradients = GradientHistory(len(self.layers))
        self.ema = Ema(EMA_WEIGHT)
        self.batches = self.grad_events = self.rewinds = 0
        self.generation += 1
        self._changed()

    def apply(self, event: Any) -> bool:
        """Adds a Trainer event (core.training.events: Started begins a run unless it
        resumes the one shown; BatchEnd, GradNorms and EpochEnd append). True when the
        event carried curve data; others (Log, Alert, Finished) are the caller's."""
        return bool(event.feed(self))

    def add_batch(self, step: int, loss: float, lr: float, metrics: dict[str, float]) -> bool:
        """One optimizer step; metrics may hold "accuracy" (running mean over the epoch).
        True when the step rewound the history (a resumed run redoing steps)."""
        self.batches += 1
        last = self.loss.last_x()
        rewound = last is not None and step <= last
        if rewound:
            self.rewind(step)
        loss = float(loss)
        self.loss.append(step, loss)
        self.smooth_loss.append(step, self.ema.update(loss))
        self.lr.append(step, float(lr))
        accuracy = metrics.get("accuracy")
        if isinstance(accuracy, (int, float)):
            self.accuracy.append(step, float(accuracy))
        self._changed()
        return rewound

    def add_grad_norms(self, step: int, norms: Any) -> None:
        """Per-layer gradient norms at `step` (one per layer of `begin`)."""
        self.grad_events += 1
        if self.gradients is not None:
            last = self.gradients.last_step
            if last is not None and step <= last:
                self.gradients.truncate(step)
            self.gradients.append(step, norms)
            self._changed()

    def add_epoch(self, step: int, val: dict[str, float]) -> None:
        """An epoch ended at `step`; val may hold "loss" and "accuracy"."""
        if isinstance(val.get("loss"), (int, float)):
            self.val_loss.append(step, float(val["loss"]))
        if isinstance(val.get("accuracy"), (int, float)):
            self.val_accuracy.append(step, float(val["accuracy"]))
        self._changed()

    def rewind(self, step: int) -> None:
        """A resumed run restarts below the last step seen: drops what it will redo."""
        self.rewinds += 1
        for s in self.series():
            s.truncate(step)
        count = int(np.isfinite(self.loss.y).sum())
        smooth = self.smooth_loss.y
        self.ema.resume(float(smooth[-1]) if smooth.size else math.nan, count)

    def load(self, records: list[dict[str, Any]], layers: list[str], blocks: list[str],
             steps: np.ndarray, norms: np.ndarray, *, task: str = "classification",
             label: str = "") -> None:
        """A run read from disk (its metric records and gradient norms), leaving the
        buffers a live feed of the same records would leave — in vectorised numpy."""
        listeners, self._listeners = self._listeners, []  # one notification, at the end
        try:
            self.begin(layers, blocks, task=task, label=label)
            parsed = _parse_records(records)
            x, y = parsed["loss"]
            self.loss.extend(x, y)
            smooth = smooth_ema(y, EMA_WEIGHT)
            self.smooth_loss.extend(x, smooth)
            self.ema.resume(float(smooth[-1]) if smooth.size else math.nan,
                            int(np.isfinite(y).sum()))
            self.lr.extend(*parsed["lr"])
            self.accuracy.extend(*parsed["accuracy"])
            self.val_loss.extend(*parsed["val_loss"])
            self.val_accuracy.extend(*parsed["val_accuracy"])
            self.batches = len(self.loss)
            steps = np.asarray(steps, dtype=np.int64).ravel()
            self.grad_events = int(steps.size)
            if self.gradients is not None and steps.size and len(self.layers):
                norms = np.asarray(norms, dtype=np.float32).reshape(steps.size,
                                                                    len(self.layers))
                keep = _survivors(steps.astype(np.float64), np.ones(steps.size, dtype=bool))
                self.gradients.extend(steps[keep], norms[keep])
        finally:
            self._listeners = listeners
        self._changed()

    def load_run(self, run_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """Fills the history from a run folder; returns its run.json (migrated).

        Raises:
            FileNotFoundError, ValueError: not a readable run folder (`read_run`).
        """
        info = read_run(run_dir)
        layers, blocks, steps, norms = read_gradients_or_empty(run_dir)
        task = str((info.meta.get("binding") or {}).get("task", "classification"))
        self.load(read_metrics(run_dir), layers, blocks, steps, norms,
                  task=task if task in TASKS else "classification", label=info.id)
        return info.meta

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], label: str = "", *,
                     max_points: int | None = MAX_SERIES_POINTS) -> RunHistory:
        """The curves of metric records alone (an overlay: no gradients)."""
        history = cls(max_points=max_points, gradients=False)
        history.load(records, [], [], np.zeros(0, np.int64), np.zeros((0, 0)), label=label)
        return history
