"""Exports: each format writes, verifies and reloads; failures leave nothing behind."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import runpy
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from resnet_studio.core import export as export_mod
from resnet_studio.core.builder import build_model
from resnet_studio.core.export import FORMATS, ExportError, export_model, python_source
from resnet_studio.core.presets import load_preset
from resnet_studio.core.spec import spec_from_dict

# Trains, exports or spawns processes: not in `make test-fast`.
pytestmark = pytest.mark.slow

TINY_CNN = {
    "schema_version": 1, "name": "tiny-res", "input": {"kind": "image", "shape": [8, 8, 3]},
    "blocks": [
        {"type": "conv_stem", "params": {"filters": 8, "kernel_size": 3, "stride": 1,
                                         "pool": False}},
        {"type": "basic_block", "params": {"filters": 16, "repeat": 2, "stride": 2,
                                           "shortcut": "zero_pad", "scaling": "layerscale",
                                           "drop_path": 0.1}},
        {"type": "global_pool", "params": {"mode": "avg"}},
        {"type": "classifier_head", "params": {"classes": 5}},
    ],
}
TINY_GPT = {
    "schema_version": 1, "name": "tiny-gpt",
    "input": {"kind": "tokens", "shape": [8], "vocab_size": 11},
    "blocks": [
        {"type": "token_embedding", "name": "embed", "params": {"embed_dim": 8}},
        {"type": "transformer_decoder", "name": "dec",
         "params": {"num_heads": 2, "intermediate_dim": 16, "repeat": 2, "dropout": 0.1}},
        {"type": "layer_norm", "name": "final_ln", "params": {}},
        {"type": "lm_head", "name": "head", "params": {}},
    ],
}
TINY_RNN = {
    "schema_version": 1, "name": "tiny-rnn", "input": {"kind": "sequence", "shape": [10, 2]},
    "blocks": [
        {"type": "dense", "name": "embed", "params": {"units": 8}},
        {"type": "residual_gru", "name": "gru",
         "params": {"units": 8, "repeat": 1, "shortcut": "identity", "dropout": 0.1}},
        {"type": "residual_lstm", "name": "lstm",
         "params": {"units": 8, "repeat": 1, "shortcut": "identity", "variant": "v1"}},
        {"type": "global_pool", "params": {"mode": "avg"}},
        {"type": "classifier_head", "params": {"classes": 3}},
    ],
}


def _build(spec_dict_or_preset: dict | str, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    spec = (load_preset(spec_dict_or_preset) if isinstance(spec_dict_or_preset, str)
            else spec_from_dict(spec_dict_or_preset))
    return build_model(spec).model


def _sample(model: keras.Model, batch: int = 4, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (batch, *model.inputs[0].shape[1:])
    if "int" in str(model.inputs[0].dtype):
        vocab = model.get_layer("embed_embedding").vocabulary_size
        return rng.integers(0, vocab, size=shape).astype("int32")
    return rng.normal(size=shape).astype("float32")


def _predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def r8() -> tuple[keras.Model, np.ndarray]:
    model = _build("resnet8-digits")
    return model, _sample(model)


@pytest.fixture
def keras_registry():
    """Running an exported script re-registers the custom classes: restore ours after."""
    saved = dict(keras.saving.get_custom_objects())
    yield
    registry = keras.saving.get_custom_objects()
    registry.clear()
    registry.update(saved)


# --- each format on resnet8-digits --------------------------------------------------------------

def test_savedmodel_verifies_and_reloads_in_a_fresh_process_without_resnet_studio(tmp_path, r8):
    model, x = r8
    out = tmp_path / "model"
    result = export_model(model, "savedmodel", out, sample=x, spec_name="resnet8-digits")

    assert result.format == "savedmodel" and result.verified
    assert result.path == str(out) and (out / "saved_model.pb").is_file()
    assert result.bytes == sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert result.bytes > 4 * model.count_params()  # float32 weights are in there
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-4
    assert result.details["endpoint"] == "serve" and result.details["spec"] == "resnet8-digits"
    assert json.loads(json.dumps(result.to_dict()))["format"] == "savedmodel"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temp folder left

    expected = _predict(model, x)
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys\n"
        "sys.modules['resnet_studio'] = None  # any import of the project now fails\n"
        "import numpy as np\n"
        "import tensorflow as tf\n"
        "served = tf.saved_model.load(sys.argv[1])\n"
        "np.save(sys.argv[3], served.serve(tf.constant(np.load(sys.argv[2]))).numpy())\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(out), str(tmp_path / "x.npy"),
         str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=300, env=env,
        cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    served = np.load(tmp_path / "y.npy")
    assert served.shape == expected.shape == (4, 10)
    np.testing.assert_allclose(served, expected, atol=1e-5, rtol=1e-5)


def test_keras_file_verifies_and_reloads(tmp_path, r8):
    model, x = r8
    out = tmp_path / "model.keras"
    result = export_model(model, "keras", out, sample=x)

    assert result.verified and result.max_abs_diff <= 1e-4
    assert zipfile.is_zipfile(out) and result.bytes == out.stat().st_size
    reloaded = keras.saving.load_model(out, compile=False)
    np.testing.assert_allclose(_predict(reloaded, x), _predict(model, x), atol=1e-6, rtol=1e-5)
    assert os.listdir(tmp_path) == ["model.keras"]


def test_keras_file_must_be_named_dot_keras(tmp_path, r8):
    with pytest.raises(ExportError, match=r"\.keras"):
        export_model(r8[0], "keras", tmp_path / "model.h5", sample=r8[1])
    assert os.listdir(tmp_path) == []


def test_tflite_float_matches_the_model(tmp_path, r8):
    model, x = r8
    result = export_model(model, "tflite", tmp_path / "model.tflite", sample=x)

    assert result.verified and result.max_abs_diff <= 1e-4
    assert result.details["quantized"] is False
    assert result.bytes == result.details["float_bytes"] == (tmp_path / "model.tflite").stat(
    ).st_size
    assert "size_reduction" not in result.details
    assert os.listdir(tmp_path) == ["model.tflite"]  # the helper SavedModel is gone


def test_tflite_quantized_is_smaller_and_reports_its_error(tmp_path, r8):
    model, x = r8
    result = export_model(model, "tflite", tmp_path / "q.tflite", sample=x, quantize=True)

    d = result.details
    assert result.verified and d["quantized"] is True
    assert result.bytes == d["quantized_bytes"] < d["float_bytes"]
    # Most of resnet8's ~78k float32 weights become int8: roughly 4x smaller.
    assert 0.5 < d["size_reduction"] < 0.8
    assert d["size_reduction"] == pytest.approx(1 - d["quantized_bytes"] / d["float_bytes"],
                                                abs=1e-4)
    # int8 weights change the logits a little, not a lot.
    scale = float(np.abs(_predict(model, x)).max())
    assert 0.0 < result.max_abs_diff < 0.1 * scale


def test_python_code_for_resnet8_rebuilds_the_same_parameter_count(tmp_path, r8):
    model, x = r8
    out = tmp_path / "resnet8.py"
    result = export_model(model, "python", out, sample=x, spec_name="resnet8-digits")

    assert result.verified and result.max_abs_diff is None
    assert result.details["params"] == model.count_params() == 78_426
    text = out.read_text(encoding="utf-8")
    assert "import resnet_studio" not in text and "from resnet_studio" not in text
    assert 'keras.layers.Conv2D(' in text and 'name="stem_conv"' in text
    assert text.count("\n    x") == len(model.layers)  # one statement per layer
    assert os.listdir(tmp_path) == ["resnet8.py"]


def test_tflite_works_with_the_custom_residual_layers(tmp_path):
    model = _build(TINY_CNN)
    result = export_model(model, "tflite", tmp_path / "m.tflite", sample=_sample(model))
    assert result.verified and result.max_abs_diff <= 1e-4


def test_tflite_conversion_failure_is_an_export_error_and_leaves_nothing(tmp_path):
    model = _build(TINY_RNN)  # Keras RNN loops need TensorList ops, not in TFLite builtins
    with pytest.raises(ExportError, match="TFLite conversion failed: .*TensorList"):
        export_model(model, "tflite", tmp_path / "m.tflite", sample=_sample(model))
    assert os.listdir(tmp_path) == []


# --- Python code for residual CNN, causal Transformer and RNN -----------------------------------

@pytest.mark.parametrize("spec, must_contain", [
    (TINY_CNN, ["class ZeroPadShortcut(", "class ResidualScale(", "class DropPath(",
                "ZeroPadShortcut(stride=2, channels=16"]),
    (TINY_GPT, ["keras_hub.layers.TokenAndPositionEmbedding(", "use_causal_mask=True",
                "import keras_hub"]),
    (TINY_RNN, ["keras.layers.GRU(", "keras.layers.LSTM(", "return_sequences=True"]),
], ids=["residual-cnn", "causal-transformer", "rnn"])
def test_python_code_rebuilds_the_same_graph(tmp_path, spec, must_contain, keras_registry):
    model = _build(spec)
    x = _sample(model)
    out = tmp_path / "arch.py"
    result = export_model(model, "python", out, sample=x)

    # The fresh interpreter (resnet_studio blocked) printed the same count.
    assert result.details["params"] == model.count_params()
    text = out.read_text(encoding="utf-8")
    for snippet in must_contain:
        assert snippet in text
    assert "resnet_studio.core" not in text

    rebuilt = runpy.run_path(str(out))["build_model"]()
    assert [la.name for la in rebuilt.layers] == [la.name for la in model.layers]
    assert [la.__class__.__name__ for la in rebuilt.layers] == \
           [la.__class__.__name__ for la in model.layers]
    expected = _predict(model, x)
    # Fresh weights give other outputs; the original weights give the same outputs.
    assert np.abs(_predict(rebuilt, x) - expected).max() > 1e-3
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(_predict(rebuilt, x), expected, atol=1e-6, rtol=1e-5)


def test_python_code_handles_shared_layers_and_multiple_outputs(keras_registry):
    keras.utils.set_random_seed(3)
    inp = keras.Input((6, 4), name="seq")
    shared = keras.layers.Dense(4, name="shared")
    a = shared(inp)
    b = shared(keras.layers.Activation("tanh", name="act")(a))  # same layer, second node
    attn, scores = keras.layers.MultiHeadAttention(2, 2, name="mha")(
        a, b, return_attention_scores=True)
    pooled = keras.layers.GlobalAveragePooling1D(name="pool")(attn)
    flat = keras.layers.Flatten(name="flat")(scores)
    out = keras.layers.Concatenate(name="cat")([pooled, flat])
    model = keras.Model(inp, out, name="shared_demo")
    x = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")

    code, info = python_source(model)
    assert "layer_shared = keras.layers.Dense(units=4" in code
    assert code.count("layer_shared(") == 2
    assert "return_attention_scores=True" in code and "keras.tree.flatten(" in code
    assert info["custom_layers"] == []
    rebuilt = {}
    exec(compile(code, "shared_demo.py", "exec"), rebuilt)  # noqa: S102 - our own output
    twin = rebuilt["build_model"]()
    assert twin.count_params() == model.count_params()
    twin.set_weights(model.get_weights())
    np.testing.assert_allclose(_predict(twin, x), _predict(model, x), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("script, message", [
    ("print('params=1')\n", "builds 1 parameters, the model has 78,426"),
    ("raise RuntimeError('no such layer: Foo')\n", "exits with code 1: RuntimeError: no such "
                                                    "layer: Foo"),
    ("print('hello')\n", "printed no params=N line"),
], ids=["wrong-count", "crash", "silent"])
def test_python_code_that_does_not_verify_is_not_written(tmp_path, r8, monkeypatch, script,
                                                         message):
    # Scripts without TensorFlow run in a fraction of a second: only the checks are tested.
    monkeypatch.setattr(export_mod, "python_source", lambda model, spec_name=None: (script, {}))
    with pytest.raises(ExportError, match=re.escape(message)):
        export_model(r8[0], "python", tmp_path / "m.py", sample=r8[1])
    assert os.listdir(tmp_path) == []


# --- targets: existing, overwrite, unwritable, disk full ------------------------------------

def test_existing_target_is_refused_and_overwrite_replaces_only_after_verifying(
        tmp_path, r8, monkeypatch):
    model, x = r8
    out = tmp_path / "model.keras"
    out.write_bytes(b"an older export")
    with pytest.raises(ExportError, match=r"exists; pass overwrite=True to replace it"):
        export_model(model, "keras", out, sample=x)
    assert out.read_bytes() == b"an older export"

    # A new export that fails verification must not replace the old file.
    real_load = keras.saving.load_model

    def corrupted_load(*args, **kwargs):
        loaded = real_load(*args, **kwargs)
        loaded.set_weights([w + 0.5 for w in loaded.get_weights()])
        return loaded

    monkeypatch.setattr(keras.saving, "load_model", corrupted_load)
    with pytest.raises(ExportError, match="verification failed"):
        export_model(model, "keras", out, sample=x, overwrite=True)
    assert out.read_bytes() == b"an older export"
    assert os.listdir(tmp_path) == ["model.keras"]

    monkeypatch.setattr(keras.saving, "load_model", real_load)
    result = export_model(model, "keras", out, sample=x, overwrite=True)
    assert result.verified and zipfile.is_zipfile(out)
    assert os.listdir(tmp_path) == ["model.keras"]


def test_overwrite_replaces_a_folder(tmp_path, r8):
    model, x = r8
    out = tmp_path / "served"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    with pytest.raises(ExportError, match="exists"):
        export_model(model, "savedmodel", out, sample=x)
    assert os.listdir(out) == ["stale.txt"]

    export_model(model, "savedmodel", out, sample=x, overwrite=True)
    assert not (out / "stale.txt").exists() and (out / "saved_model.pb").is_file()
    assert os.listdir(tmp_path) == ["served"]


def test_missing_parent_folders_are_created(tmp_path, r8):
    out = tmp_path / "a" / "b" / "model.keras"
    export_model(r8[0], "keras", out, sample=r8[1])
    assert out.is_file() and os.listdir(out.parent) == ["model.keras"]


@pytest.mark.parametrize("nested", [False, True], ids=["in-folder", "in-new-subfolder"])
def test_unwritable_folder_is_an_export_error_naming_it(tmp_path, r8, monkeypatch, nested):
    locked = tmp_path / "locked"
    locked.mkdir()
    out = locked / "sub" / "model.keras" if nested else locked / "model.keras"
    if os.geteuid() == 0:
        # root ignores permission bits: make the OS refuse instead.
        real_mkdir = os.mkdir

        def refusing_mkdir(path, *args, **kwargs):
            if Path(path).parent == locked:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "mkdir", refusing_mkdir)
    else:
        locked.chmod(0o500)
    try:
        with pytest.raises(ExportError, match=re.escape(str(locked)) + ".*: Permission denied"):
            export_model(r8[0], "keras", out, sample=r8[1])
    finally:
        locked.chmod(0o700)
    assert os.listdir(locked) == []


def _full_disk_on_zip_write(monkeypatch):
    real = zipfile._ZipWriteFile.write

    def write(self, data):
        real(self, bytes(data)[:10])  # part of the data reaches the disk, then it is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipfile._ZipWriteFile, "write", write)


def _full_disk_on_fsync(monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)


def _full_disk_in_tensorflow(monkeypatch):
    def save(obj, export_dir, *args, **kwargs):
        os.makedirs(export_dir, exist_ok=True)
        Path(export_dir, "saved_model.pb").write_bytes(b"\x08\x01partial")
        # TensorFlow's C++ file writers report it as an OpError carrying strerror's text.
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{export_dir}/variables/variables.data: No space left on device")

    monkeypatch.setattr(tf.saved_model, "save", save)


@pytest.mark.parametrize("fmt, name, fill_disk", [
    ("keras", "m.keras", _full_disk_on_zip_write),
    ("python", "m.py", _full_disk_on_fsync),
    ("savedmodel", "m", _full_disk_in_tensorflow),
])
def test_disk_full_is_an_export_error_and_leaves_no_partial_output(
        tmp_path, r8, monkeypatch, fmt, name, fill_disk):
    fill_disk(monkeypatch)
    out = tmp_path / name
    with pytest.raises(ExportError, match="disk full while writing " + re.escape(str(out))):
        export_model(r8[0], fmt, out, sample=r8[1])
    assert os.listdir(tmp_path) == []


# --- arguments ----------------------------------------------------------------------------------

def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, r8):
    model, x = r8
    assert FORMATS == ("savedmodel", "keras", "tflite", "python")
    with pytest.raises(ExportError, match="fmt='onnx'"):
        export_model(model, "onnx", tmp_path / "m", sample=x)
    with pytest.raises(ExportError, match="quantize=True applies to the tflite format"):
        export_model(model, "savedmodel", tmp_path / "m", sample=x, quantize=True)
    with pytest.raises(ExportError, match=r"sample shape \(4, 8, 8\) does not match"):
        export_model(model, "keras", tmp_path / "m.keras", sample=x[..., 0])
    with pytest.raises(ExportError, match="sample dtype int32 does not match"):
        export_model(model, "keras", tmp_path / "m.keras", sample=x.astype("int32"))
    assert os.listdir(tmp_path) == []


def test_mlir_error_lines_are_reduced_to_their_message():
    text = ('<unknown>:0: error: loc(callsite(fused["X:", "a/b"])): error: \'tf.Foo\' op is '
            'neither a custom op nor a flex op\nerror: failed\n')
    assert export_mod._first_line(text) == "'tf.Foo' op is neither a custom op nor a flex op"
