"""Run by tests/core/test_distribute.py in a subprocess (the CPU is split into two logical
devices before TensorFlow starts, which the pytest process must not see).

Prints one JSON line: the mirrored-vs-single-device comparison of a short resnet8-digits run,
the loss-scaled norms check, and what Keras does in the code paths distribute.py works
around.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def train(strategy: str, devices: str, root: Path) -> dict:
    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.training import events as ev
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig

    losses, norms = [], []

    def observe(e: object) -> None:
        if isinstance(e, ev.BatchEnd):
            losses.append(e.loss)
        elif isinstance(e, ev.GradNorms):
            norms.append(e.norms)

    spec = load_preset("resnet8-digits")
    # 256 examples per split, batches of 32: 8 steps.
    cfg = TrainingConfig.from_sources(spec.training, {
        "epochs": 1, "batch_size": 32, "optimizer": "sgd", "learning_rate": 0.05,
        "strategy": strategy, "devices": devices})
    trainer = Trainer(spec, "digits", cfg, run_dir=root / strategy, observer=observe,
                      limit=256)
    result = trainer.run()
    return {"result": result.to_dict(), "losses": np.array(losses), "norms": np.array(norms),
            "weights": trainer.model.get_weights(), "replicas": trainer.distribution.replicas,
            "synchronized": sum(bool(getattr(layer, "synchronized", False))
                                for layer in trainer.model.layers)}


def loss_scale_check() -> dict:
    """A LossScaleOptimizer under MirroredStrategy: the norms are unscaled and the update is
    the single-device one (no second all-reduce)."""
    import keras
    import tensorflow as tf

    from resnet_studio.core.training.monitored import GRAD_NORMS_KEY, MonitoredModel, layer_groups

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = rng.normal(size=(16, 2)).astype("float32")
    out = {}
    from resnet_studio.core.training.distribute import make_distribution

    # The Trainer's strategy (one per device set and process: see distribute.py).
    mirrored = make_distribution("mirrored", "CPU:0,CPU:1").strategy
    for name, strategy in (("single", None), ("mirrored", mirrored)):
        keras.utils.set_random_seed(1)
        scope = strategy.scope() if strategy else tf.name_scope("single")
        with scope:
            inp = keras.Input((4,))
            model = MonitoredModel(inp, keras.layers.Dense(2, name="dense")(inp))
            model.set_layer_groups(layer_groups(model, {}))
            opt = keras.optimizers.SGD(0.1)
            if strategy:
                opt = keras.optimizers.LossScaleOptimizer(opt, initial_scale=1024.0)
            model.compile(optimizer=opt, loss="mse")
        before = [w.copy() for w in model.get_weights()]
        seen: list[np.ndarray] = []
        cb = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda b, logs, seen=seen: seen.append(
                np.asarray(logs[GRAD_NORMS_KEY])))
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=0,
                  callbacks=[cb])
        out[name] = (seen[0], [a - b for a, b in zip(model.get_weights(), before, strict=True)])
    return {"norm_diff": float(np.abs(out["single"][0] - out["mirrored"][0]).max()),
            "norm": float(out["single"][0][0]),
            "update_diff": max(float(np.abs(a - b).max())
                               for a, b in zip(out["single"][1], out["mirrored"][1], strict=True))}


def keras_behaviour() -> dict:
    """What Keras 3 does where distribute.py works around it (see its docstring)."""
    import keras
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as kt

    from resnet_studio.core.training.distribute import make_distribution

    strategy = make_distribution("mirrored", "CPU:0,CPU:1").strategy
    # 1. _maybe_symbolic_build MEAN-reduces a data batch across replicas.
    with strategy.scope():
        plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        plain.compile(optimizer="sgd", loss="mse")
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((8, 4), "float32"),
                                             np.zeros((8, 2), "float32"))).batch(4)
    reductions: list[str] = []
    original = strategy.reduce

    def spy(op: object, value: object, axis: object) -> object:
        reductions.append(str(op))
        return original(op, value, axis=axis)

    strategy.reduce = spy
    plain._maybe_symbolic_build(iterator=kt.TFEpochIterator(x=ds, distribute_strategy=strategy))
    strategy.reduce = original
    # 2. In multi-worker mode, logs are reduced with reduce(MEAN, v, axis=0): scalars fail,
    # a leading axis of 1 comes back off.
    predicate = kt._collective_all_reduce_multi_worker
    kt._collective_all_reduce_multi_worker = lambda s: True
    try:
        def logs(shape: tuple[int, ...]) -> object:
            return strategy.run(lambda: tf.ones(shape))

        try:
            kt.reduce_per_replica(logs(()), strategy, "auto")
            scalar = "ok"
        except Exception as e:  # noqa: BLE001 - what fails is the point
            scalar = type(e).__name__
        shapes = [list(kt.reduce_per_replica(logs(s), strategy, "auto").shape)
                  for s in ((1,), (1, 3))]
    finally:
        kt._collective_all_reduce_multi_worker = predicate
    return {"symbolic_build_reductions": reductions, "scalar_log": scalar,
            "expanded_log_shapes": shapes}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # Mirrored first: the Trainer splits the CPU into CPU:0 and CPU:1 itself, which is
        # only possible before TensorFlow starts.
        mirrored = train("mirrored", "CPU:0,CPU:1", root)
        single = train("default", "", root)
    out = {
        "replicas": [single["replicas"], mirrored["replicas"]],
        "synchronized_bn": mirrored["synchronized"],
        "steps": [len(single["losses"]), len(mirrored["losses"])],
        "status": [single["result"]["status"], mirrored["result"]["status"]],
        "device": mirrored["result"]["device"],
        "test_accuracy": [single["result"]["test"]["accuracy"],
                          mirrored["result"]["test"]["accuracy"]],
        "max_loss_diff": float(np.abs(single["losses"] - mirrored["losses"]).max()),
        "max_norm_rel_diff": float((np.abs(single["norms"] - mirrored["norms"])
                                    / np.maximum(single["norms"], 1e-12)).max()),
        "max_weight_diff": max(float(np.abs(a - b).max())
                               for a, b in zip(single["weights"], mirrored["weights"],
                                               strict=True)),
        "loss_scale": loss_scale_check(),
        "keras": keras_behaviour(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
