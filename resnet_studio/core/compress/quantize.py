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

Every TFLite file is written without tensor names (tflite/flatbuffer.py: debug strings, 3.7 kB of
resnet8-digits' file), the float32 reference included, so size ratios compare like with like.

The interpreter is `tf.lite.Interpreter` (TF 2.21 warns that it moves to the separate
ai-edge-litert package; it still ships with TensorFlow, so nothing new is installed). Int8
inputs are quantized with the input tensor's (scale, zero point) and int8 outputs
dequantized with the output's, so callers always see float logits. The converter set-up and
the interpreter live in core/tflite/, which the export pipeline uses too; this module
measures a run's quantized model (accuracy, size, latency).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.tflite import QuantizationError, TFLiteRunner, quantization_mode

REPRESENTATIVE_EXAMPLES = 200
"""Calibration examples for int8: TFLite's guide suggests ~100-500; 200 digits calibrate
resnet8-digits' ranges to within a point of the float model (docs/compression.md)."""
LATENCY_RUNS = 200


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


class LoadedRun:
    """A run's model and data for TFLite exports, loaded at first use and then kept: a
    study over several modes (views.quantization_job) rebuilds the Keras model, loads its
    checkpoint and the dataset once, and evaluates the Keras reference once, where each
    mode used to do all of it again.

    Args:
        info: The run (`read_run`).
    """

    def __init__(self, info: Any) -> None:
        self.info = info
        self._loaded: tuple[Any, Any] | None = None
        self._reference: float | None = None
        self._representative: np.ndarray | None = None

    def trainer_and_data(self) -> tuple[Any, Any]:
        """(trainer with the checkpoint's weights, dataset): `load_run_model`, once."""
        if self._loaded is None:
            from resnet_studio.core.training.restore import load_run_model

            self._loaded = load_run_model(self.info)
        return self._loaded

    def representative(self) -> np.ndarray:
        """int8's calibration inputs (`representative_inputs`, the run's seed), once."""
        if self._representative is None:
            trainer, data = self.trainer_and_data()
            self._representative = representative_inputs(data, seed=int(trainer.config.seed))
        return self._representative

    def reference_accuracy(self) -> float:
        """The Keras model's test accuracy, once (exporting does not change the model)."""
        if self._reference is None:
            from resnet_studio.core.training.evaluation import evaluate

            trainer, data = self.trainer_and_data()
            self._reference = float(evaluate(trainer.built.model, trainer.test_ds,
                                             data.info.task, data.info.num_classes)["accuracy"])
        return self._reference


def export_tflite_run(info: Any, out: str | os.PathLike[str], quantize: str | None = None, *,
                      overwrite: bool = False, latency: bool = True,
                      loaded: LoadedRun | None = None) -> dict[str, Any]:
    """Exports a run's model to TFLite (optionally quantized) and measures it.

    Args:
        info: The run (`read_run`).
        out: The .tflite file to write.
        quantize: A mode (`tflite.quantization_mode`), or None for float32.
        overwrite: Replace an existing `out`.
        latency: Also time one-example invocations.
        loaded: The run already loaded (`LoadedRun(info)`), shared by several exports;
            None loads it for this export alone.

    Returns the export's `ExportResult.to_dict()` plus `quantization`, `size_bytes`,
    `compressed_size_bytes` (gzip, sizes.py), `size_breakdown` (tflite/flatbuffer.py),
    `float32_size_bytes`, `accuracy` (the TFLite model's, test split, by the interpreter),
    `reference_accuracy` (the Keras model's on the same split), `test_examples` and, with
    `latency`, `latency_ms` / `latency_p90_ms` (one example, one thread).
    """
    from resnet_studio.core.export import export_model

    mode = quantization_mode(quantize)
    run = loaded if loaded is not None else LoadedRun(info)
    trainer, _ = run.trainer_and_data()
    model = trainer.built.model
    x, _ = next(iter(trainer.test_ds))
    sample = np.asarray(x)[:8]
    representative = run.representative() if mode in ("int8", "int8-per-tensor") else None
    result = export_model(model, "tflite", out, sample=sample, quantize=mode or False,
                          overwrite=overwrite, spec_name=trainer.spec.name,
                          representative=representative)
    flatbuffer = Path(result.path).read_bytes()
    measured = tflite_accuracy(flatbuffer, trainer.test_ds)
    out_dict = result.to_dict()
    from resnet_studio.core.compress.sizes import gzip_size
    from resnet_studio.core.tflite.flatbuffer import size_breakdown

    out_dict.update({"quantization": mode or "none", "size_bytes": len(flatbuffer),
                     "compressed_size_bytes": gzip_size(flatbuffer),
                     "size_breakdown": size_breakdown(flatbuffer),
                     "float32_size_bytes": int(result.details["float_bytes"]),
                     "accuracy": measured["accuracy"],
                     "reference_accuracy": run.reference_accuracy(),
                     "test_examples": measured["examples"]})
    if latency:
        out_dict.update(tflite_latency(flatbuffer, sample))
    return out_dict
