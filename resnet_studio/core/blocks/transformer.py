"""Transformer blocks: embeddings (keras-hub) and encoder/decoder stages.

keras-hub's TransformerEncoder/Decoder keep their residual connections inside one layer, so
their shortcuts cannot be switched off. Our encoder/decoder units are built from the same
sub-layers in the same order (multi-head attention with key_dim = d / heads, layer norms,
a two-layer feed-forward network) with the shortcut exposed; tests check that with equal
weights they compute exactly what keras-hub's layers compute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnet_studio.core.blocks.context import BuildContext
from resnet_studio.core.blocks.primitives import filters_param
from resnet_studio.core.blocks.registry import register
from resnet_studio.core.blocks.residual import VARIANT_PARAMS, make_shortcut, merge, shortcut_param
from resnet_studio.core.params import Param

if TYPE_CHECKING:  # annotations only: the spec module imports the registry
    from resnet_studio.core.spec import BlockSpec

VASWANI = "Vaswani et al. Attention Is All You Need. NeurIPS 2017. arXiv:1706.03762"
DOSOVITSKIY = ("Dosovitskiy et al. An Image is Worth 16x16 Words: Transformers for Image "
               "Recognition at Scale. ICLR 2021. arXiv:2010.11929")
SEQUENCE_HINT = "Transformer blocks read sequences: add a token_embedding (token ids), a " \
                "patch_embedding (images) or a dense + position_embedding (sequences) first"

TRANSFORMER_PARAMS = (
    Param("num_heads", "int", 4, "Attention heads (must divide the model width).", minimum=1,
          maximum=256),
    filters_param(256, "intermediate_dim", "Hidden width of the feed-forward network."),
    Param("repeat", "int", 1, "Transformer layers in this stage.", minimum=1, maximum=256),
    Param("dropout", "float", 0.0, "Dropout after attention and feed-forward.", minimum=0.0,
          maximum=0.95),
    Param("activation", "choice", "gelu", "Feed-forward activation.", choices=("relu", "gelu")),
    Param("variant", "choice", "v2", "v1: post-norm, LN(x + F(x)) (Vaswani et al.; keras-hub's "
          "default); v2: pre-norm, x + F(LN(x)) (GPT-2, ViT).", choices=("v1", "v2")),
    Param("layer_norm", "bool", True, "A LayerNorm in every sub-layer (where `variant` puts "
          "it). Off with scaling rezero: ReZero as published, x + α·F(x) with α from 0 and no "
          "normalization at all (Bachlechner et al. 2020). Off without a scaling: an "
          "unnormalized residual stream, which diverges in deep stacks."),
    Param("layer_norm_epsilon", "float", 1e-5, "Layer norm epsilon.", minimum=0.0,
          maximum=1.0, exclusive_minimum=True),
    shortcut_param(("identity", "none")),
    *VARIANT_PARAMS,
)


def transformer_unit(ctx: BuildContext, x: Any, p: dict[str, Any], prefix: str, causal: bool,
                     unit: int) -> Any:
    """One encoder (or, causal, decoder-only) layer with switchable shortcuts."""
    import keras

    L = keras.layers
    d = int(x.shape[-1])
    heads = p["num_heads"]
    if d % heads:
        raise ctx.error(f"num_heads={heads} does not divide the model width {d}")
    v2 = p["variant"] == "v2"
    mode = p["shortcut"]
    eps = p["layer_norm_epsilon"]

    def sublayer(x: Any, name: str, body) -> Any:
        if p["layer_norm"]:
            norm = ctx.add(L.LayerNormalization(epsilon=eps,
                                                name=ctx.name(f"{prefix}{name}_ln")))
        else:
            def norm(t: Any) -> Any:  # ReZero: the residual stream is never normalized
                return t
        h = norm(x) if v2 else x
        h = body(h)
        h = ctx.add(L.Dropout(p["dropout"], name=ctx.name(f"{prefix}{name}_drop")))(h)
        s = make_shortcut(ctx, x, tuple(h.shape), mode, f"{prefix}{name}_")
        y = merge(ctx, s, h, p, f"{prefix}{name}_", unit, x)
        return y if v2 else norm(y)

    def attention(h: Any) -> Any:
        mha = ctx.add(L.MultiHeadAttention(heads, d // heads, dropout=p["dropout"],
                                           name=ctx.name(f"{prefix}attn")))
        return mha(h, h, use_causal_mask=causal)

    def feed_forward(h: Any) -> Any:
        h = ctx.add(L.Dense(p["intermediate_dim"], activation=p["activation"],
                            name=ctx.name(f"{prefix}ffn1")))(h)
        return ctx.add(L.Dense(d, name=ctx.name(f"{prefix}ffn2")))(h)

    x = sublayer(x, "attn", attention)
    return sublayer(x, "ffn", feed_forward)


def _stack(ctx: BuildContext, x: Any, p: dict[str, Any], causal: bool) -> Any:
    ctx.expect_rank(x, (3,), SEQUENCE_HINT)
    for j in range(p["repeat"]):
        x = transformer_unit(ctx, x, p, f"{j + 1}_", causal, ctx.next_residual_unit())
    return x


@register("transformer_encoder", family="Transformer", title="Transformer encoder",
          help="Self-attention + feed-forward, each with a shortcut: x + MHA(LN(x)), "
               "x + FFN(LN(x)).",
          params=TRANSFORMER_PARAMS, citation=VASWANI,
          key_params=("num_heads", "intermediate_dim", "repeat", "shortcut"))
def build_transformer_encoder(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec
                              ) -> Any:
    return _stack(ctx, x, p, causal=False)


@register("transformer_decoder", family="Transformer", title="Transformer decoder (causal)",
          help="Causal self-attention + feed-forward with shortcuts: each position sees only "
               "earlier ones (GPT-style).",
          params=TRANSFORMER_PARAMS, citation=VASWANI,
          key_params=("num_heads", "intermediate_dim", "repeat", "shortcut"))
def build_transformer_decoder(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec
                              ) -> Any:
    return _stack(ctx, x, p, causal=True)


@register("token_embedding", family="Transformer", title="Token + position embedding",
          help="Maps token ids to vectors and adds a learned position embedding (keras-hub).",
          params=(filters_param(128, "embed_dim", "Embedding width (the model width)."),
                  Param("vocab_size", "int", 0, "Vocabulary (0 = from the dataset).", minimum=0,
                        maximum=10_000_000),
                  Param("position", "bool", True, "Add a learned position embedding.")),
          key_params=("embed_dim",))
def build_token_embedding(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras
    import keras_hub

    if len(x.shape) != 2 or "int" not in str(x.dtype):
        raise ctx.error(f"expects token ids (batch, time) of an integer type, but its input is "
                        f"{tuple(x.shape)} {x.dtype}. Use it first, on a tokens input")
    vocab = p["vocab_size"] or ctx.vocab_size
    if p["position"]:
        layer = keras_hub.layers.TokenAndPositionEmbedding(
            vocabulary_size=vocab, sequence_length=int(x.shape[1]), embedding_dim=p["embed_dim"],
            name=ctx.name("embedding"))
    else:
        layer = keras.layers.Embedding(vocab, p["embed_dim"], name=ctx.name("embedding"))
    return ctx.add(layer)(x)


@register("position_embedding", family="Transformer", title="Position embedding",
          help="Adds a learned embedding of each position to a sequence (keras-hub).",
          params=())
def build_position_embedding(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec
                             ) -> Any:
    import keras
    import keras_hub

    ctx.expect_rank(x, (3,), "Use it on sequences")
    pos = ctx.add(keras_hub.layers.PositionEmbedding(int(x.shape[1]),
                                                     name=ctx.name("positions")))(x)
    return ctx.add(keras.layers.Add(name=ctx.name("add")))([x, pos])


@register("patch_embedding", family="Transformer", title="Patch embedding (ViT)",
          help="Cuts the image into patches, projects each to a vector and adds position "
               "embeddings.",
          params=(Param("patch_size", "int", 4, "Side of a square patch.", minimum=1,
                        maximum=64),
                  filters_param(192, "embed_dim", "Embedding width (the model width)."),
                  Param("position", "bool", True, "Add a learned position embedding.")),
          citation=DOSOVITSKIY, key_params=("patch_size", "embed_dim"))
def build_patch_embedding(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras
    import keras_hub

    ctx.expect_rank(x, (4,), "Patch embeddings read images")
    ps = p["patch_size"]
    h, w = int(x.shape[1]), int(x.shape[2])
    if h % ps or w % ps:
        raise ctx.error(f"patch_size={ps} does not divide the image size {h}×{w}")
    x = ctx.add(keras.layers.Conv2D(p["embed_dim"], ps, strides=ps,
                                    name=ctx.name("patches")))(x)
    x = ctx.add(keras.layers.Reshape(((h // ps) * (w // ps), p["embed_dim"]),
                                     name=ctx.name("tokens")))(x)
    if p["position"]:
        pos = ctx.add(keras_hub.layers.PositionEmbedding(int(x.shape[1]),
                                                         name=ctx.name("positions")))(x)
        x = ctx.add(keras.layers.Add(name=ctx.name("add")))([x, pos])
    return x
