"""Residual MLP block: a stack of dense units with shortcuts, y = x + act(W·norm(x))."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnet_studio.core.blocks.context import BuildContext
from resnet_studio.core.blocks.primitives import filters_param
from resnet_studio.core.blocks.registry import register
from resnet_studio.core.blocks.residual import (
    ACTIVATIONS,
    HE_2016,
    VARIANT_PARAMS,
    activation,
    make_shortcut,
    merge,
    shortcut_param,
)
from resnet_studio.core.params import Param

if TYPE_CHECKING:  # annotations only: the spec module imports the registry
    from resnet_studio.core.spec import BlockSpec


@register("residual_dense", family="Layers", title="Residual MLP",
          help="Stack of dense units with shortcuts: y = x + act(Dense(x)); with shortcut none, "
               "a plain deep MLP.",
          params=(filters_param(64, "units", "Width of every unit."),
                  Param("repeat", "int", 1, "Units.", minimum=1, maximum=512),
                  Param("activation", "choice", "relu", "Activation inside each unit.",
                        choices=ACTIVATIONS),
                  Param("norm", "choice", "none", "Normalization before each dense layer.",
                        choices=("none", "layer", "batch")),
                  shortcut_param(("identity", "projection", "none"), default="projection"),
                  *VARIANT_PARAMS),
          citation=HE_2016, key_params=("units", "repeat", "activation", "shortcut"))
def build_residual_dense(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    ctx.expect_rank(x, (2, 3), "Add a flatten or global_pool block first")
    for j in range(p["repeat"]):
        unit = ctx.next_residual_unit()
        prefix = f"{j + 1}_"
        h = x
        if p["norm"] == "layer":
            h = ctx.add(keras.layers.LayerNormalization(name=ctx.name(f"{prefix}ln")))(h)
        elif p["norm"] == "batch":
            h = ctx.add(keras.layers.BatchNormalization(name=ctx.name(f"{prefix}bn")))(h)
        h = ctx.add(keras.layers.Dense(p["units"], name=ctx.name(f"{prefix}dense")))(h)
        h = activation(ctx, h, p["activation"], f"{prefix}act")
        mode = p["shortcut"] if j == 0 else ("none" if p["shortcut"] == "none" else "identity")
        s = make_shortcut(ctx, x, tuple(h.shape), mode, prefix, norm=False)
        x = merge(ctx, s, h, p, prefix, unit, x)
    return x
