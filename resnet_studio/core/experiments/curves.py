"""Figures' numbers of an experiment, per arm over its seeds' runs (Qt-free, read from disk).

- `epoch_curve`: a metric of the epoch records (training loss, validation accuracy, …) by
  epoch, mean and sample standard deviation over the seeds that reached that epoch: the
  line and the band of the Experiments tab's curves.
- `gradient_by_depth`: each weighted layer's gradient norm averaged over the recorded steps,
  then over seeds, in the order of depth (the stem first, the head last): where in the net
  the gradient is small. The average is geometric (a mean of log10 norms), as in the
  training view's gradient flow: norms span decades, and one huge step must not dominate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Normalisation layers as the block builders name them (`stem_bn`, `stage1_1_bn2`,
# `…_prebn`, `…_ln`): their few parameters' gradients are on another scale than the
# convolutions' and dense layers', and interleaved with them they make a depth profile
# zig-zag between the two.
NORM_LAYER = re.compile(r"(bn|ln|norm)\d*$")
# Epoch-record keys a curve can show (the Experiments tab's choices).
CURVE_METRICS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


@dataclass
class Curve:
    """x (epochs, the first is 1), mean and sd over seeds (sd 0 where one seed reached the epoch),
    and how many seeds each point averages."""

    x: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    n: np.ndarray


def epoch_curve(run_dirs: list[str | Path], metric: str) -> Curve:
    """`metric` of the epoch records of `run_dirs` (one per seed), by epoch.

    Missing or non-finite values are left out of that epoch's mean; epochs no seed reached
    are absent.
    """
    from resnet_studio.core.runs import read_metrics

    by_epoch: dict[int, list[float]] = {}
    for d in run_dirs:
        try:
            records = read_metrics(d)
        except (OSError, ValueError):
            continue
        for r in records:
            v = r.get(metric)
            if r.get("kind") != "epoch" or not isinstance(v, (int, float)) or \
                    not np.isfinite(v):
                continue
            by_epoch.setdefault(int(r.get("epoch", 0)), []).append(float(v))
    epochs = sorted(by_epoch)
    mean = np.array([np.mean(by_epoch[e]) for e in epochs], dtype=np.float64)
    sd = np.array([np.std(by_epoch[e], ddof=1) if len(by_epoch[e]) > 1 else 0.0
                   for e in epochs], dtype=np.float64)
    n = np.array([len(by_epoch[e]) for e in epochs], dtype=np.int64)
    return Curve(np.array(epochs, dtype=np.float64), mean, sd, n)  # epoch records count from 1


def gradient_by_depth(run_dirs: list[str | Path], skip_norm_layers: bool = True
                      ) -> tuple[list[str], np.ndarray]:
    """(layer names in depth order, geometric-mean gradient norm per layer over steps, then
    seeds).

    Args:
        skip_norm_layers: Leave normalisation layers out (`NORM_LAYER`): the convolution
            and dense layers only.

    Seeds whose runs recorded other layers (cannot happen within an arm, but a damaged
    folder might) are left out; no recorded step gives empty results.
    """
    from resnet_studio.core.runs import read_gradients_or_empty

    names: list[str] = []
    per_seed: list[np.ndarray] = []
    for d in run_dirs:
        layers, _, _, norms = read_gradients_or_empty(d)
        if not layers or norms.shape[0] == 0:
            continue
        if names and layers != names:
            continue
        names = layers
        with np.errstate(all="ignore"):
            logs = np.log10(norms.astype(np.float64))
            logs[~np.isfinite(logs)] = np.nan  # a zero norm (a zero-γ branch) or an overflow
            per_seed.append(np.nanmean(logs, axis=0))
    if not per_seed:
        return [], np.zeros(0)
    with np.errstate(all="ignore"):
        mean = 10.0 ** np.nanmean(np.stack(per_seed), axis=0)
    keep = [i for i, n in enumerate(names) if not (skip_norm_layers and NORM_LAYER.search(n))]
    return [names[i] for i in keep], mean[keep]
