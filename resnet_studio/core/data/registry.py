"""Dataset names: which exist, what they hold, and loading them by name.

Names are the built-ins (`builtin.BUILTINS`) and three patterns with a prefix:
`tfds:NAME[/CONFIG]`, `folder:PATH` and `npz:PATH`. This module dispatches on the name; each
source lives in its own module. Listing and describing built-ins is cheap (no TensorFlow).
"""

from __future__ import annotations

from . import builtin
from .base import Dataset, DatasetError, DatasetInfo, check_load_args
from .tokenizers import DEFAULT_TOKENIZER, check_tokenizer

PATTERNS = ("tfds:NAME[/CONFIG]", "folder:PATH", "npz:PATH")
_TFDS, _FOLDER, _NPZ = "tfds:", "folder:", "npz:"


def dataset_names() -> list[str]:
    """Returns the built-in dataset names followed by the patterns of the other sources."""
    return [*builtin.BUILTINS, *PATTERNS]


def list_datasets() -> list[DatasetInfo]:
    """Returns the metadata of every built-in dataset (no TensorFlow, no data generation)."""
    return [b.describe(0.1, None) for b in builtin.BUILTINS.values()]


def _unknown(name: str) -> DatasetError:
    return DatasetError(f"Unknown dataset {name!r}. Expected one of: {', '.join(dataset_names())}.")


def describe_dataset(name: str, data_dir: str | None = None) -> DatasetInfo:
    """Returns a dataset's metadata, reading as little as possible.

    Built-ins: static (no TensorFlow). TFDS: from the builder's metadata, no download (sizes
    -1 until prepared). Folders: indexes the files and decodes a few images. npz: reads the
    arrays. Sizes assume the default validation fraction (0.1).

    Args:
        name: A dataset name (see `dataset_names()`).
        data_dir: TFDS data folder (else `$TFDS_DATA_DIR`, else TFDS's default).

    Raises:
        DatasetError: Unknown name, or the data cannot be found or read.
    """
    if not isinstance(name, str):
        raise DatasetError(f"Expected a dataset name (str), received: name={name!r}")
    if name in builtin.BUILTINS:
        return builtin.BUILTINS[name].describe(0.1, None)
    if name.startswith(_TFDS):
        from . import tfds

        return tfds.describe(name, data_dir)
    if name.startswith(_FOLDER):
        from . import files

        return files.describe_folder(name)
    if name.startswith(_NPZ):
        from . import files

        return files.describe_npz(name)
    raise _unknown(name)


def load_dataset(
    name: str,
    *,
    seed: int = 0,
    validation_fraction: float = 0.1,
    data_dir: str | None = None,
    sequence_length: int | None = None,
    limit: int | None = None,
    tokenizer: str | None = None,
    vocab_size: int = 0,
    image_size: tuple[int, int] | None = None,
    default_image_size: tuple[int, int] | None = None,
    crop: bool = False,
) -> Dataset:
    """Loads a dataset by name.

    Args:
        name: A dataset name (see `dataset_names()`).
        seed: Makes seeded splits and generated data reproducible.
        validation_fraction: Share of the training data held out for validation, in [0, 1).
        data_dir: TFDS data folder (else `$TFDS_DATA_DIR`, else TFDS's default).
        sequence_length: Window length for `python-docs` (default 128) and token length for
            text classification (default 256); ignored by fixed-shape datasets.
        limit: Cap on the number of examples in each split (fast tests, quick looks).
        tokenizer: For text classification: `"bytes"` (default) or `"wordpiece"` (learnt from
            the training split; see `tokenizers`). Other datasets refuse `"wordpiece"`.
        vocab_size: WordPiece vocabulary size (0 = the tokenizer's default).
        image_size: (H, W) every image of a file source (tfds:, folder:) is brought to,
            whatever its own size. In-memory sources (built-ins, npz) keep theirs.
        default_image_size: (H, W) for file sources whose images vary in size, instead of
            `tfds.VARIABLE_IMAGE_SIZE` / `files.FALLBACK_IMAGE_SIZE` (the architecture's
            input, when it says one).
        crop: ImageNet-style geometry for file sources (with `image_size`): `split()` gives
            the evaluation crop (`crops.eval_crop`) and `raw_train` the training images at
            their own size, for the crop augmentations.

    Returns:
        The loaded `Dataset`; `info.sizes` are the sizes after `limit`.

    Raises:
        DatasetError: Unknown name, bad argument, or data that cannot be found, read or
            fetched. The message says how to fix it.

    Example:

    >>> data = load_dataset("mnist1d", seed=1, limit=256)
    >>> data.info.input_shape
    (40, 1)
    """
    if not isinstance(name, str):
        raise DatasetError(f"Expected a dataset name (str), received: name={name!r}")
    check_load_args(validation_fraction, sequence_length, limit)
    tokenizer = check_tokenizer(tokenizer)
    source = builtin.BUILTINS.get(name)
    if source is not None and source.text:
        return source.load(seed, validation_fraction, sequence_length, limit,
                           tokenizer=tokenizer, vocab_size=vocab_size)
    if tokenizer != DEFAULT_TOKENIZER and not name.startswith((_FOLDER, _TFDS)):
        raise DatasetError(f"{name}: tokenizer={tokenizer!r} applies to text classification "
                           f"sets only (stdlib-docs, tfds: text sets, a folder: of .txt files)")
    if source is not None:
        return source.load(seed, validation_fraction, sequence_length, limit)
    # TFDS and folders read images and text alike: the same keywords.
    common = {"seed": seed, "validation_fraction": validation_fraction,
              "sequence_length": sequence_length, "limit": limit, "tokenizer": tokenizer,
              "vocab_size": vocab_size, "image_size": image_size,
              "default_image_size": default_image_size, "crop": crop}
    if name.startswith(_TFDS):
        from . import tfds

        return tfds.load(name, data_dir=data_dir, **common)
    if name.startswith(_FOLDER):
        from . import files

        return files.load_folder(name, **common)
    if name.startswith(_NPZ):
        from . import files

        return files.load_npz(name, seed=seed, validation_fraction=validation_fraction, limit=limit)
    raise _unknown(name)
