"""spec -> keras.Model, with per-block shapes and parameter counts taken from Keras itself.

Parameter counts follow the papers and torchvision: BatchNorm's moving mean and variance are
running statistics, not parameters, so `total_params` leaves them out (ResNet-50 has
25,557,032 parameters). Keras's own `model.count_params()` includes them; the summary reports
them separately as `statistics`, so total_params + statistics == model.count_params().

Size limit. A preset can describe a model that cannot fit in memory (a dense layer after
flattening a large image easily reaches 10^12 weights) although every single value in it is
in range. Keras allocates a layer's weights when the layer is built, so counting after a
normal build would be too late. Instead every build first runs inside
`keras.StatelessScope(initialize_variables=False)`: layers are built and called on symbolic
tensors as usual, but their variables are only *declared* (shape, dtype, initializer) and
nothing is allocated. The counts are read from those shapes; above the limit
(`max_params_limit()`: `$RESNET_STUDIO_MAX_PARAMS`, default 2e9) the declared variables are
dropped and `ModelTooLargeError` names the largest block; otherwise they are allocated with
their initializers, in creation order, which gives the same weights as an eager build under
the same seed (tests check both, so a Keras upgrade that changes this fails loudly).
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from resnet_studio.core import keras_private
from resnet_studio.core.blocks import registry
from resnet_studio.core.blocks.context import (
    Binding,
    BlockBuildError,
    BlockRecord,
    BuildContext,
    UnitRecord,
    build_blocks,
)
from resnet_studio.core.naming import block_names
from resnet_studio.core.params import Problem
from resnet_studio.core.spec import ArchitectureSpec, BlockSpec, SpecError, validate

MAX_PARAMS_ENV = "RESNET_STUDIO_MAX_PARAMS"
# 2e9 float32 parameters are 8 GB of weights, and Adam keeps two more copies: beyond what the
# machines this app targets can train, yet far above every shipped preset (ResNet-152: 6e7).
DEFAULT_MAX_PARAMS = 2_000_000_000


class ModelTooLargeError(SpecError):
    """The architecture has more parameters than the configured limit.

    Raised before any weight is allocated. The one problem is located at the top-level block
    holding the most parameters, so the editor marks it.

    Attributes:
        params: Parameters the model would have.
        limit: The limit in force.
        location: Location of the largest top-level block (`blocks[2]`).
    """

    def __init__(self, params: int, limit: int, location: str, block: str, block_params: int,
                 source: str | None = None) -> None:
        self.params = params
        self.limit = limit
        self.location = location
        message = (
            f"the model would have {params:,} parameters ({_human_bytes(4 * params)} of float32 "
            f"weights, before optimizer state), more than the limit of {limit:,}; this block "
            f"({block}) has {block_params:,} of them. Use fewer filters or units, pool or stride "
            f"before flattening, or a smaller input; or raise the limit with --max-params N "
            f"or {MAX_PARAMS_ENV}=N")
        super().__init__([Problem(location, message)], source)


def parse_max_params(value: Any, origin: str = MAX_PARAMS_ENV) -> int:
    """A parameter limit from an int or a string such as "2e9" or "500_000_000".

    Raises:
        SpecError: naming `origin` (the variable or flag it came from) when the value is not a
            positive whole number.
    """
    number: float | int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip().replace("_", ""))
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                number = None
    if isinstance(number, float):
        number = int(number) if number == number and number.is_integer() else None
    if number is None or number < 1:
        raise SpecError([Problem(origin, f"expected a positive whole number of parameters, "
                                         f"such as 2e9 or 500000000, got {value!r}")])
    return int(number)


def max_params_limit(value: int | str | None = None) -> int:
    """The parameter limit in force: `value` if given, else `$RESNET_STUDIO_MAX_PARAMS`, else
    `DEFAULT_MAX_PARAMS`. Read at every build, so a changed setting applies to the next one."""
    if value is not None:
        return parse_max_params(value, "max_params")
    env = os.environ.get(MAX_PARAMS_ENV, "").strip()
    return parse_max_params(env) if env else DEFAULT_MAX_PARAMS


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} EB"


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
        units: Residual units in depth order (and their plain twins' branches).
    """

    model: Any
    summary: ModelSummary
    layer_block: dict[str, str]
    spec: ArchitectureSpec
    units: list[UnitRecord] = field(default_factory=list)


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


def bind(spec: ArchitectureSpec, binding: Binding | None) -> ArchitectureSpec:
    """The spec as it trains with these dataset facts (input, classes, vocabulary): the one
    binding of `core/binding.py`, which also lists where the user's values differ."""
    from resnet_studio.core.binding import bind_spec

    return bind_spec(spec, binding).spec


def validated_and_bound(spec: ArchitectureSpec, binding: Binding | None
                        ) -> tuple[ArchitectureSpec, Binding]:
    """The spec checked (SpecError names every problem) and bound as it trains, with the
    binding itself (empty when none was given): where every build and summary starts."""
    problems = validate(spec)
    if problems:
        raise SpecError(problems)
    return bind(spec, binding), binding or Binding()


def build_model(spec: ArchitectureSpec, binding: Binding | None = None, *,
                max_params: int | str | None = None, lesion_gates: bool = False
                ) -> BuiltModel:
    """Builds the Keras model for `spec`, refusing it before allocation when it is too large.

    Args:
        spec: A validated spec.
        binding: Dataset facts (`core/binding.py`): the spec is bound to them first, as
            `binding.bind_spec` does; the editor shows where that changes a user's value.
        max_params: Parameter limit; None reads `max_params_limit()`.
        lesion_gates: Put a BranchGate on every removable residual unit (lesion studies);
            the layers keep their names, so trained weights copy over by layer name.

    Raises:
        SpecError: the spec itself is invalid (types, params).
        ModelTooLargeError: more parameters than the limit (nothing was allocated).
        BlockBuildError: a block cannot be built on its input; names the block.
    """
    built = _build(spec, binding, max_params, allocate=True, lesion_gates=lesion_gates)
    assert built.model is not None
    return built


