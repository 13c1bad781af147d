"""Faults users meet, and what they see: a model too large for memory (refused before a weight
is allocated), out of memory and non-finite gradients during training, missing or unreadable
data, a preset that cannot take the dataset, and a full disk during export. The CLI answers
bad input with exit 2 and a message naming the file or field, a failed run with exit 1 and the
reason, never with a traceback; the run folder keeps a consistent state. Also the pieces exact
resume rests on: per-epoch training streams and cutting records back to a checkpoint.

docs/reliability.md maps every fault to its test.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
import resource
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_studio.cli import main
from resnet_studio.core import builder
from resnet_studio.core.builder import (
    MAX_PARAMS_ENV,
    ModelTooLargeError,
    _pending_variables,
    build_model,
    summarize,
)
from resnet_studio.core.data import load_dataset, training_stream
from resnet_studio.core.presets import load_preset
from resnet_studio.core.runs import (
    read_gradients,
    read_metrics,
    read_run,
    truncate_records,
)
from resnet_studio.core.spec import SpecError, load_spec, save_spec, spec_from_dict
from resnet_studio.core.training import monitored
from resnet_studio.core.training.monitored import MonitoredModel
from resnet_studio.core.training.trainer import Trainer
from resnet_studio.core.training_config import TrainingConfig

# Every value is within its own range, yet the dense layer after flattening a 16384² image of
# 65,536 channels would hold 1.15e18 weights (4.6 EB): only the size limit can refuse it.
HUGE = {"name": "huge", "input": {"kind": "image", "shape": [16384, 16384, 3]},
        "blocks": [{"type": "conv", "params": {"filters": 65536}}, {"type": "flatten"},
                   {"type": "dense", "params": {"units": 65536}}]}
MLP = {"name": "tiny-mlp", "input": {"kind": "image", "shape": [8, 8, 1]},
       "blocks": [{"type": "flatten"}, {"type": "dense", "params": {"units": 16,
                                                                     "activation": "relu"}},
                  {"type": "classifier_head", "params": {"classes": 10}}]}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# --------------------------------------------------------------------------- files
def test_a_huge_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * 9_000_000)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value) == f"{path}: file is 9,000,000 bytes; a preset is at most 8,388,608"


def test_every_row_of_docs_reliability_points_at_a_real_test():
    root = Path(__file__).resolve().parents[2]
    text = (root / "docs" / "reliability.md").read_text(encoding="utf-8")
    cited = set(re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", text))
    assert len(cited) > 50
    missing = [f"{f}::{name}" for f, name in sorted(cited)
               if not (root / f).is_file()
               or f"def {name}(" not in (root / f).read_text(encoding="utf-8")]
    assert missing == []
    rows = [line for line in text.splitlines()
            if line.startswith("| ") and not line.startswith(("| Fault", "|---"))]
    assert rows and all("`tests/" in row for row in rows)  # every fault names its test


# --------------------------------------------------------------------------- size limit
def test_a_model_too_large_for_memory_is_refused_before_allocation():
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    with pytest.raises(ModelTooLargeError) as caught:
        build_model(spec_from_dict(HUGE))
    e = caught.value
    assert time.monotonic() - start < 60
    assert e.params == 1_152_921_504_608_681_984 and e.limit == builder.DEFAULT_MAX_PARAMS
    assert str(e).startswith("blocks[2]: the model would have 1,152,921,504,608,681,984 "
                             "parameters (4.6 EB of float32 weights")
    assert "limit of 2,000,000,000" in str(e) and "(dense 'dense')" in str(e)
    assert "--max-params N or RESNET_STUDIO_MAX_PARAMS=N" in str(e)
    # Nothing was allocated, and nothing is left declared for Keras to allocate later: the
    # next symbolic Keras op ends an outermost StatelessScope, which allocates leftovers.
    assert _pending_variables() == []
    keras.layers.Dense(2)(keras.Input((3,)))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 500_000  # KB
    assert build_model(load_preset("resnet8-digits")).summary.total_params == 77_754


def test_the_limit_comes_from_the_caller_or_the_environment(monkeypatch):
    spec = load_preset("resnet8-digits")  # 77,754 parameters
    monkeypatch.setenv(MAX_PARAMS_ENV, "5e4")
    with pytest.raises(ModelTooLargeError, match=r"limit of 50,000; this block \(basic_block "
                                                 r"'stage3'\) has 57,728"):
        summarize(spec)
    assert summarize(spec, max_params=10**6).total_params == 77_754
    monkeypatch.setenv(MAX_PARAMS_ENV, "100_000")
    assert build_model(spec).summary.total_params == 77_754
    monkeypatch.setenv(MAX_PARAMS_ENV, "lots")
    with pytest.raises(SpecError, match="RESNET_STUDIO_MAX_PARAMS: expected a positive whole "
                                        "number of parameters, such as 2e9"):
        summarize(spec)


def test_declared_then_allocated_weights_equal_an_eager_keras_build():
    """Pins the Keras behaviour the size check relies on (builder.DeclaredVariables): a build
    whose variables are declared first and allocated after the check gives exactly the
    weights of an ordinary eager build with the same seed, and the same summary."""
    spec = load_preset("transformer-mnist1d")  # keras-hub layers, attention, layer norms
    keras.utils.set_random_seed(7)
    built = build_model(spec)
    keras.utils.set_random_seed(7)
    ctx = builder.BuildContext(builder.Binding(), spec.input.vocab_size,
                               builder._residual_units(spec.blocks), builder.block_names(spec))
    inputs = keras.Input(shape=spec.input.shape, name="input")
    eager = keras.Model(inputs, builder.build_blocks(ctx, inputs, spec.blocks, ""))
    got, want = built.model.get_weights(), eager.get_weights()
    assert len(got) == len(want) > 20
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
    assert summarize(spec).to_dict() == built.summary.to_dict()


def test_cli_refuses_a_too_large_model_naming_file_and_block(capsys, tmp_path):
    path = tmp_path / "huge.json"
    save_spec(spec_from_dict(HUGE), path)
    for command in ("summary", "validate"):
        code, _, err = run_cli(capsys, command, str(path))
        assert code == 2 and str(path) in err and "blocks[2]" in err
        assert "1,152,921,504,608,681,984 parameters" in err, err
    code, out, err = run_cli(capsys, "summary", "resnet8-digits", "--max-params", "5e4", "--json")
    assert code == 2 and "resnet8-digits: blocks[3]: the model would have 77,754" in err
    assert json.loads(out.strip().splitlines()[-1])["kind"] == "bad_input"
    code, _, err = run_cli(capsys, "validate", "resnet8-digits", "--max-params", "lots")
    assert code == 2 and "--max-params: expected a positive whole number" in err
    # train: refused before a run folder exists.
    root = tmp_path / "runs"
    code, _, err = run_cli(capsys, "train", "resnet8-digits", "--max-params", "50000",
                           "--runs-root", str(root))
    assert code == 2 and "resnet8-digits on digits: blocks[3]" in err
    assert not root.exists()


# --------------------------------------------------------------------------- training faults
@pytest.mark.slow
def test_out_of_memory_fails_the_run_suggesting_a_smaller_batch(capsys, tmp_path, monkeypatch):
    def exhausted(self, *args, **kwargs):
        raise tf.errors.ResourceExhaustedError(
            None, None, "OOM when allocating tensor with shape[32,64,224,224] and type float")

    monkeypatch.setattr(MonitoredModel, "fit", exhausted)
    run_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "resnet8-digits", "--limit", "64", "--epochs",
                             "1", "--run-dir", str(run_dir), "--json")
    message = ("out of memory with batch size 32: try a smaller batch (--batch-size 16) or a "
               "smaller model")
    assert code == 1 and f"run failed: {message}" in err, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "failed" and result["error"] == message
    assert result["failure"]["exception"] == "ResourceExhaustedError"
    run = read_run(run_dir)
    assert run.status == "failed" and run.meta["error"] == message


@pytest.mark.slow
def test_a_non_finite_gradient_fails_the_run_naming_step_and_layer(tmp_path, monkeypatch):
    """A gradient that turns non-finite while the loss stays finite (injected into the
    per-layer norms of step 3, layer 2) stops the run at that step, naming the layer."""
    real = monitored.group_norms
    calls = tf.Variable(0, dtype=tf.int64)

    def poisoned(grads, groups):
        norms = real(grads, groups)
        calls.assign_add(1)
        return tf.cond(tf.equal(calls, 3),
                       lambda: tf.tensor_scatter_nd_update(norms, [[1]], [np.inf]),
                       lambda: norms)

    monkeypatch.setattr(monitored, "group_norms", poisoned)
    cfg = TrainingConfig.from_sources({"epochs": 2, "batch_size": 16})
    result = Trainer(spec_from_dict(MLP), "digits", cfg, run_dir=tmp_path / "run",
                     limit=96).run()
    assert result.status == "failed"
    assert result.error.startswith("non-finite gradient at step 3 (epoch 1, batch 3) in layer "
                                   "classifier_head_logits. Training stopped")
    assert result.failure == {"step": 3, "epoch": 1, "batch": 3,
                              "layers": ["classifier_head_logits"]}
    assert [r["step"] for r in read_metrics(tmp_path / "run") if r["kind"] == "batch"] == \
        [1, 2, 3]
    assert read_run(tmp_path / "run").meta["failure"]["step"] == 3


@pytest.mark.parametrize("dataset, fragments", [
    ("npz:/nonexistent/data.npz", ["no file /nonexistent/data.npz",
                                   "Give an .npz with arrays x_train, y_train, x_test, y_test"]),
    ("npz:{tmp}/garbage.npz", ["garbage.npz is not an .npz archive",
                               "Write one with numpy.savez(path, x_train=..."]),
    ("folder:{tmp}/nowhere", ["nowhere"]),
    ("digitz", ["Unknown dataset 'digitz'", "digits, mnist1d"]),
    # The preset reads images; the corpus gives token ids: refused before training starts.
    ("python-docs", ["resnet8-digits on python-docs: blocks[0]: conv_stem 'stem': expects",
                     "(None, 128)"]),
])
def test_missing_unreadable_or_unsuitable_data_is_exit_2_before_a_run_exists(
        capsys, tmp_path, dataset, fragments):
    (tmp_path / "garbage.npz").write_bytes(b"\x00garbage, not a zip archive")
    root = tmp_path / "runs"
    code, _, err = run_cli(capsys, "train", "resnet8-digits", "--dataset",
                           dataset.format(tmp=tmp_path), "--limit", "64", "--runs-root",
                           str(root))
    assert code == 2, err
    for fragment in fragments:
        assert fragment in err, err
    assert not root.exists()


# --------------------------------------------------------------------------- export faults
def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_export_faults_leave_no_partial_output_and_the_run_untouched(capsys, tmp_path,
                                                                     monkeypatch):
    run_dir = tmp_path / "run"
    cfg = TrainingConfig.from_sources({"epochs": 1, "batch_size": 32})
    assert Trainer(spec_from_dict(MLP), "digits", cfg, run_dir=run_dir,
                   limit=64).run().status == "completed"
    before = _tree_digest(run_dir)

    real_write = zipfile._ZipWriteFile.write

    def full_disk(self, data):
        real_write(self, bytes(data)[:10])  # part of it reaches the disk, then it is full
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "exports" / "model.keras"
    monkeypatch.setattr(zipfile._ZipWriteFile, "write", full_disk)
    code, _, err = run_cli(capsys, "export", str(run_dir), "--format", "keras", "--out",
                           str(out))
    assert code == 2 and f"disk full while writing {out}" in err, err
    assert not out.parent.exists()  # not even the folder it created for the file
    monkeypatch.setattr(zipfile._ZipWriteFile, "write", real_write)

    out.parent.mkdir()
    out.write_bytes(b"an earlier export")
    code, _, err = run_cli(capsys, "export", str(run_dir), "--format", "keras", "--out",
                           str(out))
    assert code == 2 and "exists; pass --force to replace it" in err
    assert "overwrite=True" not in err
    assert out.read_bytes() == b"an earlier export"
    assert _tree_digest(run_dir) == before  # exports never touch the run folder

    # A run that never reached a checkpoint: exit 2 before TensorFlow builds anything.
    early = tmp_path / "early"
    early.mkdir()
    (early / "run.json").write_text(json.dumps({"status": "failed"}))
    for argv in (["export", str(early), "--format", "keras", "--out", str(out)],
                 ["evaluate", str(early)]):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and "no checkpoint" in err


# --------------------------------------------------------------------------- resume pieces
def _labels(ds) -> list[np.ndarray]:
    return [y.numpy() for _, y in ds]


def test_training_stream_epochs_depend_on_seed_and_epoch_only():
    """Bit-exact, within one machine (every stream is made in this process)."""
    data = load_dataset("synthetic-images", seed=0, limit=40)
    kw = {"batch_size": 16, "seed": 3, "augment": ["pad_crop", "flip"]}
    keras.utils.set_random_seed(0)
    full = list(training_stream(data, end_epoch=3, **kw))
    assert [len(y) for _, y in full] == [16, 16, 8] * 3  # epochs never share a batch
    tf.random.set_seed(12345)  # another global seed, and a stream iterated before
    stream = training_stream(data, start_epoch=1, end_epoch=3, skip_examples=16, **kw)
    list(stream)
    rest = list(stream)
    assert len(rest) == 5
    for (xa, ya), (xb, yb) in zip(full[4:], rest, strict=True):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)  # the same augmentation draws
    assert not np.array_equal(np.concatenate(_labels(full[0:3])),
                              np.concatenate(_labels(full[3:6])))  # a new order each epoch
    other = list(training_stream(data, end_epoch=1, **{**kw, "seed": 4}))
    assert not np.array_equal(full[0][1], other[0][1])
    # The per-epoch seeding is local to the stream's functions: the global seed is intact.
    assert tf.random.uniform([], seed=1).numpy() == pytest.approx(
        _uniform_after_global_seed(12345))


def _uniform_after_global_seed(seed: int) -> float:
    tf.random.set_seed(seed)
    return float(tf.random.uniform([], seed=1).numpy())


def test_truncate_records_cuts_a_killed_runs_tail_back_to_the_checkpoint(tmp_path):
    gdir = tmp_path / "gradients"
    gdir.mkdir()
    (gdir / "layers.json").write_text(json.dumps({"layers": ["a", "b"], "blocks": ["x", "y"]}))
    record = np.dtype([("step", "<i8"), ("norms", "<f4", (2,))])
    arr = np.zeros(10, dtype=record)
    arr["step"] = np.arange(1, 11)
    (gdir / "norms.bin").write_bytes(arr.tobytes() + b"\x01\x02")  # a torn 11th record
    lines = [json.dumps({"kind": "batch", "step": s, "loss": 1.0}) for s in range(1, 11)]
    lines.insert(5, json.dumps({"kind": "epoch", "epoch": 1, "step": 5}))
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + '\n{"kind": "batch", "st')

    truncate_records(tmp_path, 6)
    records = read_metrics(tmp_path)
    assert [(r["kind"], r["step"]) for r in records] == \
        [("batch", 1), ("batch", 2), ("batch", 3), ("batch", 4), ("batch", 5), ("epoch", 5),
         ("batch", 6)]
    _, _, steps, _ = read_gradients(tmp_path)
    assert steps.tolist() == [1, 2, 3, 4, 5, 6]
    assert (gdir / "norms.bin").stat().st_size == 6 * record.itemsize
    assert sorted(p.name for p in gdir.iterdir()) == ["layers.json", "norms.bin"]
