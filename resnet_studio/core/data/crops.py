"""ImageNet-style input geometry: the crops of He et al. 2016 §3.4 and of torchvision.

Training (one of):
- `scale_crop` (He et al. 2016 §3.4, after Simonyan & Zisserman 2015): resize the image so its
  shorter side is a random integer in [256, 480], take a random 224×224 crop;
- `random_resized_crop` (Szegedy et al. 2015; torchvision's default): a random box of 8-100 %
  of the area with aspect ratio in [3/4, 4/3], resized to 224×224.
Evaluation: resize the shorter side to 256, take the centre 224×224 crop (the standard
single-crop test; the paper's Tables 3-4 use 10-crop and multi-scale testing instead).

For another training size S every length scales by S/224 (shorter side in [256, 480]·S/224,
evaluation resize round(256·S/224)), so the crop covers the same share of the image.
Resizing is bilinear with antialiasing (as torchvision's Resize). Random draws use stateless
ops seeded per example, like every augmentation in `pipeline.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tensorflow as tf

CROP_AUGMENTATIONS = ("scale_crop", "random_resized_crop")
REFERENCE_CROP = 224
EVAL_RESIZE = 256
SCALE_RANGE = (256, 480)
AREA_RANGE = (0.08, 1.0)
ASPECT_RANGE = (3 / 4, 4 / 3)


def scaled(length: int, size: tuple[int, int]) -> int:
    """A length of the 224-pixel recipe, scaled to a crop of `size` (its longer side)."""
    return int(round(length * max(size) / REFERENCE_CROP))


def resize_shorter_side(x: tf.Tensor, side: Any) -> tf.Tensor:
    """Resizes an (H, W, C) image so that min(H, W) == side, keeping the aspect ratio."""
    import tensorflow as tf

    shape = tf.shape(x)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    side_f = tf.cast(side, tf.float32)
    scale = side_f / tf.minimum(h, w)
    side_i = tf.cast(side, tf.int32)
    new_h = tf.maximum(side_i, tf.cast(tf.round(h * scale), tf.int32))
    new_w = tf.maximum(side_i, tf.cast(tf.round(w * scale), tf.int32))
    return tf.image.resize(x, tf.stack([new_h, new_w]), antialias=True)


def center_crop(x: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """The centre `size` crop of an image at least that large."""
    import tensorflow as tf

    shape = tf.shape(x)
    top = (shape[0] - size[0]) // 2
    left = (shape[1] - size[1]) // 2
    return x[top : top + size[0], left : left + size[1]]


def eval_crop(x: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Evaluation input: shorter side resized to 256·S/224, centre S×S crop (S = 224: 256, 224)."""
    import tensorflow as tf

    channels = x.shape[-1]
    y = center_crop(resize_shorter_side(x, scaled(EVAL_RESIZE, size)), size)
    return tf.ensure_shape(y, (*size, channels))


def scale_crop(x: tf.Tensor, size: tuple[int, int], seed: tf.Tensor) -> tf.Tensor:
    """He et al. 2016 §3.4: shorter side uniform in [256, 480]·S/224, random S×S crop.

    Args:
        seed: A stateless seed, shape (2,) int.
    """
    import tensorflow as tf

    channels = x.shape[-1]
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    lo, hi = (scaled(s, size) for s in SCALE_RANGE)
    side = tf.random.stateless_uniform([], seeds[0], minval=lo, maxval=hi + 1, dtype=tf.int32)
    y = resize_shorter_side(x, side)
    y = tf.image.stateless_random_crop(y, (*size, channels), seed=seeds[1])
    return tf.ensure_shape(y, (*size, channels))


def random_resized_crop(x: tf.Tensor, size: tuple[int, int], seed: tf.Tensor) -> tf.Tensor:
    """Szegedy et al. 2015 / torchvision: a box of 8-100 % of the area, aspect 3/4-4/3,
    resized to S×S (the whole image when ten draws find no box)."""
    import tensorflow as tf

    channels = x.shape[-1]
    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(x), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed=seed,
        min_object_covered=0.0, aspect_ratio_range=ASPECT_RANGE, area_range=AREA_RANGE,
        max_attempts=10, use_image_if_no_bounding_boxes=True)
    y = tf.image.resize(tf.slice(x, begin, extent), size, antialias=True)
    return tf.ensure_shape(y, (*size, channels))


def train_crop(name: str, x: tf.Tensor, size: tuple[int, int], seed: tf.Tensor) -> tf.Tensor:
    """Applies the crop augmentation `name` (one of `CROP_AUGMENTATIONS`)."""
    if name == "scale_crop":
        return scale_crop(x, size, seed)
    if name == "random_resized_crop":
        return random_resized_crop(x, size, seed)
    raise ValueError(f"Expected a crop in {CROP_AUGMENTATIONS}, received: {name!r}")
