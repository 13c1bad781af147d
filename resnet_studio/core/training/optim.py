"""Optimizer, learning-rate schedule and loss from a TrainingConfig."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

from resnet_studio.core.training_config import TrainingConfig


@keras.saving.register_keras_serializable(package="resnet_studio")
class ConstantWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`factor` × the schedule for the first `steps` steps, then the schedule itself.

    He et al. 2016 §4.2 trained ResNet-110 at 0.01 until the training error fell below 80 %
    ("about 400 iterations"), then at 0.1. A fixed number of steps keeps the rate a function
    of the step alone, so a resumed run and a paired comparison see the same rates.
    """

    def __init__(self, schedule: Any, steps: int, factor: float,
                 until_error: float = 0.0) -> None:
        self.schedule = schedule
        self.steps = int(steps)
        self.factor = float(factor)
        self.until_error = float(until_error)
        # Set to 1 by `end()` once the training error is below `until_error` (the trainer
        # watches it); it is not checkpointed: a resumed run ends its warm-up again at its
        # first batch whose running error is low enough.
        self.ended = keras.Variable(0.0, trainable=False, name="warmup_ended") \
            if self.until_error else None

    def end(self) -> None:
        """Ends the warm-up now (the error threshold was reached)."""
        if self.ended is not None:
            self.ended.assign(1.0)

    def __call__(self, step: Any) -> Any:
        base = self.schedule(step) if callable(self.schedule) else \
            keras.ops.convert_to_tensor(self.schedule, "float32")
        base = keras.ops.cast(base, "float32")
        warm = keras.ops.less(keras.ops.cast(step, "float32"), float(self.steps))
        if self.ended is not None:
            warm = keras.ops.logical_and(warm, keras.ops.less(self.ended, 0.5))
        return keras.ops.where(warm, base * self.factor, base)

    def get_config(self) -> dict[str, Any]:
        inner = keras.optimizers.schedules.serialize(self.schedule) if callable(
            self.schedule) else self.schedule
        return {"schedule": inner, "steps": self.steps, "factor": self.factor,
                "until_error": self.until_error}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ConstantWarmup:
        inner = config["schedule"]
        if isinstance(inner, dict):
            inner = keras.optimizers.schedules.deserialize(inner)
        return cls(inner, config["steps"], config["factor"], config.get("until_error", 0.0))


