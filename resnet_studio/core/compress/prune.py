"""Pruning a trained run: masks from its weights, fine-tuning as a new run linked to it.

A pruned model is trained by the ordinary `Trainer` (gradient monitoring, checkpoints,
stop/resume, the run folder): the pruned run's run.json carries `parent` (the dense run's
folder) and `pruning` (the settings), and the Trainer adds a `PruningCallback` whenever a
run has a `pruning` section, so `train --resume` continues a killed pruned run like any run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.sparsity.masks import (
    PruningError,
    PruningSettings,
    compute_masks,
    prunable,
    sparsity_report,
)
from resnet_studio.core.training.events import Observer, ignore

FINE_TUNE_LR_FACTOR = 0.5
"""Fine-tuning's peak learning rate, as a fraction of the parent's. resnet8-digits at 80 %
(one-shot, 3 epochs): 0.1x recovered to 95.0 %, 0.5x to 96.9 % (dense 98.1 %); with 5 epochs
0.5x and 1x both reached 97.8 % (docs/compression.md)."""
FINE_TUNE_EPOCHS = 5
GRADUAL_END = 0.5
"""Gradual schedule: the final sparsity is reached after this share of the fine-tuning
steps, leaving the rest to recover at fixed masks (Zhu & Gupta 2017 stop pruning well before
the learning rate is small)."""
GRADUAL_UPDATES = 8  # mask updates over the pruning phase


@dataclass
class PruneOutcome:
    """One pruned model: requested and measured sparsity, test accuracy, its run."""

    sparsity: float
    structured: bool
    scope: str
    schedule: str
    accuracy: float | None
    accuracy_before_fine_tune: float
    measured_sparsity: float
    run_dir: str | None
    status: str
    error: str | None = None
    layers: dict[str, float] = field(default_factory=dict)
    blocks: list[str] = field(default_factory=list)
    size_bytes: int | None = None
    compressed_size_bytes: int | None = None
    checkpoint_size_bytes: int | None = None
    checkpoint_compressed_size_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ParentModel:
    """A trained run loaded once, pruned to several sparsities in turn.

    Args:
        run_dir: The dense (or already pruned) run with a checkpoint.
    """

    def __init__(self, run_dir: str | Path) -> None:
        from resnet_studio.core.runs import read_run
        from resnet_studio.core.training.restore import load_run_model

        self.info = read_run(run_dir)
        self.trainer, self.data = load_run_model(self.info)
        self.model = self.trainer.model
        self.values = {v.path: v.numpy() for v in self.model.trainable_weights}
        self._dense_accuracy: float | None = None
        self._sizes: dict[str, int] | None = None

    def evaluate(self) -> float:
        from resnet_studio.core.training.evaluation import evaluate

        info = self.data.info
        return float(evaluate(self.model, self.trainer.test_ds, info.task,
                              info.num_classes)["accuracy"])

    @property
    def sizes(self) -> dict[str, int]:
        """The parent's model and checkpoint sizes, plain and gzipped (sizes.py), measured
        once; recorded beside each pruned run's own for the size/sparsity curve."""
        if self._sizes is None:
            from resnet_studio.core.compress.sizes import pruned_sizes

            x, _ = next(iter(self.trainer.test_ds))
            self._sizes = pruned_sizes(self.info.dir, self.trainer.built.model,
                                       np.asarray(x)[:4])
        return self._sizes

    @property
    def dense_accuracy(self) -> float:
        """The parent's test accuracy, measured here (same pipeline as the pruned ones)."""
        if self._dense_accuracy is None:
            self._dense_accuracy = self.evaluate()
        return self._dense_accuracy

    def masks(self, sparsity: float, structured: bool, scope: str) -> dict[str, np.ndarray]:
        from resnet_studio.core.sparsity.hold import output_kernel

        exclude = (output_kernel(self.model),) if structured else ()
        return compute_masks(self.values, sparsity, structured=structured, scope=scope,
                             exclude=tuple(p for p in exclude if p))

    def pruned_weights(self, masks: dict[str, np.ndarray]) -> tuple[dict[str, list[np.ndarray]],
                                                                    float]:
        """(layer name -> weights with the masks applied, test accuracy of that model)."""
        variables = {v.path: v for v in self.model.trainable_weights}
        try:
            for path, mask in masks.items():
                variables[path].assign(self.values[path] * mask)
            weights = self.trainer.layer_weights()
            accuracy = self.evaluate()
        finally:
            for path in masks:
                variables[path].assign(self.values[path])
        return weights, accuracy


