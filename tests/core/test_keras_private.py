"""Each private Keras/TensorFlow API that resnet_studio/core/keras_private.py relies on still
exists and behaves as relied on.

One check per function of keras_private; a failure names the installed versions, the
function and what it relies on, so an upgrade that breaks one says which and where to fix
(keras_private.py, not its callers). Versions checked: requirements.lock.
"""

from __future__ import annotations

import inspect
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_studio.core import keras_private as kp


def _tiny_model(base: type = keras.Model) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(2, name="out")(hidden)
    model = base(inputs=inputs, outputs=outputs, name="tiny")
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _data(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 2, n).astype("int32")


def check_unscale_loss_for_distribution() -> None:
    """Without a strategy (one replica) the loss comes back unchanged."""
    loss = tf.constant(2.5)
    assert float(kp.unscale_loss_for_distribution(loss)) == 2.5


def check_compute_loss_and_loss_tracker() -> None:
    """`_compute_loss` gives the compiled loss (checked against the loss function itself);
    `_loss_tracker` is the Mean metric behind the "loss" log."""
    model = _tiny_model()
    x, y = _data()
    y_pred = model(x, training=True)
    got = float(kp.compute_loss(model, x, y, y_pred, None, training=True))
    want = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, y_pred))
    assert got == pytest.approx(want, rel=1e-5)
    tracker = kp.loss_tracker(model)
    assert isinstance(tracker, keras.metrics.Mean) and tracker.name == "loss"
    tracker.update_state(3.0)
    tracker.update_state(5.0)
    assert float(tracker.result()) == pytest.approx(4.0)


def check_distribute_strategy() -> None:
    """None for a model made outside any strategy (the attribute exists on every model)."""
    model = _tiny_model()
    assert hasattr(model, "_distribute_strategy")
    assert kp.distribute_strategy(model) is None


class _Spied(kp.BuildFromElementSpec, keras.Model):
    calls: list[str]

    def _symbolic_build(self, *args, **kwargs):
        type(self).calls.append("symbolic_build")
        return super()._symbolic_build(*args, **kwargs)

    def train_step(self, data):
        type(self).calls.append("trace")  # Python runs only while tracing
        return super().train_step(data)


def check_element_spec_and_build_from_it() -> None:
    """A Keras epoch iterator still exposes `data_adapter.get_tf_dataset()`, and the
    override of `_maybe_symbolic_build` builds the optimizer and metrics from its element
    spec without reading the data."""
    from keras.src.backend.tensorflow.trainer import TFEpochIterator

    x, y = _data()
    read = []

    def counted(a, b):
        a = tf.py_function(lambda t: read.append(1) or t, [a], tf.float32)
        a.set_shape([None, 4])
        return a, b

    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).map(counted)
    iterator = TFEpochIterator(x=ds, distribute_strategy=tf.distribute.get_strategy())
    spec = kp.element_spec(iterator)
    assert spec is not None and spec[0].shape[-1] == 4
    assert kp.element_spec(object()) is None
    _Spied.calls = []
    model = _tiny_model(_Spied)
    assert not model.optimizer.built
    model._maybe_symbolic_build(iterator=iterator)
    assert _Spied.calls == ["symbolic_build"] and model.optimizer.built
    assert read == []  # nothing was read to build


def check_fit_calls_maybe_symbolic_build_once_and_traces_once() -> None:
    """`fit` still calls `_maybe_symbolic_build(iterator=...)` before the first trace, so the
    train function is traced once (twice if the variables were created inside it)."""
    _Spied.calls = []
    model = _tiny_model(_Spied)
    x, y = _data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    model.fit(ds, epochs=2, verbose=0, shuffle=False)
    assert _Spied.calls == ["symbolic_build", "trace"]


def check_flatten_layers() -> None:
    """Nested layers are listed, the model itself is not."""
    inner = _tiny_model()
    inputs = keras.Input((4,))
    outer = keras.Model(inputs, keras.layers.Dense(1, name="top")(inner(inputs)))
    names = [layer.name for layer in kp.flatten_layers(outer)]
    assert {"hidden", "out", "top", inner.name} <= set(names) and outer.name not in names


def check_skip_gradient_all_reduce() -> None:
    """Keras's TF optimizer sends gradients through `_all_reduce_sum_gradients` when it
    applies them (a spy sees it); once patched, that step is the identity, also on a
    LossScaleOptimizer's inner optimizer."""
    seen = []
    opt = keras.optimizers.SGD(0.5)
    real = opt._all_reduce_sum_gradients
    opt._all_reduce_sum_gradients = lambda gv: seen.append(1) or real(gv)
    var, var2 = keras.Variable([1.0, 2.0]), keras.Variable([1.0, 2.0])
    opt.build([var, var2])
    opt.apply_gradients([(tf.constant([1.0, 1.0]), var)])
    assert seen == [1], "apply_gradients no longer calls _all_reduce_sum_gradients"
    scaled = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.5))
    kp.skip_gradient_all_reduce(scaled)
    pairs = [(tf.constant(1.0), "v")]
    assert scaled.inner_optimizer._all_reduce_sum_gradients(pairs) == pairs
    kp.skip_gradient_all_reduce(opt)
    opt.apply_gradients([(tf.constant([1.0, 1.0]), var2)])
    np.testing.assert_allclose(var2.numpy(), [0.5, 1.5])


