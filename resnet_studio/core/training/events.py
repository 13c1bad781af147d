"""Events a Trainer emits to its observer (GUI worker, CLI progress, tests).

The observer is any callable taking one event. It runs in the training thread, so it must
be quick: the GUI worker turns events into queued Qt signals; the CLI prints at most a few
times a second.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Event:
    """Base class of every training event."""

    def feed(self, history: Any) -> bool:
        """Adds what the event carries to a run history (core.runs.history.RunHistory,
        `history.apply(event)`); False when it carries no curve data."""
        return False


@dataclass
class Started(Event):
    """The model is built and the run folder exists; training is about to start.

    Attributes:
        layers: Layers with weights in depth order (the gradient-norm vector's entries).
        layer_blocks: The block of each of those layers.
        steps_per_epoch: Batches per epoch (-1 when the source cannot tell).
    """

    run_dir: str
    device: str
    summary: dict[str, Any]
    layers: list[str]
    layer_blocks: list[str]
    epochs: int
    steps_per_epoch: int
    initial_epoch: int
    initial_step: int
    config: dict[str, Any]
    dataset: dict[str, Any]

    def feed(self, history: Any) -> bool:
        """A new run (or a resumed one: its history is already shown, and kept)."""
        if self.initial_step == 0 or not len(history.loss):
            history.begin(self.layers, self.layer_blocks,
                          task=str(self.dataset.get("task", "classification")),
                          label=os.path.basename(self.run_dir))
        return True


@dataclass
class BatchEnd(Event):
    """One optimizer step done. `loss` is this batch's loss; `metrics` are running means."""

    step: int
    epoch: int
    batch: int
    loss: float
    metrics: dict[str, float]
    lr: float
    samples_per_second: float
    elapsed: float

    def feed(self, history: Any) -> bool:
        history.add_batch(self.step, self.loss, self.lr, self.metrics)
        return True


@dataclass
class GradNorms(Event):
    """Per-layer gradient L2 norms at `step` (same order as Started.layers)."""

    step: int
    norms: np.ndarray

    def feed(self, history: Any) -> bool:
        history.add_grad_norms(self.step, self.norms)
        return True


@dataclass
class EpochEnd(Event):
    """An epoch ended (after validation)."""

    epoch: int
    step: int
    train: dict[str, float]
    val: dict[str, float]
    lr: float
    seconds: float

    def feed(self, history: Any) -> bool:
        history.add_epoch(self.step, self.val)
        return True


@dataclass
class Log(Event):
    """A line for the log view (`level`: info, warning, error)."""

    message: str
    level: str = "info"


@dataclass
class Alert(Event):
    """A gradient alert (vanishing, exploding, growing; see training/alerts.py), raised once
    per kind and run. A `Log` warning with the same message is emitted alongside, so views
    that only show the log still tell the user.

    Attributes:
        layers: The layers concerned (the starved ones for `vanishing`).
        blocks: Their top-level blocks.
    """

    kind: str
    message: str
    step: int
    layers: list[str]
    blocks: list[str] = field(default_factory=list)


@dataclass
class Finished(Event):
    """The run ended: completed, stopped or failed (with `error` and `failure` details)."""

    status: str
    run_dir: str
    epochs_completed: int
    step: int
    seconds: float
    test: dict[str, Any] | None = None
    error: str | None = None
    failure: dict[str, Any] = field(default_factory=dict)


Observer = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The observer that listens to nothing."""
