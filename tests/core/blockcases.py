"""One small, buildable case per block type: shared by the block contract tests.

Adding a block type without a case here makes tests/core/test_blocks.py fail, so every
block is built, shape-checked and round-tripped.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import Any

from resnet_studio.core.spec import ArchitectureSpec, BlockSpec, InputSpec


@dataclass
class Case:
    input_kind: str
    input_shape: tuple[int, ...]
    params: dict[str, Any]
    output_shape: tuple[int | None, ...]
    children: list[BlockSpec] | None = None
    before: list[BlockSpec] = field(default_factory=list)
    vocab_size: int = 0


CONV_BN_RELU_CONV_BN = [
    BlockSpec("conv", {"filters": 8, "kernel_size": 3}),
    BlockSpec("batch_norm", {}),
    BlockSpec("activation", {"function": "relu"}),
    BlockSpec("conv", {"filters": 8, "kernel_size": 3}),
    BlockSpec("batch_norm", {}),
]

def tiny_bert_preset() -> str:
    """A keras-hub preset folder of a 1-layer, width-8 BERT (made once per test process):
    the pretrained_backbone block's case, offline."""
    global _TINY_BERT
    if _TINY_BERT is None:
        import keras_hub

        folder = tempfile.mkdtemp(prefix="tiny-bert-")
        vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "sat"]
        keras_hub.models.BertBackbone(vocabulary_size=len(vocab), num_layers=1, num_heads=2,
                                      hidden_dim=8, intermediate_dim=16,
                                      max_sequence_length=6).save_to_preset(folder)
        keras_hub.models.BertTokenizer(vocabulary=vocab).save_to_preset(folder)
        _TINY_BERT = folder
    return _TINY_BERT


_TINY_BERT: str | None = None


# Stands for tiny_bert_preset() in a case's params: the folder is made when a test builds
# the case, not when this module is imported.
TINY_BERT = "<tiny-bert-preset>"


CASES: dict[str, Case] = {
    "conv": Case("image", (8, 8, 3), {"filters": 6, "stride": 2}, (None, 4, 4, 6)),
    "dense": Case("vector", (5,), {"units": 7}, (None, 7)),
    "batch_norm": Case("image", (4, 4, 3), {}, (None, 4, 4, 3)),
    "layer_norm": Case("sequence", (6, 4), {}, (None, 6, 4)),
    "activation": Case("vector", (5,), {"function": "gelu"}, (None, 5)),
    "pool": Case("sequence", (8, 3), {"mode": "avg"}, (None, 4, 3)),
    "dropout": Case("vector", (5,), {"rate": 0.5}, (None, 5)),
    "flatten": Case("image", (2, 3, 4), {}, (None, 24)),
    "lstm": Case("sequence", (6, 3), {"units": 5}, (None, 6, 5)),
    "gru": Case("sequence", (6, 3), {"units": 5, "return_sequences": False}, (None, 5)),
    "attention": Case("sequence", (6, 8), {"num_heads": 2, "causal": True}, (None, 6, 8)),
    "residual": Case("image", (8, 8, 8), {"shortcut": "identity", "activation": "relu"},
                     (None, 8, 8, 8), children=CONV_BN_RELU_CONV_BN),
    "conv_stem": Case("image", (16, 16, 3), {"filters": 8}, (None, 4, 4, 8)),
    "basic_block": Case("image", (8, 8, 4), {"filters": 8, "repeat": 2, "stride": 2},
                        (None, 4, 4, 8)),
    "bottleneck_block": Case("image", (8, 8, 4), {"filters": 4, "repeat": 2, "stride": 2},
                             (None, 4, 4, 16)),
    "global_pool": Case("image", (4, 4, 3), {"mode": "max"}, (None, 3)),
    "residual_dense": Case("vector", (6,), {"units": 8, "repeat": 3}, (None, 8)),
    "residual_lstm": Case("sequence", (6, 3), {"units": 8, "repeat": 2}, (None, 6, 8)),
    "residual_gru": Case("sequence", (6, 3), {"units": 8, "repeat": 2}, (None, 6, 8)),
    "transformer_encoder": Case("sequence", (6, 8), {"num_heads": 2, "intermediate_dim": 16,
                                                     "repeat": 2}, (None, 6, 8)),
    "transformer_decoder": Case("sequence", (6, 8), {"num_heads": 2, "intermediate_dim": 16},
                                (None, 6, 8)),
    "token_embedding": Case("tokens", (6,), {"embed_dim": 8}, (None, 6, 8), vocab_size=20),
    "position_embedding": Case("sequence", (6, 8), {}, (None, 6, 8)),
    "patch_embedding": Case("image", (8, 8, 3), {"patch_size": 4, "embed_dim": 8},
                            (None, 4, 8)),
    "classifier_head": Case("vector", (6,), {"classes": 3}, (None, 3)),
    "lm_head": Case("sequence", (6, 8), {"vocab_size": 11}, (None, 6, 11)),
    "pretrained_backbone": Case("tokens", (6,), {"preset": TINY_BERT}, (None, 8), vocab_size=9),
}


def case_spec(block_type: str, params: dict[str, Any] | None = None) -> ArchitectureSpec:
    """A one-block spec for `block_type` (params overriding the case's)."""
    c = CASES[block_type]
    params = {**c.params, **(params or {})}
    if params.get("preset") == TINY_BERT:
        params["preset"] = tiny_bert_preset()
    block = BlockSpec(block_type, params, name="blk",
                      blocks=[BlockSpec(b.type, dict(b.params)) for b in c.children]
                      if c.children is not None else None)
    return ArchitectureSpec(name=f"case-{block_type}",
                            input=InputSpec(c.input_kind, c.input_shape, c.vocab_size),
                            blocks=[*c.before, block])
