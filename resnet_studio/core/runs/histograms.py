"""Per-layer weight and activation histograms of a run, one record per completed epoch.

`histograms.jsonl` holds one JSON object per epoch end, appended (and fsync'd) before that
epoch's checkpoint is written:

    {"epoch": 3, "step": 123, "probe": 64,
     "layers": [{"layer": "stem_conv", "block": "stem", "weight": "kernel",
                 "weights": {"edges": [...31 floats], "counts": [...30 ints], "nonfinite": 0},
                 "activations": {"edges": [...], "counts": [...], "nonfinite": 0} | null}]}

`weights` is the histogram of the layer's kernel (its largest weight: `kernel`,
`embeddings`, …) at the end of the epoch, `activations` that of the layer's outputs on the
run's probe batch (a fixed, seeded set of validation examples). Like metrics.jsonl, a killed
process can leave a torn last line (dropped by the reader), and a resume drops the records
after its checkpoint's step (`truncate_histograms`), so every epoch appears once.

The same histograms go to the run's TensorBoard folder (`HistogramEventFile`: the events
`tf.summary.histogram` writes, built without it, as the scalars are).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.runs import diskio, layout
from resnet_studio.core.runs.tensorboard import ScalarEventFile
from resnet_studio.core.spec import atomic_write_text

HISTOGRAMS_JSONL = "histograms.jsonl"

PathLike = str | os.PathLike[str]


def histograms_jsonl(run_dir: PathLike) -> Path:
    return Path(run_dir) / HISTOGRAMS_JSONL


@dataclass(frozen=True)
class Histogram:
    """Counts of values between `edges` (len(counts) + 1 increasing floats); `nonfinite`
    counts the NaN and infinite values left out."""

    edges: np.ndarray
    counts: np.ndarray
    nonfinite: int = 0

    @property
    def total(self) -> int:
        return int(self.counts.sum()) + self.nonfinite

    def to_dict(self) -> dict[str, Any]:
        return {"edges": [float(e) for e in self.edges],
                "counts": [int(c) for c in self.counts], "nonfinite": int(self.nonfinite)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Histogram:
        return cls(np.asarray(d["edges"], np.float64), np.asarray(d["counts"], np.int64),
                   int(d.get("nonfinite", 0)))


def histogram(values: Any, bins: int) -> Histogram:
    """The histogram of `values` (any shape) in `bins` equal bins from its min to its max
    (numpy's `histogram`; a constant array gets numpy's unit-wide range around it)."""
    v = np.asarray(values).reshape(-1)
    finite = np.isfinite(v)
    bad = int(v.size - np.count_nonzero(finite))
    if bad:
        v = v[finite]
    counts, edges = np.histogram(v, bins=bins)
    return Histogram(edges.astype(np.float64), counts.astype(np.int64), bad)


@dataclass(frozen=True)
class LayerHistograms:
    """One layer's histograms at one epoch end."""

    layer: str
    block: str
    weight: str  # which of its variables: kernel, embeddings, …
    weights: Histogram
    activations: Histogram | None

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "block": self.block, "weight": self.weight,
                "weights": self.weights.to_dict(),
                "activations": self.activations.to_dict() if self.activations else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayerHistograms:
        act = d.get("activations")
        return cls(str(d["layer"]), str(d.get("block", "")), str(d.get("weight", "")),
                   Histogram.from_dict(d["weights"]),
                   Histogram.from_dict(act) if act else None)


@dataclass(frozen=True)
class EpochHistograms:
    """Every layer's histograms at the end of `epoch` (global `step`)."""

    epoch: int
    step: int
    probe: int  # examples in the probe batch
    layers: tuple[LayerHistograms, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "step": self.step, "probe": self.probe,
                "layers": [lh.to_dict() for lh in self.layers]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EpochHistograms:
        return cls(int(d["epoch"]), int(d["step"]), int(d.get("probe", 0)),
                   tuple(LayerHistograms.from_dict(x) for x in d["layers"]))

    def layer(self, name: str) -> LayerHistograms | None:
        return next((lh for lh in self.layers if lh.layer == name), None)


def append_histograms(run_dir: PathLike, record: EpochHistograms) -> None:
    """Appends one epoch's record to histograms.jsonl, fsync'd (StoreWriteError on a full
    or read-only disk)."""
    path = histograms_jsonl(run_dir)
    line = json.dumps(record.to_dict(), separators=(",", ":"))
    with diskio.guarded(path), open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_histograms(run_dir: PathLike) -> list[EpochHistograms]:
    """The run's records in epoch order; a torn or damaged line is skipped, and an epoch
    recorded twice keeps its last record."""
    path = histograms_jsonl(run_dir)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    by_epoch: dict[int, EpochHistograms] = {}
    for line in text.splitlines():
        try:
            record = EpochHistograms.from_dict(json.loads(line))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        by_epoch[record.epoch] = record
    return [by_epoch[e] for e in sorted(by_epoch)]


def histograms_signature(run_dir: PathLike) -> tuple[int, int] | None:
    """(size, mtime_ns) of histograms.jsonl, None when absent: a view polling a training
    run re-reads the file only when this changes."""
    try:
        st = histograms_jsonl(run_dir).stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def truncate_histograms(run_dir: PathLike, step: int) -> None:
    """Drops the records of epochs that ended after `step` (a resumed run from a checkpoint
    at `step` redoes them; a process killed between an epoch's record and its checkpoint
    left one). Replaced atomically; nothing to do when nothing is dropped."""
    path = histograms_jsonl(run_dir)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    kept = []
    for line in lines:
        try:
            if int(json.loads(line)["step"]) <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    if len(kept) != len(lines):
        with diskio.guarded(path):
            atomic_write_text(path, "".join(line + "\n" for line in kept), backup=False)


class HistogramEventFile(ScalarEventFile):
    """A TensorBoard event file of histograms in the run's tensorboard/ folder: each value
    is what `tf.summary.histogram` writes (a float64 [k, 3] tensor of left edge, right edge
    and count, with the histograms plugin's metadata), so TensorBoard's Histograms and
    Distributions tabs show them. Built as protos, like the scalars: no TensorFlow op."""

    def __init__(self, run_dir: PathLike) -> None:
        from tensorboard.plugins.histogram import metadata

        super().__init__(Path(run_dir) / layout.TENSORBOARD)
        self._histogram_metadata = metadata.create_summary_metadata(display_name=None,
                                                                    description=None)

    def write_histograms(self, step: int, histograms: list[tuple[str, Histogram]]) -> None:
        """One event at `step` holding each (tag, histogram)."""
        import time

        from tensorboard.util import tensor_util

        values = []
        for tag, h in histograms:
            buckets = np.stack([h.edges[:-1], h.edges[1:], h.counts.astype(np.float64)], axis=1)
            v = self._summary.Value(tag=tag, tensor=tensor_util.make_tensor_proto(
                buckets, dtype=np.float64))
            v.metadata.CopyFrom(self._histogram_metadata)
            values.append(v)
        self._file.write(self._event(wall_time=time.time(), step=int(step),
                                     summary=self._summary(value=values)).SerializeToString())
        self._file.flush()
