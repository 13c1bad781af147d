"""Training engine: gradient norms against an independent GradientTape, control from another
thread, non-finite faults, the run folder, language models."""

from __future__ import annotations

import json
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_studio.core.builder import build_model
from resnet_studio.core.presets import load_preset
from resnet_studio.core.runs import list_runs, read_gradients, read_metrics, read_run
from resnet_studio.core.spec import spec_from_dict
from resnet_studio.core.training import events as ev
from resnet_studio.core.training.monitored import GRAD_NORMS_KEY, MonitoredModel, layer_groups
from resnet_studio.core.training.trainer import Trainer
from resnet_studio.core.training_config import TrainingConfig

VECTOR_SPEC = {
    "name": "tiny-mlp", "input": {"kind": "vector", "shape": [8]},
    "blocks": [{"type": "dense", "params": {"units": 16, "activation": "relu"}},
               {"type": "residual_dense", "params": {"units": 16, "repeat": 2}},
               {"type": "classifier_head", "params": {"classes": 2}}],
}


class Recorder:
    """Observer keeping every event; optional hook called in the training thread."""

    def __init__(self, hook=None):
        self.events: list[ev.Event] = []
        self.hook = hook

    def __call__(self, event):
        self.events.append(event)
        if self.hook:
            self.hook(event)

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]


@pytest.mark.slow
def test_gradient_norms_equal_an_independent_gradient_tape():
    keras.utils.set_random_seed(3)
    built = build_model(load_preset("resnet8-digits"))
    model = MonitoredModel(inputs=built.model.inputs, outputs=built.model.outputs)
    groups = layer_groups(model, built.layer_block)
    model.set_layer_groups(groups)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 10, size=16).astype("int32")

    # Independent computation on a clone holding the same weights, before the step.
    clone = keras.Model.from_config(built.model.get_config())
    clone.set_weights(model.get_weights())
    with tf.GradientTape() as tape:
        logits = clone(x, training=True)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    grads = tape.gradient(loss, clone.trainable_weights)
    by_var = {id(v): g for v, g in zip(clone.trainable_weights, grads, strict=True)}
    expected = []
    for layer in clone.layers:
        if layer.trainable_weights:
            expected.append(np.sqrt(sum(float(tf.reduce_sum(tf.square(by_var[id(v)])))
                                        for v in layer.trainable_weights)))

    seen = {}

    class Grab(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen["norms"] = np.asarray(logs[GRAD_NORMS_KEY])

    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[Grab()])
    assert [g.layer for g in groups] == [la.name for la in clone.layers if la.trainable_weights]
    assert len(expected) == len(groups) == 19
    np.testing.assert_allclose(seen["norms"], expected, rtol=2e-4)
    assert np.all(seen["norms"] > 0)


def small_config(**kw) -> TrainingConfig:
    base = {"epochs": 2, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.003}
    return TrainingConfig.from_sources({**base, **kw})


@pytest.mark.slow
def test_a_run_writes_its_folder_and_emits_events(tmp_path):
    rec = Recorder()
    trainer = Trainer(load_preset("resnet8-digits"), "synthetic-images", small_config(),
                      run_dir=tmp_path / "run", observer=rec, limit=96)
    result = trainer.run()
    assert result.status == "completed", result.error
    (started,) = rec.of(ev.Started)
    steps_per_epoch = 3  # 96 examples / 32
    assert started.steps_per_epoch == steps_per_epoch
    assert started.summary["input_shape"] == [None, 16, 16, 3]  # bound to the data
    batches = rec.of(ev.BatchEnd)
    assert [b.step for b in batches] == list(range(1, 2 * steps_per_epoch + 1))
    norms = rec.of(ev.GradNorms)
    assert len(norms) == len(batches)
    assert all(n.norms.shape == (len(started.layers),) for n in norms)
    assert [e.epoch for e in rec.of(ev.EpochEnd)] == [1, 2]
    (finished,) = rec.of(ev.Finished)
    assert finished.status == "completed" and 0 <= finished.test["accuracy"] <= 1
    assert np.array(finished.test["confusion_matrix"]).sum() == finished.test["examples"]

    run = read_run(tmp_path / "run")
    assert run.status == "completed"
    assert run.meta["epochs_completed"] == 2 and run.meta["device"] == "CPU"
    assert {"tensorflow", "keras"} <= set(run.meta["versions"])
    records = read_metrics(tmp_path / "run")
    assert [r["step"] for r in records if r["kind"] == "batch"] == list(range(1, 7))
    assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1, 2]
    layers, blocks, steps, grads = read_gradients(tmp_path / "run")
    assert layers == started.layers and blocks == started.layer_blocks
    assert steps.tolist() == list(range(1, 7))
    np.testing.assert_allclose(grads[-1], norms[-1].norms)
    assert (tmp_path / "run" / "checkpoints" / "last" / "optimizer.npz").exists()
    assert json.loads((tmp_path / "run" / "final.json").read_text())["test"]["accuracy"] == \
        finished.test["accuracy"]
    assert any(p.name.startswith("events.out.tfevents")
               for p in (tmp_path / "run" / "tensorboard").iterdir())
    assert [r.dir for r in list_runs(tmp_path)] == [tmp_path / "run"]


