"""Block names: what the builder calls each block of a spec (layer names derive from them).

Its own module, below both the builder and the binding (core/binding.py), which both name
blocks; `builder.block_names` is the same function.
"""

from __future__ import annotations

from collections import Counter

from resnet_studio.core.spec import ArchitectureSpec, BlockSpec


def block_names(spec: ArchitectureSpec) -> dict[str, str]:
    """location -> block name: the explicit `name`, else the type (numbered when repeated)."""
    explicit = {b.name for _, b in spec.walk() if b.name}
    names: dict[str, str] = {}

    def rec(blocks: list[BlockSpec], prefix: str, parent: str | None) -> None:
        # Children of a container are numbered within it and prefixed with its name, so
        # their layers read as `res1_conv_2_conv` and sort under the container.
        counts = Counter(b.type for b in blocks if not b.name)
        seen: Counter[str] = Counter()
        for i, b in enumerate(blocks):
            loc = f"{prefix}blocks[{i}]"
            if b.name:
                name = b.name
            else:
                seen[b.type] += 1
                name = b.type if counts[b.type] == 1 else f"{b.type}_{seen[b.type]}"
                if parent:
                    name = f"{parent}_{name}"
                while name in explicit:
                    name += "_"
            names[loc] = name
            if b.blocks:
                rec(b.blocks, loc + ".", name)

    rec(spec.blocks, "", None)
    return names