def summarize(spec: ArchitectureSpec, binding: Binding | None = None, *,
              max_params: int | str | None = None) -> ModelSummary:
    """Shapes and parameter counts of `spec` as Keras computes them, without allocating a
    single weight: what `summary` and `validate` need, several times faster than a build for
    deep models. Raises what `build_model` raises."""
    return _build(spec, binding, max_params, allocate=False).summary


def _build(spec: ArchitectureSpec, binding: Binding | None, max_params: int | str | None, *,
           allocate: bool, lesion_gates: bool = False) -> BuiltModel:
    import keras

    from resnet_studio.core import graph_order

    graph_order.install()  # ResNet-1202 is deeper than Keras's recursive graph walk allows
    limit = max_params_limit(max_params)
    spec, binding = validated_and_bound(spec, binding)
    ctx = BuildContext(binding, spec.input.vocab_size, _residual_units(spec.blocks),
                       block_names(spec), lesion_gates=lesion_gates)
    with DeclaredVariables() as declared:
        try:
            dtype = "int32" if spec.input.kind == "tokens" else "float32"
            inputs = keras.Input(shape=spec.input.shape, dtype=dtype, name="input")
            outputs = build_blocks(ctx, inputs, spec.blocks, "")
            summary = _summarize(spec, outputs, ctx)
            _check_size(summary, limit)
        except BaseException:
            declared.discard()
            raise
    if not allocate:
        declared.discard()
        return BuiltModel(None, summary, _layer_blocks(ctx), spec, ctx.units)
    declared.allocate()
    for hook in ctx.after_allocate:
        hook()
    model = keras.Model(inputs, outputs, name=_model_name(spec.name))
    return BuiltModel(model, summary, _layer_blocks(ctx), spec, ctx.units)


def _check_size(summary: ModelSummary, limit: int) -> None:
    if summary.total_params <= limit:
        return
    largest = max(summary.blocks, key=lambda b: b.params)
    raise ModelTooLargeError(summary.total_params, limit, largest.location,
                             f"{largest.type} '{largest.name}'", largest.params)


class DeclaredVariables:
    """Context in which Keras variables are declared (shape, dtype, initializer) but not
    allocated; afterwards `allocate()` creates them or `discard()` forgets them.

    Wraps `keras.StatelessScope(initialize_variables=False)`. Keras keeps such variables in a
    thread-local list (`uninitialized_variables`) and allocates everything in it whenever an
    outermost stateless scope exits, which Keras's own shape inference does all the time: a
    refused model must therefore be taken off that list, or the next build would allocate
    it after all. That list is Keras-internal (keras.src, reached through
    core/keras_private.py); tests/core/test_reliability.py pins the behaviour this relies on.
    """

    def __enter__(self) -> DeclaredVariables:
        import keras

        self._before = {id(v) for v in _pending_variables()}
        self._scope = keras.StatelessScope(initialize_variables=False)
        self._scope.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._scope.__exit__(*exc)

    def _take(self) -> list[Any]:
        pending = _pending_variables()
        ours = [v for v in pending if id(v) not in self._before]
        keras_private.set_pending_variables([v for v in pending if id(v) in self._before])
        return ours

    def allocate(self) -> None:
        """Allocates and initializes the declared variables, in the order they were declared
        (the order an eager build would have initialized them)."""
        for v in self._take():
            keras_private.allocate_declared(v)

    def discard(self) -> None:
        """Forgets the declared variables; nothing of them was ever allocated."""
        self._take()


def _pending_variables() -> list[Any]:
    return keras_private.pending_variables()


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


def block_summary(ctx: BuildContext, rec: BlockRecord) -> BlockSummary:
    """The summary of one built block (and its children) of `ctx`."""
    children = [block_summary(ctx, ctx.records[c]) for c in rec.children]
    own, own_trainable, _ = _weight_counts(rec.layers)
    return BlockSummary(
        name=rec.name, type=rec.type, location=rec.location,
        output_shape=tuple(rec.output.shape),
        params=own + sum(c.params for c in children),
        trainable_params=own_trainable + sum(c.trainable_params for c in children),
        layers=[layer.name for layer in rec.layers], children=children)


def _summarize(spec: ArchitectureSpec, outputs: Any, ctx: BuildContext) -> ModelSummary:
    tops = [block_summary(ctx, r) for r in ctx.records.values() if r.parent is None]
    all_layers = [layer for rec in ctx.records.values() for layer in rec.layers]
    total, trainable, stats = _weight_counts(all_layers)
    return ModelSummary(
        name=spec.name, input_shape=(None, *spec.input.shape),
        output_shape=tuple(outputs.shape), total_params=total,
        trainable_params=trainable, non_trainable_params=total - trainable, statistics=stats,
        blocks=tops)


def check_buildable(spec: ArchitectureSpec, binding: Binding | None = None, *,
                    max_params: int | str | None = None
                    ) -> tuple[BuiltModel | None, list[Problem]]:
    """Builds `spec`; returns (built, []) or (None, problems with their locations)."""
    try:
        return build_model(spec, binding, max_params=max_params), []
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
