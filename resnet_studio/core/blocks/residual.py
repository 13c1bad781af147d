"""Residual connections: the `residual` container and the shortcut/merge shared by every
residual block.

y = F(x) + x with an identity shortcut; y = F(x) + W_s·x with a projection (He et al. 2016,
eq. 1 and 2); option A (`zero_pad`) subsamples x and pads the new channels with zeros. With
`shortcut: none` the block is the plain F(x) — the "plain twin" of the comparison lab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnet_studio.core.blocks.context import BuildContext, build_blocks
from resnet_studio.core.blocks.registry import register
from resnet_studio.core.params import Param

if TYPE_CHECKING:  # annotations only: the spec module imports the registry
    from resnet_studio.core.spec import BlockSpec

SHORTCUTS = ("identity", "projection", "zero_pad", "none")
ACTIVATIONS = ("none", "relu", "gelu", "swish", "sigmoid", "tanh", "elu", "leaky_relu",
               "softplus")

HE_2016 = ("He, Zhang, Ren, Sun. Deep Residual Learning for Image Recognition. CVPR 2016. "
           "arXiv:1512.03385")
HE_2016_V2 = ("He, Zhang, Ren, Sun. Identity Mappings in Deep Residual Networks. ECCV 2016. "
              "arXiv:1603.05027")
REZERO = "Bachlechner et al. ReZero is All You Need. 2020. arXiv:2003.04887"
LAYERSCALE = "Touvron et al. Going deeper with Image Transformers (CaiT). ICCV 2021. " \
             "arXiv:2103.17239"
STOCHASTIC_DEPTH = "Huang et al. Deep Networks with Stochastic Depth. ECCV 2016. " \
                   "arXiv:1603.09382"


def shortcut_param(choices: tuple[str, ...] = SHORTCUTS, default: str = "identity") -> Param:
    return Param(
        "shortcut", "choice", default,
        "How x reaches the addition: identity; projection (1×1 conv/dense, He option B); "
        "zero_pad (subsample + zero channels, option A, no parameters); none (plain block). "
        "In ready blocks projection/zero_pad apply only where the block changes the shape.",
        choices=choices)


# Residual variants shared by every residual block (issue: residual lab).
VARIANT_PARAMS: tuple[Param, ...] = (
    Param("scaling", "choice", "none",
          f"Scale the residual branch: ReZero α·F(x), α learnable from 0 ({REZERO}; as published "
          f"it also removes LayerNorm: Transformer blocks' layer_norm); LayerScale "
          f"diag(γ)·F(x), γ learnable per channel from `scale` ({LAYERSCALE}); fixed: "
          f"scale·F(x).", choices=("none", "rezero", "layerscale", "fixed")),
    Param("scale", "float", 0.1, "Initial LayerScale value, or the fixed factor.", minimum=0.0,
          maximum=100.0),
    Param("drop_path", "float", 0.0, f"Stochastic depth: probability of dropping the branch "
          f"while training ({STOCHASTIC_DEPTH}).", minimum=0.0, maximum=0.95),
    Param("drop_path_rising", "bool", False, "Drop-path rate rises linearly with depth, "
          "reaching drop_path at the last residual unit (Huang et al.)."),
)


def _spatial_stride(in_len: int | None, out_len: int | None) -> int:
    """Stride s with ceil(in/s) == out ('same' padding), as the branch's convolutions did."""
    if in_len is None or out_len is None or in_len == out_len:
        return 1
    for s in range(1, in_len + 1):
        if -(-in_len // s) == out_len:
            return s
    raise ValueError(f"cannot map length {in_len} to {out_len} by striding")


def make_shortcut(ctx: BuildContext, x: Any, target_shape: tuple, mode: str, suffix: str,
                  *, force_projection: bool = False, norm: bool = True) -> Any:
    """The shortcut tensor to add to a branch of shape `target_shape`, or None for `none`.

    Args:
        force_projection: Project even when shapes already match (an explicit choice in a
            `residual` container); ready blocks project only where the shape changes.
        norm: BatchNorm after a convolutional projection (v1 blocks; v2 uses none).
    """
    import keras

    if mode == "none":
        return None
    same = tuple(x.shape[1:]) == tuple(target_shape[1:])
    if same and not (force_projection and mode == "projection"):
        return x
    if mode == "identity":
        raise ctx.error(
            f"an identity shortcut cannot add the input {tuple(x.shape)} to the branch output "
            f"{tuple(target_shape)}: shapes differ. Use shortcut 'projection' or 'zero_pad', or "
            f"keep filters and stride unchanged")
    rank = len(x.shape)
    if len(target_shape) != rank:
        raise ctx.error(f"the branch changes the rank of its input ({tuple(x.shape)} -> "
                        f"{tuple(target_shape)}); no shortcut can add them")
    try:
        strides = [_spatial_stride(x.shape[i], target_shape[i]) for i in range(1, rank - 1)]
    except ValueError as e:
        raise ctx.error(f"shortcut: {e}") from None
    channels = int(target_shape[-1])
    if mode == "zero_pad":
        if rank not in (3, 4) or len(set(strides)) > 1 or channels < x.shape[-1]:
            raise ctx.error("a zero_pad shortcut needs an image or sequence whose channels grow "
                            "and whose sides shrink by one stride; use 'projection'")
        from resnet_studio.core.blocks.layers import ZeroPadShortcut

        return ctx.add(ZeroPadShortcut(strides[0] if strides else 1, channels,
                                       name=ctx.name(f"{suffix}zero_pad")))(x)
    # projection
    if rank == 4:
        layer = keras.layers.Conv2D(channels, 1, strides=tuple(strides), use_bias=False,
                                    name=ctx.name(f"{suffix}proj_conv"))
    elif rank == 3:
        layer = keras.layers.Conv1D(channels, 1, strides=strides[0], use_bias=False,
                                    name=ctx.name(f"{suffix}proj_conv"))
    else:
        layer = keras.layers.Dense(channels, use_bias=False, name=ctx.name(f"{suffix}proj"))
    s = ctx.add(layer)(x)
    if norm and rank in (3, 4):
        s = ctx.add(keras.layers.BatchNormalization(epsilon=1.001e-5,
                                                    name=ctx.name(f"{suffix}proj_bn")))(s)
    return s


def merge(ctx: BuildContext, shortcut: Any, branch: Any, p: dict[str, Any], suffix: str,
          unit: int, block_input: Any = None) -> Any:
    """shortcut + scale(drop_path(branch)); the plain branch when there is no shortcut.

    Records the unit in `ctx.units`; in a lesion build (`ctx.lesion_gates`) the branch of each
    removable unit passes through a BranchGate.

    Args:
        unit: Index of this residual unit in depth order (for a rising drop-path rate).
        block_input: The unit's input x: a plain unit whose output has x's shape can be
            replaced by the identity in a lesion study.
    """
    import keras

    from resnet_studio.core.blocks.context import UnitRecord
    from resnet_studio.core.blocks.layers import BranchGate, DropPath, ResidualScale

    unit_name = ctx.name(suffix).rstrip("_")
    if shortcut is None:
        # Plain block: scaling and drop-path only make sense on a residual branch.
        removable = (block_input is not None
                     and tuple(block_input.shape[1:]) == tuple(branch.shape[1:]))
        ctx.units.append(UnitRecord(unit_name, ctx.current.name, False, removable))
        if ctx.lesion_gates and removable:
            return ctx.add(BranchGate(name=ctx.name(f"{suffix}gate")))([block_input, branch])
        return branch
    ctx.units.append(UnitRecord(unit_name, ctx.current.name, True, True))

    if p.get("scaling", "none") != "none":
        branch = ctx.add(ResidualScale(p["scaling"], p["scale"],
                                       name=ctx.name(f"{suffix}{p['scaling']}")))(branch)
    rate = float(p.get("drop_path", 0.0))
    if rate > 0:
        if p.get("drop_path_rising"):
            rate = rate * (unit + 1) / ctx.residual_units
        branch = ctx.add(DropPath(rate, name=ctx.name(f"{suffix}drop_path")))(branch)
    if ctx.lesion_gates:
        branch = ctx.add(BranchGate(name=ctx.name(f"{suffix}gate")))(branch)
    return ctx.add(keras.layers.Add(name=ctx.name(f"{suffix}add")))([shortcut, branch])


def activation(ctx: BuildContext, x: Any, fn: str, suffix: str) -> Any:
    """An Activation layer, or x itself for 'none'."""
    import keras

    if fn == "none":
        return x
    if fn == "leaky_relu":
        return ctx.add(keras.layers.LeakyReLU(negative_slope=0.01, name=ctx.name(suffix)))(x)
    return ctx.add(keras.layers.Activation(fn, name=ctx.name(suffix)))(x)


@register(
    "residual", family="Containers", title="Residual container",
    help="Wraps any blocks F with a shortcut: y = act(F(x) + x), or F(x) + W_s·x with a "
         "projection.",
    params=(shortcut_param(),
            Param("activation", "choice", "none", "Applied after the addition (ReLU gives He "
                  "et al.'s original v1 block; none for pre-activation v2).",
                  choices=ACTIVATIONS),
            *VARIANT_PARAMS),
    container=True, citation=HE_2016, key_params=("shortcut", "activation"),
)
def build_residual(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    unit = ctx.next_residual_unit()
    if not block.blocks:
        raise ctx.error("a residual container needs at least one block inside")
    branch = build_blocks(ctx, x, block.blocks, ctx.current.location + ".")
    s = make_shortcut(ctx, x, tuple(branch.shape), p["shortcut"], "",
                      force_projection=True)
    y = merge(ctx, s, branch, p, "", unit, x)
    return activation(ctx, y, p["activation"], "out_act")