@keras.saving.register_keras_serializable(package="resnet_studio")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule(step)` scaled by min(1, (step + 1) / steps): a linear ramp from near 0.

    Goyal et al. 2017 (arXiv:1706.02677): a large rate applied at once can wreck the first
    steps of a deep network; ramping it up over a few epochs lets it find its footing. The
    schedule after the ramp keeps its own step numbering (step milestones do not move).
    """

    def __init__(self, schedule: Any, steps: int) -> None:
        self.schedule = schedule
        self.steps = max(1, int(steps))

    def __call__(self, step: Any) -> Any:
        base = self.schedule(step) if callable(self.schedule) else \
            keras.ops.convert_to_tensor(self.schedule, "float32")
        t = keras.ops.cast(step, "float32")
        ramp = keras.ops.minimum(1.0, (t + 1.0) / float(self.steps))
        return keras.ops.cast(base, "float32") * ramp

    def get_config(self) -> dict[str, Any]:
        inner = keras.optimizers.schedules.serialize(self.schedule) if callable(
            self.schedule) else self.schedule
        return {"schedule": inner, "steps": self.steps}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LinearWarmup:
        inner = config["schedule"]
        if isinstance(inner, dict):
            inner = keras.optimizers.schedules.deserialize(inner)
        return cls(inner, config["steps"])


def make_schedule(cfg: TrainingConfig, steps_per_epoch: int) -> Any:
    """A float (constant / plateau) or a keras LearningRateSchedule over optimizer steps.

    `warmup_epochs` > 0 puts a linear warm-up in front of any schedule but plateau (whose
    rate is a variable the callback lowers) and warmup_cosine (which has its own).
    """
    schedule = _base_schedule(cfg, steps_per_epoch)
    warmup = int(math.ceil(cfg.warmup_epochs * steps_per_epoch))
    if warmup > 0 and cfg.schedule not in ("plateau", "warmup_cosine"):
        schedule = LinearWarmup(schedule, warmup)
    if cfg.constant_warmup_steps and cfg.schedule != "plateau":
        return ConstantWarmup(schedule, cfg.constant_warmup_steps, cfg.constant_warmup_factor,
                              cfg.constant_warmup_until_error)
    return schedule


def _base_schedule(cfg: TrainingConfig, steps_per_epoch: int) -> Any:
    total = max(1, cfg.epochs * steps_per_epoch)
    lr = cfg.learning_rate
    if cfg.schedule in ("constant", "plateau"):
        # plateau: the rate is a variable that ReduceLROnPlateau lowers at epoch ends.
        return lr
    if cfg.schedule == "step":
        # Keras keeps values[i] while step <= boundaries[i]; step k (0-based) is iteration
        # k + 1, so the rate changes for the step numbered milestone (after that many steps).
        boundaries = [m - 1 for m in cfg.milestone_steps(steps_per_epoch)]
        values = [lr * cfg.step_factor ** i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    if cfg.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=total)
    if cfg.schedule == "warmup_cosine":
        warmup = min(total - 1, int(math.ceil(cfg.warmup_epochs * steps_per_epoch)))
        return keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, total - warmup), warmup_target=lr, warmup_steps=warmup)
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


def decayed_variables(variables: Sequence[Any], on: str) -> list[Any]:
    """The variables weight decay applies to (`weight_decay_on`).

    `weights`: tensors of rank ≥ 2 only (kernels, embeddings). Biases, normalization γ/β
    and residual scales (ReZero α, LayerScale γ) all have rank ≤ 1: shrinking them towards 0
    regularizes nothing useful (timm's rule, and Goyal et al. 2017's). `all`: every one.
    """
    if on == "all":
        return list(variables)
    return [v for v in variables if len(v.shape) >= 2]


def make_optimizer(cfg: TrainingConfig, steps_per_epoch: int,
                   variables: Sequence[Any] | None = None) -> keras.optimizers.Optimizer:
    """The configured optimizer, with clipping and, in `decoupled` mode, weight decay.

    In `l2` mode the optimizer gets no weight decay: the λ·w term is added to the gradient by
    the train step (`MonitoredModel.set_l2`), before momentum or adaptive scaling.

    Args:
        variables: The model's trainable variables; with `weight_decay_on: weights`, those of
            rank ≤ 1 are excluded from decoupled decay (without them: by name, bias/gamma/
            beta).
    """
    lr = make_schedule(cfg, steps_per_epoch)
    common: dict[str, Any] = {"learning_rate": lr}
    decoupled = bool(cfg.weight_decay) and cfg.weight_decay_mode == "decoupled"
    if decoupled:
        common["weight_decay"] = cfg.weight_decay
    if cfg.clipnorm:
        common["clipnorm"] = cfg.clipnorm
    if cfg.global_clipnorm:
        common["global_clipnorm"] = cfg.global_clipnorm
    name = cfg.optimizer
    if name == "sgd":
        opt = keras.optimizers.SGD(momentum=cfg.momentum, nesterov=cfg.nesterov, **common)
    elif name == "adam":
        opt = keras.optimizers.Adam(**common)
    elif name == "adamw":
        common.setdefault("weight_decay", 0.0)
        opt = keras.optimizers.AdamW(**common)
    elif name == "rmsprop":
        opt = keras.optimizers.RMSprop(momentum=cfg.momentum, **common)
    elif name == "adagrad":
        opt = keras.optimizers.Adagrad(**common)
    else:
        raise ValueError(f"unknown optimizer {name!r}")
    if decoupled and cfg.weight_decay_on == "weights":
        if variables is None:
            opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "alpha"])
        else:
            kept = {id(v) for v in decayed_variables(variables, "weights")}
            opt.exclude_from_weight_decay(var_list=[v for v in variables if id(v) not in kept])
    return opt


def make_loss(cfg: TrainingConfig, num_classes: int | None) -> Any:
    """Cross-entropy on logits; with label smoothing through one-hot targets."""
    if cfg.label_smoothing and num_classes:
        smoothing = cfg.label_smoothing

        def smoothed_crossentropy(y_true: Any, y_pred: Any) -> Any:
            y = keras.ops.one_hot(keras.ops.cast(y_true, "int32"), num_classes)
            return keras.losses.categorical_crossentropy(
                y, y_pred, from_logits=True, label_smoothing=smoothing)

        return smoothed_crossentropy
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def error_warmup(optimizer: keras.optimizers.Optimizer) -> ConstantWarmup | None:
    """The optimizer's warm-up when it ends on a training-error threshold, else None."""
    opt = getattr(optimizer, "inner_optimizer", optimizer)  # under a LossScaleOptimizer
    schedule = getattr(opt, "_learning_rate", None)
    if isinstance(schedule, ConstantWarmup) and schedule.ended is not None:
        return schedule
    return None


def current_lr(optimizer: keras.optimizers.Optimizer) -> float:
    """The learning rate the next step will use."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