def check_in_multi_worker_mode() -> None:
    """The multi-worker strategy's extended object still has `_in_multi_worker_mode`; other
    strategies are not multi-worker."""
    cls = tf.distribute.MultiWorkerMirroredStrategy
    module = sys.modules[cls.__module__]
    assert callable(module.CollectiveAllReduceExtended._in_multi_worker_mode)
    assert kp.in_multi_worker_mode(tf.distribute.get_strategy()) is False


def check_collective_key_base() -> None:
    """MirroredStrategy has the class attribute and its constructor still reads it."""
    cls = tf.distribute.MirroredStrategy
    assert isinstance(cls._collective_key_base, int)
    extended = sys.modules[cls.__module__].MirroredExtended
    assert "_collective_key_base" in inspect.getsource(extended.__init__)
    before = cls._collective_key_base
    with kp.collective_key_base(cls, 12_345):
        assert cls._collective_key_base == 12_345
    assert cls._collective_key_base == before


def check_declared_variables() -> None:
    """A variable declared in `StatelessScope(initialize_variables=False)` waits in Keras's
    uninitialized-variables list until allocated; the list can be replaced."""
    before = kp.pending_variables()
    with keras.StatelessScope(initialize_variables=False):
        v = keras.Variable(keras.initializers.Constant(3.0), shape=(2,))
    pending = kp.pending_variables()
    assert any(p is v for p in pending)
    kp.set_pending_variables(before)
    assert not any(p is v for p in kp.pending_variables())
    kp.allocate_declared(v)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(v.value), [3.0, 3.0])


def check_keras_history_and_inbound_nodes() -> None:
    """A symbolic tensor names the layer that made it; a layer's inbound nodes hold the
    tensors it was called on."""
    model = _tiny_model()
    operation, node_index, _ = kp.keras_history(model.outputs[0])
    assert operation is model.get_layer("out") and node_index == 0
    assert kp.keras_history(model.outputs[0]).operation is operation
    (node,) = kp.inbound_nodes(operation)
    (tensor,) = node.input_tensors
    assert kp.keras_history(tensor).operation is model.get_layer("hidden")


def check_replace_build_map() -> None:
    """`keras.Model(inputs, outputs)` orders its graph with the replaced function."""
    calls, keras_own = [], {}

    def spy(inputs, outputs):
        calls.append(1)
        return keras_own["fn"](inputs, outputs)

    keras_own["fn"] = kp.replace_build_map(spy)
    try:
        assert callable(keras_own["fn"]), "keras.src.ops.function._build_map is gone"
        model = _tiny_model()
        assert calls and [la.name for la in model.layers][1:] == ["hidden", "out"]
    finally:
        if keras_own["fn"] is not None:
            kp.replace_build_map(keras_own["fn"])


def check_disable_tfds_gcs() -> None:
    """TFDS still has the module flag its GCS look-up checks."""
    from tensorflow_datasets.core.utils import gcs_utils

    assert isinstance(gcs_utils._is_gcs_disabled, bool)
    kp.disable_tfds_gcs()
    assert gcs_utils._is_gcs_disabled is True
    assert "_is_gcs_disabled" in inspect.getsource(gcs_utils)


CHECKS = [
    ("unscale_loss_for_distribution", check_unscale_loss_for_distribution,
     "keras.src.losses.loss.unscale_loss_for_distribution"),
    ("compute_loss, loss_tracker", check_compute_loss_and_loss_tracker,
     "keras.Model._compute_loss and ._loss_tracker"),
    ("distribute_strategy", check_distribute_strategy, "keras.Model._distribute_strategy"),
    ("element_spec, BuildFromElementSpec", check_element_spec_and_build_from_it,
     "the epoch iterator's data_adapter and keras.Model._symbolic_build"),
    pytest.param("BuildFromElementSpec", check_fit_calls_maybe_symbolic_build_once_and_traces_once,
                 "keras.Model.fit calling _maybe_symbolic_build", marks=pytest.mark.slow),
    ("flatten_layers", check_flatten_layers, "keras.Model._flatten_layers"),
    ("skip_gradient_all_reduce", check_skip_gradient_all_reduce,
     "the TF optimizer's _all_reduce_sum_gradients"),
    ("in_multi_worker_mode", check_in_multi_worker_mode,
     "TensorFlow's CollectiveAllReduceExtended._in_multi_worker_mode"),
    ("collective_key_base", check_collective_key_base,
     "TensorFlow's MirroredStrategy._collective_key_base"),
    ("pending_variables, set_pending_variables, allocate_declared", check_declared_variables,
     "keras.src global_state 'uninitialized_variables' and Variable._deferred_initialize"),
    ("keras_history, inbound_nodes", check_keras_history_and_inbound_nodes,
     "KerasTensor._keras_history and Operation._inbound_nodes"),
    ("replace_build_map", check_replace_build_map,
     "keras.src.ops.function._build_map (and keras.src.models.functional's import of it)"),
    ("disable_tfds_gcs", check_disable_tfds_gcs,
     "tensorflow_datasets.core.utils.gcs_utils._is_gcs_disabled"),
]


@pytest.mark.parametrize(("name", "check", "relies_on"), CHECKS)
def test_private_keras_api_still_behaves_as_relied_on(name, check, relies_on):
    try:
        check()
    except Exception as e:  # noqa: BLE001 - any failure is reported the same way
        pytest.fail(f"Keras {keras.__version__} / TensorFlow {tf.__version__} broke "
                    f"keras_private.{name}: it relies on {relies_on} ({type(e).__name__}: "
                    f"{e}). Fix resnet_studio/core/keras_private.py for this version, or "
                    f"go back to the versions in requirements.lock.")
