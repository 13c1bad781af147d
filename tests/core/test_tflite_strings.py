"""TFLite exports carry no tensor names (debug strings) but keep their signature, every weight
and 16-byte-aligned buffers; outputs keep the model's order without names."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from resnet_studio.core.export import export_model
from resnet_studio.core.tflite import TFLiteRunner, make_interpreter
from resnet_studio.core.tflite.flatbuffer import size_breakdown, strip_tensor_names


def _two_output_model() -> keras.Model:
    keras.utils.set_random_seed(3)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    # Two heads of different widths, the narrow one second: a name sort of the tensors
    # would have no reason to return them in this order.
    wide = keras.layers.Dense(7, name="z_wide")(pooled)
    narrow = keras.layers.Dense(3, name="a_narrow")(pooled)
    return keras.Model(inp, [wide, narrow])


def _buffer_data_offsets(flatbuffer: bytes) -> list[int]:
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(bytearray(flatbuffer), 0)
    offsets = []
    for i in range(model.BuffersLength()):
        b = model.Buffers(i)
        if b.DataLength() > 0:
            o = b._tab.Offset(4)  # field `data` of table Buffer (schema.fbs)
            offsets.append(b._tab.Vector(o))
    return offsets


@pytest.mark.slow
def test_exported_tflite_has_no_tensor_names_and_keeps_outputs_in_order(tmp_path):
    model = _two_output_model()
    x = np.random.default_rng(0).uniform(0, 1, (5, 8, 8, 1)).astype(np.float32)
    result = export_model(model, "tflite", tmp_path / "m.tflite", sample=x)
    flatbuffer = (tmp_path / "m.tflite").read_bytes()
    parts = size_breakdown(flatbuffer)
    assert parts["tensor_names"] == 0 and parts["total"] == len(flatbuffer)
    assert sum(v for k, v in parts.items() if k != "total") == parts["total"]
    interp = make_interpreter(flatbuffer)
    assert all(d["name"] == "" for d in interp.get_tensor_details())
    # The signature (what a deployed caller uses) is intact.
    assert interp.get_signature_list()["serving_default"]["outputs"] == ["output_0",
                                                                          "output_1"]
    got = TFLiteRunner(flatbuffer)(x)
    ref = [np.asarray(t) for t in model(x, training=False)]
    assert [g.shape for g in got] == [(5, 7), (5, 3)]
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r, atol=1e-4)
    assert result.max_abs_diff <= 1e-4
    # Buffers keep the schema's 16-byte alignment (force_align: 16) after repacking.
    assert all(o % 16 == 0 for o in _buffer_data_offsets(flatbuffer))


@pytest.mark.slow
def test_stripping_removes_only_names(tmp_path):
    import tensorflow as tf

    model = _two_output_model()
    model.export(str(tmp_path / "sm"), format="tf_saved_model", verbose=False)
    raw = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "sm")).convert()
    stripped = strip_tensor_names(raw)
    before, after = size_breakdown(raw), size_breakdown(stripped)
    assert before["tensor_names"] > 0 and after["tensor_names"] == 0
    assert after["buffers"] == before["buffers"] and after["metadata"] == before["metadata"]
    # The file shrinks by at least the names' bytes minus the flatbuffer's padding slack.
    assert len(raw) - len(stripped) >= before["tensor_names"] - 16 * len(
        make_interpreter(raw).get_tensor_details())
    x = np.random.default_rng(1).uniform(0, 1, (3, 8, 8, 1)).astype(np.float32)
    # Same weights, same interpreter, same process: the outputs are bit-identical.
    for a, b in zip(TFLiteRunner(raw)(x), TFLiteRunner(stripped)(x), strict=True):
        np.testing.assert_array_equal(a, b)
