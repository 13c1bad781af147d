"""Per-layer weight and activation histograms at every epoch end (`HistogramCallback`).

For each layer with trainable weights (the same layers, in the same depth order, as the
gradient norms): the histogram of its kernel (`kernel`, `embeddings`, else its largest
variable) and the histogram of its outputs on the run's probe batch, the first
`PROBE_EXAMPLES` examples of the validation split (the test split when there is none):
fixed for the whole run, since the splits are seeded and their pipelines are not shuffled.
Both go to the run folder and to TensorBoard (`core/runs/histograms.py`).

Cost: one forward pass of the probe batch through a model that returns every layer's
output, plus numpy histograms, once per epoch; measured with benchmarks/bench_overhead.py
(`--histograms`) and in docs/architecture.md.

A failure of the histograms themselves (a layer whose output cannot be tapped, a strategy
that will not run the probe) never ends a run: it is said once in the log and the
histograms stop. A full or read-only disk does end it, like every other write of the run.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from resnet_studio.core.runs.diskio import StoreWriteError
from resnet_studio.core.runs.histograms import (
    EpochHistograms,
    Histogram,
    HistogramEventFile,
    LayerHistograms,
    append_histograms,
    histogram,
    truncate_histograms,
)

BINS = 30  # TensorBoard's default bucket count
PROBE_EXAMPLES = 64
KERNEL_NAMES = ("kernel", "embeddings", "depthwise_kernel", "pointwise_kernel")


def kernel_of(variables: list[Any]) -> Any:
    """The variable that stands for a layer's weights: its kernel (or embeddings), else the
    largest one (a normalisation's gamma and beta are equal in size: the first)."""
    for v in variables:
        if str(v.name).rsplit("/", 1)[-1] in KERNEL_NAMES:
            return v
    return max(variables, key=lambda v: int(np.prod(v.shape)))


def probe_batch(dataset: Any, n: int = PROBE_EXAMPLES) -> np.ndarray | None:
    """The first `n` inputs of a batched (x, y) dataset (None when it is empty)."""
    parts, have = [], 0
    for x, _ in dataset:
        parts.append(np.asarray(x))
        have += len(parts[-1])
        if have >= n:
            break
    if not parts:
        return None
    return np.concatenate(parts)[:n]


def output_histograms(model: Any, bins: int) -> Any:
    """A function x -> (ranges (L, 3): min, max, non-finite count; counts (L, bins)) of each
    of `model`'s outputs on x, binned as numpy's `histogram(v, bins)` bins: equal bins from
    the finite values' min to max (a constant output: min - 0.5 to max + 0.5).

    Traced once (`tf.function`), it runs the forward pass and the binning in TensorFlow and
    returns a few numbers per layer: 4-5 ms for resnet8-digits' 19 layers on 64 examples,
    where the same model called eagerly took ~75 ms and numpy's histograms of its 690k
    output values another ~15 ms."""
    import tensorflow as tf

    def stats(x: Any) -> Any:
        outs = model(x, training=False)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        ranges, counts = [], []
        for o in outs:
            v = tf.reshape(tf.cast(o, tf.float32), [-1])
            finite = tf.boolean_mask(v, tf.math.is_finite(v))
            n = tf.size(finite)
            lo = tf.where(n > 0, tf.reduce_min(finite), 0.0)
            hi = tf.where(n > 0, tf.reduce_max(finite), 1.0)
            same = lo >= hi
            lo, hi = tf.where(same, lo - 0.5, lo), tf.where(same, hi + 0.5, hi)
            counts.append(tf.histogram_fixed_width(finite, tf.stack([lo, hi]), nbins=bins))
            ranges.append(tf.stack([lo, hi, tf.cast(tf.size(v) - n, tf.float32)]))
        return tf.stack(ranges), tf.stack(counts)

    return stats


class HistogramCallback(keras.callbacks.Callback):
    """Records the histograms of every epoch the run completes.

    Placed before the trainer's own callback, so an epoch's histograms are on disk before
    its checkpoint (a resume then drops a record whose checkpoint was never written) and
    before its EpochEnd event reaches the views.

    Args:
        trainer: The Trainer (its model, layer groups, data pipelines and run folder).
        studio: The trainer's callback: its step and whether the epoch really completed.
    """

    def __init__(self, trainer: Any, studio: Any, bins: int = BINS,
                 probe: int = PROBE_EXAMPLES) -> None:
        super().__init__()
        self.trainer = trainer
        self.studio = studio
        self.bins = bins
        self.probe_size = probe
        self.enabled = True
        self._probe: np.ndarray | None = None
        self._taps: Any = None  # model from the input to each tapped layer's output
        self._tapped: list[str] = []
        self._tb: HistogramEventFile | None = None
        truncate_histograms(trainer.run_dir, studio.step)

    def on_train_begin(self, logs: Any = None) -> None:
        """Builds the taps and traces their function now, before the first step: at the
        first epoch end it held the GIL for 0.7-2.7 s mid-training (the GUI's event loop
        with it), as the validation trace did (Trainer._trace_validation)."""
        if not self.enabled or self._taps is not None:
            return
        try:
            self._activations()
        except Exception as e:  # noqa: BLE001 - a diagnostic never ends a run, but bad data does
            from resnet_studio.core.data.op_errors import is_decode_error

            if is_decode_error(e):
                # A damaged image among the probe's validation examples ends the run naming
                # it (the trainer: exit 2). Going on would be worse than a failed diagnostic:
                # the cached pipeline this read failed in is then read by Keras's validation
                # as if complete, only the examples before the damaged one (TF 2.21,
                # Keras 3.15), and the run would report metrics over part of the split.
                raise
            self._give_up("activation histograms stopped", e)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        t, s = self.trainer, self.studio
        if not self.enabled or s.failure is not None or (
                t.stop_requested and s.batch_in_epoch < max(1, t.steps_per_epoch)):
            return  # an interrupted epoch is not recorded (as in the trainer's callback)
        try:
            record = self.compute(epoch + 1, s.step)
        except StoreWriteError:
            raise
        except Exception as e:  # noqa: BLE001 - a diagnostic never ends a run
            self._give_up("weight and activation histograms stopped", e)
            return
        append_histograms(t.run_dir, record)
        self._write_tensorboard(record)

    def compute(self, epoch: int, step: int) -> EpochHistograms:
        """Every layer's histograms now."""
        t = self.trainer
        weights = t.model.trainable_weights
        activations = self._activations()
        layers = []
        for g in t.groups:
            var = kernel_of([weights[i] for i in g.indices])
            layers.append(LayerHistograms(
                g.layer, g.block, str(var.name).rsplit("/", 1)[-1],
                histogram(np.asarray(var.numpy(), np.float32), self.bins),
                activations.get(g.layer)))
        probe = 0 if self._probe is None else len(self._probe)
        return EpochHistograms(epoch, step, probe, tuple(layers))

    def _activations(self) -> dict[str, Histogram]:
        """Each tapped layer's output histogram on the probe batch."""
        if self._taps is None:
            self._build_taps()
        if not self._tapped or self._probe is None:
            return {}
        ranges, counts = (np.asarray(a) for a in self._stats(self._probe_tensor))
        out = {}
        for name, (lo, hi, bad), c in zip(self._tapped, ranges, counts, strict=True):
            edges = np.linspace(float(lo), float(hi), self.bins + 1)
            out[name] = Histogram(edges, c.astype(np.int64), int(bad))
        return out

    def _build_taps(self) -> None:
        """The probe batch and a model from the input to the output of every top-level layer
        with weights (a layer inside a nested backbone is not reachable: weights only)."""
        t = self.trainer
        val = t.data.info.sizes.get("validation", -1) != 0
        self._probe = probe_batch(t.val_ds if val else t.test_ds, self.probe_size)
        outputs, names = [], []
        for g in t.groups:
            if "/" in g.layer:
                continue
            try:
                output = t.model.get_layer(g.layer).output
            except (ValueError, AttributeError):  # not called once in the graph
                continue
            if isinstance(output, (list, tuple)):
                continue
            outputs.append(output)
            names.append(g.layer)
        inputs = t.model.inputs[0] if len(t.model.inputs) == 1 else t.model.inputs
        self._taps = keras.Model(inputs=inputs, outputs=outputs) if outputs else False
        self._tapped = names if outputs else []
        if outputs and self._probe is not None:
            import tensorflow as tf

            self._probe_tensor = tf.constant(self._probe)
            self._stats = tf.function(output_histograms(self._taps, self.bins))


    def _write_tensorboard(self, record: EpochHistograms) -> None:
        try:
            if self._tb is None:
                self._tb = HistogramEventFile(self.trainer.run_dir)
            values = []
            for lh in record.layers:
                values.append((f"weights/{lh.layer}", lh.weights))
                if lh.activations is not None:
                    values.append((f"activations/{lh.layer}", lh.activations))
            self._tb.write_histograms(record.step, values)
        except Exception as e:  # noqa: BLE001 - the run record has them; TensorBoard optional
            self._tb = None
            from resnet_studio.core.training.events import Log

            self.trainer._emit(Log(f"TensorBoard histograms not written: {e}", "warning"))

    def on_train_end(self, logs: Any = None) -> None:
        if self._tb is not None:
            try:
                self._tb.close()
            except Exception:  # noqa: BLE001 - nothing left to lose
                pass
            self._tb = None

    def _give_up(self, what: str, e: Exception) -> None:
        """Stops the histograms with a warning saying why: a TensorFlow error (a damaged
        image among the probe's samples) in our words (core/data/op_errors), never raw."""
        from resnet_studio.core.data.op_errors import explain, is_op_error
        from resnet_studio.core.training.events import Log

        text = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        why = explain(e, getattr(self.trainer, "dataset_name", None))[:300] if is_op_error(e) \
            else f"{type(e).__name__}: {text}"
        self.enabled = False
        self.trainer._emit(Log(f"{what}: {why}", "warning"))
