"""Predictions and per-layer histograms of a run: the orders, counts and numbers the views
show, checked against independent computations (numpy's histogram of the checkpoint's
weights, Keras's `model.predict`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from resnet_studio.cli.main import main
from resnet_studio.core.runs.histograms import (
    EpochHistograms,
    Histogram,
    LayerHistograms,
    append_histograms,
    histogram,
    histograms_jsonl,
    read_histograms,
    truncate_histograms,
)
from resnet_studio.core.runs.predictions import (
    Predictions,
    load_predictions,
    misclassified_first,
    save_predictions,
)


# ----------------------------------------------------------------------------- pure parts
def test_misclassified_first_orders_wrong_by_confidence_then_right_in_test_order():
    y_true = np.array([0, 1, 2, 0, 1, 2, 0])
    y_pred = np.array([0, 2, 2, 1, 1, 0, 0])
    conf = np.array([0.9, 0.4, 0.8, 0.7, 0.6, 0.4, 0.5], np.float32)
    order = misclassified_first(y_true, y_pred, conf)
    # wrong: 1 (0.4), 3 (0.7), 5 (0.4) -> 3, then 1 and 5 (tie: test order); right: 0 2 4 6
    assert order.tolist() == [3, 1, 5, 0, 2, 4, 6]
    assert sorted(order.tolist()) == list(range(7))


def test_rows_follow_the_order_and_misclassified_only_stops_at_the_first_right():
    p = Predictions("r", "c", y_true=np.array([0, 1, 1]), y_pred=np.array([0, 0, 1]),
                    confidence=np.array([0.9, 0.6, 0.7], np.float32), order=np.array([1, 0, 2]),
                    samples=np.zeros((3, 2)), class_names=["cat", "dog"],
                    texts=["a", "b", "c"])
    rows = p.rows()
    assert [r["index"] for r in rows] == [1, 0, 2]
    assert rows[0] == {"index": 1, "true": 1, "true_name": "dog", "predicted": 0,
                       "predicted_name": "cat", "confidence": pytest.approx(0.6),
                       "correct": False, "n": 0, "text": "a"}
    assert [r["index"] for r in p.rows(misclassified_only=True)] == [1]
    assert p.misclassified == 1 and p.accuracy == pytest.approx(2 / 3)


def test_predictions_round_trip_through_the_run_folder(tmp_path):
    p = Predictions("r", "ckpt@3", y_true=np.array([2, 1]), y_pred=np.array([1, 1]),
                    confidence=np.array([0.5, 0.25], np.float32), order=np.array([0, 1]),
                    samples=np.arange(8, dtype=np.float32).reshape(2, 2, 2),
                    texts=["def f(): ...", "ünïcode"], class_names=None,
                    input_kind="tokens", notes=["n"])
    save_predictions(tmp_path, p)
    q = load_predictions(tmp_path)
    assert q is not None and q.checkpoint == "ckpt@3" and q.texts == p.texts
    np.testing.assert_array_equal(q.samples, p.samples)
    np.testing.assert_array_equal(q.confidence, p.confidence)
    assert q.input_kind == "tokens" and q.notes == ["n"]
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed


def test_histogram_counts_every_finite_value_and_reports_the_rest():
    v = np.array([[0.0, 1.0, 2.0], [np.nan, np.inf, 3.0]])
    h = histogram(v, 4)
    assert int(h.counts.sum()) == 4 and h.nonfinite == 2 and h.total == v.size
    assert h.edges[0] == 0.0 and h.edges[-1] == 3.0 and len(h.edges) == 5


def _record(epoch: int, step: int) -> EpochHistograms:
    h = Histogram(np.array([0.0, 1.0]), np.array([epoch]))
    return EpochHistograms(epoch, step, 4, (LayerHistograms("d", "b", "kernel", h, h),))


def test_histogram_records_drop_a_torn_line_and_truncate_for_a_resume(tmp_path):
    for e in (1, 2, 3):
        append_histograms(tmp_path, _record(e, 10 * e))
    with open(histograms_jsonl(tmp_path), "a", encoding="utf-8") as f:
        f.write('{"epoch": 4, "step": 40, "lay')  # killed mid-write
    assert [r.epoch for r in read_histograms(tmp_path)] == [1, 2, 3]
    truncate_histograms(tmp_path, 20)  # resumed from the checkpoint of step 20
    assert [r.epoch for r in read_histograms(tmp_path)] == [1, 2]
    append_histograms(tmp_path, _record(3, 30))
    records = read_histograms(tmp_path)
    assert [(r.epoch, r.step) for r in records] == [(1, 10), (2, 20), (3, 30)]
    assert records[0].layer("d").weights.counts.tolist() == [1]


# ----------------------------------------------------------------------------- a real run
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """resnet8-digits, 2 epochs on 240 digits."""
    run_dir = tmp_path_factory.mktemp("insight") / "run"
    assert main(["train", "resnet8-digits", "--epochs", "2", "--limit", "240",
                 "--run-dir", str(run_dir), "--json"]) == 0
    return run_dir


@pytest.mark.slow
def test_stored_histograms_are_those_of_the_checkpoint_weights_and_probe(tiny_run):
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.training.histograms import kernel_of, probe_batch
    from resnet_studio.core.training.restore import load_run_model

    records = read_histograms(tiny_run)
    assert [r.epoch for r in records] == [1, 2]
    assert records[1].step == read_run(tiny_run).meta["steps"]
    trainer, _ = load_run_model(read_run(tiny_run))  # the last (epoch 2) checkpoint
    model = trainer.model
    last = records[-1]
    assert [lh.layer for lh in last.layers] == [g.layer for g in trainer.groups]
    probe = probe_batch(trainer.val_ds)
    assert last.probe == len(probe) == 64
    for g, lh in zip(trainer.groups, last.layers, strict=True):
        var = kernel_of([model.trainable_weights[i] for i in g.indices])
        values = np.asarray(var.numpy(), np.float32)
        assert lh.weights.total == values.size
        counts, _ = np.histogram(values, bins=lh.weights.edges)
        np.testing.assert_array_equal(lh.weights.counts, counts)
        assert lh.weights.edges[0] == pytest.approx(values.min(), abs=1e-6)
        assert lh.weights.edges[-1] == pytest.approx(values.max(), abs=1e-6)
        out = np.asarray(model.get_layer(g.layer)(  # the layer's output on the probe
            _input_of(model, g.layer, probe), training=False))
        act = lh.activations
        assert act.total == out.size and act.nonfinite == 0
        assert act.edges[0] == pytest.approx(out.min(), rel=1e-4, abs=1e-4)
        assert act.edges[-1] == pytest.approx(out.max(), rel=1e-4, abs=1e-4)
        # binned in TensorFlow (float32): only values within rounding of an edge may differ
        numpy_counts, _ = np.histogram(out, bins=act.edges)
        assert np.abs(act.counts - numpy_counts).sum() <= max(2, out.size // 1000)
    # the two epochs differ: the weights moved
    assert records[0].layers[0].weights.edges[0] != last.layers[0].weights.edges[0]


def _input_of(model, layer_name, probe):
    import keras

    layer = model.get_layer(layer_name)
    return keras.Model(model.inputs, layer.input)(probe, training=False)


@pytest.mark.slow
def test_histograms_reach_tensorboard(tiny_run):
    from tensorboard.backend.event_processing.plugin_event_accumulator import (
        TENSORS,
        EventAccumulator,
    )
    from tensorboard.util import tensor_util

    acc = EventAccumulator(str(tiny_run / "tensorboard"), size_guidance={TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()["tensors"]
    assert "weights/stem_conv" in tags and "activations/stem_conv" in tags
    assert acc.SummaryMetadata("weights/stem_conv").plugin_data.plugin_name == "histograms"
    events = acc.Tensors("weights/stem_conv")
    records = read_histograms(tiny_run)
    assert [e.step for e in events] == [r.step for r in records]
    buckets = tensor_util.make_ndarray(events[-1].tensor_proto)  # [k, 3]: left, right, count
    stored = records[-1].layer("stem_conv").weights
    np.testing.assert_array_equal(buckets[:, 2], stored.counts)
    np.testing.assert_allclose(buckets[:, 0], stored.edges[:-1])
    assert acc.Tags()["tensors"].count("batch/loss") == 1  # the scalars are still there


@pytest.mark.slow
def test_predictions_equal_an_independent_predict_and_come_misclassified_first(tiny_run,
                                                                              capsys):
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.training.predictions import run_predictions
    from resnet_studio.core.training.restore import load_run_model

    p = run_predictions(tiny_run, samples=50)
    trainer, data = load_run_model(read_run(tiny_run))
    logits = trainer.built.model.predict(data.x_test, verbose=0)
    np.testing.assert_array_equal(p.y_pred, logits.argmax(axis=-1))
    np.testing.assert_array_equal(p.y_true, data.y_test)
    final = json.loads((tiny_run / "final.json").read_text())
    assert p.accuracy == pytest.approx(final["test"]["accuracy"])
    wrong = p.y_true[p.order] != p.y_pred[p.order]
    assert wrong[: p.misclassified].all() and not wrong[p.misclassified:].any()
    assert np.all(np.diff(p.confidence[p.order[: p.misclassified]]) <= 0)
    assert len(p.samples) == 50
    np.testing.assert_array_equal(p.samples, data.x_test[p.order[:50]])
    assert run_predictions(tiny_run, samples=50).checkpoint == p.checkpoint  # the cache

    capsys.readouterr()
    assert main(["predictions", str(tiny_run), "--limit", "3", "--misclassified",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["misclassified"] == p.misclassified
    assert [r["index"] for r in out["predictions"]] == p.order[:3].tolist()
    assert all(not r["correct"] for r in out["predictions"])


def test_predictions_of_a_folder_that_is_no_run_is_exit_2(tmp_path, capsys):
    assert main(["predictions", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


@pytest.mark.slow
def test_a_resume_drops_a_record_its_checkpoint_never_had_and_continues(tiny_run, tmp_path):
    import shutil

    from resnet_studio.core.runs import read_run
    from resnet_studio.core.runs.jsonfile import write_json
    from resnet_studio.core.runs.layout import run_json

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = read_histograms(run)
    # A process killed after writing epoch 3's histograms but before its checkpoint.
    stray = EpochHistograms(3, before[-1].step + 999, 1, before[-1].layers)
    append_histograms(run, stray)
    meta = read_run(run).meta
    meta["status"] = "interrupted"  # as read_run reports a killed run
    write_json(run_json(run), meta)
    assert main(["train", "--resume", str(run), "--epochs", "3", "--json"]) == 0
    after = read_histograms(run)
    assert [r.epoch for r in after] == [1, 2, 3]
    assert [r.to_dict() for r in after[:2]] == [r.to_dict() for r in before]
    steps = read_run(run).meta["steps"]
    assert after[2].step == steps < stray.step and after[2].probe == 64
    lines = histograms_jsonl(run).read_text().splitlines()
    assert len(lines) == 3  # the stray line is gone from the file, not just hidden


@pytest.mark.slow
def test_predictions_of_a_language_model_is_refused_with_a_sentence(tiny_run, tmp_path,
                                                                    capsys):
    import shutil

    from resnet_studio.core.runs import read_run
    from resnet_studio.core.runs.jsonfile import write_json
    from resnet_studio.core.runs.layout import run_json

    run = tmp_path / "lm"
    shutil.copytree(tiny_run, run)
    meta = read_run(run).meta
    meta["binding"]["task"] = "language_model"
    write_json(run_json(run), meta)
    assert main(["predictions", str(run)]) == 2
    err = capsys.readouterr().err
    assert "predicts the next token" in err and "Traceback" not in err
