"""Post-training quantization to TFLite, measured by the TFLite interpreter.

Modes:
- `dynamic`: int8 weights, float activations computed with int8 kernels where possible; no
  data needed.
- `float16`: float16 weights (half the size), float32 compute on CPUs.
- `int8`: full-integer (Jacob et al. 2018, "Quantization and Training of Neural Networks for
  Efficient Integer-Arithmetic-Only Inference", arXiv:1712.05877): weights *and* activations
  int8, including the model's input and output tensors; activation ranges are calibrated on
  a representative dataset drawn from the training split (never the test split the accuracy
  is then measured on). Weights get one scale per output channel (TFLite's default;
  Krishnamoorthi 2018, arXiv:1806.08342, §3.1).
- `int8-per-tensor`: the same with one scale per weight tensor: each channel's float32 scale
  and int64 zero point (for the weights and the int32 biases) are gone, 8.5 kB or 9 % of
  resnet8-digits' int8 file (docs/compression.md), at a possible accuracy cost where
  channels' ranges differ widely (depthwise convolutions above all).

Every TFLite file is written without tensor names (flatbuffer.py: debug strings, 3.7 kB of
resnet8-digits' file), the float32 reference included, so size ratios compare like with like.

The interpreter is `tf.lite.Interpreter` (TF 2.21 warns that it moves to the separate
ai-edge-litert package; it still ships with TensorFlow, so nothing new is installed). Int8
inputs are quantized with the input tensor's (scale, zero point) and int8 outputs
dequantized with the output's, so callers always see float logits.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

# Re-exported: core/export.py reaches the compress package through this module only.
from resnet_studio.core.compress.flatbuffer import strip_tensor_names as strip_tensor_names

MODES = ("int8", "float16", "dynamic", "int8-per-tensor")
REPRESENTATIVE_EXAMPLES = 200
"""Calibration examples for int8: TFLite's guide suggests ~100-500; 200 digits calibrate
resnet8-digits' ranges to within a point of the float model (docs/compression.md)."""
LATENCY_RUNS = 200


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
    flatbuffer.py). Without one signature: the interpreter's order."""
    signatures = interpreter.get_signature_list()
    if len(signatures) != 1:
        return [d["index"] for d in interpreter.get_output_details()]
    named = interpreter.get_signature_runner(next(iter(signatures))).get_output_details()
    return [named[n]["index"] for n in sorted(named, key=lambda n: (len(n), n))]


def tflite_accuracy(flatbuffer: bytes, dataset: Any) -> dict[str, Any]:
    """Accuracy and example count of the TFLite model on a batched (x, y) dataset."""
    run = TFLiteRunner(flatbuffer)
    correct = total = 0
    for x, y in dataset:
        logits = run(np.asarray(x))[0]
        y = np.asarray(y).astype(np.int64)
        correct += int((logits.argmax(axis=-1) == y).sum())
        total += int(y.size)
    if total == 0:
        raise QuantizationError("the test split is empty")
    return {"accuracy": correct / total, "examples": total}


def tflite_latency(flatbuffer: bytes, example: np.ndarray, runs: int = LATENCY_RUNS
                   ) -> dict[str, float]:
    """Median and 90th-percentile time of one single-example invocation, in ms, on one
    thread (so the number does not depend on what else shares the cores' count)."""
    run = TFLiteRunner(flatbuffer, num_threads=1)
    x = np.asarray(example)[:1]
    for _ in range(10):  # warm-up: first invocations allocate and fill caches
        run(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run(x)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"latency_ms": round(statistics.median(times), 4),
            "latency_p90_ms": round(times[int(0.9 * (len(times) - 1))], 4)}


def representative_inputs(data: Any, n: int = REPRESENTATIVE_EXAMPLES, seed: int = 0
                          ) -> np.ndarray:
    """`n` training inputs in a seeded random order (a fixed subset: reproducible)."""
    ds = data.split("train")
    size = data.info.sizes.get("train", -1)
    if size > 0:
        ds = ds.shuffle(min(size, 10_000), seed=seed, reshuffle_each_iteration=False)
    xs = [np.asarray(x) for x, _ in ds.take(n)]
    if not xs:
        raise QuantizationError("the training split is empty: nothing to calibrate int8 on")
    return np.stack(xs)


def export_tflite_run(info: Any, out: str | os.PathLike[str], quantize: str | None = None, *,
                      overwrite: bool = False, latency: bool = True) -> dict[str, Any]:
    """Exports a run's model to TFLite (optionally quantized) and measures it.

    Returns the export's `ExportResult.to_dict()` plus `quantization`, `size_bytes`,
    `compressed_size_bytes` (gzip, sizes.py), `size_breakdown` (flatbuffer.py),
    `float32_size_bytes`, `accuracy` (the TFLite model's, test split, by the interpreter),
    `reference_accuracy` (the Keras model's on the same split), `test_examples` and, with
    `latency`, `latency_ms` / `latency_p90_ms` (one example, one thread).
    """
    from resnet_studio.core.export import export_model
    from resnet_studio.core.training.evaluation import evaluate
    from resnet_studio.core.training.restore import load_run_model

    mode = quantization_mode(quantize)
    trainer, data = load_run_model(info)
    model = trainer.built.model
    x, _ = next(iter(trainer.test_ds))
    sample = np.asarray(x)[:8]
    representative = representative_inputs(data, seed=int(trainer.config.seed)) \
        if mode in ("int8", "int8-per-tensor") else None
    result = export_model(model, "tflite", out, sample=sample, quantize=mode or False,
                          overwrite=overwrite, spec_name=trainer.spec.name,
                          representative=representative)
    flatbuffer = Path(result.path).read_bytes()
    measured = tflite_accuracy(flatbuffer, trainer.test_ds)
    reference = evaluate(model, trainer.test_ds, data.info.task, data.info.num_classes)
    out_dict = result.to_dict()
    from resnet_studio.core.compress.flatbuffer import size_breakdown
    from resnet_studio.core.compress.sizes import gzip_size

    out_dict.update({"quantization": mode or "none", "size_bytes": len(flatbuffer),
                     "compressed_size_bytes": gzip_size(flatbuffer),
                     "size_breakdown": size_breakdown(flatbuffer),
                     "float32_size_bytes": int(result.details["float_bytes"]),
                     "accuracy": measured["accuracy"],
                     "reference_accuracy": float(reference["accuracy"]),
                     "test_examples": measured["examples"]})
    if latency:
        out_dict.update(tflite_latency(flatbuffer, sample))
    return out_dict
