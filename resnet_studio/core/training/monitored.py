"""A Keras model whose compiled train step also returns every layer's gradient L2 norm.

The norms are computed inside the same tf.function as the step and leave it through the
step's logs, so they cost a few reductions on tensors that already exist and no extra host
synchronisation beyond the one `fit` already does per step (docs/architecture.md, step 4).
The learning rate leaves the step the same way: read on the host after every batch, a
schedule is evaluated eagerly, op by op (~2.5 ms per batch for warmup_cosine on 2 cores,
2 % of a Transformer step; benchmarks/bench_overhead.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import tensorflow as tf

from resnet_studio.core import keras_private
from resnet_studio.core.training.distribute import (
    KerasDistributeFixes,
    all_reduce_gradients,
    apply_reduced_gradients,
    with_replica_axis,
)

GRAD_NORMS_KEY = "grad_norms"
# Keras's "loss" log is the running mean since the epoch began; plots want each batch's own.
BATCH_LOSS_KEY = "batch_loss"
# The learning rate the next step will use (optim.current_lr's value, computed in the graph).
NEXT_LR_KEY = "next_lr"
# 1.0 when a LossScaleOptimizer skipped the step: the scaled gradient overflowed (by design,
# whenever the dynamic scale has grown too far; the scale is halved). Only under one.
OVERFLOW_KEY = "loss_scale_overflow"
# Logs that are not metrics: callbacks leave them out of metric records.
MONITOR_KEYS = (GRAD_NORMS_KEY, BATCH_LOSS_KEY, NEXT_LR_KEY, OVERFLOW_KEY)


@dataclass(frozen=True)
class LayerGroup:
    """The trainable variables of one layer, in depth order.

    Attributes:
        layer: Layer name.
        block: Name of the spec block that created the layer.
        indices: Positions of the layer's variables in `model.trainable_weights`.
    """

    layer: str
    block: str
    indices: tuple[int, ...]


def layer_groups(model: keras.Model, layer_block: dict[str, str]) -> list[LayerGroup]:
    """Groups `model.trainable_weights` by layer, in the model's (topological) layer order.

    Variables are matched to layers by identity, not by parsing `variable.path`. A nested
    model (a pretrained keras-hub backbone) is opened up: each of its layers is a group of its
    own, named `backbone/layer`, so its gradients show by depth like ours.
    """
    position = {id(v): i for i, v in enumerate(model.trainable_weights)}
    groups: list[LayerGroup] = []

    def add(layer: Any, name: str, block: str) -> None:
        if isinstance(layer, keras.Model):
            for sub in layer.layers:
                add(sub, f"{name}/{sub.name}", block)
            return
        idx = tuple(sorted(position[id(v)] for v in layer.trainable_weights
                           if id(v) in position))
        if idx:
            groups.append(LayerGroup(name, block, idx))

    for layer in model.layers:
        add(layer, layer.name, layer_block.get(layer.name, layer.name))
    covered = sorted(i for g in groups for i in g.indices)
    if covered != list(range(len(model.trainable_weights))):
        raise ValueError("some trainable variables belong to no top-level layer")
    return groups


def group_norms(grads: Sequence[Any], groups: Sequence[LayerGroup]) -> tf.Tensor:
    """Vector of per-layer gradient L2 norms (float32), one entry per group."""
    out = []
    for g in groups:
        squares = [tf.reduce_sum(tf.square(tf.cast(grads[i], tf.float32))) for i in g.indices
                   if grads[i] is not None]
        out.append(tf.sqrt(tf.add_n(squares)) if squares else tf.constant(0.0))
    return tf.stack(out)


class MonitoredModel(KerasDistributeFixes, keras.Model):
    """Functional model with a train step that reports per-layer gradient norms.

    Build it from a functional model's graph: `MonitoredModel(inputs=m.inputs,
    outputs=m.outputs)` shares `m`'s layers and weights. Call `set_layer_groups` before
    compiling. Norms are computed every `every` steps (a tf.cond skips the reductions
    otherwise and returns zeros, which the callback ignores).

    Under a strategy with several replicas the gradients are summed across replicas first
    (`all_reduce_gradients`): the norms are those of the applied gradient, equal on every
    replica, and the optimizer applies the sum without reducing again. Before the first
    trace, `fit` builds it from the data's element spec (keras_private.BuildFromElementSpec,
    through KerasDistributeFixes): one trace of the train step instead of two.
    """

    def set_layer_groups(self, groups: Sequence[LayerGroup], every: int = 1) -> None:
        self._groups = list(groups)
        self._norm_every = max(1, int(every))

    def set_l2(self, l2: float, variables: Sequence[Any] = ()) -> None:
        """Adds the L2 term λ/2·‖w‖² of `variables` to the loss the step differentiates.

        Its gradient λ·w is added to the loss's gradient after the cross-replica sum (so
        once, not once per replica) and before the optimizer: momentum and adaptive scaling
        see it, as in He et al. 2016 and PyTorch's SGD `weight_decay`. The gradient norms the
        step reports include it. The logged loss stays the data loss.
        """
        self._l2 = float(l2)
        wanted = {id(v) for v in variables}
        self._l2_indices = frozenset(i for i, v in enumerate(self.trainable_weights)
                                     if id(v) in wanted)

    def _with_l2(self, grads: Sequence[Any], weights: Sequence[Any]) -> list[Any]:
        l2, indices = getattr(self, "_l2", 0.0), getattr(self, "_l2_indices", frozenset())
        if not l2 or not indices:
            return list(grads)
        # Under mixed precision the gradients are those of the scaled loss: scale λ·w too.
        scale = getattr(self.optimizer, "dynamic_scale", None)
        out = []
        for i, (g, w) in enumerate(zip(grads, weights, strict=True)):
            if g is not None and i in indices:
                g = tf.convert_to_tensor(g)  # embeddings' IndexedSlices become dense
                term = tf.cast(w, g.dtype) * tf.cast(l2, g.dtype)
                if scale is not None:
                    term = term * tf.cast(scale, g.dtype)
                g = g + term
            out.append(g)
        return out

    def _gradient_norms(self, grads: Sequence[Any]) -> tf.Tensor:
        def compute() -> tf.Tensor:
            norms = group_norms(grads, self._groups)
            # Under mixed precision the loss (and so every gradient) was multiplied by the
            # loss scale; report the true gradient's norm.
            scale = getattr(self.optimizer, "dynamic_scale", None)
            if scale is not None:
                norms = norms / tf.cast(scale, tf.float32)
            return norms

        if self._norm_every == 1:
            return compute()
        # optimizer.iterations counts applied steps; this step is iterations (before apply).
        due = tf.equal(tf.math.floormod(self.optimizer.iterations, self._norm_every), 0)
        return tf.cond(due, compute, lambda: tf.zeros([len(self._groups)], tf.float32))

    def train_step(self, data: Any) -> dict[str, Any]:
        # Mirrors keras/src/backend/tensorflow/trainer.py (Keras 3.15) train_step, including
        # the loss tracker update: a custom step that skips it reports a loss of 0.
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = keras_private.compute_loss(self, x, y, y_pred, sample_weight, training=True)
            batch_loss = keras_private.unscale_loss_for_distribution(loss)
            keras_private.loss_tracker(self).update_state(
                batch_loss,
                sample_weight=tf.shape(next(i for i in keras.tree.flatten(x)
                                            if i is not None))[0],
            )
            if self.optimizer is not None:
                loss = self.optimizer.scale_loss(loss)
        trainable_weights = self.trainable_weights
        grads = tape.gradient(loss, trainable_weights)
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            grads = all_reduce_gradients(grads)  # the norms of the applied gradient
        overflow = None
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            overflow = tf.logical_not(self.optimizer.check_finite(grads))
        grads = self._with_l2(grads, trainable_weights)
        norms = self._gradient_norms(grads)
        if replica is not None and replica.num_replicas_in_sync > 1:
            apply_reduced_gradients(self.optimizer, grads, trainable_weights)
        else:
            self.optimizer.apply_gradients(zip(grads, trainable_weights, strict=True))
        logs = self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        if overflow is not None:
            logs[OVERFLOW_KEY] = tf.cast(overflow, tf.float32)
        logs[GRAD_NORMS_KEY] = norms
        logs[BATCH_LOSS_KEY] = batch_loss
        # After apply: the optimizer's iterations have moved on, as for optim.current_lr.
        logs[NEXT_LR_KEY] = tf.cast(self.optimizer.learning_rate, tf.float32)
        return with_replica_axis(logs)
