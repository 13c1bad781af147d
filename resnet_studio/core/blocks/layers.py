"""Custom Keras layers used by residual blocks (registered for .keras save/load).

Only what Keras and keras-hub do not provide: a parameter-free zero-padding shortcut, the
residual-branch scalings (ReZero, LayerScale, fixed), drop-path (stochastic depth) and the
adapter that feeds our token ids to a keras-hub text backbone.
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "resnet_studio"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ZeroPadShortcut(keras.layers.Layer):
    """Parameter-free shortcut (He et al. 2016, option A): subsample, then pad channels.

    Args:
        stride: Spatial subsampling factor (every `stride`-th position is kept).
        channels: Output channels; the extra channels are zeros.

    Example:
    >>> ZeroPadShortcut(stride=2, channels=32)(keras.ops.ones((1, 8, 8, 16))).shape
    (1, 4, 4, 32)
    """

    def __init__(self, stride: int = 1, channels: int = 1, **kwargs):
        super().__init__(**kwargs)
        if stride < 1 or channels < 1:
            raise ValueError(f"Expected stride >= 1 and channels >= 1, received: "
                             f"stride={stride}, channels={channels}")
        self.stride = int(stride)
        self.channels = int(channels)

    def call(self, x):
        s = self.stride
        if s > 1:
            x = x[:, ::s, ::s, :] if len(x.shape) == 4 else x[:, ::s, :]
        extra = self.channels - x.shape[-1]
        if extra < 0:
            raise ValueError(f"ZeroPadShortcut cannot reduce channels: {x.shape[-1]} -> "
                             f"{self.channels}")
        if extra:
            pad = [[0, 0]] * (len(x.shape) - 1) + [[0, extra]]
            x = ops.pad(x, pad)
        return x

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis in range(1, len(shape) - 1):
            if shape[axis] is not None:
                shape[axis] = -(-shape[axis] // self.stride)
        shape[-1] = self.channels
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"stride": self.stride, "channels": self.channels})
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class BranchGate(keras.layers.Layer):
    """Test-time switch of one residual unit, for lesion studies (Veit et al. 2016).

    Holds one non-trainable scalar g (1 when built). Called on the branch F(x) alone it returns
    g·F(x), to be added to the shortcut: g = 0 deletes the branch and leaves the shortcut. Called
    on [x, F(x)] (a plain unit, no shortcut) it returns g·F(x) + (1 − g)·x: g = 0 replaces the
    unit by the identity. Both are exact at g = 1 and g = 0 (a product by 0 or 1 and a sum
    with 0 are exact in floating point), so a gated model with every gate at 1 computes what
    the ungated model computes.

    Example:
    >>> gate = BranchGate()
    >>> gate([keras.ops.ones((1, 2)), keras.ops.zeros((1, 2))])  # g = 1: the branch, zeros
    """

    def build(self, input_shape):
        self.gate = self.add_weight(shape=(), initializer="ones", trainable=False, name="gate")

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            x, branch = inputs
            g = ops.cast(self.gate, branch.dtype)
            return g * branch + (1.0 - g) * x
        return inputs * ops.cast(self.gate, inputs.dtype)

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[1])
        return tuple(input_shape)


SCALINGS = ("none", "rezero", "layerscale", "fixed")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResidualScale(keras.layers.Layer):
    """Scales the residual branch F(x) before it is added to the shortcut.

    Args:
        mode: `rezero` (one learnable scalar α, initialised to 0: Bachlechner et al. 2020),
            `layerscale` (a learnable per-channel vector initialised to `value`: Touvron et al.
            2021) or `fixed` (multiply by the constant `value`).
        value: Initial LayerScale value, or the fixed factor.

    Example:
    >>> ResidualScale("rezero")(keras.ops.ones((2, 3)))  # all zeros at initialisation
    """

    def __init__(self, mode: str = "rezero", value: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if mode not in SCALINGS[1:]:
            raise ValueError(f"Expected mode in {SCALINGS[1:]}, received: mode={mode!r}")
        self.mode = mode
        self.value = float(value)

    def build(self, input_shape):
        if self.mode == "rezero":
            self.alpha = self.add_weight(shape=(), initializer="zeros", name="alpha")
        elif self.mode == "layerscale":
            self.gamma = self.add_weight(
                shape=(input_shape[-1],),
                initializer=keras.initializers.Constant(self.value), name="gamma")

    def call(self, x):
        if self.mode == "rezero":
            return x * ops.cast(self.alpha, x.dtype)
        if self.mode == "layerscale":
            return x * ops.cast(self.gamma, x.dtype)
        return x * ops.cast(self.value, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "value": self.value})
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class DropPath(keras.layers.Layer):
    """Stochastic depth (Huang et al. 2016): drops the whole residual branch per example.

    During training each example's branch is zeroed with probability `rate` and the kept ones
    are scaled by 1 / (1 - rate), so the expectation is unchanged; at inference it is the
    identity.

    Args:
        rate: Probability of dropping the branch, in [0, 1).
        seed: Seed of the layer's random generator.
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Expected 0 <= rate < 1, received: rate={rate}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        mask = keras.random.uniform(shape, seed=self.seed_generator) < keep
        return x * ops.cast(mask, x.dtype) / ops.cast(keep, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class TextBackboneInput(keras.layers.Layer):
    """One of the inputs a keras-hub text backbone reads, made from our token ids:
    `token_ids` (the ids as int32), `segment_ids` (0 through the first `[SEP]`, 1 after it,
    0 on padding: BERT's layout of `[CLS] a [SEP] b [SEP]`; all 0 for one text) or
    `padding_mask` (`id != pad_id`). One tensor per layer: a layer returning a dict is
    flattened in key order by the functional graph, which scrambles a backbone's inputs.

    Args:
        part: `"token_ids"`, `"segment_ids"` or `"padding_mask"`.
        pad_id: The tokenizer's `[PAD]` id.
        sep_id: The tokenizer's `[SEP]` id.
    """

    PARTS = ("token_ids", "segment_ids", "padding_mask")

    def __init__(self, part: str, pad_id: int = 0, sep_id: int = 3, **kwargs):
        super().__init__(**kwargs)
        if part not in self.PARTS:
            raise ValueError(f"Expected part in {self.PARTS}, received: part={part!r}")
        self.part = part
        self.pad_id = int(pad_id)
        self.sep_id = int(sep_id)

    def call(self, token_ids):
        ids = ops.cast(token_ids, "int32")
        if self.part == "segment_ids":
            is_sep = ops.cast(ops.equal(ids, self.sep_id), "int32")
            after_first = ops.cast(ops.cumsum(is_sep, axis=-1) - is_sep >= 1, "int32")
            return ops.where(ops.equal(ids, self.pad_id), 0, after_first)
        if self.part == "padding_mask":
            return ops.cast(ops.not_equal(ids, self.pad_id), "int32")
        return ids

    def compute_output_spec(self, token_ids):
        return keras.KerasTensor(token_ids.shape, dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update({"part": self.part, "pad_id": self.pad_id, "sep_id": self.sep_id})
        return config


class ImageBackboneInput(keras.layers.Layer):
    """Our images as a keras-hub image backbone reads them: grey images repeated to the
    backbone's 3 channels, and resized (bilinear) when the backbone was saved for one size.
    Pixel values pass unchanged: our data are standardized per channel, as ImageNet
    backbones' converters standardize theirs.

    Args:
        channels: Channels the backbone reads (the input's are repeated to them from 1).
        size: (height, width) the backbone was saved for, or None to keep the input's.
    """

    def __init__(self, channels: int, size: tuple[int, int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.size = tuple(int(v) for v in size) if size else None

    def call(self, images):
        x = ops.cast(images, self.compute_dtype)
        if x.shape[-1] != self.channels:
            x = ops.repeat(x, self.channels, axis=-1)
        if self.size and tuple(x.shape[1:3]) != self.size:
            x = ops.image.resize(x, self.size, interpolation="bilinear")
        return x

    def compute_output_shape(self, input_shape):
        size = self.size or tuple(input_shape[1:3])
        return (input_shape[0], *size, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update({"channels": self.channels, "size": self.size})
        return config


CUSTOM_OBJECTS = {c.__name__: c for c in (ZeroPadShortcut, ResidualScale, DropPath,
                                          TextBackboneInput, ImageBackboneInput)}
