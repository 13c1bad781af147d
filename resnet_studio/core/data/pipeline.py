"""Batched, prefetched tf.data pipelines for training, validation and test.

Reproducibility is a product feature here: a model and its plain twin are trained on the same
batch order, so two pipelines built from the same data and seed must yield identical batches,
epoch after epoch. Hence:

- shuffling uses an explicit seed with `reshuffle_each_iteration=True`: each epoch gets a new
  order, and the sequence of orders is the same for every pipeline built with that seed;
- augmentation uses stateless random ops whose seeds come from `tf.data.Dataset.random`
  (seeded, re-randomized each epoch) zipped with the examples, never from global RNG state.

TensorFlow combines an op seed with the global seed (`keras.utils.set_random_seed`) current
when the pipeline is built: build paired pipelines under the same global seed (or none).

The Trainer needs more than "the same sequence of orders": a run resumed from a checkpoint in
a new process must see exactly the batches the uninterrupted run would have seen, from the
middle of an epoch on. A reshuffling pipeline cannot give that (its k-th order depends on how
many times *this object* was iterated), so `training_stream` derives every epoch's order and
augmentation from (seed, epoch) alone and lays the epochs end to end: epoch e of any process
is the same, and a resumed run starts at (epoch, example) by skipping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral
from typing import TYPE_CHECKING

from .base import Dataset, DatasetError
from .crops import CROP_AUGMENTATIONS

if TYPE_CHECKING:
    import tensorflow as tf

AUGMENTATIONS = ("pad_crop", "flip", *CROP_AUGMENTATIONS)
# Streamed sources can be large: a bounded buffer keeps memory flat (10k CIFAR images ~120 MB).
_MAX_SHUFFLE_BUFFER = 10_000


def check_augment(augment: Sequence[str]) -> tuple[str, ...]:
    """Returns the augmentation names as a tuple after checking them.

    Raises:
        DatasetError: A name is not in `AUGMENTATIONS`.
    """
    if isinstance(augment, str):
        augment = (augment,)
    unknown = [a for a in augment if a not in AUGMENTATIONS]
    if unknown:
        raise DatasetError(
            f"Expected augmentations from {AUGMENTATIONS}, received: augment={list(augment)!r}"
        )
    if sum(a in CROP_AUGMENTATIONS for a in augment) > 1:
        raise DatasetError(f"Expected at most one of {CROP_AUGMENTATIONS}, received: "
                           f"augment={list(augment)!r}")
    return tuple(augment)


def _crop_of(names: tuple[str, ...], data: Dataset) -> str | None:
    """The crop augmentation in `names`, for image data (else None)."""
    if data.info.input_kind != "image":
        return None
    return next((a for a in names if a in CROP_AUGMENTATIONS), None)


def _training_source(data: Dataset, crop: str | None) -> tuple[tf.data.Dataset, Callable | None]:
    """(records to shuffle, decode or None): with a crop augmentation and raw training images,
    their cheap records (paths or encoded bytes) and the decoder applied after shuffling."""
    if crop is not None and data.raw_train is not None:
        return data.raw_train.records, data.raw_train.decode
    return data.split("train"), None


def _evaluation_view(data: Dataset, split: str, crop: str | None) -> tf.data.Dataset:
    """A validation/test split; with a crop augmentation on data whose split is not yet the
    evaluation crop (in-memory images), resize by 256/224 and take the centre crop, so the
    objects have the size training saw on average."""
    from .crops import eval_crop

    ds = data.split(split)
    if crop is None or data.eval_cropped:
        return ds
    size = tuple(data.info.input_shape[:2])
    return ds.map(lambda x, y: (eval_crop(x, size), y))


def _augmenter(
    names: tuple[str, ...], shape: tuple[int, ...], decode: Callable | None = None
) -> Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """Returns `(x, y, seed_scalar) -> (x', y)` applying `names` with stateless random ops;
    `x` goes through `decode` first when given (raw training records)."""
    import tensorflow as tf

    from .crops import train_crop

    h, w, _ = shape
    # ResNet's CIFAR recipe pads 4 px on 32 px images: keep that ratio for other sizes.
    pad_h, pad_w = max(1, h // 8), max(1, w // 8)
    # A crop augmentation makes the input its final size: it comes first, whatever the order.
    names = tuple(sorted(names, key=lambda a: a not in CROP_AUGMENTATIONS))

    def apply(x: tf.Tensor, y: tf.Tensor, r: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # One independent stateless seed per augmentation, derived from this element's draw.
        seeds = tf.random.experimental.stateless_split(
            tf.stack([r, tf.constant(0, tf.int64)]), num=len(names)
        )
        if decode is not None:
            x = decode(x)
        for i, name in enumerate(names):
            if name in CROP_AUGMENTATIONS:
                x = train_crop(name, x, (h, w), seeds[i])
            elif name == "pad_crop":
                # Zero padding (= the mean pixel after standardization), as in He et al.
                padded = tf.pad(x, [[pad_h, pad_h], [pad_w, pad_w], [0, 0]])
                x = tf.image.stateless_random_crop(padded, tf.shape(x), seed=seeds[i])
            elif name == "flip":
                x = tf.image.stateless_random_flip_left_right(x, seed=seeds[i])
        return tf.ensure_shape(x, shape), y

    return apply


def make_pipelines(
    data: Dataset,
    *,
    batch_size: int,
    seed: int = 0,
    augment: Sequence[str] = (),
    shuffle: bool = True,
    cache: bool = True,
    drop_remainder: bool = False,
) -> tuple[tf.data.Dataset, tf.data.Dataset, tf.data.Dataset]:
    """Builds the train, validation and test pipelines of a loaded dataset.

    Train: cache, shuffle (seeded, new order each epoch), augment (images only), batch,
    prefetch. Validation and test: cache, batch, prefetch, in their fixed order.
    Augmentations requested for non-image data are skipped: they are defined on images only,
    and presets may share training settings across datasets.

    Args:
        data: A loaded dataset (`load_dataset`).
        batch_size: Examples per batch, >= 1.
        seed: Seeds shuffling and augmentation; the same seed gives the same batches.
        augment: Names from `AUGMENTATIONS`, applied in the given order.
        shuffle: Shuffle the training split.
        cache: Cache decoded examples in memory after the first pass (streamed sources;
            in-memory sources are already cached by nature).
        drop_remainder: Drop the last, smaller training batch (for static batch shapes).
            Validation and test always keep every example, so their metrics cover them all.

    Returns:
        `(train, validation, test)` batched `tf.data.Dataset`s of `(x, y)`; x float32 (token
        ids int32), y int32 of shape `(batch,)` (language models: `(batch, T)`).

    Raises:
        DatasetError: `batch_size` < 1 or an unknown augmentation name.

    Example:

    >>> data = load_dataset("digits")
    >>> train, val, test = make_pipelines(data, batch_size=32, augment=["pad_crop"])
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise DatasetError(f"Expected batch_size >= 1, received: batch_size={batch_size!r}")
    names = check_augment(augment)
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    # from_tensor_slices data is already in memory: caching it would only double the memory.
    use_cache = cache and not data.in_memory
    crop = _crop_of(names, data)
    train, decode = _training_source(data, crop)
    if decode is not None:
        use_cache = False  # ImageNet-style sources: never the whole set in memory
    if use_cache:
        train = train.cache()
    if shuffle:
        size = data.info.sizes.get("train", -1)
        if data.in_memory:
            buffer = max(1, size)
        else:
            buffer = max(1, min(size, _MAX_SHUFFLE_BUFFER)) if size > 0 else _MAX_SHUFFLE_BUFFER
        train = train.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if names and data.info.input_kind == "image":
        augmenter = _augmenter(names, data.info.input_shape, decode)
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        train = tf.data.Dataset.zip((train, draws)).map(
            lambda xy, r: augmenter(xy[0], xy[1], r),
            num_parallel_calls=autotune,
        )
    train = train.batch(batch_size, drop_remainder=drop_remainder).prefetch(autotune)

    def evaluation(split: str) -> tf.data.Dataset:
        ds = _evaluation_view(data, split, crop)
        if use_cache:
            ds = ds.cache()
        return ds.batch(batch_size).prefetch(autotune)

    return train, evaluation("validation"), evaluation("test")


