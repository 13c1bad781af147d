"""Magnitude pruning masks: which weights (or whole filters) a given sparsity removes.

Everything here works on numpy arrays keyed by the variable's path (`stage1_conv1/kernel`),
so it is independent of Keras and cheap to test. The prunable weights are the kernels of
convolutions and dense layers; biases, normalization parameters and embeddings are left
alone (they are few, and zeroing a normalization's scale is a different operation).

Unstructured pruning zeroes individual weights of smallest |w| (Han et al. 2015, "Learning
both Weights and Connections for Efficient Neural Networks", arXiv:1506.02626). Structured
pruning zeroes whole output filters of smallest L1 norm (Li et al. 2017, "Pruning Filters
for Efficient ConvNets", arXiv:1608.08710). Counts are exact: a layer of n weights pruned to
sparsity s loses round(s * n) of them, ties broken by position (a stable sort).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

SCOPES = ("global", "layer")
SCHEDULES = ("oneshot", "gradual")
KERNEL_NAMES = ("kernel",)  # Conv1D/2D/3D, Conv*Transpose, Dense, EinsumDense


class PruningError(ValueError):
    """A pruning request that cannot be carried out; the message says which setting."""


@dataclass(frozen=True)
class PruningSettings:
    """What to prune and how; stored in the pruned run's run.json under `pruning`.

    Attributes:
        sparsity: Final fraction of the prunable weights (or filters) set to zero, in [0, 1).
        structured: Remove whole output filters/units instead of single weights.
        scope: `global` (one magnitude ranking over all prunable weights) or `layer` (each
            layer pruned to `sparsity` on its own).
        schedule: `oneshot` (masks computed once from the parent's weights) or `gradual`
            (Zhu & Gupta 2017: sparsity rises during fine-tuning along a cubic).
        begin_step: Gradual: first step that prunes.
        end_step: Gradual: step at which `sparsity` is reached.
        frequency: Gradual: steps between two mask updates.
        blocks: Residual units whose branch is removed (branches.py).
        masked: Further variable paths held at zero (the removed branches' last layers).
    """

    sparsity: float
    structured: bool = False
    scope: str = "global"
    schedule: str = "oneshot"
    begin_step: int = 0
    end_step: int = 0
    frequency: int = 1
    blocks: tuple[str, ...] = ()
    masked: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.sparsity < 1.0:
            raise PruningError(f"sparsity must be in [0, 1), received: {self.sparsity}")
        if self.scope not in SCOPES:
            raise PruningError(f"scope must be one of {SCOPES}, received: {self.scope!r}")
        if self.schedule not in SCHEDULES:
            raise PruningError(f"schedule must be one of {SCHEDULES}, received: "
                               f"{self.schedule!r}")
        if self.schedule == "gradual" and not (0 <= self.begin_step <= self.end_step
                                               and self.frequency >= 1):
            raise PruningError("gradual pruning needs 0 <= begin_step <= end_step and "
                               f"frequency >= 1, received: {self.begin_step}, "
                               f"{self.end_step}, {self.frequency}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PruningSettings:
        keys = cls.__dataclass_fields__
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()
                      if k in keys})

    def target(self, step: int) -> float:
        """The sparsity the masks should have at `step` (`sparsity` for one-shot)."""
        if self.schedule == "oneshot":
            return self.sparsity
        return polynomial_sparsity(step, self.sparsity, self.begin_step, self.end_step)

    def updates_at(self, step: int) -> bool:
        """Gradual: whether the masks are recomputed before `step`."""
        return (self.schedule == "gradual" and self.begin_step <= step <= self.end_step
                and ((step - self.begin_step) % self.frequency == 0 or step == self.end_step))


def polynomial_sparsity(step: int, final: float, begin: int, end: int,
                        initial: float = 0.0) -> float:
    """Zhu & Gupta 2017 ("To prune, or not to prune", arXiv:1710.01878), eq. 1:
    s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n Δt))^3, clamped to [t0, t0 + n Δt].

    Prunes fast while many redundant weights remain and slowly near the target, so the
    network has time to recover from each cut.
    """
    if end <= begin:
        return final if step >= begin else initial
    progress = min(1.0, max(0.0, (step - begin) / (end - begin)))
    return final + (initial - final) * (1.0 - progress) ** 3


def prunable(path: str, shape: tuple[int, ...]) -> bool:
    """Kernels of at least two dimensions (convolutions, dense layers)."""
    return path.rsplit("/", 1)[-1] in KERNEL_NAMES and len(shape) >= 2


def _smallest(scores: np.ndarray, k: int) -> np.ndarray:
    """Boolean array, True at the k smallest entries (ties: the earlier position first)."""
    out = np.zeros(scores.size, dtype=bool)
    if k > 0:
        out[np.argsort(scores.reshape(-1), kind="stable")[:k]] = True
    return out.reshape(scores.shape)


def _filter_scores(w: np.ndarray) -> np.ndarray:
    """Mean |w| of each output filter (last axis): the L1 norm divided by the filter's size,
    so filters of layers of different fan-in compare fairly in a global ranking."""
    return np.abs(w).reshape(-1, w.shape[-1]).mean(axis=0)


def compute_masks(weights: Mapping[str, np.ndarray], sparsity: float, *,
                  structured: bool = False, scope: str = "global",
                  exclude: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Masks (1 keep, 0 prune; the weights' shapes, float32) for a sparsity.

    Args:
        weights: Variable path -> current values; non-prunable entries are ignored.
        sparsity: Fraction of weights (unstructured) or filters (structured) to zero.
        structured: Zero whole output filters (the last kernel axis).
        scope: `layer`: each layer loses round(sparsity * its size); `global`: the smallest
            round(sparsity * total) over all prunable weights, wherever they are.
        exclude: Paths never pruned (structured pruning leaves the output layer's units:
            removing a class's logit is not compression).

    Returns:
        Path -> mask for every prunable path. Weights already zero count as the smallest,
        so repeated pruning to a higher sparsity keeps every earlier cut.
    """
    if scope not in SCOPES:
        raise PruningError(f"scope must be one of {SCOPES}, received: {scope!r}")
    chosen = {p: np.asarray(w) for p, w in weights.items()
              if prunable(p, np.shape(w)) and p not in exclude}
    if not chosen:
        raise PruningError("the model has no prunable weights (convolution or dense kernels)")
    if structured:
        scores = {p: _filter_scores(w) for p, w in chosen.items()}
    else:
        scores = {p: np.abs(w) for p, w in chosen.items()}
    if scope == "layer":
        cut = {p: _smallest(s, int(round(sparsity * s.size))) for p, s in scores.items()}
    else:
        flat = np.concatenate([s.reshape(-1) for s in scores.values()])
        pruned = _smallest(flat, int(round(sparsity * flat.size)))
        cut, start = {}, 0
        for p, s in scores.items():
            cut[p] = pruned[start:start + s.size].reshape(s.shape)
            start += s.size
        if structured:  # a layer with no filter left would cut the network in two
            for p, c in cut.items():
                if c.all():
                    c[np.argmax(scores[p])] = False
    masks = {}
    for p, w in chosen.items():
        keep = ~cut[p]
        if structured:
            keep = np.broadcast_to(keep, w.shape)
        masks[p] = keep.astype(np.float32)
    return masks


def sparsity_report(weights: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Measured zeros of the prunable weights: overall fraction and per layer."""
    per_layer, zeros, total = {}, 0, 0
    for p, w in weights.items():
        if not prunable(p, np.shape(w)):
            continue
        z = int(np.count_nonzero(np.asarray(w) == 0))
        per_layer[p] = {"zeros": z, "size": int(np.size(w)),
                        "sparsity": round(z / max(1, np.size(w)), 6)}
        zeros += z
        total += int(np.size(w))
    return {"sparsity": round(zeros / max(1, total), 6), "zeros": zeros, "prunable": total,
            "layers": per_layer}
