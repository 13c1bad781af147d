"""Output heads. They emit logits (losses use from_logits=True), so exports stay exact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnet_studio.core.blocks.context import BuildContext
from resnet_studio.core.blocks.registry import register
from resnet_studio.core.params import Param

if TYPE_CHECKING:  # annotations only: the spec module imports the registry
    from resnet_studio.core.spec import BlockSpec


@register("classifier_head", family="Heads", title="Classifier head",
          help="Dense layer to one logit per class (classes come from the dataset).",
          params=(Param("classes", "int", 10, "Number of classes (the dataset overrides it).",
                        minimum=1, maximum=1_000_000),
                  Param("dropout", "float", 0.0, "Dropout before the dense layer.", minimum=0.0,
                        maximum=0.95)),
          key_params=("classes",))
def build_classifier_head(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec
                          ) -> Any:
    import keras

    ctx.expect_rank(x, (2,), "Add a global_pool (or flatten) block before the head")
    classes = ctx.binding.num_classes or p["classes"]
    if p["dropout"]:
        x = ctx.add(keras.layers.Dropout(p["dropout"], name=ctx.name("dropout")))(x)
    return ctx.add(keras.layers.Dense(classes, name=ctx.name("logits")))(x)


@register("lm_head", family="Heads", title="Language-model head",
          help="Dense layer to one logit per vocabulary entry at every position.",
          params=(Param("vocab_size", "int", 0, "Vocabulary (0 = from the dataset).", minimum=0,
                        maximum=10_000_000),))
def build_lm_head(ctx: BuildContext, x: Any, p: dict[str, Any], block: BlockSpec) -> Any:
    import keras

    ctx.expect_rank(x, (3,), "A language-model head reads a sequence of vectors")
    vocab = p["vocab_size"] or ctx.vocab_size
    return ctx.add(keras.layers.Dense(vocab, name=ctx.name("logits")))(x)
