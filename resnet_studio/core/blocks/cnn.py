"""Convolutional ready blocks: stem, ResNet basic and bottleneck stages, global pooling.

A stage is one line: `repeat` units, the first with `stride` and the new width, where the
shortcut follows `shortcut` (projection = He et al. option B, zero_pad = option A); the
other units keep their shape and use identity shortcuts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from resnet_studio.core.blocks.context import BuildContext
from resnet_studio.core.blocks.primitives import KERNEL, NEEDS_SPATIAL, filters_param
from resnet_studio.core.blocks.registry import register
from resnet_studio.core.blocks.residual import (
    HE_2016,
    HE_2016_V2,
    VARIANT_PARAMS,
    activation,
    make_shortcut,
    merge,
)
from resnet_studio.core.params import Param

if TYPE_CHECKING:  # annotations only: the spec module imports the registry
    from resnet_studio.core.spec import BlockSpec

BN_EPSILON = 1.001e-5  # keras.applications' ResNets use this; keeps numbers comparable
REPEAT = Param("repeat", "int", 1, "Residual units in this stage.", minimum=1, maximum=512)
STAGE_STRIDE = Param("stride", "int", 1, "Stride of the stage's first unit (2 halves the "
                     "size).", minimum=1, maximum=4)
VARIANT = Param("variant", "choice", "v1", "v1: post-activation, conv-BN-ReLU then add and "
                f"ReLU ({HE_2016}). v2: pre-activation, BN-ReLU-conv, clean identity path "
                f"({HE_2016_V2}).", choices=("v1", "v2"))


def _conv(ctx: BuildContext, x: Any, filters: int, kernel: int, stride: int, suffix: str) -> Any:
    import keras

    cls = keras.layers.Conv2D if len(x.shape) == 4 else keras.layers.Conv1D
    return ctx.add(cls(filters, kernel, strides=stride, padding="same", use_bias=False,
                       kernel_initializer="he_normal", name=ctx.name(suffix)))(x)


def _bn(ctx: BuildContext, x: Any, suffix: str, zero_gamma: bool = False) -> Any:
    import keras

    gamma = "zeros" if zero_gamma else "ones"
    return ctx.add(keras.layers.BatchNormalization(epsilon=BN_EPSILON, gamma_initializer=gamma,
                                                   name=ctx.name(suffix)))(x)


def _bn_relu(ctx: BuildContext, x: Any, prefix: str) -> Any:
    return activation(ctx, _bn(ctx, x, f"{prefix}bn"), "relu", f"{prefix}relu")


@register("conv_stem", family="Convolutional", title="Conv stem",
          help="Entry convolution (+ BN + ReLU, optional 3×3 max pool): 7×7/2 for ImageNet, "
               "3×3/1 for CIFAR.",
          params=(filters_param(64), Param("kernel_size", "int", 7, "Kernel size.", minimum=1,
                                           maximum=15),
                  Param("stride", "int", 2, "Stride.", minimum=1, maximum=4),
                  Param("pool", "bool", True, "3×3 max pool with stride 2 after the conv."),
                  Param("norm", "bool", True, "Batch norm + ReLU after the conv (off for "
                        "pre-activation networks, whose first block normalizes).")),
          citation=HE_2016, key_params=("filters", "kernel_size", "stride"))
def build_conv_stem(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    rank = ctx.expect_rank(x, (3, 4), "A conv stem reads images or sequences")
    x = _conv(ctx, x, p["filters"], p["kernel_size"], p["stride"], "conv")
    if p["norm"]:
        x = _bn_relu(ctx, x, "")
    if p["pool"]:
        cls = keras.layers.MaxPooling2D if rank == 4 else keras.layers.MaxPooling1D
        x = ctx.add(cls(3, strides=2, padding="same", name=ctx.name("pool")))(x)
    return x


GOYAL_2017 = ("Goyal et al. Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour. 2017. "
              "arXiv:1706.02677")
ZERO_INIT = Param("zero_init_residual", "bool", False, "Start each residual branch's last "
                  "batch-norm γ at 0, so every unit begins as the identity and a deep net "
                  f"starts as a shallow one ({GOYAL_2017}, section 5.1). v1 units only (a v2 "
                  "branch ends in a convolution); ignored in plain units, whose output it "
                  "would zero.")
# He et al. 2016, Table 3: option A (zero_pad), B (projection where the shape changes,
# identity elsewhere) and C (projection_all: every shortcut is a projection).
STAGE_SHORTCUT = Param(
    "shortcut", "choice", "projection",
    "How x reaches the addition in each unit: zero_pad (He option A: subsample + zero "
    "channels where the shape changes, no parameters); projection (option B: a 1×1 conv "
    "where the shape changes, identity elsewhere); projection_all (option C: a 1×1 conv in "
    "every unit); identity (shape must not change); none (plain units).",
    choices=("identity", "projection", "zero_pad", "projection_all", "none"))
STAGE_PARAMS = (REPEAT, STAGE_STRIDE, STAGE_SHORTCUT, VARIANT, ZERO_INIT, *VARIANT_PARAMS)


def _stage(ctx: BuildContext, x: Any, p: dict[str, Any], branch: Callable[..., Any]) -> Any:
    """Builds `repeat` residual units; `branch(x, stride, prefix, zero_gamma)` builds one
    F(x), its last batch norm's γ starting at 0 when `zero_gamma`."""
    ctx.expect_rank(x, (3, 4), NEEDS_SPATIAL)
    v2 = p["variant"] == "v2"
    if v2 and p["zero_init_residual"]:
        raise ctx.error("zero_init_residual needs v1 units: a v2 (pre-activation) branch ends "
                        "in a convolution, not a batch norm")
    for j in range(p["repeat"]):
        unit = ctx.next_residual_unit()
        prefix = f"{j + 1}_"
        stride = p["stride"] if j == 0 else 1
        every = p["shortcut"] == "projection_all"
        if every:
            mode = "projection"
        else:
            mode = p["shortcut"] if j == 0 else ("none" if p["shortcut"] == "none" else
                                                 "identity")
        zero = bool(p["zero_init_residual"]) and mode != "none"
        if v2:
            pre = _bn_relu(ctx, x, f"{prefix}pre")
            y = branch(pre, stride, prefix, False)
            # He et al. 2016b: a projection shortcut reads the pre-activated input.
            changes = tuple(y.shape[1:]) != tuple(x.shape[1:])
            src = pre if ((changes or every) and mode == "projection") else x
            s = make_shortcut(ctx, src, tuple(y.shape), mode, prefix, norm=False,
                              force_projection=every)
            x = merge(ctx, s, y, p, prefix, unit, x)
        else:
            y = branch(x, stride, prefix, zero)
            s = make_shortcut(ctx, x, tuple(y.shape), mode, prefix, force_projection=every)
            x = merge(ctx, s, y, p, prefix, unit, x)
            x = activation(ctx, x, "relu", f"{prefix}out_relu")
    return x


