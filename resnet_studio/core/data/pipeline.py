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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral
from typing import TYPE_CHECKING

from .base import Dataset, DatasetError

if TYPE_CHECKING:
    import tensorflow as tf

AUGMENTATIONS = ("pad_crop", "flip")
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
    return tuple(augment)


def _augmenter(
    names: tuple[str, ...], shape: tuple[int, ...]
) -> Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """Returns `(x, y, seed_scalar) -> (x', y)` applying `names` with stateless random ops."""
    import tensorflow as tf

    h, w, _ = shape
    # ResNet's CIFAR recipe pads 4 px on 32 px images: keep that ratio for other sizes.
    pad_h, pad_w = max(1, h // 8), max(1, w // 8)

    def apply(x: tf.Tensor, y: tf.Tensor, r: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # One independent stateless seed per augmentation, derived from this element's draw.
        seeds = tf.random.experimental.stateless_split(
            tf.stack([r, tf.constant(0, tf.int64)]), num=len(names)
        )
        for i, name in enumerate(names):
            if name == "pad_crop":
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

    train = data.split("train")
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
        augmenter = _augmenter(names, data.info.input_shape)
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        train = tf.data.Dataset.zip((train, draws)).map(
            lambda xy, r: augmenter(xy[0], xy[1], r),
            num_parallel_calls=autotune,
        )
    train = train.batch(batch_size, drop_remainder=drop_remainder).prefetch(autotune)

    def evaluation(split: str) -> tf.data.Dataset:
        ds = data.split(split)
        if use_cache:
            ds = ds.cache()
        return ds.batch(batch_size).prefetch(autotune)

    return train, evaluation("validation"), evaluation("test")
