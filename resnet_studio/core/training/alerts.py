"""Gradient alerts: tell the user, once, when gradients vanish or explode.

A student watching a 20-layer sigmoid network fail to learn should not have to read the
gradient plot to learn why: the Trainer feeds every recorded gradient-norm vector (and every
epoch end) to a `GradientAlerts` checker, which returns an alert the first time a condition
holds. Each kind is reported once per run (an alert repeated every step is noise, and the
plots already show how it evolves).

Kinds:
    vanishing: the first weighted block's gradient norm is below 1e-4 of the last weighted
        block's before the head (geometric mean over the last `window` recorded steps, or
        over the epoch for shorter runs). Blocks as in `blocknorms`.
    exploding: some layer's gradient norm exceeds 1e3 at a step.
    growing: some layer's epoch-mean gradient norm grew ≥ 10× from one epoch to the next.
        Layers whose new mean is under 1 % of the largest layer mean are ignored: a starved
        layer of a plain network that recovers from 1e-12 to 1e-11 is not an explosion.

Cost per step: a few numpy operations on an L-vector (no TensorFlow, no Qt).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from resnet_studio.core.training.blocknorms import BlockMap

VANISHING_RATIO = 1e-4
EXPLODING_NORM = 1e3
GROWTH_FACTOR = 10.0
GROWTH_FLOOR = 1e-2  # of the largest layer's epoch mean
WINDOW = 10
KINDS = ("vanishing", "exploding", "growing")


@dataclass(frozen=True)
class GradientAlert:
    """One alert: what happened, where (layers and their top-level blocks) and when."""

    kind: str
    message: str
    step: int
    layers: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "step": self.step,
                "layers": list(self.layers), "blocks": list(self.blocks)}


class GradientAlerts:
    """Stateful checker fed with per-layer gradient norms (one call per recorded step).

    Args:
        layer_names: Names of the norm vector's entries (depth order).
        block_map: Layers -> top-level blocks; None disables the vanishing check.
        reported: Kinds already reported for this run (a resumed run does not repeat them).
        vanishing_ratio, exploding_norm, growth_factor, window: Thresholds (module
            constants by default).
    """

    def __init__(self, layer_names: Sequence[str], block_map: BlockMap | None = None, *,
                 reported: Iterable[str] = (), vanishing_ratio: float = VANISHING_RATIO,
                 exploding_norm: float = EXPLODING_NORM, growth_factor: float = GROWTH_FACTOR,
                 window: int = WINDOW) -> None:
        self.layer_names = list(layer_names)
        self.block_map = block_map
        self.reported: set[str] = set(reported)
        self.vanishing_ratio = vanishing_ratio
        self.exploding_norm = exploding_norm
        self.growth_factor = growth_factor
        self._pair = block_map.ratio_blocks if block_map is not None else None
        if self._pair is not None and block_map is not None:
            # Only the two blocks of the ratio are needed at every step.
            self._first_idx = np.flatnonzero(block_map.matrix[:, self._pair[0]])
            self._last_idx = np.flatnonzero(block_map.matrix[:, self._pair[1]])
        self._log_ratios: deque[float] = deque(maxlen=max(1, int(window)))
        self._block_of = self._layer_blocks()
        n = len(self.layer_names)
        self._sum = np.zeros(n, dtype=np.float64)
        self._count = 0
        self._previous_means: np.ndarray | None = None
        self._step = 0

    def _layer_blocks(self) -> dict[str, str]:
        if self.block_map is None:
            return {}
        return {layer: name for name, layers in zip(self.block_map.names,
                                                   self.block_map.layers, strict=True)
                for layer in layers}

    def _blocks_of(self, layers: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(self._block_of[la] for la in layers if la in self._block_of))

    # -- feeding
    def observe(self, step: int, norms: np.ndarray) -> list[GradientAlert]:
        """Checks one step's layer norms (finite values; the Trainer fails the run on
        non-finite ones before asking). Returns the alerts raised now (usually none)."""
        norms = np.asarray(norms, dtype=np.float64)
        self._step = int(step)
        np.add(self._sum, norms, out=self._sum)
        self._count += 1
        alerts: list[GradientAlert] = []
        if "exploding" not in self.reported and norms.max(initial=0.0) > self.exploding_norm:
            alerts.append(self._exploding(step, norms,
                                          np.flatnonzero(norms > self.exploding_norm)))
        if self._pair is not None and "vanishing" not in self.reported:
            first = math.sqrt(float(np.dot(norms[self._first_idx], norms[self._first_idx])))
            last = math.sqrt(float(np.dot(norms[self._last_idx], norms[self._last_idx])))
            if last > 0:
                self._log_ratios.append(math.log10(max(first / last, 1e-38)))
                if len(self._log_ratios) == self._log_ratios.maxlen:
                    alerts += self._check_vanishing(step)
        return alerts

    def end_epoch(self, epoch: int, step: int | None = None) -> list[GradientAlert]:
        """Epoch-level checks: growth of epoch-mean norms, and vanishing for runs too short
        to fill the window."""
        step = self._step if step is None else int(step)
        alerts: list[GradientAlert] = []
        if self._pair is not None and "vanishing" not in self.reported and self._log_ratios:
            alerts += self._check_vanishing(step)
        if self._count:
            means = self._sum / self._count
            prev = self._previous_means
            if prev is not None and "growing" not in self.reported:
                floor = GROWTH_FLOOR * float(means.max())
                grown = np.flatnonzero((prev > 0) & (means >= self.growth_factor * prev)
                                       & (means >= floor))
                if grown.size:
                    alerts.append(self._growing(epoch, step, means, prev, grown))
            self._previous_means = means
            self._sum = np.zeros_like(self._sum)
            self._count = 0
        return alerts

    # -- alerts
    def _report(self, alert: GradientAlert) -> GradientAlert:
        self.reported.add(alert.kind)
        return alert

    def _check_vanishing(self, step: int) -> list[GradientAlert]:
        mean_log = math.fsum(self._log_ratios) / len(self._log_ratios)
        if mean_log >= math.log10(self.vanishing_ratio):
            return []
        assert self.block_map is not None and self._pair is not None
        first, last = (self.block_map.names[j] for j in self._pair)
        layers = self.block_map.layers[self._pair[0]]
        n = len(self._log_ratios)
        msg = (f"vanishing gradients: the first block '{first}' receives {10 ** mean_log:.1e} "
               f"of the gradient of '{last}', the last block before the head (geometric mean "
               f"over the last {n} recorded step{'s' if n != 1 else ''}; alert below "
               f"{self.vanishing_ratio:.0e}). The first layers barely learn: add shortcuts "
               "(residual connections), normalization, or a non-saturating activation.")
        return [self._report(GradientAlert("vanishing", msg, step, list(layers), [first, last]))]

    def _exploding(self, step: int, norms: np.ndarray, big: np.ndarray) -> GradientAlert:
        worst = int(big[np.argmax(norms[big])])
        layers = [self.layer_names[i] for i in big]
        more = f" (and {len(layers) - 1} more layer{'s' if len(layers) > 2 else ''})" \
            if len(layers) > 1 else ""
        msg = (f"exploding gradients at step {step}: layer {self.layer_names[worst]} has "
               f"gradient norm {norms[worst]:.3g} (alert above {self.exploding_norm:g}){more}. "
               "Lower the learning rate, or clip gradients (clipnorm / global_clipnorm).")
        return self._report(GradientAlert("exploding", msg, step, layers,
                                          self._blocks_of(layers)))

    def _growing(self, epoch: int, step: int, means: np.ndarray, prev: np.ndarray,
                 grown: np.ndarray) -> GradientAlert:
        factors = means[grown] / prev[grown]
        worst = int(grown[np.argmax(factors)])
        layers = [self.layer_names[i] for i in grown]
        more = f" (and {len(layers) - 1} more layer{'s' if len(layers) > 2 else ''})" \
            if len(layers) > 1 else ""
        msg = (f"growing gradients in epoch {epoch}: layer {self.layer_names[worst]}'s mean "
               f"gradient norm grew {means[worst] / prev[worst]:.0f}× over the previous epoch "
               f"({prev[worst]:.3g} -> {means[worst]:.3g}){more}. Training may be becoming "
               "unstable: lower the learning rate or clip gradients.")
        return self._report(GradientAlert("growing", msg, step, layers, self._blocks_of(layers)))
