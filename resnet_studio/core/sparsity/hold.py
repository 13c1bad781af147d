"""Keeping pruned weights at zero while a pruned model trains.

Each pruned kernel gets a Keras weight constraint that multiplies it by its mask. Keras's
optimizer applies a variable's constraint right after every update, inside the compiled
train step (keras/src/optimizers/base_optimizer.py, `apply`), so the gradient-monitored step
of `MonitoredModel` is unchanged and no host round-trip is added: a pruned weight can never
be read non-zero between two steps, by a checkpoint, an evaluation or an export.

Under tf.distribute (MirroredStrategy) the same holds on every replica: the optimizer
applies the constraint in each replica's step to that replica's copy of the kernel, all of
them equal after the all-reduced update, and a gradual schedule's mask updates (in the
callback, a cross-replica context) assign every copy at once
(tests/core/pruning_mirrored_check.py: two logical CPUs, no pruned weight non-zero after
fine-tuning).

Masks are not stored in checkpoints: they are the non-zero pattern of the checkpointed
kernels (a kept weight landing on exactly 0.0 has probability zero in float32 training, and
would merely stay pruned). So a pruned run resumed after a kill recovers its masks from its
own weights, and a gradual schedule continues from the optimizer's step counter.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from resnet_studio.core.sparsity.masks import PruningSettings, compute_masks, prunable


class MaskConstraint(keras.constraints.Constraint):
    """w -> w * mask (after any constraint the variable already had).

    Args:
        mask: A non-trainable tf.Variable of the kernel's shape, 1 keep / 0 prune.
        previous: The variable's earlier constraint, still applied first.
    """

    def __init__(self, mask: tf.Variable, previous: Any = None) -> None:
        self.mask = mask
        self.previous = previous

    def __call__(self, w: Any) -> Any:
        if self.previous is not None:
            w = self.previous(w)
        return w * tf.cast(self.mask, w.dtype)


def prunable_variables(model: keras.Model, structured: bool) -> dict[str, Any]:
    """Path -> variable of the kernels pruning acts on, in depth order.

    Structured pruning leaves the output layer (the last kernel): its units are the classes.
    """
    found = {v.path: v for v in model.trainable_weights if prunable(v.path, tuple(v.shape))}
    if structured and found:
        found.pop(list(found)[-1])
    return found


def output_kernel(model: keras.Model) -> str | None:
    """Path of the last prunable kernel (the classifier's), excluded from structured cuts."""
    paths = [v.path for v in model.trainable_weights if prunable(v.path, tuple(v.shape))]
    return paths[-1] if paths else None


class PruningCallback(keras.callbacks.Callback):
    """Attaches mask constraints to a model's prunable kernels and, for a gradual schedule,
    recomputes the masks as training goes.

    Built right before `fit` (the Trainer does it when run.json has a `pruning` section),
    after the weights are loaded or restored: the masks start as those weights' non-zero
    pattern, and the step count starts at the optimizer's.

    Args:
        model: The model about to train.
        settings: The run's pruning settings.
    """

    def __init__(self, model: keras.Model, settings: PruningSettings | dict[str, Any]) -> None:
        super().__init__()
        if not isinstance(settings, PruningSettings):
            settings = PruningSettings.from_dict(settings)
        self.settings = settings
        self.variables = prunable_variables(model, settings.structured)
        self.variables.update({v.path: v for v in model.trainable_weights
                               if v.path in settings.masked})
        self.masks: dict[str, tf.Variable] = {}
        for path, var in self.variables.items():
            mask = tf.Variable(tf.cast(tf.not_equal(var, 0), tf.float32), trainable=False,
                               name=f"mask_{path.replace('/', '_')}")
            self.masks[path] = mask
            previous = var.constraint
            if isinstance(previous, MaskConstraint):  # a second fit on the same model
                previous = previous.previous
            var.constraint = MaskConstraint(mask, previous)
        self.step = int(model.optimizer.iterations.numpy()) if model.optimizer is not None \
            and model.optimizer.built else 0
        self.updates = 0

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        if self.settings.updates_at(self.step):
            self.update(self.settings.target(self.step))

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.step += 1

    def update(self, sparsity: float) -> None:
        """Recomputes every mask for `sparsity` from the current (masked) weights and zeroes
        the newly pruned weights at once."""
        values = {p: v.numpy() for p, v in self.variables.items()}
        masks = compute_masks(values, sparsity, structured=self.settings.structured,
                              scope=self.settings.scope)
        for path, mask in masks.items():
            self.masks[path].assign(mask)
            self.variables[path].assign(values[path] * mask)
        self.updates += 1

    def current_masks(self) -> dict[str, np.ndarray]:
        return {p: m.numpy() for p, m in self.masks.items()}