def training_stream(
    data: Dataset,
    *,
    batch_size: int,
    seed: int = 0,
    augment: Sequence[str] = (),
    start_epoch: int = 0,
    end_epoch: int,
    skip_examples: int = 0,
    shuffle: bool = True,
    cache: bool = True,
) -> tf.data.Dataset:
    """Training batches of epochs `start_epoch` … `end_epoch - 1`, back to back.

    Each epoch's order (a seeded shuffle, `reshuffle_each_iteration=False`) and augmentation
    draws depend only on `(seed, epoch)`: not on the global seed, nor on how often anything
    was iterated before. Epochs are batched separately, so the last batch of an epoch may be
    smaller and never mixes two epochs; fit it with `steps_per_epoch` =
    `steps_in_epoch(n, batch_size)`.

    Args:
        data: A loaded dataset.
        batch_size: Examples per batch, >= 1.
        seed: Seeds every epoch's shuffle and augmentation.
        augment: Names from `AUGMENTATIONS` (images only, as in `make_pipelines`).
        start_epoch: First epoch (0-based) in the stream.
        end_epoch: One past the last epoch.
        skip_examples: Examples of `start_epoch` to leave out (already trained on): a run
            stopped after b batches of an epoch resumes with `skip_examples = b * batch_size`.
        shuffle: Shuffle each epoch (else the split order every epoch).
        cache: Cache streamed sources in memory after the first pass.

    Raises:
        DatasetError: bad `batch_size`, epochs or augmentation names.

    Example:

    >>> data = load_dataset("digits", limit=100)
    >>> full = training_stream(data, batch_size=32, end_epoch=2)      # 4 + 4 batches
    >>> rest = training_stream(data, batch_size=32, start_epoch=1, end_epoch=2,
    ...                        skip_examples=64)                     # = full's last 2
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise DatasetError(f"Expected batch_size >= 1, received: batch_size={batch_size!r}")
    if not 0 <= start_epoch <= end_epoch:
        raise DatasetError(f"Expected 0 <= start_epoch <= end_epoch, received: "
                           f"start_epoch={start_epoch}, end_epoch={end_epoch}")
    if skip_examples < 0:
        raise DatasetError(f"Expected skip_examples >= 0, received: skip_examples={skip_examples}")
    names = check_augment(augment)
    import tensorflow as tf

    crop = _crop_of(names, data)
    train, decode = _training_source(data, crop)
    if cache and not data.in_memory and decode is None:
        train = train.cache()  # built once, outside the per-epoch function: shared by epochs
    size = data.info.sizes.get("train", -1)
    if data.in_memory:
        buffer = max(1, size)
    else:
        buffer = max(1, min(size, _MAX_SHUFFLE_BUFFER)) if size > 0 else _MAX_SHUFFLE_BUFFER
    augmenter = (_augmenter(names, data.info.input_shape, decode)
                 if names and data.info.input_kind == "image" else None)

    def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
        # This runs while tracing the flat_map function. Setting the graph-level seed of
        # *that* function graph to None makes TensorFlow pair our op seeds with its fixed
        # default instead of the global seed: orders are a function of (seed, epoch) only.
        # (It also avoids a TensorFlow bug: a global seed of 0 with a tensor op seed fails
        # in random_seed.get_seed.) The process's global seed is untouched.
        tf.compat.v1.set_random_seed(None)
        epoch_seed = tf.constant(seed, tf.int64) * 1_000_003 + epoch * 2
        ds = train
        if shuffle:
            ds = ds.shuffle(buffer, seed=epoch_seed, reshuffle_each_iteration=False)
        if augmenter is not None:
            draws = tf.data.Dataset.random(seed=epoch_seed + 1)
            ds = tf.data.Dataset.zip((ds, draws)).map(
                lambda xy, r: augmenter(xy[0], xy[1], r), num_parallel_calls=tf.data.AUTOTUNE)
        skip = tf.where(tf.equal(epoch, start_epoch), tf.constant(skip_examples, tf.int64),
                        tf.constant(0, tf.int64))
        return ds.skip(skip).batch(batch_size)

    epochs = tf.data.Dataset.range(start_epoch, end_epoch)
    return epochs.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)


def steps_in_epoch(examples: int, batch_size: int) -> int:
    """Batches in an epoch of `examples` (the last one may be smaller)."""
    return -(-examples // batch_size)
