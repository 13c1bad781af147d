"""Structured pruning of whole residual branches.

A residual unit computes y = s(x) + F(x). Zeroing the last weighted layer of the branch F
(the final BatchNormalization's scale and shift, or the last convolution's kernel and bias
in a pre-activation unit) makes F(x) = 0 exactly, so the unit becomes its shortcut: the
whole branch is dead weight that a deployment can drop. Those few variables are masked like
pruned weights (sparsity/hold.py), so they stay zero while the rest of the network fine-tunes.

Which branches: the ones whose deletion hurts least, ranked by the lesion study
(core/geometry/lesion.py; Veit et al. 2016, arXiv:1605.06431) on the validation split (the
test split is kept for the reported accuracy). A plain network has no branch to remove this
way: its units are the only path, and zeroing one cuts the network (the lesion study
measures the identity replacement instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_studio.core import keras_private
from resnet_studio.core.sparsity.masks import PruningError, prunable

# Layers that map 0 to 0 (an all-zero branch stays all zero through them).
_ZERO_PRESERVING = ("Activation", "ReLU", "Dropout", "DropPath", "Identity", "SpatialDropout1D",
                    "SpatialDropout2D", "LeakyReLU")
_ZERO_ACTIVATIONS = ("relu", "linear", "gelu", "silu", "swish", "leaky_relu", "elu", "selu",
                     "tanh", "relu6")


@dataclass(frozen=True)
class Branch:
    """A removable residual branch.

    Attributes:
        unit: Unit name (`stage2_1`).
        zero: Paths of the variables that, set to zero, make the branch output zero.
        params: Kernel weights of the branch's layers (what removing it saves).
        layers: Names of the branch's layers.
    """

    unit: str
    zero: tuple[str, ...]
    params: int
    layers: tuple[str, ...]


def _op(tensor: Any) -> Any:
    return keras_private.keras_history(tensor).operation


def _inputs(layer: Any) -> list[Any]:
    return [t for node in keras_private.inbound_nodes(layer) for t in node.input_tensors]


def _ancestors(layer: Any) -> set[str]:
    seen: set[str] = set()
    stack = [layer]
    while stack:
        cur = stack.pop()
        if cur.name in seen:
            continue
        seen.add(cur.name)
        stack.extend(_op(t) for t in _inputs(cur))
    return seen


def _zero_variables(layer: Any) -> list[str]:
    """Variables of `layer` whose zeroing makes its output zero (empty: not that kind)."""
    kind = type(layer).__name__
    if kind in ("BatchNormalization", "LayerNormalization", "GroupNormalization"):
        if getattr(layer, "gamma", None) is None:
            return []
        return [v.path for v in (layer.gamma, getattr(layer, "beta", None)) if v is not None]
    if getattr(layer, "kernel", None) is not None:
        bias = getattr(layer, "bias", None)
        return [layer.kernel.path] + ([bias.path] if bias is not None else [])
    if kind == "ResidualScale" and layer.trainable_weights:
        return [v.path for v in layer.trainable_weights]
    return []


def _passes_zero(layer: Any) -> bool:
    kind = type(layer).__name__
    if kind == "Activation":
        name = getattr(layer.activation, "__name__", str(layer.activation))
        return name in _ZERO_ACTIVATIONS
    return kind in _ZERO_PRESERVING or (kind == "ResidualScale" and not layer.trainable_weights)


def residual_branches(model: Any, units: list[Any]) -> list[Branch]:
    """The removable branch of every residual unit of a (gate-free) built model.

    Args:
        model: The functional model built from the spec.
        units: `BuiltModel.units` (UnitRecord: name, residual, ...).

    Raises:
        PruningError: a unit's branch ends in a layer whose output cannot be zeroed.
    """
    out = []
    names = {layer.name for layer in model.layers}
    for unit in units:
        if not unit.residual or f"{unit.name}_add" not in names:
            continue
        add = model.get_layer(f"{unit.name}_add")
        shortcut, branch = _inputs(add)[:2]
        # Branch layers: ancestors of the branch input that the shortcut does not depend on.
        mine = _ancestors(_op(branch)) - _ancestors(_op(shortcut))
        layer = _op(branch)
        while _passes_zero(layer):
            (inp,) = _inputs(layer)[:1]
            layer = _op(inp)
        zero = _zero_variables(layer)
        if not zero or layer.name not in mine:
            raise PruningError(f"the branch of unit {unit.name} ends in {layer.name} "
                               f"({type(layer).__name__}), whose output cannot be zeroed")
        layers = tuple(lr.name for lr in model.layers if lr.name in mine)
        params = sum(int(np.prod(w.shape)) for lr in model.layers if lr.name in mine
                     for w in lr.trainable_weights if prunable(w.path, tuple(w.shape)))
        out.append(Branch(unit.name, tuple(zero), params, layers))
    return out


def rank_branches(parent: Any, branches: list[Branch]) -> list[dict[str, Any]]:
    """The branches, least damaging first, by the lesion study's accuracy drop on the
    validation split (the training split when there is none)."""
    from resnet_studio.core.geometry.lesion import lesion_study
    from resnet_studio.core.geometry.runmodel import RunModel

    sizes = parent.data.info.sizes
    split = "validation" if sizes.get("validation", 0) > 0 else "train"
    run = RunModel(parent.info.dir, parent.trainer, True, 0)
    study = lesion_study(parent.info.dir, draws=1, max_k=0, split=split, run=run)
    drop = {b.block: b.drop for b in study.blocks}
    ranked = sorted(branches, key=lambda b: (drop.get(b.unit, float("inf")), b.unit))
    return [{"unit": b.unit, "drop": drop.get(b.unit), "params": b.params, "split": split}
            for b in ranked]


def branch_masks(parent: Any, branches: list[Branch], units: list[str]) -> dict[str, Any]:
    """Masks (all zero) of the variables that remove `units`' branches."""
    by_unit = {b.unit: b for b in branches}
    return {p: np.zeros_like(parent.values[p]) for u in units for p in by_unit[u].zero}

