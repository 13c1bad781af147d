"""Logic behind the monitoring-overhead fixes (benchmarks/bench_overhead.py): the learning
rate leaves the train step in its logs instead of being read from the optimizer per batch,
and the run's TensorBoard scalars are written as protos instead of eager tf.summary calls.
Both must give exactly what the slow way gave."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator

from resnet_studio.core.builder import build_model
from resnet_studio.core.presets import load_preset
from resnet_studio.core.runs.writer import RunWriter
from resnet_studio.core.training.events import BatchEnd, EpochEnd
from resnet_studio.core.training.monitored import NEXT_LR_KEY, MonitoredModel, layer_groups
from resnet_studio.core.training.optim import current_lr
from resnet_studio.core.training.trainer import Trainer
from resnet_studio.core.training_config import TrainingConfig


@pytest.mark.slow
def test_next_lr_in_the_logs_is_what_the_optimizer_reports_after_the_step():
    keras.utils.set_random_seed(0)
    built = build_model(load_preset("resnet8-digits"))
    model = MonitoredModel(inputs=built.model.inputs, outputs=built.model.outputs)
    model.set_layer_groups(layer_groups(model, built.layer_block))
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=6, warmup_target=0.1,
                                                      warmup_steps=3)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 10, size=48).astype("int32")
    seen: list[tuple[float, float]] = []

    class Grab(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((float(logs[NEXT_LR_KEY]), current_lr(self.model.optimizer)))

    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[Grab()])
    assert len(seen) == 6
    assert len({a for a, _ in seen}) > 3  # the schedule moved: warm-up, then decay
    for in_logs, read in seen:
        assert in_logs == pytest.approx(read, rel=1e-6, abs=1e-12)


def _tensors(logdir) -> dict[str, list[tuple[int, float, str]]]:
    ea = event_accumulator.EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    ea.Reload()
    out = {}
    for tag in ea.Tags()["tensors"]:
        plugin = ea.SummaryMetadata(tag).plugin_data.plugin_name
        out[tag] = [(e.step, float(tf.make_ndarray(e.tensor_proto)), plugin)
                    for e in ea.Tensors(tag)]
    return out


def test_tensorboard_scalars_equal_what_tf_summary_scalar_writes(tmp_path):
    layers = ["stem_conv", "stage1_0_bn", "héad"]
    writer = RunWriter(tmp_path / "run", {"id": "x"}, {}, layers, ["a", "b", "c"])
    rng = np.random.default_rng(0)
    reference = tf.summary.create_file_writer(str(tmp_path / "reference"))
    with reference.as_default():
        for step in range(1, 41):
            loss, norms = float(rng.random()), rng.random(3).astype(np.float32)
            norms[1] = np.nan if step == 7 else norms[1]
            writer.log({"kind": "batch", "step": step, "loss": loss, "lr": 0.1 / step})
            writer.log_gradients(step, norms)
            tf.summary.scalar("batch/loss", loss, step=step)
            tf.summary.scalar("batch/lr", 0.1 / step, step=step)
            for name, value in zip(layers, norms, strict=True):
                tf.summary.scalar(f"grad_norm/{name}", float(value), step=step)
            if step == 20:
                writer.flush(sync=False)  # two flushes: metadata is written once per tag
        writer.log({"kind": "epoch", "epoch": 1, "step": 40, "train_accuracy": 0.5,
                    "val_loss": 1.25})
        tf.summary.scalar("epoch/train_accuracy", 0.5, step=40)
        tf.summary.scalar("epoch/val_loss", 1.25, step=40)
    reference.close()
    writer.finish("completed")
    ours, theirs = _tensors(tmp_path / "run" / "tensorboard"), _tensors(tmp_path / "reference")
    assert sorted(ours) == sorted(theirs)
    for tag in theirs:
        assert [(s, p) for s, _, p in ours[tag]] == [(s, p) for s, _, p in theirs[tag]], tag
        np.testing.assert_array_equal([v for _, v, _ in ours[tag]],  # NaN equals NaN here
                                      [v for _, v, _ in theirs[tag]], err_msg=tag)


@pytest.mark.slow
def test_the_train_step_is_traced_once():
    """The optimizer and metric variables exist before the first trace (built from the data's
    element spec), so TensorFlow does not trace the train step a second time."""
    keras.utils.set_random_seed(0)
    built = build_model(load_preset("resnet8-digits"))
    traces = []

    class Counting(MonitoredModel):
        def train_step(self, data):
            traces.append(1)  # Python runs only while tracing
            return super().train_step(data)

    model = Counting(inputs=built.model.inputs, outputs=built.model.outputs)
    model.set_layer_groups(layer_groups(model, built.layer_block))
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 10, size=64).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16, drop_remainder=True)
    history = model.fit(data, validation_data=data, epochs=2, verbose=0, shuffle=False)
    assert len(traces) == 1
    assert np.isfinite(history.history["loss"]).all() and "val_accuracy" in history.history


@pytest.mark.slow
def test_validation_is_traced_while_preparing_and_only_once(tmp_path, monkeypatch):
    """Keras's test function is traced on one validation batch before the first training
    step (a trace in the first epoch's validation held the GIL long enough to freeze the
    GUI, benchmarks/bench_gui.py), and the epochs' validations reuse that trace."""
    order: list[str] = []
    original = MonitoredModel.test_step

    def counting(self, data):
        order.append("trace")  # Python runs only while tracing
        return original(self, data)

    monkeypatch.setattr(MonitoredModel, "test_step", counting)
    spec = load_preset("resnet8-digits")
    config = TrainingConfig.from_sources(spec.training, {"epochs": 3, "batch_size": 32})

    def observer(event):
        if isinstance(event, BatchEnd):
            order.append("step")
        elif isinstance(event, EpochEnd):
            order.append("epoch")

    result = Trainer(spec, "digits", config, run_dir=tmp_path / "run", observer=observer,
                     limit=96).run()
    assert result.status == "completed", result.error
    first_step, last_epoch = order.index("step"), len(order) - 1 - order[::-1].index("epoch")
    assert order.index("trace") < first_step
    assert order.count("epoch") == 3
    assert "trace" not in order[first_step:last_epoch + 1]  # three validations, no new trace
