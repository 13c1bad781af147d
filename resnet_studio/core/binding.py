"""Binding an architecture to a dataset: the one place that decides what a spec becomes when
it trains on a dataset, and where the user's values differ from the dataset's.

A spec says an input shape, a number of classes in its classifier head, a vocabulary; a
dataset says its own. Training always follows the dataset (a model cannot train on data of
another shape). `bind_spec` applies the dataset's facts to a copy of the spec and lists every
place where the user's value was different (`Difference`). The trainer builds the bound spec
(`training/trainer.py`), and the editor summarizes the same bound spec for the dataset chosen
in the training panel (`gui/summary_worker.py`), so the parameter count the editor shows is
the one training reports; each difference is shown on its block with a fix that writes the
dataset's value into the spec.

Dataset facts come from the loaded dataset when training (`facts_of(info)`), and from its
metadata when editing (`facts_for_editor(spec, name)`: `describe_dataset`, plus what loading
would do with this spec: text is cut to the spec's sequence length and a wordpiece tokenizer
has the spec's vocabulary; files of images are resized to the size training would use).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resnet_studio.core.blocks.context import Binding
from resnet_studio.core.spec import ArchitectureSpec

# Block types whose parameter is replaced by a dataset fact (block type -> (param, fact)).
# Only explicit values differ: a vocab_size of 0 means "from the dataset" already.
_BLOCK_FACTS: dict[str, tuple[str, str]] = {
    "classifier_head": ("classes", "num_classes"),
    "lm_head": ("vocab_size", "vocab_size"),
    "token_embedding": ("vocab_size", "vocab_size"),
}


@dataclass(frozen=True)
class Difference:
    """Where the user's value differs from the dataset's.

    Attributes:
        location: `input` or the block's location (`blocks[6]`, `blocks[2].blocks[0]`).
        block: The block's name, or `input`.
        field: The spec field: `shape`, `kind` or `vocab_size` of the input; a parameter
            name (`classes`, `vocab_size`) of a block.
        user: The spec's value.
        dataset: The value training uses (the dataset's).
        applied: Whether training replaces the user's value by the dataset's (input shape,
            kind, vocabulary, classes). False where the block's explicit value is kept
            (an explicit lm_head / token_embedding vocabulary): then the warning says the
            model does not fit the data.
    """

    location: str
    block: str
    field: str
    user: Any
    dataset: Any
    applied: bool = True

    def message(self) -> str:
        """One line for the inspector and tooltips."""
        user, data = _show(self.user), _show(self.dataset)
        if self.applied:
            return (f"{self.field} is {user} here, but the dataset has {data}: training "
                    f"uses {data}")
        return (f"{self.field} is {user} here, but the dataset has {data}: the model will "
                f"not fit the data")


def _show(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return f"{value:,}" if isinstance(value, int) else str(value)


@dataclass
class BoundSpec:
    """A spec bound to a dataset.

    Attributes:
        spec: The spec as it trains: the dataset's input and head sizes applied.
        binding: The dataset facts applied (what the builder is given).
        differences: Where the user's spec differed.
    """

    spec: ArchitectureSpec
    binding: Binding | None
    differences: list[Difference]

    def by_location(self) -> dict[str, list[Difference]]:
        out: dict[str, list[Difference]] = {}
        for d in self.differences:
            out.setdefault(d.location, []).append(d)
        return out


def facts_of(info: Any, shape: tuple[int, ...] | None = None) -> Binding:
    """The facts of a dataset's `DatasetInfo` that bind an architecture (`shape` replaces
    the input shape, e.g. the size files of images are resized to)."""
    return Binding(input_shape=tuple(int(d) for d in (shape or info.input_shape)),
                   input_kind=info.input_kind, num_classes=info.num_classes,
                   vocab_size=info.vocab_size)


def bind_spec(spec: ArchitectureSpec, facts: Binding | None) -> BoundSpec:
    """`spec` as it trains on a dataset with these facts, and where it differed.

    The input takes the dataset's shape, kind and vocabulary; every classifier head takes
    the dataset's classes. Explicit vocabularies of blocks are kept (as the builder does)
    and reported when they differ. The spec itself is not changed.
    """
    if facts is None:
        return BoundSpec(spec, None, [])
    from resnet_studio.core.blocks import registry
    from resnet_studio.core.naming import block_names

    diffs: list[Difference] = []
    bound = spec.copy()
    inp = bound.input
    if facts.input_shape is not None:
        shape = tuple(int(d) for d in facts.input_shape)
        if tuple(inp.shape) != shape:
            diffs.append(Difference("input", "input", "shape", tuple(inp.shape), shape))
        inp.shape = shape
    if facts.input_kind and facts.input_kind != inp.kind:
        diffs.append(Difference("input", "input", "kind", inp.kind, facts.input_kind))
        inp.kind = facts.input_kind
    if facts.vocab_size:
        if inp.vocab_size and inp.vocab_size != facts.vocab_size:
            diffs.append(Difference("input", "input", "vocab_size", inp.vocab_size,
                                    int(facts.vocab_size)))
        inp.vocab_size = int(facts.vocab_size)
    names = block_names(bound)
    for location, block in _walk(bound.blocks, ""):
        rule = _BLOCK_FACTS.get(block.type)
        if rule is None:
            continue
        param, fact = rule
        value = getattr(facts, fact)
        if not value:
            continue
        user = registry.get_block_type(block.type).resolve(block.params).get(param)
        applied = block.type == "classifier_head"
        if user and int(user) != int(value):
            diffs.append(Difference(location, names.get(location, block.type), param,
                                    int(user), int(value), applied))
        if applied:
            block.params = {**block.params, param: int(value)}
    return BoundSpec(bound, facts, diffs)


def _walk(blocks: list[Any], prefix: str) -> list[tuple[str, Any]]:
    out = []
    for i, b in enumerate(blocks):
        loc = f"{prefix}blocks[{i}]"
        out.append((loc, b))
        out.extend(_walk(b.blocks or [], loc + "."))
    return out


def image_geometry(spec: ArchitectureSpec, cfg: Any) -> dict[str, Any]:
    """How files of images become the model's input (`load_dataset`'s image arguments).

    `image_size` set: that size. Else, with a crop augmentation (ImageNet-style recipes),
    the architecture's input size. Images of varying size without either take the
    architecture's size too; fixed-size datasets otherwise keep their own.
    """
    if spec.input.kind != "image":
        return {}
    own = (int(spec.input.shape[0]), int(spec.input.shape[1]))
    crop = cfg.crop_augmentation is not None
    size = (cfg.image_size, cfg.image_size) if cfg.image_size else (own if crop else None)
    return {"image_size": size, "default_image_size": own, "crop": crop}


def trained_image_size(spec: ArchitectureSpec, dataset: str, kind: str,
                       config: Any = None) -> tuple[int, int] | None:
    """The size files of images (tfds:, folder:) are brought to when `spec` trains on them
    with `config` (default: the spec's own `training` settings), else None."""
    from resnet_studio.core.training_config import TrainingConfig

    if kind != "image" or not dataset.startswith(("tfds:", "folder:")):
        return None
    if config is None:
        try:
            config = TrainingConfig.from_sources(spec.training)
        except ValueError:
            return None
    return image_geometry(spec, config).get("image_size")


def facts_for_editor(spec: ArchitectureSpec, dataset: str, config: Any = None,
                     data_dir: str | None = None) -> Binding:
    """The facts training will bind `spec` to on `dataset`, from the dataset's metadata
    (`describe_dataset`: static for built-ins, no download for TFDS), without loading it.

    Raises:
        DatasetError: the dataset is unknown or cannot be read.
    """
    from resnet_studio.core.data import describe_dataset
    from resnet_studio.core.data.tokenizers import text_load_args

    info = describe_dataset(dataset, data_dir)
    shape: tuple[int, ...] | None = None
    vocab = info.vocab_size
    if info.input_kind == "tokens" and spec.input.kind == "tokens":
        # Loading cuts text to the spec's sequence length; a wordpiece tokenizer is trained
        # to the spec's vocabulary (core/data/tokenizers.text_load_args).
        text = text_load_args(spec)
        shape = (int(text["sequence_length"]),)
        vocab = int(text.get("vocab_size") or 0) or vocab
    else:
        size = trained_image_size(spec, dataset, info.input_kind, config)
        if size is not None:
            shape = (*size, *tuple(info.input_shape)[2:])
    facts = facts_of(info, shape)
    facts.vocab_size = vocab
    return facts
