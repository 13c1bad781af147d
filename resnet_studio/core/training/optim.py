"""Optimizer, learning-rate schedule and loss from a TrainingConfig."""

from __future__ import annotations

import math
from typing import Any

import keras

from resnet_studio.core.training.config import TrainingConfig


def make_schedule(cfg: TrainingConfig, steps_per_epoch: int) -> Any:
    """A float (constant / plateau) or a keras LearningRateSchedule over optimizer steps."""
    total = max(1, cfg.epochs * steps_per_epoch)
    lr = cfg.learning_rate
    if cfg.schedule in ("constant", "plateau"):
        # plateau: the rate is a variable that ReduceLROnPlateau lowers at epoch ends.
        return lr
    if cfg.schedule == "step":
        boundaries = [max(1, int(round(m * total))) for m in cfg.milestones]
        values = [lr * cfg.step_factor ** i for i in range(len(boundaries) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    if cfg.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=total)
    if cfg.schedule == "warmup_cosine":
        warmup = min(total - 1, int(math.ceil(cfg.warmup_epochs * steps_per_epoch)))
        return keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(1, total - warmup), warmup_target=lr, warmup_steps=warmup)
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


def make_optimizer(cfg: TrainingConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The configured optimizer, with clipping and (decoupled) weight decay."""
    lr = make_schedule(cfg, steps_per_epoch)
    common: dict[str, Any] = {"learning_rate": lr}
    if cfg.weight_decay:
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
    # Biases and normalization parameters are not decayed (standard practice since ResNet).
    if cfg.weight_decay:
        opt.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
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


def current_lr(optimizer: keras.optimizers.Optimizer) -> float:
    """The learning rate the next step will use."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
