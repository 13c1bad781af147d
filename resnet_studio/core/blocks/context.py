"""What a builder function gets besides its input: naming, layer bookkeeping, data binding.

Every layer a builder creates goes through `ctx.add(layer)`, which records it under the block
being built. That record is how each trainable variable maps back to its block (gradient
norms grouped by block, per-block parameter counts) without parsing variable paths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from resnet_studio.core.blocks import registry

if TYPE_CHECKING:
    from resnet_studio.core.spec import BlockSpec

RANK_NAMES = {
    2: "a flat feature vector (batch, features)",
    3: "a sequence (batch, time, features)",
    4: "an image / feature map (batch, height, width, channels)",
}


class BlockBuildError(ValueError):
    """A block cannot be built on its input. The message names the block and what would fit."""

    def __init__(self, location: str, block: str, message: str) -> None:
        self.location = location
        self.block = block
        self.detail = message
        super().__init__(f"{location} ({block}): {message}")


@dataclass
class Binding:
    """Facts from the dataset that override the spec: the architecture binds to the data.

    Args:
        input_shape: Shape of one example; None keeps the spec's.
        input_kind: image | sequence | tokens | vector; None keeps the spec's.
        num_classes: Classes for classifier heads; None keeps the params'.
        vocab_size: Token vocabulary for embeddings and LM heads; None keeps the spec's.
    """

    input_shape: tuple[int, ...] | None = None
    input_kind: str | None = None
    num_classes: int | None = None
    vocab_size: int | None = None


@dataclass
class UnitRecord:
    """One residual unit (one shortcut + branch merge, or its plain twin's branch).

    Attributes:
        name: Unit name, the prefix of its layers (`stage2_3`, `res1`, `enc_1_attn`).
        block: Name of the spec block that built it (`stage2`).
        residual: True when a shortcut is added to the branch; False in a plain network.
        removable: Whether the unit can be deleted at test time: always with a shortcut;
            in a plain network only where its output has its input's shape (then the unit
            is replaced by the identity).
    """

    name: str
    block: str
    residual: bool
    removable: bool


@dataclass
class BlockRecord:
    """Bookkeeping for one block while and after it is built."""

    name: str
    type: str
    location: str
    parent: str | None
    layers: list[Any] = field(default_factory=list)
    output: Any = None
    children: list[str] = field(default_factory=list)


class BuildContext:
    """Shared state of one model build.

    Args:
        binding: Dataset facts (input shape, classes, vocabulary).
        vocab_size: Vocabulary from the spec's input (used when the binding has none).
        residual_units: Total residual units in the model (for linearly rising drop-path).
        names: Block location (`blocks[2]`) -> unique block name.
    """

    def __init__(self, binding: Binding, vocab_size: int, residual_units: int,
                 names: dict[str, str], *, lesion_gates: bool = False) -> None:
        self.binding = binding
        # Lesion studies (core/geometry/lesion.py): every removable unit gets a BranchGate
        # whose value 1 keeps the unit and 0 deletes its branch at test time.
        self.lesion_gates = lesion_gates
        self.units: list[UnitRecord] = []
        self.names = names
        self.spec_vocab_size = vocab_size
        self.residual_units = max(residual_units, 1)
        self.residual_index = 0
        self.records: dict[str, BlockRecord] = {}
        self._stack: list[BlockRecord] = []
        # Run by build_model once the variables exist (e.g. loading a pretrained backbone's
        # weights; a summary declares variables only, so there is nothing to load then).
        self.after_allocate: list[Callable[[], None]] = []

    # -- blocks
    def begin(self, name: str, btype: str, location: str) -> BlockRecord:
        parent = self._stack[-1].name if self._stack else None
        rec = BlockRecord(name, btype, location, parent)
        self.records[name] = rec
        if parent is not None:
            self.records[parent].children.append(name)
        self._stack.append(rec)
        return rec

    def end(self, output: Any) -> None:
        rec = self._stack.pop()
        rec.output = output

    @property
    def current(self) -> BlockRecord:
        return self._stack[-1]

    def error(self, message: str) -> BlockBuildError:
        rec = self.current
        return BlockBuildError(rec.location, f"{rec.type} '{rec.name}'", message)

    # -- layers
    def add(self, layer: Any) -> Any:
        """Records `layer` as belonging to the current block and returns it."""
        self.current.layers.append(layer)
        return layer

    def name(self, suffix: str) -> str:
        """Layer name prefixed with the block's name: `stage2_1_conv1`."""
        return f"{self.current.name}_{suffix}"

    # -- shapes
    def expect_rank(self, x: Any, ranks: tuple[int, ...], hint: str = "") -> int:
        """Raises a block error unless `x` has one of `ranks` (including batch)."""
        rank = len(x.shape)
        if rank not in ranks:
            wanted = " or ".join(RANK_NAMES.get(r, f"rank {r}") for r in ranks)
            got = RANK_NAMES.get(rank, f"rank {rank}")
            msg = f"expects {wanted}, but its input is {got} {tuple(x.shape)}"
            raise self.error(msg + (f". {hint}" if hint else ""))
        return rank

    @property
    def vocab_size(self) -> int:
        v = self.binding.vocab_size or self.spec_vocab_size
        if not v:
            raise self.error("needs a vocabulary size: set input.vocab_size or the block's "
                             "vocab_size, or train on a tokens dataset")
        return int(v)

    def next_residual_unit(self) -> int:
        """Index (0-based) of the next residual unit in depth order, for drop-path schedules."""
        i = self.residual_index
        self.residual_index += 1
        return i


def build_blocks(ctx: BuildContext, x: Any, blocks: list[BlockSpec], prefix: str,
                 start: int = 0) -> Any:
    """Builds a block sequence on `x` (the model's top level, and a container's children).

    Here rather than in builder.py so that container blocks (blocks/residual.py) need not
    import the builder, which imports every block module.

    Args:
        start: Index of `blocks[0]` in its list (core/incremental.py builds one block of a
            model alone, under its own location and name).
    """
    for i, block in enumerate(blocks, start):
        loc = f"{prefix}blocks[{i}]"
        bt = registry.get_block_type(block.type)
        rec = ctx.begin(ctx.names[loc], block.type, loc)
        try:
            x = bt.build(ctx, x, bt.resolve(block.params), block)
        except BlockBuildError:
            raise
        except (ValueError, TypeError) as e:
            # Keras's own shape checks: keep its words, add which block it was.
            raise BlockBuildError(loc, f"{block.type} '{rec.name}'", _first_line(e)) from e
        ctx.end(x)
    return x


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
