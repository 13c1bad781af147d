"""Every use of Keras's (and TensorFlow's) private API, in one place.

ResNet Studio relies on a few things Keras does not promise to keep: modules under
`keras.src`, private methods of `keras.Model` and private attributes of models, optimizers,
variables and tf.distribute strategies. A patch release may move or change any of them, so
they are all reached through this module and nowhere else (`grep -rn "keras.src" resnet_studio`
finds only this file), and tests/core/test_keras_private.py checks that each one still exists
and behaves as relied on, naming the installed versions and what broke.

Written against Keras 3.15 and TensorFlow 2.21 (the versions in requirements.lock). When
that test fails after an upgrade, fix the function here (and the test's expectation), not
its callers.

Nothing here imports Keras or TensorFlow at module level: core's metadata paths must stay
importable without them.
"""

from __future__ import annotations

import contextlib
from typing import Any

# ------------------------------------------------------------------ the train step (monitored)


def unscale_loss_for_distribution(loss: Any) -> Any:
    """The loss of one replica scaled back to the global batch's mean (Keras divides it by
    the number of replicas under a strategy); `keras.src.losses.loss`, as Keras's own
    TensorFlow train step uses it."""
    from keras.src.losses import loss as loss_module

    return loss_module.unscale_loss_for_distribution(loss)


def compute_loss(model: Any, x: Any, y: Any, y_pred: Any, sample_weight: Any,
                 training: bool = True) -> Any:
    """`model._compute_loss`: the compiled loss plus the layers' losses, as Keras's own train
    step computes it (the public `compute_loss` does not pass `training` on)."""
    return model._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                training=training)


def loss_tracker(model: Any) -> Any:
    """`model._loss_tracker`: the Mean metric behind the "loss" log. A custom train step that
    does not update it reports a loss of 0."""
    return model._loss_tracker


def distribute_strategy(model: Any) -> Any:
    """`model._distribute_strategy`: the tf.distribute strategy the model was created under,
    or None (Keras's default strategy)."""
    return getattr(model, "_distribute_strategy", None)


def element_spec(iterator: Any) -> Any:
    """The (global-batch) element spec of the tf.data dataset behind a Keras epoch iterator
    (`iterator.data_adapter`, an internal object), or None when it cannot be found (then
    Keras's own build runs)."""
    try:
        return iterator.data_adapter.get_tf_dataset().element_spec
    except AttributeError:
        return None


class BuildFromElementSpec:
    """Mixin for a keras.Model trained with `fit`: builds the model, its optimizer and its
    compiled metrics from the training data's element spec before the first trace, by
    overriding Keras's private hook `_maybe_symbolic_build` (called by `fit` for that).

    Why: without a strategy, Keras builds the optimizer's and metrics' variables inside the
    first trace of the train function, and a tf.function that creates variables is traced a
    second time: seconds before the first step (resnet8-digits: 6.3 s -> 2.8 s from fit() to
    its first step on 2 cores; benchmarks/bench_startup.py). Under a strategy Keras reads (and
    MEAN-reduces across replicas) a first batch of data instead, which fails under
    MultiWorkerMirroredStrategy and advances a reshuffling dataset by one epoch
    (core/training/distribute.py). From the spec nothing is read.
    """

    def _maybe_symbolic_build(self, iterator: Any = None, data_batch: Any = None) -> Any:
        spec = element_spec(iterator) if iterator is not None and data_batch is None else None
        if spec is None:
            return super()._maybe_symbolic_build(iterator=iterator,  # type: ignore[misc]
                                                 data_batch=data_batch)
        strategy = distribute_strategy(self)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            self._symbolic_build(data_batch=spec)  # type: ignore[attr-defined]
        return None


# ------------------------------------------------------------------ tf.distribute


def flatten_layers(model: Any) -> list[Any]:
    """Every layer of `model`, nested ones too, without the model itself
    (`model._flatten_layers`)."""
    return list(model._flatten_layers(include_self=False))