def prune_run(parent: ParentModel, sparsity: float, *, structured: bool = False,
              scope: str = "global", schedule: str = "oneshot",
              fine_tune_epochs: int = FINE_TUNE_EPOCHS,
              learning_rate: float | None = None, run_dir: str | Path | None = None,
              runs_root: str | Path | None = None, observer: Observer = ignore,
              started: Callable[[Any], None] | None = None, strategy: str = "default",
              devices: str = "") -> PruneOutcome:
    """Prunes `parent` to `sparsity` and fine-tunes the result as a new run.

    Args:
        parent: The loaded parent run.
        sparsity: Fraction of prunable weights (or filters, `structured`) to zero.
        structured: Remove whole filters/units (not the output layer's).
        scope: `global` or `layer` (see `compute_masks`).
        schedule: `oneshot` (prune, then fine-tune at fixed masks) or `gradual` (from the
            dense weights, sparsity rising along Zhu & Gupta's cubic during fine-tuning).
        fine_tune_epochs: Epochs of fine-tuning; 0 saves no run (the one-shot accuracy is
            still measured).
        learning_rate: Peak learning rate of the fine-tuning (default: the parent's × 0.5).
        run_dir: Folder of the new run (default: a new one beside the parent).
        runs_root: Where the default folder goes (default: the parent's folder's parent).
        observer: Receives the fine-tuning run's events.
        started: Called with the fine-tuning Trainer before it runs (a GUI job binds its
            stop switch to `trainer.request_stop`).
        strategy: The fine-tuning's `strategy` training setting (`default`, `mirrored`):
            the masks hold under tf.distribute too (core/sparsity/hold.py).
        devices: The `devices` setting for `mirrored` ("CPU:0,CPU:1", "GPU:0,GPU:1").

    Returns:
        The outcome; `status` is the fine-tuning run's (`completed`, `stopped`, `failed`).
    """
    if fine_tune_epochs < 0:
        raise PruningError(f"fine-tune epochs must be >= 0, received: {fine_tune_epochs}")
    if schedule == "gradual" and fine_tune_epochs == 0:
        raise PruningError("gradual pruning happens during fine-tuning: give at least one "
                           "fine-tune epoch")
    masks = parent.masks(sparsity, structured, scope)
    weights, before = parent.pruned_weights(masks)
    measured = {p: float(1.0 - m.mean()) for p, m in masks.items()}
    total = sum(m.size for m in masks.values())
    overall = float(sum((1.0 - m.mean()) * m.size for m in masks.values()) / max(1, total))
    outcome = PruneOutcome(sparsity, structured, scope, schedule, None, before,
                           round(overall, 6), None, "not_trained",
                           layers={p: round(v, 6) for p, v in measured.items()})
    if fine_tune_epochs == 0:
        outcome.accuracy = before
        return outcome

    steps_per_epoch = max(1, parent.trainer.steps_per_epoch)
    total_steps = fine_tune_epochs * steps_per_epoch
    settings = PruningSettings(sparsity, structured, scope, schedule)
    if schedule == "gradual":
        end = max(1, int(round(GRADUAL_END * total_steps)))
        settings = PruningSettings(sparsity, structured, scope, schedule, begin_step=0,
                                   end_step=end,
                                   frequency=max(1, math.ceil(end / GRADUAL_UPDATES)))
        weights = parent.trainer.layer_weights()  # dense: the schedule prunes as it trains
    tag = f"pruned{int(round(sparsity * 100))}{'f' if structured else ''}"
    trainer, result = _fine_tune(parent, weights, settings, tag, fine_tune_epochs,
                                 learning_rate, run_dir, runs_root, observer, started,
                                 strategy, devices)
    report = sparsity_report({v.path: v.numpy() for v in trainer.model.trainable_weights
                              if v.path in masks})
    _record_sparsity(trainer.run_dir, report)
    _record_sizes(trainer, outcome, parent)
    outcome.run_dir = str(trainer.run_dir)
    outcome.status = result.status
    outcome.error = result.error
    outcome.accuracy = (result.test or {}).get("accuracy")
    outcome.measured_sparsity = report["sparsity"]
    outcome.layers = {p: d["sparsity"] for p, d in report["layers"].items()}
    return outcome


