"""The block registry: one entry per block type = params schema + builder function.

Importing this module is cheap (no TensorFlow): the GUI palette and `resnet-studio presets`
read the schemas before Keras has loaded. Builders import Keras when they run.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from resnet_studio.core.params import Param, Problem, check_params, with_defaults

if TYPE_CHECKING:
    from resnet_studio.core.blocks.context import BuildContext
    from resnet_studio.core.spec import BlockSpec

FAMILIES = ("Convolutional", "Recurrent", "Transformer", "Layers", "Heads", "Containers")

# Builder signature: (ctx, x, params with defaults, block) -> output tensor.
Builder = Callable[["BuildContext", Any, dict[str, Any], "BlockSpec"], Any]


@dataclass(frozen=True)
class BlockType:
    """A registered block type.

    Args:
        type: Name used in presets (`basic_block`).
        family: Palette group, one of FAMILIES.
        title: Short human name (`Basic block`).
        help: One line: what the block computes.
        params: Parameter schema.
        build: Builder function.
        container: True when the block holds child blocks (`residual`).
        citation: Paper the block comes from, where there is one.
        key_params: Params shown on the canvas card.
    """

    type: str
    family: str
    title: str
    help: str
    params: tuple[Param, ...]
    build: Builder
    container: bool = False
    citation: str = ""
    key_params: tuple[str, ...] = field(default_factory=tuple)

    @property
    def has_shortcut(self) -> bool:
        return any(p.name == "shortcut" for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, params: dict[str, Any]) -> dict[str, Any]:
        """Params completed with defaults, in canonical types."""
        return with_defaults(self.params, params)

    def check(self, block: BlockSpec, location: str) -> list[Problem]:
        problems = check_params(self.params, block.params, f"{location}.params")
        if self.container and block.blocks is None:
            problems.append(Problem(f"{location}.blocks", f"a {self.type} block needs a list of "
                                                          "child blocks"))
        if not self.container and block.blocks is not None:
            problems.append(Problem(f"{location}.blocks", f"a {self.type} block has no child "
                                                          "blocks"))
        return problems


BLOCK_TYPES: dict[str, BlockType] = {}


def register(
    type: str, *, family: str, title: str, help: str, params: Sequence[Param],
    container: bool = False, citation: str = "", key_params: Sequence[str] = (),
) -> Callable[[Builder], Builder]:
    """Decorator registering a builder function as a block type."""
    if family not in FAMILIES:
        raise ValueError(f"Expected family in {FAMILIES}, received: family={family!r}")

    def deco(fn: Builder) -> Builder:
        if type in BLOCK_TYPES:
            raise ValueError(f"block type {type!r} registered twice")
        BLOCK_TYPES[type] = BlockType(type, family, title, help, tuple(params), fn, container,
                                      citation, tuple(key_params))
        return fn

    return deco


def get_block_type(name: str) -> BlockType:
    try:
        return BLOCK_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown block type {name!r}{suggest(name)}") from None


def suggest(name: object) -> str:
    """' (did you mean …?)' for a mistyped block type, else the list of known types."""
    if isinstance(name, str):
        close = difflib.get_close_matches(name, list(BLOCK_TYPES), n=1)
        if close:
            return f" (did you mean {close[0]!r}?)"
    return f" (known: {', '.join(sorted(BLOCK_TYPES))})"


def by_family() -> dict[str, list[BlockType]]:
    """Block types grouped by palette family, in FAMILIES order."""
    groups: dict[str, list[BlockType]] = {f: [] for f in FAMILIES}
    for bt in BLOCK_TYPES.values():
        groups[bt.family].append(bt)
    return groups
