"""How stored pixels become a model's input, so exports can serve raw images.

Image sources scale their pixels and standardize them per channel with training-split
statistics (`tfds:` and `folder:` images: x / 255, then (x - mean) / std; `digits`: counts
0–16 / 16, then one mean and std). A `PixelTransform` records that map, `x = (raw * scale - mean) / std`,
per channel: a SavedModel applies it inside its serving function and takes uint8 images
(core/export_image.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PixelTransform:
    """`x = (raw * scale - mean) / std`, per channel (one value: every channel).

    Args:
        scale: What a raw pixel is multiplied by first (1/255 for 8-bit images).
        mean: Per-channel mean of the scaled training pixels.
        std: Per-channel standard deviation of the scaled training pixels.
    """

    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def of(cls, scale: float, mean: Sequence[float] | float, std: Sequence[float] | float
           ) -> PixelTransform:
        return cls(float(scale), tuple(float(v) for v in np.atleast_1d(mean)),
                   tuple(float(v) for v in np.atleast_1d(std)))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Raw pixels (..., C) -> the model's float32 input."""
        x = np.asarray(raw, np.float32) * np.float32(self.scale)
        return ((x - np.float32(self.mean)) / np.float32(self.std)).astype(np.float32)

    def invert(self, x: np.ndarray) -> np.ndarray:
        """The model's input -> the uint8 pixels it came from (rounded, clipped)."""
        raw = (np.asarray(x, np.float64) * self.std + self.mean) / self.scale
        return np.clip(np.rint(raw), 0, 255).astype(np.uint8)

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "mean": list(self.mean), "std": list(self.std)}
