"""TFLite conversion modes, the converter's set-up and the TFLite interpreter, for the
export pipeline (export.py) and the quantization study (compress/quantize.py, where the modes
are explained and cited); `flatbuffer` reads and trims the file itself.

Int8 inputs are quantized with the input tensor's (scale, zero point) and int8 outputs
dequantized with the output's, so callers always see float logits.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

MODES = ("int8", "float16", "dynamic", "int8-per-tensor")


class QuantizationError(ValueError):
    """A quantization request that cannot be done for this model; says which and why."""


def quantization_mode(quantize: bool | str | None) -> str | None:
    """None (no quantization) or one of MODES; `True` is the historical `dynamic`."""
    if quantize is None or quantize is False:
        return None
    if quantize is True:
        return "dynamic"
    if quantize not in MODES:
        raise QuantizationError(f"quantize must be one of {MODES}, received: {quantize!r}")
    return str(quantize)


def configure_converter(converter: Any, mode: str | None, model: Any = None,
                        representative: np.ndarray | None = None) -> None:
    """Sets a `tf.lite.TFLiteConverter` up for `mode` (None: plain float32)."""
    import tensorflow as tf

    if mode is None:
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif mode in ("int8", "int8-per-tensor"):
        if representative is None or len(representative) == 0:
            raise QuantizationError("int8 quantization needs representative inputs (drawn "
                                    "from the training split) to calibrate activation ranges")
        if model is not None and (len(model.inputs) != 1 or
                                  not np.issubdtype(np.dtype(model.inputs[0].dtype), np.floating)):
            raise QuantizationError("full-integer (int8) quantization needs one float input "
                                    "(images, sequences, vectors); token models: use "
                                    "--quantize dynamic or float16")
        data = np.asarray(representative, dtype=np.float32)

        def examples() -> Any:
            for i in range(len(data)):
                yield [data[i:i + 1]]

        converter.representative_dataset = examples
        # Integer kernels only (conversion fails rather than silently keeping a float op),
        # and int8 at the model's edges: the deployed model takes and returns int8.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        if mode == "int8-per-tensor":
            # TF 2.21's converter has no public switch for this; the attribute is the one
            # its quantizer reads (tensorflow/lite/python/lite.py, disable_per_channel).
            if not hasattr(converter, "_experimental_disable_per_channel"):
                raise QuantizationError("this TensorFlow's converter cannot quantize per "
                                        "tensor; use int8 (per channel)")
            converter._experimental_disable_per_channel = True


def make_interpreter(flatbuffer: bytes, num_threads: int | None = None) -> Any:
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "moves to ai-edge-litert": see above
        return tf.lite.Interpreter(model_content=flatbuffer, num_threads=num_threads)


def quantize_input(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Float input -> the tensor's dtype (int8: round(x / scale) + zero point, saturated)."""
    dtype = np.dtype(detail["dtype"])
    scale, zero = detail["quantization"]
    if np.issubdtype(dtype, np.integer) and scale:
        info = np.iinfo(dtype)
        q = np.round(np.asarray(x, np.float32) / scale) + zero
        return np.clip(q, info.min, info.max).astype(dtype)
    return np.asarray(x).astype(dtype)


def dequantize_output(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """The tensor's values as float32 ((q - zero point) * scale for int8)."""
    scale, zero = detail["quantization"]
    if np.issubdtype(np.asarray(y).dtype, np.integer) and scale:
        return (np.asarray(y, np.float32) - zero) * scale
    return np.asarray(y, np.float32)


class TFLiteRunner:
    """Runs a TFLite flatbuffer on float batches of any size; returns float outputs."""

    def __init__(self, flatbuffer: bytes, num_threads: int | None = None) -> None:
        self.interpreter = make_interpreter(flatbuffer, num_threads)
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1:
            raise QuantizationError(f"expected a model with one input, found {len(inputs)}")
        self.input = inputs[0]
        self._order = _output_order(self.interpreter)
        self._batch: tuple[int, ...] | None = None

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.asarray(x)
        if self._batch != x.shape:  # the converter fixes the batch to 1; the signature keeps
            self.interpreter.resize_tensor_input(self.input["index"], list(x.shape),
                                                 strict=False)  # it dynamic, so resize
            self.interpreter.allocate_tensors()
            self._batch = x.shape
            self.input = self.interpreter.get_input_details()[0]
        self.interpreter.set_tensor(self.input["index"], quantize_input(x, self.input))
        self.interpreter.invoke()
        return [dequantize_output(self.interpreter.get_tensor(d["index"]), d)
                for d in self.outputs]

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """Output details in the model's output order (`_output_order`)."""
        by_index = {d["index"]: d for d in self.interpreter.get_output_details()}
        return [by_index[i] for i in self._order if i in by_index] or list(by_index.values())


def _output_order(interpreter: Any) -> list[int]:
    """Output tensor indices in the model's output order. Keras' export names the signature's
    outputs output_0, output_1, ...; tensor names are not used (exports strip them,
    tflite/flatbuffer.py). Without one signature: the interpreter's order."""
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        return [d["index"] for d in interpreter.get_output_details()]
    named = interpreter.get_signature_runner(next(iter(signatures))).get_output_details()
    return [named[n]["index"] for n in sorted(named, key=lambda n: (len(n), n))]
