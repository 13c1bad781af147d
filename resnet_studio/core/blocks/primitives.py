"""Primitive blocks: one Keras layer each (conv, dense, norms, activation, pooling, dropout,
LSTM, GRU, multi-head attention, flatten). Convolutions and pooling pick 1D or 2D from the
rank of their input."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnet_studio.core.blocks.context import BuildContext
from resnet_studio.core.blocks.registry import register
from resnet_studio.core.blocks.residual import ACTIVATIONS, activation
from resnet_studio.core.params import Param

if TYPE_CHECKING:  # annotations only: the spec module imports the registry
    from resnet_studio.core.spec import BlockSpec

MAX_UNITS = 65536  # filters / units above this are a typo, refused before allocating


def filters_param(default: int = 64, name: str = "filters",
                  help: str = "Output channels.") -> Param:
    return Param(name, "int", default, help, minimum=1, maximum=MAX_UNITS)


KERNEL = Param("kernel_size", "int", 3, "Kernel size (square in 2D).", minimum=1, maximum=31)
STRIDE = Param("stride", "int", 1, "Stride (2 halves the spatial size).", minimum=1, maximum=8)
PADDING = Param("padding", "choice", "same", "'same' keeps the size at stride 1.",
                choices=("same", "valid"))
USE_BIAS = Param("use_bias", "bool", False, "Add a bias (redundant before batch norm).")
NEEDS_SPATIAL = ("Put it before global_pool / flatten, or use dense for flat features")


@register("conv", family="Layers", title="Convolution",
          help="Conv2D on images, Conv1D on sequences (chosen from the input).",
          params=(filters_param(), KERNEL, STRIDE, PADDING,
                  Param("activation", "choice", "none", "Activation after the convolution.",
                        choices=ACTIVATIONS), USE_BIAS),
          key_params=("filters", "kernel_size", "stride"))
def build_conv(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    rank = ctx.expect_rank(x, (3, 4), NEEDS_SPATIAL)
    cls = keras.layers.Conv2D if rank == 4 else keras.layers.Conv1D
    y = ctx.add(cls(p["filters"], p["kernel_size"], strides=p["stride"], padding=p["padding"],
                    use_bias=p["use_bias"], kernel_initializer="he_normal",
                    name=ctx.name("conv")))(x)
    return activation(ctx, y, p["activation"], "act")


@register("dense", family="Layers", title="Dense",
          help="Fully connected layer on the last axis (per time step on sequences).",
          params=(filters_param(128, "units", "Output features."),
                  Param("activation", "choice", "none", "Activation.", choices=ACTIVATIONS),
                  Param("use_bias", "bool", True, "Add a bias.")),
          key_params=("units", "activation"))
def build_dense(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    ctx.expect_rank(x, (2, 3, 4))
    y = ctx.add(keras.layers.Dense(p["units"], use_bias=p["use_bias"],
                                   name=ctx.name("dense")))(x)
    return activation(ctx, y, p["activation"], "act")


@register("batch_norm", family="Layers", title="Batch norm",
          help="Normalizes each channel over the batch (Ioffe & Szegedy 2015).",
          params=(Param("momentum", "float", 0.99, "Moving-average momentum.", minimum=0.0,
                        maximum=0.9999),
                  Param("epsilon", "float", 1e-3, "Added to the variance.", minimum=0.0,
                        maximum=1.0, exclusive_minimum=True)))
def build_batch_norm(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    return ctx.add(keras.layers.BatchNormalization(momentum=p["momentum"], epsilon=p["epsilon"],
                                                   name=ctx.name("bn")))(x)


@register("layer_norm", family="Layers", title="Layer norm",
          help="Normalizes each example's features (Ba et al. 2016).",
          params=(Param("epsilon", "float", 1e-5, "Added to the variance.", minimum=0.0,
                        maximum=1.0, exclusive_minimum=True),))
def build_layer_norm(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    return ctx.add(keras.layers.LayerNormalization(epsilon=p["epsilon"],
                                                   name=ctx.name("ln")))(x)


@register("activation", family="Layers", title="Activation",
          help="Element-wise non-linearity.",
          params=(Param("function", "choice", "relu", "The function.",
                        choices=ACTIVATIONS[1:]),),
          key_params=("function",))
def build_activation(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    return activation(ctx, x, p["function"], "act")


@register("pool", family="Layers", title="Pooling",
          help="Max or average pooling over windows (2D on images, 1D on sequences).",
          params=(Param("mode", "choice", "max", "Max or average.", choices=("max", "avg")),
                  Param("pool_size", "int", 2, "Window size.", minimum=1, maximum=64),
                  Param("stride", "int", 2, "Stride.", minimum=1, maximum=64), PADDING),
          key_params=("mode", "pool_size"))
def build_pool(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    rank = ctx.expect_rank(x, (3, 4), NEEDS_SPATIAL)
    L = keras.layers
    cls = {(4, "max"): L.MaxPooling2D, (4, "avg"): L.AveragePooling2D,
           (3, "max"): L.MaxPooling1D, (3, "avg"): L.AveragePooling1D}[(rank, p["mode"])]
    return ctx.add(cls(p["pool_size"], strides=p["stride"], padding=p["padding"],
                       name=ctx.name("pool")))(x)


@register("dropout", family="Layers", title="Dropout",
          help="Zeroes a random fraction of activations while training (Srivastava et al. "
               "2014).",
          params=(Param("rate", "float", 0.1, "Fraction dropped.", minimum=0.0, maximum=0.95),),
          key_params=("rate",))
def build_dropout(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    return ctx.add(keras.layers.Dropout(p["rate"], name=ctx.name("dropout")))(x)


@register("flatten", family="Layers", title="Flatten",
          help="Flattens a feature map or sequence into one feature vector.", params=())
def build_flatten(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    ctx.expect_rank(x, (3, 4), "The input is already flat")
    return ctx.add(keras.layers.Flatten(name=ctx.name("flatten")))(x)


RNN_HINT = ("Recurrent layers read sequences: use them on sequence/token data, or after a "
            "Conv1D; after 2D convolutions add global_pool and a dense layer instead")


def _rnn(ctx: BuildContext, x: Any, p: dict[str, Any], cls_name: str) -> Any:
    import keras

    ctx.expect_rank(x, (3,), RNN_HINT)
    cls = getattr(keras.layers, cls_name)
    return ctx.add(cls(p["units"], return_sequences=p["return_sequences"],
                       dropout=p["dropout"], name=ctx.name(cls_name.lower())))(x)


RNN_PARAMS = (filters_param(64, "units", "Hidden units."),
              Param("return_sequences", "bool", True, "Output every time step (true) or only "
                    "the last (false)."),
              Param("dropout", "float", 0.0, "Input dropout.", minimum=0.0, maximum=0.95))


@register("lstm", family="Recurrent", title="LSTM",
          help="Long short-term memory layer (Hochreiter & Schmidhuber 1997).",
          params=RNN_PARAMS, key_params=("units", "return_sequences"))
def build_lstm(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    return _rnn(ctx, x, p, "LSTM")


@register("gru", family="Recurrent", title="GRU",
          help="Gated recurrent unit layer (Cho et al. 2014).",
          params=RNN_PARAMS, key_params=("units", "return_sequences"))
def build_gru(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    return _rnn(ctx, x, p, "GRU")


@register("attention", family="Transformer", title="Multi-head attention",
          help="Self-attention over a sequence (Vaswani et al. 2017).",
          params=(Param("num_heads", "int", 4, "Attention heads.", minimum=1, maximum=256),
                  Param("key_dim", "int", 0, "Size of each head (0 = features / heads).",
                        minimum=0, maximum=4096),
                  Param("dropout", "float", 0.0, "Attention dropout.", minimum=0.0,
                        maximum=0.95),
                  Param("causal", "bool", False, "Each position sees only earlier ones.")),
          key_params=("num_heads", "causal"))
def build_attention(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    ctx.expect_rank(x, (3,), "Attention reads sequences: use a patch_embedding on images")
    key_dim = p["key_dim"] or max(1, int(x.shape[-1]) // p["num_heads"])
    layer = ctx.add(keras.layers.MultiHeadAttention(p["num_heads"], key_dim,
                                                    dropout=p["dropout"],
                                                    name=ctx.name("mha")))
    return layer(x, x, use_causal_mask=p["causal"])