def skip_gradient_all_reduce(optimizer: Any) -> None:
    """Makes `optimizer` (and a LossScaleOptimizer's inner one) apply gradients without
    all-reducing them across replicas first, for good: Keras's TF optimizer all-reduces in
    `_all_reduce_sum_gradients` (keras/src/backend/tensorflow/optimizer.py), which becomes
    the identity. Patching only for one call would race: MirroredStrategy traces each
    replica in its own thread."""
    opt = optimizer
    while opt is not None:
        if hasattr(opt, "_all_reduce_sum_gradients"):
            opt._all_reduce_sum_gradients = _already_reduced
        opt = getattr(opt, "inner_optimizer", None)


def _already_reduced(grads_and_vars: Any) -> list[Any]:
    return list(grads_and_vars)


def in_multi_worker_mode(strategy: Any) -> bool:
    """True where Keras reduces logs with `strategy.reduce(MEAN, v, axis=0)` (the condition
    of `_collective_all_reduce_multi_worker` in keras/src/backend/tensorflow/trainer.py;
    `strategy.extended._in_multi_worker_mode()` is TensorFlow-private)."""
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.extended._in_multi_worker_mode())


@contextlib.contextmanager
def collective_key_base(cls: Any, base: int) -> Any:
    """While inside, strategies of class `cls` number their collective ops from `base`
    (`cls._collective_key_base`, read by MirroredStrategy's constructor: the hook
    TensorFlow's own tests use to run several strategies in one process)."""
    before = cls._collective_key_base
    cls._collective_key_base = base
    try:
        yield
    finally:
        cls._collective_key_base = before


# ------------------------------------------------------------------ declared variables (builder)


def pending_variables() -> list[Any]:
    """Keras's thread-local list of variables declared in a
    `StatelessScope(initialize_variables=False)` and not allocated yet (keras.src
    global_state "uninitialized_variables"): Keras allocates them all when an outermost
    stateless scope exits."""
    from keras.src.backend.common import global_state

    return list(global_state.get_global_attribute("uninitialized_variables") or [])


def set_pending_variables(variables: list[Any]) -> None:
    """Replaces that list (builder.DeclaredVariables takes a refused model's variables off
    it, so the next build does not allocate them after all)."""
    from keras.src.backend.common import global_state

    global_state.set_global_attribute("uninitialized_variables", list(variables))


def allocate_declared(variable: Any) -> None:
    """Allocates and initializes a variable declared in such a scope
    (`variable._deferred_initialize()`)."""
    variable._deferred_initialize()


# ------------------------------------------------------------------ the functional graph


def keras_history(tensor: Any) -> Any:
    """`tensor._keras_history`: (operation, node_index, tensor_index) of a symbolic tensor,
    the operation that made it (fields `.operation`, `.node_index`, `.tensor_index`)."""
    return tensor._keras_history


def inbound_nodes(operation: Any) -> list[Any]:
    """`operation._inbound_nodes`: the graph nodes where the layer was called, each with its
    `input_tensors`."""
    return operation._inbound_nodes


def replace_build_map(build_map: Any) -> Any:
    """Makes `keras.Model(inputs, outputs)` order its graph with `build_map` (Keras's
    `_build_map` in keras.src.ops.function, also imported by keras.src.models.functional).

    Returns:
        The function replaced (Keras's own the first time), or None when Keras no longer has
        it (then nothing is replaced).
    """
    try:
        from keras.src.models import functional
        from keras.src.ops import function
    except ImportError:  # pragma: no cover - a Keras without these modules
        return None
    if not hasattr(function, "_build_map"):
        return None
    before = function._build_map
    function._build_map = build_map
    if hasattr(functional, "_build_map"):
        functional._build_map = build_map
    return before


# ------------------------------------------------------------------ TensorFlow Datasets


def disable_tfds_gcs() -> None:
    """Never query gs://tfds-data (without network that look-up stalls). TFDS has no public
    switch; `gcs_utils._is_gcs_disabled` is the flag its own code checks (already True by
    default in 4.9.10, set anyway so another version cannot turn the look-up back on)."""
    from tensorflow_datasets.core.utils import gcs_utils

    gcs_utils._is_gcs_disabled = True