@register("basic_block", family="Convolutional", title="Basic block",
          help="ResNet stage of basic units: two 3×3 convs, y = F(x) + x (ResNet-18/34, CIFAR "
               "ResNets).",
          params=(filters_param(64), KERNEL, *STAGE_PARAMS), citation=HE_2016,
          key_params=("filters", "repeat", "stride", "shortcut"))
def build_basic_block(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    f, k, v2 = p["filters"], p["kernel_size"], p["variant"] == "v2"

    def branch(x: Any, stride: int, prefix: str, zero_gamma: bool) -> Any:
        y = _conv(ctx, x, f, k, stride, f"{prefix}conv1")
        y = _bn_relu(ctx, y, f"{prefix}")
        y = _conv(ctx, y, f, k, 1, f"{prefix}conv2")
        return y if v2 else _bn(ctx, y, f"{prefix}bn2", zero_gamma)

    return _stage(ctx, x, p, branch)


@register("bottleneck_block", family="Convolutional", title="Bottleneck block",
          help="ResNet stage of bottleneck units: 1×1 reduce, 3×3, 1×1 expand (×expansion); "
               "ResNet-50/101/152.",
          params=(filters_param(64, help="Width of the 3×3 convolution; output is "
                                         "filters × expansion."),
                  Param("expansion", "int", 4, "Output channels = filters × expansion.",
                        minimum=1, maximum=16),
                  Param("stride_on", "choice", "3x3", "Which convolution of the first unit "
                        "strides: 1x1, the first 1×1 (ResNet v1 as published: He et al. 2016, "
                        "Table 1, and the released Caffe models), or 3x3 ('ResNet v1.5' of "
                        "the torchvision and NVIDIA recipes: about 0.5 % more top-1 accuracy "
                        "on ImageNet for more computation). Same parameters either way.",
                        choices=("1x1", "3x3")),
                  *STAGE_PARAMS),
          citation=HE_2016, key_params=("filters", "repeat", "stride", "shortcut"))
def build_bottleneck_block(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec
                           ) -> Any:
    f, out, v2 = p["filters"], p["filters"] * p["expansion"], p["variant"] == "v2"

    first = p["stride_on"] == "1x1"

    def branch(x: Any, stride: int, prefix: str, zero_gamma: bool) -> Any:
        y = _conv(ctx, x, f, 1, stride if first else 1, f"{prefix}conv1")
        y = _bn_relu(ctx, y, f"{prefix}1_")
        y = _conv(ctx, y, f, 3, 1 if first else stride, f"{prefix}conv2")
        y = _bn_relu(ctx, y, f"{prefix}2_")
        y = _conv(ctx, y, out, 1, 1, f"{prefix}conv3")
        return y if v2 else _bn(ctx, y, f"{prefix}bn3", zero_gamma)

    return _stage(ctx, x, p, branch)


@register("global_pool", family="Layers", title="Global pooling",
          help="Averages (or maxes) over all positions: feature map or sequence -> vector; "
               "or, on a sequence, keeps the first position (the [CLS] token of BERT).",
          params=(Param("mode", "choice", "avg", "Average, max, or (sequences) the first "
                        "position.", choices=("avg", "max", "first")),),
          key_params=("mode",))
def build_global_pool(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    rank = ctx.expect_rank(x, (3, 4), "The input is already a flat vector")
    L = keras.layers
    if p["mode"] == "first":
        if rank != 3:
            raise ctx.error("mode 'first' keeps the first position of a sequence; this input "
                            f"is an image {tuple(x.shape)}: use avg or max")
        # Built from stock layers (no Lambda) so saved models load anywhere.
        steps, width = int(x.shape[1]), int(x.shape[2])
        x = ctx.add(L.Cropping1D((0, steps - 1), name=ctx.name("first")))(x)
        return ctx.add(L.Reshape((width,), name=ctx.name("squeeze")))(x)
    cls = {(4, "avg"): L.GlobalAveragePooling2D, (4, "max"): L.GlobalMaxPooling2D,
           (3, "avg"): L.GlobalAveragePooling1D, (3, "max"): L.GlobalMaxPooling1D}
    return ctx.add(cls[(rank, p["mode"])](name=ctx.name("pool")))(x)