@pytest.mark.slow
def test_stop_pause_and_resume_from_another_thread(tmp_path):
    paused_at = threading.Event()
    held: list[tuple[int, int]] = []

    def hook(event):
        if isinstance(event, ev.BatchEnd) and event.step == 3:
            control_thread.start()
        if isinstance(event, ev.Log) and event.message.startswith("Paused"):
            paused_at.set()

    def control():
        try:
            trainer.pause()
            if paused_at.wait(60):
                before = len(rec.of(ev.BatchEnd))
                # While paused no batch may run: nothing arrives in this window.
                threading.Event().wait(0.5)
                held.append((before, len(rec.of(ev.BatchEnd))))
            trainer.resume()
        finally:
            trainer.request_stop()  # never leave the training thread waiting

    control_thread = threading.Thread(target=control)
    rec = Recorder(hook)
    trainer = Trainer(load_preset("resnet8-digits"), "synthetic-images",
                      small_config(epochs=50, batch_size=16), run_dir=tmp_path / "run",
                      observer=rec, limit=256)
    result = trainer.run()
    control_thread.join()
    assert result.status == "stopped"
    assert held and held[0][0] == held[0][1] >= 3  # the step count held still
    assert result.steps < 50 * 16  # stopped long before the end
    assert read_run(tmp_path / "run").status == "stopped"
    state = json.loads((tmp_path / "run" / "checkpoints" / "last" / "state.json").read_text())
    assert state["step"] == result.steps  # the checkpoint is the stopping point


def _checkpoint_bytes(folder):
    return {f.relative_to(folder).as_posix(): f.read_bytes()
            for f in sorted(folder.rglob("*")) if f.is_file()}


@pytest.mark.slow
def test_nan_in_the_data_fails_the_run_naming_the_step(tmp_path):
    """The promise, whichever of the loss or a gradient turns non-finite first: the run
    fails, the message names the step and the loss or the layer, and the last good checkpoint
    is kept as it was. Which comes first is the CPU's business: the cross-entropy's clip uses
    x86 min/max, whose answer for a NaN operand depends on the operand order the compiled
    kernel picked (AVX-512 and AVX2 paths differ), so a NaN input gives a NaN loss on one
    machine and a finite loss with NaN gradients on another."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    path = tmp_path / "data.npz"
    run_dir = tmp_path / "run"
    # Epoch 1 on clean data leaves a good checkpoint; epoch 2 then meets a NaN.
    np.savez(path, x_train=x, y_train=y, x_test=x[:16].copy() * 0, y_test=y[:16])
    first = Trainer(spec_from_dict(VECTOR_SPEC), f"npz:{path}",
                    small_config(epochs=1, batch_size=8, validation_fraction=0.0),
                    run_dir=run_dir).run()
    assert first.status == "completed", first.error
    good = _checkpoint_bytes(run_dir / "checkpoints" / "last")
    assert good

    x[5, 3] = np.nan
    np.savez(path, x_train=x, y_train=y, x_test=x[:16].copy() * 0, y_test=y[:16])
    rec = Recorder()
    trainer = Trainer(spec_from_dict(VECTOR_SPEC), f"npz:{path}",
                      small_config(epochs=2, batch_size=8, validation_fraction=0.0),
                      run_dir=run_dir, observer=rec, resume=True)
    result = trainer.run()
    assert result.status == "failed"
    step = result.failure["step"]
    assert 9 <= step <= 16  # within the second epoch (64 / 8 batches each)
    assert f"step {step}" in result.error
    layers = result.failure["layers"]
    model_layers = {g.layer for g in trainer.groups}
    assert set(layers) <= model_layers
    if "non-finite loss" not in result.error:  # then a gradient came first: which layer?
        assert "non-finite gradient" in result.error and layers and layers[0] in result.error
    assert "last good checkpoint is kept" in result.error
    records = [r for r in read_metrics(run_dir) if r["kind"] == "batch"]
    assert [r["step"] for r in records][-1] == step
    assert all(np.isfinite(r["loss"]) for r in records if r["step"] < step)
    run = read_run(run_dir)
    assert run.status == "failed" and "non-finite" in run.meta["error"]
    # The epoch-1 checkpoint, byte for byte: nothing non-finite was written over it.
    assert _checkpoint_bytes(run_dir / "checkpoints" / "last") == good
    assert rec.of(ev.Finished)[0].status == "failed"


@pytest.mark.slow
def test_language_model_run_reports_perplexity(tmp_path):
    spec = spec_from_dict({
        "name": "tiny-gpt", "input": {"kind": "tokens", "shape": [16], "vocab_size": 8},
        "blocks": [{"type": "token_embedding", "params": {"embed_dim": 16}},
                   {"type": "transformer_decoder", "params": {"num_heads": 2,
                                                              "intermediate_dim": 32}},
                   {"type": "lm_head", "params": {}}]})
    result = Trainer(spec, "python-docs", small_config(epochs=1, batch_size=16),
                     run_dir=tmp_path / "run", limit=48).run()
    assert result.status == "completed", result.error
    test = result.test
    assert test["perplexity"] == pytest.approx(np.exp(test["loss"]), rel=1e-6)
    # Bound to the corpus: the head has one logit per character of the vocabulary.
    arch = json.loads((tmp_path / "run" / "architecture.json").read_text())
    assert arch["input"]["vocab_size"] > 50


def test_a_running_run_whose_process_is_gone_reads_as_interrupted(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    import socket

    (run / "run.json").write_text(json.dumps({"status": "running", "pid": 2**22 + 12345,
                                              "host": socket.gethostname(), "started": "x"}))
    assert read_run(run).status == "interrupted"
