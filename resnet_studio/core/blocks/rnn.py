"""Residual recurrent blocks: y = x + RNN(x) per unit, with layer norm (post or pre)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnet_studio.core.blocks.context import BuildContext
from resnet_studio.core.blocks.primitives import RNN_HINT, filters_param
from resnet_studio.core.blocks.registry import register
from resnet_studio.core.blocks.residual import (
    VARIANT_PARAMS,
    make_shortcut,
    merge,
    shortcut_param,
)
from resnet_studio.core.params import Param

if TYPE_CHECKING:  # annotations only: the spec module imports the registry
    from resnet_studio.core.spec import BlockSpec

CITATION = ("Wu et al. Google's Neural Machine Translation System (residual LSTM stacks). 2016. "
            "arXiv:1609.08144")
RNN_STAGE_PARAMS = (
    filters_param(64, "units", "Hidden units (also the output features)."),
    Param("repeat", "int", 1, "Residual units.", minimum=1, maximum=256),
    shortcut_param(("identity", "projection", "none"), default="projection"),
    Param("variant", "choice", "v2", "v1: post-norm, LN(x + RNN(x)); v2: pre-norm, "
          "x + RNN(LN(x)) (clean identity path).", choices=("v1", "v2")),
    Param("norm", "bool", True, "Layer normalization in each unit."),
    Param("dropout", "float", 0.0, "Dropout on the recurrent branch.", minimum=0.0,
          maximum=0.95),
    *VARIANT_PARAMS,
)


def _residual_rnn(ctx: BuildContext, x: Any, p: dict[str, Any], cls_name: str) -> Any:
    import keras

    ctx.expect_rank(x, (3,), RNN_HINT)
    v2 = p["variant"] == "v2"
    for j in range(p["repeat"]):
        unit = ctx.next_residual_unit()
        prefix = f"{j + 1}_"
        h = x
        if p["norm"] and v2:
            h = ctx.add(keras.layers.LayerNormalization(name=ctx.name(f"{prefix}ln")))(h)
        rnn = getattr(keras.layers, cls_name)
        h = ctx.add(rnn(p["units"], return_sequences=True,
                        name=ctx.name(f"{prefix}{cls_name.lower()}")))(h)
        if p["dropout"]:
            h = ctx.add(keras.layers.Dropout(p["dropout"], name=ctx.name(f"{prefix}drop")))(h)
        mode = p["shortcut"] if j == 0 else ("none" if p["shortcut"] == "none" else "identity")
        s = make_shortcut(ctx, x, tuple(h.shape), mode, prefix, norm=False)
        x = merge(ctx, s, h, p, prefix, unit, x)
        if p["norm"] and not v2:
            x = ctx.add(keras.layers.LayerNormalization(name=ctx.name(f"{prefix}ln")))(x)
    return x


@register("residual_lstm", family="Recurrent", title="Residual LSTM",
          help="Stack of LSTM units with shortcuts: y = x + LSTM(LN(x)).",
          params=RNN_STAGE_PARAMS, citation=CITATION,
          key_params=("units", "repeat", "shortcut"))
def build_residual_lstm(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    return _residual_rnn(ctx, x, p, "LSTM")


@register("residual_gru", family="Recurrent", title="Residual GRU",
          help="Stack of GRU units with shortcuts: y = x + GRU(LN(x)).",
          params=RNN_STAGE_PARAMS, citation=CITATION,
          key_params=("units", "repeat", "shortcut"))
def build_residual_gru(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    return _residual_rnn(ctx, x, p, "GRU")