def _fine_tune(parent: ParentModel, weights: dict[str, list[np.ndarray]],
               settings: PruningSettings, tag: str, epochs: int, learning_rate: float | None,
               run_dir: str | Path | None, runs_root: str | Path | None,
               observer: Observer, started: Callable[[Any], None] | None = None,
               strategy: str = "default", devices: str = "") -> tuple[Any, Any]:
    """Trains the pruned weights as a new run linked to `parent`; (trainer, RunResult)."""
    from resnet_studio.core.runs import new_run_dir
    from resnet_studio.core.spec import spec_from_dict
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig

    meta = parent.info.meta
    lr = learning_rate if learning_rate is not None else \
        float(parent.trainer.config.learning_rate) * FINE_TUNE_LR_FACTOR
    # The strategy is the caller's, not the parent's: a run trained on two GPUs can be
    # fine-tuned on a laptop.
    cfg = TrainingConfig.from_sources(meta.get("config") or {}, {
        "epochs": epochs, "learning_rate": lr, "strategy": strategy, "devices": devices,
        "early_stopping": 0})
    spec = spec_from_dict(parent.trainer.built.spec.to_dict(), "architecture.json")
    preset = str(meta.get("preset") or spec.name)
    root = Path(runs_root) if runs_root else parent.info.dir.parent
    target = Path(run_dir) if run_dir else new_run_dir(root, f"{preset}-{tag}")
    trainer = Trainer(spec, meta["dataset"], cfg, run_dir=target, observer=observer,
                      data_dir=meta.get("data_dir"), limit=meta.get("limit"),
                      initial_weights=weights, preset=preset,
                      run_meta={"parent": str(parent.info.dir),
                                "pruning": settings.to_dict()})
    if started is not None:
        started(trainer)
    return trainer, trainer.run()


def prune_blocks(parent: ParentModel, count: int, *,
                 fine_tune_epochs: int = FINE_TUNE_EPOCHS,
                 learning_rate: float | None = None, run_dir: str | Path | None = None,
                 runs_root: str | Path | None = None, observer: Observer = ignore
                 ) -> PruneOutcome:
    """Removes the `count` residual branches whose deletion hurts least (lesion study on the
    validation split), then fine-tunes as a new run (branches.py).

    The outcome's `sparsity` is the share of prunable weights inside the removed branches;
    `blocks` lists the removed units in `layers` (unit -> its lesion drop).
    """
    from resnet_studio.core.compress.branches import branch_masks, rank_branches, residual_branches

    branches = residual_branches(parent.trainer.built.model, parent.trainer.built.units)
    if not branches:
        raise PruningError(f"{parent.info.dir}: no residual branch to remove (a plain "
                           "network's units are its only path; `resnet-studio lesion` "
                           "measures replacing them by the identity)")
    if not 1 <= count <= len(branches):
        raise PruningError(f"--blocks {count}: the model has {len(branches)} residual "
                           "branches; remove between 1 and all of them")
    ranked = rank_branches(parent, branches)
    chosen = [r["unit"] for r in ranked[:count]]
    masks = branch_masks(parent, branches, chosen)
    weights, before = parent.pruned_weights(masks)
    prunable_total = sum(v.size for p, v in parent.values.items() if prunable(p, v.shape))
    dead = round(sum(b.params for b in branches if b.unit in chosen) / max(1, prunable_total),
                 6)
    outcome = PruneOutcome(dead, True, "blocks", "oneshot",
                           before if fine_tune_epochs == 0 else None, before, dead, None,
                           "not_trained",
                           layers={r["unit"]: r["drop"] for r in ranked[:count]})
    outcome.blocks = chosen
    if fine_tune_epochs == 0:
        return outcome
    settings = PruningSettings(0.0, blocks=tuple(chosen), masked=tuple(masks))
    trainer, result = _fine_tune(parent, weights, settings, f"minus{count}blocks",
                                 fine_tune_epochs, learning_rate, run_dir, runs_root, observer)
    values = {v.path: v.numpy() for v in trainer.model.trainable_weights}
    if any(np.any(values[p] != 0) for p in masks):  # the constraint's contract
        raise PruningError("a removed branch came back during fine-tuning")
    _record_sizes(trainer, outcome, parent)
    outcome.run_dir = str(trainer.run_dir)
    outcome.status, outcome.error = result.status, result.error
    outcome.accuracy = (result.test or {}).get("accuracy")
    return outcome


def _record_sparsity(run_dir: Path, report: dict[str, Any]) -> None:
    """Adds the measured sparsity to the finished run's run.json."""
    from resnet_studio.core.runs.store import update_meta

    update_meta(run_dir, sparsity={"sparsity": report["sparsity"], "zeros": report["zeros"],
                                   "prunable": report["prunable"]})


def _record_sizes(trainer: Any, outcome: PruneOutcome, parent: ParentModel) -> None:
    """Plain and gzip sizes of the pruned model (float32 TFLite) and of its checkpoint, into
    its run.json (`sizes`, and the parent's as `parent_sizes`: the size/sparsity curve's
    dense point) and the outcome (sizes.py)."""
    from resnet_studio.core.compress.sizes import pruned_sizes
    from resnet_studio.core.runs.store import update_meta

    x, _ = next(iter(trainer.test_ds))
    sizes = pruned_sizes(trainer.run_dir, trainer.built.model, np.asarray(x)[:4])
    update_meta(trainer.run_dir, sizes=sizes, parent_sizes=parent.sizes)
    for key, value in sizes.items():
        setattr(outcome, key, value)
