"""Block library. Importing this package registers every block type (without TensorFlow)."""

from resnet_studio.core.blocks import (
    cnn,
    heads,
    mlp,
    pretrained,
    primitives,
    residual,
    rnn,
    transformer,
)
from resnet_studio.core.blocks.registry import (
           BLOCK_TYPES,
           FAMILIES,
           BlockType,
           by_family,
           get_block_type,
)

__all__ = ["BLOCK_TYPES", "FAMILIES", "BlockType", "by_family", "get_block_type", "cnn", "heads", "mlp",
           "pretrained", "primitives", "residual", "rnn", "transformer"]
