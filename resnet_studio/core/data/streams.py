"""tf.data helpers shared by the streamed sources (TFDS and image folders).

Everything here needs TensorFlow, so only loaders import this module, inside their functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

# Per-channel image statistics come from at most this many training images: enough for the
# mean/std to be stable to ~1%, few enough to cost a second or two before training starts.
STATS_EXAMPLES = 2000


def image_stats(
    images: tf.data.Dataset, max_examples: int = STATS_EXAMPLES
) -> tuple[np.ndarray, np.ndarray]:
    """Returns per-channel mean and std of float images in [0, 1].

    Args:
        images: Unbatched dataset of `(H, W, C)` float32 images.
        max_examples: Images read at most (the first ones, in the split's fixed order).

    Returns:
        `(mean, std)`, float32 arrays of shape `(C,)`; std is at least 1e-3 so a constant
        channel cannot blow up to infinity.
    """
    total = count = squares = None
    for batch in images.take(max_examples).batch(256):
        b = batch.numpy().astype(np.float64)
        pixels = b.reshape(-1, b.shape[-1])
        total = pixels.sum(0) if total is None else total + pixels.sum(0)
        squares = (pixels**2).sum(0) if squares is None else squares + (pixels**2).sum(0)
        count = len(pixels) if count is None else count + len(pixels)
    if count is None:
        # An empty training split: identity normalization keeps shapes working.
        channels = images.element_spec.shape[-1] or 1
        return np.zeros(channels, np.float32), np.ones(channels, np.float32)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)


def standardizer(mean: np.ndarray, std: np.ndarray) -> Callable[[tf.Tensor], tf.Tensor]:
    """Returns `x -> (x - mean) / std` with constants baked in."""
    mean_t = tf.constant(mean, tf.float32)
    std_t = tf.constant(std, tf.float32)

    def apply(x: tf.Tensor) -> tf.Tensor:
        return (x - mean_t) / std_t

    return apply


def byte_tokens(text: tf.Tensor, length: int) -> tf.Tensor:
    """Encodes a scalar string as `length` byte-level token ids (UTF-8 byte + 1, 0 = padding).

    Longer texts are cut at `length`, shorter ones padded at the end (see
    `base.BYTE_VOCAB_SIZE`).
    """
    ids = tf.cast(tf.io.decode_raw(text, tf.uint8), tf.int32)[:length] + 1
    ids = tf.pad(ids, [[0, length - tf.shape(ids)[0]]])
    return tf.ensure_shape(ids, (length,))


def sized(ds: tf.data.Dataset, limit: int | None) -> tuple[tf.data.Dataset, int]:
    """Applies `limit` and returns the dataset with its size (-1 when tf.data cannot tell)."""
    if limit is not None:
        ds = ds.take(limit)
    cardinality = int(ds.cardinality().numpy())
    return ds, cardinality if cardinality >= 0 else -1
