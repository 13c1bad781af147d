"""spec -> keras.Model, with per-block shapes and parameter counts taken from Keras itself.

Parameter counts follow the papers and torchvision: BatchNorm's moving mean and variance are
running statistics, not parameters, so `total_params` leaves them out (ResNet-50 has
25,557,032 parameters). Keras's own `model.count_params()` includes them; the summary reports
them separately as `statistics`, so total_params + statistics == model.count_params().
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from resnet_studio.core.blocks import registry
from resnet_studio.core.blocks.context import Binding, BlockBuildError, BlockRecord, BuildContext
from resnet_studio.core.params import Problem
from resnet_studio.core.spec import ArchitectureSpec, BlockSpec, SpecError, validate


@dataclass
class BlockSummary:
    """What Keras built for one block."""

    name: str
    type: str
    location: str
    output_shape: tuple[int | None, ...]
    params: int
    trainable_params: int
    layers: list[str]
    children: list[BlockSummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["output_shape"] = list(self.output_shape)
        d["children"] = [c.to_dict() for c in self.children]
        return d


@dataclass
class ModelSummary:
    """Totals and per-block details of a built model."""

    name: str
    input_shape: tuple[int | None, ...]
    output_shape: tuple[int | None, ...]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    statistics: int
    blocks: list[BlockSummary]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "statistics": self.statistics,
            "blocks": [b.to_dict() for b in self.blocks],
        }

    def flat_blocks(self) -> list[BlockSummary]:
        out: list[BlockSummary] = []

        def rec(bs: list[BlockSummary]) -> None:
            for b in bs:
                out.append(b)
                rec(b.children)

        rec(self.blocks)
        return out


@dataclass
class BuiltModel:
    """A built model and how its layers map to the spec's blocks.

    Attributes:
        model: The functional keras.Model (outputs logits).
        summary: Shapes and parameter counts per block.
        layer_block: Layer name -> name of the innermost block that created it.
        spec: The spec it was built from (after binding to the data).
    """

    model: Any
    summary: ModelSummary
    layer_block: dict[str, str]
    spec: ArchitectureSpec


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


def _residual_units(blocks: list[BlockSpec]) -> int:
    """Residual units in depth order (for drop-path rates that rise with depth)."""
    n = 0
    for b in blocks:
        bt = registry.BLOCK_TYPES.get(b.type)
        if bt is not None and bt.has_shortcut:
            n += int(b.params.get("repeat", 1)) if any(p.name == "repeat" for p in bt.params) \
                else 1
        n += _residual_units(b.blocks or [])
    return n


def build_blocks(ctx: BuildContext, x: Any, blocks: list[BlockSpec], prefix: str) -> Any:
    """Builds a block sequence on `x` (also used by containers for their children)."""
    for i, block in enumerate(blocks):
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


def bind(spec: ArchitectureSpec, binding: Binding | None) -> ArchitectureSpec:
    """The spec with the data's input shape/kind applied (head sizes apply at build time)."""
    if binding is None or binding.input_shape is None:
        return spec
    bound = spec.copy()
    bound.input.shape = tuple(int(d) for d in binding.input_shape)
    if binding.input_kind:
        bound.input.kind = binding.input_kind
    if binding.vocab_size:
        bound.input.vocab_size = int(binding.vocab_size)
    return bound


def build_model(spec: ArchitectureSpec, binding: Binding | None = None) -> BuiltModel:
    """Builds the Keras model for `spec`.

    Args:
        spec: A validated spec.
        binding: Dataset facts overriding the spec's input and head sizes.

    Raises:
        SpecError: the spec itself is invalid (types, params).
        BlockBuildError: a block cannot be built on its input; names the block.
    """
    import keras

    problems = validate(spec)
    if problems:
        raise SpecError(problems)
    spec = bind(spec, binding)
    binding = binding or Binding()
    ctx = BuildContext(binding, spec.input.vocab_size, _residual_units(spec.blocks),
                       block_names(spec))
    dtype = "int32" if spec.input.kind == "tokens" else "float32"
    inputs = keras.Input(shape=spec.input.shape, dtype=dtype, name="input")
    outputs = build_blocks(ctx, inputs, spec.blocks, "")
    model = keras.Model(inputs, outputs, name=_model_name(spec.name))
    return BuiltModel(model, _summarize(spec, model, ctx), _layer_blocks(ctx), spec)


def _model_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _layer_blocks(ctx: BuildContext) -> dict[str, str]:
    return {layer.name: rec.name for rec in ctx.records.values() for layer in rec.layers}


def _weight_counts(layers: list[Any]) -> tuple[int, int, int]:
    """(parameters, trainable parameters, BatchNorm statistics) of distinct layers."""
    import keras

    total = trainable = stats = 0
    seen: set[int] = set()
    for layer in layers:
        if id(layer) in seen:  # a layer applied twice (shared) counts once
            continue
        seen.add(id(layer))
        stat_ids = set()
        if isinstance(layer, keras.layers.BatchNormalization):
            stat_ids = {id(layer.moving_mean), id(layer.moving_variance)}
        for w in layer.weights:
            n = _prod(w.shape)
            if id(w) in stat_ids:
                stats += n
            else:
                total += n
                trainable += n if w.trainable else 0
    return total, trainable, stats


def _prod(shape: Any) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _summarize(spec: ArchitectureSpec, model: Any, ctx: BuildContext) -> ModelSummary:
    def block_summary(rec: BlockRecord) -> BlockSummary:
        children = [block_summary(ctx.records[c]) for c in rec.children]
        own, own_trainable, _ = _weight_counts(rec.layers)
        return BlockSummary(
            name=rec.name, type=rec.type, location=rec.location,
            output_shape=tuple(rec.output.shape),
            params=own + sum(c.params for c in children),
            trainable_params=own_trainable + sum(c.trainable_params for c in children),
            layers=[layer.name for layer in rec.layers], children=children)

    tops = [block_summary(r) for r in ctx.records.values() if r.parent is None]
    all_layers = [layer for rec in ctx.records.values() for layer in rec.layers]
    total, trainable, stats = _weight_counts(all_layers)
    return ModelSummary(
        name=spec.name, input_shape=(None, *spec.input.shape),
        output_shape=tuple(model.outputs[0].shape), total_params=total,
        trainable_params=trainable, non_trainable_params=total - trainable, statistics=stats,
        blocks=tops)


def check_buildable(spec: ArchitectureSpec, binding: Binding | None = None
                    ) -> tuple[BuiltModel | None, list[Problem]]:
    """Builds `spec`; returns (built, []) or (None, problems with their locations)."""
    try:
        return build_model(spec, binding), []
    except SpecError as e:
        return None, e.problems
    except BlockBuildError as e:
        return None, [Problem(e.location, f"{e.block}: {e.detail}")]


def plain_twin(spec: ArchitectureSpec) -> ArchitectureSpec:
    """The same architecture with every shortcut set to `none` (name suffixed `-plain`)."""
    twin = spec.copy()
    for _, block in twin.walk():
        bt = registry.BLOCK_TYPES.get(block.type)
        if bt is not None and bt.has_shortcut:
            block.params = copy.deepcopy(block.params)
            block.params["shortcut"] = "none"
    twin.name = (spec.name + "-plain")[:64]
    twin.title = f"{spec.title or spec.name} (plain twin: shortcuts removed)"
    return twin
