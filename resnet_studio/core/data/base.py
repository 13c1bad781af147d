"""Types shared by every dataset source: the error, the metadata record and the loaded data.

This module imports neither TensorFlow nor any data library, so the GUI can list datasets and
show their metadata before TensorFlow has loaded (that import takes seconds).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

    from .pixels import PixelTransform
    from .tokenizers import Tokenizer

TASKS = ("classification", "language_model")
INPUT_KINDS = ("image", "sequence", "tokens", "vector")
SPLITS = ("train", "validation", "test")
# Accepted spellings of the split names (the CLI and Keras say "val").
_SPLIT_ALIASES = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}

# Token length for text classification when the caller gives no `sequence_length`.
DEFAULT_TEXT_LENGTH = 256
# Byte-level tokens for text classification: UTF-8 byte b -> id b + 1; id 0 is padding.
# Bytes rather than characters: no vocabulary to build or ship, every language and encoding
# works, and the id range is fixed.
BYTE_VOCAB_SIZE = 257

# Environment variable that moves the cache folder (tests, read-only homes, shared machines).
CACHE_ENV = "RESNET_STUDIO_CACHE"


class DatasetError(ValueError):
    """A dataset cannot be named, found, read or fetched.

    The message always says what went wrong and how to fix it, because it is shown to the user
    verbatim (CLI exit code 2, GUI message box).
    """


@dataclass(frozen=True)
class DatasetInfo:
    """Metadata of a dataset, cheap to compute and JSON-ready.

    Args:
        name: Canonical name as the user typed it, e.g. `"digits"`, `"tfds:cifar10"`,
            `"npz:/x/y.npz"`.
        task: `"classification"` or `"language_model"`.
        input_kind: `"image"` (H, W, C) float, `"sequence"` (T, F) float, `"tokens"` (T,) int
            or `"vector"` (F,) float.
        input_shape: Shape of one example, without the batch axis.
        num_classes: Number of classes (classification), else None.
        vocab_size: Number of token ids (language models and token classification), else None.
        class_names: Human-readable class names when known, else None.
        sizes: Examples per split, `{"train": n, "validation": n, "test": n}`; for language
            models the number of windows. -1 when a source cannot tell without reading it all.
        offline: True when the data is available without network.
        description: One or two sentences for the GUI and `resnet-studio datasets`.

    Example:

    >>> info = describe_dataset("digits")
    >>> info.input_shape, info.num_classes
    ((8, 8, 1), 10)
    """

    name: str
    task: str
    input_kind: str
    input_shape: tuple[int, ...]
    num_classes: int | None
    vocab_size: int | None
    class_names: tuple[str, ...] | None
    sizes: dict[str, int]
    offline: bool
    description: str

    def __post_init__(self) -> None:
        # Catch a loader bug where it enters, not three modules later in the model builder.
        if self.task not in TASKS:
            raise ValueError(f"Expected task in {TASKS}, received: task={self.task!r}")
        if self.input_kind not in INPUT_KINDS:
            raise ValueError(
                f"Expected input_kind in {INPUT_KINDS}, received: input_kind={self.input_kind!r}"
            )

    def __hash__(self) -> int:
        # The generated hash would fail on the `sizes` dict; equal infos still hash equal.
        return hash((self.name, self.input_shape, tuple(sorted(self.sizes.items()))))

    def to_dict(self) -> dict[str, Any]:
        """Returns the metadata as plain JSON types (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["input_shape"] = list(self.input_shape)
        out["class_names"] = list(self.class_names) if self.class_names is not None else None
        out["sizes"] = dict(self.sizes)
        if self.task == "classification" and self.input_kind == "tokens":
            # What a user looks for in `datasets --json`; in code the task stays
            # "classification" (same heads, losses and metrics as images).
            out["task"] = "text-classification"
        return out


@dataclass(eq=False)
class RawImages:
    """Training images before any resizing, for crop augmentations (ImageNet style).

    Args:
        records: Unbatched `(key, label)` pairs, cheap to hold in a shuffle buffer: file paths
            (folders) or still-encoded image bytes (TFDS). Same order as the train split.
        decode: key -> standardized float32 image (H, W, C) at its own size.
    """

    records: tf.data.Dataset
    decode: Callable[[tf.Tensor], tf.Tensor]


@dataclass(eq=False)
class Dataset:
    """A loaded dataset.

    Small sources (built-ins, npz, text folders) keep numpy arrays in memory, already
    normalized: `x_train`, `y_train`, `x_val`, `y_val`, `x_test`, `y_test`. Large sources
    (TFDS, image folders) keep unbatched `tf.data.Dataset` splits instead. `split()` gives the
    same view of either.

    Args:
        info: Metadata; `info.sizes` are the sizes actually loaded (after `limit`).
        x_train: Training inputs, or None for streamed sources.
        y_train: Training targets.
        x_val: Validation inputs.
        y_val: Validation targets.
        x_test: Test inputs.
        y_test: Test targets.
        vocabulary: For character-level corpora, the characters; index = token id.
        tokenizer: For text classification, the fitted tokenizer (its vocabulary is stored in
            the run folder and embedded in exports).
        texts: For text classification, the raw texts of each split (previews, predictions).
        streams: For streamed sources, unbatched `(x, y)` datasets keyed by split name.
        warnings: What the user should know about the data (files skipped as unreadable,
            duplicates, empty classes); the trainer shows them before training.
        raw_train: For image sources read from files with a crop geometry, the training
            images at their own size (`RawImages`): crop augmentations cut from them.
        eval_cropped: True when `split()` already yields the evaluation crop (resize 256,
            centre 224; `crops.eval_crop`) rather than plainly resized images.
        pixels: For image sources with 8-bit pixels, how a pixel becomes the model's input
            (`pixels.PixelTransform`): exports serve uint8 images with it.

    Example:

    >>> data = load_dataset("digits", limit=64)
    >>> next(iter(data.split("train")))[0].shape
    TensorShape([8, 8, 1])
    """

    info: DatasetInfo
    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    vocabulary: list[str] | None = None
    streams: dict[str, tf.data.Dataset] | None = field(default=None, repr=False)
    tokenizer: Tokenizer | None = field(default=None, repr=False)
    texts: dict[str, list[str]] | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)
    raw_train: RawImages | None = field(default=None, repr=False)
    eval_cropped: bool = False
    pixels: PixelTransform | None = field(default=None, repr=False)

    @property
    def in_memory(self) -> bool:
        """True when the splits are numpy arrays (see `arrays()`)."""
        return self.x_train is not None

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Returns the `(x, y)` numpy arrays of a split of an in-memory dataset.

        Args:
            name: `"train"`, `"validation"` (or `"val"`) or `"test"`.

        Raises:
            DatasetError: The split name is unknown or the dataset is streamed.
        """
        split = _canonical_split(name)
        if not self.in_memory:
            raise DatasetError(
                f"{self.info.name} is streamed from disk, not held in memory: use split({name!r})."
            )
        suffix = {"train": "train", "validation": "val", "test": "test"}[split]
        return getattr(self, f"x_{suffix}"), getattr(self, f"y_{suffix}")

    def split(self, name: str) -> tf.data.Dataset:
        """Returns one split as an unbatched `tf.data.Dataset` of normalized `(x, y)` pairs.

        The order is deterministic (shuffling is `make_pipelines`' job). Features are float32
        (token ids int32), labels int32.

        Args:
            name: `"train"`, `"validation"` (or `"val"`) or `"test"`.

        Raises:
            DatasetError: The split name is unknown.
        """
        split = _canonical_split(name)
        if self.streams is not None:
            return self.streams[split]
        import tensorflow as tf  # Deferred: importing this module must stay cheap.

        x, y = self.arrays(split)
        return tf.data.Dataset.from_tensor_slices((x, y))


def _canonical_split(name: str) -> str:
    try:
        return _SPLIT_ALIASES[name]
    except KeyError:
        raise DatasetError(f"Expected a split name in {SPLITS}, received: {name!r}") from None


def cache_dir() -> Path:
    """Returns (and creates) the folder for generated data caches.

    `$RESNET_STUDIO_CACHE` if set, else the platform's user cache folder for "resnet-studio".
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs  # Deferred: only needed when something is actually cached.

        path = Path(platformdirs.user_cache_dir("resnet-studio"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_load_args(
    validation_fraction: float, sequence_length: int | None, limit: int | None
) -> None:
    """Checks `load_dataset`'s numeric arguments, with messages naming the argument.

    Raises:
        DatasetError: An argument is out of range.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise DatasetError(
            f"Expected validation_fraction in [0, 1), received: "
            f"validation_fraction={validation_fraction!r}"
        )
    if sequence_length is not None and sequence_length < 1:
        raise DatasetError(
            f"Expected sequence_length >= 1, received: sequence_length={sequence_length!r}"
        )
    if limit is not None and limit < 1:
        raise DatasetError(f"Expected limit >= 1, received: limit={limit!r}")


def cap(n: int, limit: int | None) -> int:
    """Returns `n` capped at `limit` (None means no cap)."""
    return n if limit is None else min(n, limit)


def standardize_channels(x_train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Standardizes arrays per last-axis channel with the training split's mean and std.

    Statistics come from the training split only, so validation and test data stay unseen.

    Args:
        x_train: Training features, float, channels last.
        *others: Further splits to transform with the same statistics.

    Returns:
        float32 arrays in the order given, `x_train` first.
    """
    axes = tuple(range(x_train.ndim - 1))
    mean = x_train.mean(axis=axes, dtype=np.float64) if len(x_train) else 0.0
    std = x_train.std(axis=axes, dtype=np.float64) if len(x_train) else 1.0
    # A constant channel (e.g. an always-black border) would divide by zero.
    std = np.where(np.asarray(std) > 1e-8, std, 1.0)
    return tuple(((a - mean) / std).astype(np.float32) for a in (x_train, *others))
