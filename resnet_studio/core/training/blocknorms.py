"""Per-layer gradient norms gathered into the architecture's top-level blocks.

The comparison lab and the gradient alerts speak about *blocks* (the stem, a stage, the
residual body), not about the 60 layers inside them: "the first block receives 10⁻¹⁰ of the
gradient of the last one" is the vanishing-gradient story, and it survives renaming a
layer. A block's gradient norm at a step is the L2 norm of all its parameters' gradients,
i.e. sqrt(sum of its layers' squared norms), so it is computed from the recorded per-layer
norms without touching the model.

Qt-free and TensorFlow-free: numpy on an L-vector (or an (S, L) array read from a run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_studio.core.spec import ArchitectureSpec

HEAD_FAMILY = "Heads"
_TOP = re.compile(r"^blocks\[(\d+)\]")


@dataclass(frozen=True)
class BlockMap:
    """How the layers of a gradient-norm vector fall into top-level blocks.

    Attributes:
        names: Top-level blocks that own at least one layer with weights, in depth order.
        types: Block type of each of those blocks.
        heads: True for blocks of the "Heads" family (classifier_head, lm_head): they are
            left out of the first/last ratio, whose "last" block is the one before the head.
        layers: The layers of each block (names), in depth order.
        matrix: (L, B) 0/1 matrix; squared layer norms @ matrix = squared block norms.
            A layer whose block is unknown (not in the spec) belongs to no block.
    """

    names: list[str]
    types: list[str]
    heads: list[bool]
    layers: list[list[str]]
    matrix: np.ndarray

    @classmethod
    def from_spec(cls, spec: ArchitectureSpec, layer_names: list[str],
                  layer_blocks: list[str]) -> BlockMap:
        """Maps each layer's block (the innermost spec block that created it, as recorded
        in gradients/layers.json) to the top-level block that contains it."""
        from resnet_studio.core.blocks import registry
        from resnet_studio.core.builder import block_names

        if len(layer_names) != len(layer_blocks):
            raise ValueError(f"Expected one block per layer, received {len(layer_names)} "
                             f"layers and {len(layer_blocks)} blocks")
        top_of: dict[str, int] = {}  # any block's name -> index of its top-level ancestor
        top_names: dict[int, str] = {}
        for loc, name in block_names(spec).items():
            m = _TOP.match(loc)
            if m:
                top_of[name] = int(m.group(1))
                if "." not in loc:
                    top_names[int(m.group(1))] = name
        tops = sorted({top_of[b] for b in layer_blocks if b in top_of})
        column = {t: j for j, t in enumerate(tops)}
        matrix = np.zeros((len(layer_names), len(tops)), dtype=np.float64)
        members: list[list[str]] = [[] for _ in tops]
        for i, (layer, block) in enumerate(zip(layer_names, layer_blocks, strict=True)):
            if block in top_of:
                j = column[top_of[block]]
                matrix[i, j] = 1.0
                members[j].append(layer)
        types = [spec.blocks[t].type for t in tops]
        heads = [getattr(registry.BLOCK_TYPES.get(t), "family", "") == HEAD_FAMILY
                 for t in types]
        return cls([top_names[t] for t in tops], types, heads, members, matrix)

    @property
    def ratio_blocks(self) -> tuple[int, int] | None:
        """(first, last) weighted non-head blocks, or None when there are fewer than two."""
        body = [j for j, head in enumerate(self.heads) if not head]
        return (body[0], body[-1]) if len(body) >= 2 else None

    def block_norms(self, layer_norms: np.ndarray) -> np.ndarray:
        """(…, L) layer norms -> (…, B) block norms (float64)."""
        squares = np.square(np.asarray(layer_norms, dtype=np.float64))
        return np.sqrt(squares @ self.matrix)

    def ratios(self, block_norms: np.ndarray) -> np.ndarray | None:
        """first ÷ last weighted non-head block norm, per step (NaN where the last is 0)."""
        pair = self.ratio_blocks
        if pair is None:
            return None
        first, last = block_norms[..., pair[0]], block_norms[..., pair[1]]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(last > 0, first / np.where(last > 0, last, 1.0), np.nan)


def read_block_map(run_dir: Any) -> BlockMap:
    """The BlockMap of a run folder (architecture.json + gradients/layers.json)."""
    from resnet_studio.core.runs import read_architecture
    from resnet_studio.core.runs.records import read_gradient_layers

    spec = read_architecture(run_dir)
    layers, blocks = read_gradient_layers(run_dir)
    return BlockMap.from_spec(spec, layers, blocks)
