"""Post-training quantization to TFLite: int8 tensors with calibrated scales, float16, and the
measured `export --format tflite --quantize MODE --json` of a run."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from resnet_studio.cli import main
from resnet_studio.core.export import ExportError, export_model
from resnet_studio.core.tflite import (
    QuantizationError,
    TFLiteRunner,
    make_interpreter,
    quantization_mode,
)


@pytest.fixture(scope="module")
def small():
    """A conv + dense model with non-trivial weights, and inputs in [0, 1] like digits'."""
    keras.utils.set_random_seed(5)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(10)(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    representative = rng.uniform(0, 1, size=(128, 8, 8, 1)).astype(np.float32)
    test = rng.uniform(0, 1, size=(32, 8, 8, 1)).astype(np.float32)
    return model, representative, test


@pytest.mark.slow
def test_int8_model_has_int8_edges_with_calibrated_scales(tmp_path, small):
    model, representative, test = small
    result = export_model(model, "tflite", tmp_path / "m.tflite", sample=test[:8],
                          quantize="int8", representative=representative)
    assert result.details["quantization"] == "int8" and result.details["quantized"] is True
    interp = make_interpreter((tmp_path / "m.tflite").read_bytes())
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    # Input: the calibrated range [0, 1] (min <= 0 <= max) spread over 256 levels, 0 -> -128.
    lo, hi = min(0.0, representative.min()), max(0.0, representative.max())
    in_scale, in_zero = inp["quantization"]
    assert in_scale == pytest.approx((hi - lo) / 255, rel=0.02)
    assert in_zero == -128
    # Output: the float model's logit range over the same calibration inputs.
    ref = np.asarray(model(representative, training=False))
    lo, hi = min(0.0, ref.min()), max(0.0, ref.max())
    out_scale, out_zero = out["quantization"]
    assert out_scale == pytest.approx((hi - lo) / 255, rel=0.05)
    assert out_zero == int(round(-128 - lo / out_scale)) or abs(
        out_zero - (-128 - lo / out_scale)) <= 1
    # Dequantized int8 outputs follow the float model within a few quantization steps.
    got = TFLiteRunner((tmp_path / "m.tflite").read_bytes())(test)[0]
    want = np.asarray(model(test, training=False))
    assert np.abs(got - want).max() <= 6 * out_scale
    # (No size claim here: at 170 weights the file is all header; sizes: the run test below.)


@pytest.mark.slow
def test_float16_halves_the_weights_and_keeps_the_outputs(tmp_path, small):
    model, _, test = small
    result = export_model(model, "tflite", tmp_path / "h.tflite", sample=test[:8],
                          quantize="float16")
    interp = make_interpreter((tmp_path / "h.tflite").read_bytes())
    assert interp.get_input_details()[0]["dtype"] == np.float32  # float16 weights only
    got = TFLiteRunner((tmp_path / "h.tflite").read_bytes())(test)[0]
    np.testing.assert_allclose(got, np.asarray(model(test, training=False)), atol=1e-2)
    assert result.max_abs_diff < 1e-2


@pytest.mark.slow
def test_int8_needs_calibration_inputs_and_modes_are_checked(tmp_path, small):
    model, _, test = small
    with pytest.raises(ExportError, match="representative inputs"):
        export_model(model, "tflite", tmp_path / "x.tflite", sample=test[:8], quantize="int8")
    assert not (tmp_path / "x.tflite").exists()
    assert quantization_mode(True) == "dynamic" and quantization_mode(False) is None
    with pytest.raises(QuantizationError, match="int4"):
        quantization_mode("int4")


@pytest.mark.slow
def test_cli_export_int8_reports_size_and_accuracy_on_the_test_split(tmp_path, capsys):
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.training.restore import evaluate_run
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig
    from tests.tiny_models import tiny_residual_cnn

    spec = tiny_residual_cnn("q-test")
    cfg = TrainingConfig.from_sources(spec.training, {"epochs": 3, "batch_size": 32})
    run_dir = tmp_path / "run"
    assert Trainer(spec, "digits", cfg, run_dir=run_dir, limit=400).run().status == "completed"
    out = tmp_path / "m-int8.tflite"
    assert main(["export", str(run_dir), "--format", "tflite", "--quantize", "int8",
                 "--out", str(out), "--json"]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["quantization"] == "int8" and r["size_bytes"] == out.stat().st_size
    assert r["size_bytes"] < r["float32_size_bytes"]
    assert r["size_breakdown"]["total"] == r["size_bytes"] > r["size_breakdown"]["buffers"]
    assert 0 < r["compressed_size_bytes"] < r["size_bytes"]  # the flatbuffer's padding, at least
    keras_test = evaluate_run(read_run(run_dir))
    assert r["reference_accuracy"] == pytest.approx(keras_test["accuracy"])
    assert r["test_examples"] == keras_test["examples"] and 0.0 <= r["accuracy"] <= 1.0
    assert abs(r["accuracy"] - r["reference_accuracy"]) <= 0.1
    assert r["latency_ms"] > 0
    # --quantize with another format is bad input, not a traceback.
    assert main(["export", str(run_dir), "--format", "keras", "--quantize", "int8",
                 "--out", str(tmp_path / "m.keras")]) == 2
    assert "tflite only" in capsys.readouterr().err


@pytest.mark.slow
def test_int8_per_tensor_has_one_weight_scale_per_tensor(tmp_path, small):
    model, representative, test = small
    scales = {}
    for mode in ("int8", "int8-per-tensor"):
        export_model(model, "tflite", tmp_path / f"{mode}.tflite", sample=test[:8],
                     quantize=mode, representative=representative)
        interp = make_interpreter((tmp_path / f"{mode}.tflite").read_bytes())
        # The conv kernel: the int8 tensor of shape (8, 3, 3, 1) (TFLite's OHWI layout).
        (kernel,) = [d for d in interp.get_tensor_details()
                     if tuple(d["shape"]) == (8, 3, 3, 1) and d["dtype"] == np.int8]
        scales[mode] = kernel["quantization_parameters"]["scales"]
        got = TFLiteRunner((tmp_path / f"{mode}.tflite").read_bytes())(test)[0]
        out_scale = interp.get_output_details()[0]["quantization"][0]
        assert np.abs(got - np.asarray(model(test, training=False))).max() <= 6 * out_scale
    assert len(scales["int8"]) == 8 and len(scales["int8-per-tensor"]) == 1


@pytest.mark.slow
def test_a_quantization_study_loads_the_model_once_with_the_same_results(tmp_path,
                                                                        monkeypatch):
    """The Compress panel's study over the four modes: one `load_run_model` (model build,
    checkpoint, dataset), not one per mode; each row as the mode exported alone gives it
    (equal here: one process, one machine)."""
    import resnet_studio.core.training.restore as restore
    from resnet_studio.core.compress.quantize import export_tflite_run
    from resnet_studio.core.compress.views import QUANT_MODES, quantization_job
    from resnet_studio.core.jobs import JobState
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig
    from tests.tiny_models import tiny_residual_cnn

    spec = tiny_residual_cnn("q-study")
    cfg = TrainingConfig.from_sources(spec.training, {"epochs": 1, "batch_size": 32})
    run_dir = tmp_path / "run"
    assert Trainer(spec, "digits", cfg, run_dir=run_dir, limit=320).run().status == "completed"

    loads = []
    real = restore.load_run_model

    def counting(*args, **kwargs):
        loads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(restore, "load_run_model", counting)
    streamed = []
    rows = quantization_job(str(run_dir), JobState(on_partial=streamed.append))
    assert len(loads) == 1  # was one per mode: 4
    assert [r["mode"] for r in rows] == [label for label, _ in QUANT_MODES]
    assert streamed == rows and all("error" not in r for r in rows)

    measured = ("size_bytes", "compressed_size_bytes", "float32_size_bytes", "accuracy",
                "reference_accuracy")
    info = read_run(run_dir)
    # float32 and int8 alone (dynamic and float16 share nothing more than float32 does; int8
    # also shares the calibration inputs).
    for row, (label, mode) in zip(rows, QUANT_MODES, strict=True):
        if label not in ("float32", "int8"):
            continue
        alone = export_tflite_run(info, tmp_path / f"{label}.tflite", mode, latency=False)
        assert {k: row[k] for k in measured} == {k: alone[k] for k in measured}, label
    assert len(loads) == 3  # alone: each export loads the run itself
    assert rows[3]["size_bytes"] < rows[0]["size_bytes"]  # int8 smaller than float32
