"""Splitting arrays into train, validation and test, shared by every dataset source.

The built-ins, TFDS, folder and text sources all hold out the same way (`held_out`, seeded
`stratified_split`) and wrap arrays the same way (`in_memory`); this module sits below them
so none of them imports another to reach these helpers.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .base import Dataset, DatasetInfo, cap

# Fraction of held-out test data where a source has no test split of its own (digits).
TEST_FRACTION = 0.2


def held_out(n: int, fraction: float) -> int:
    """Returns how many of `n` examples a `fraction` holds out (rounded up, as scikit-learn)."""
    # The epsilon keeps float noise from rounding up a whole extra example (0.7 * 10 > 7).
    return min(n, math.ceil(n * fraction - 1e-9)) if fraction > 0 else 0


def stratified_split(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Splits `(x, y)` into a kept and a held-out part, stratified by label, shuffled by seed.

    Args:
        x: Inputs.
        y: Integer labels.
        fraction: Share of examples held out, in [0, 1).
        seed: Makes the split reproducible.

    Returns:
        `(x_kept, y_kept, x_held, y_held)`.
    """
    n_held = held_out(len(y), fraction)
    if n_held == 0:
        order = np.random.default_rng(seed).permutation(len(y))
        return x[order], y[order], x[:0], y[:0]
    from sklearn.model_selection import train_test_split  # Deferred: slow import.

    # Stratify only when every class can give one example to each side; tiny sets can't.
    counts = np.bincount(y)
    present = counts[counts > 0]
    fits = present.min() >= 2 and min(n_held, len(y) - n_held) >= len(present)
    stratify = y if fits else None
    x_kept, x_held, y_kept, y_held = train_test_split(
        x, y, test_size=n_held, random_state=seed, stratify=stratify
    )
    return x_kept, y_kept, x_held, y_held


def in_memory(
    info: DatasetInfo,
    splits: dict[str, tuple[np.ndarray, np.ndarray]],
    limit: int | None,
    vocabulary: list[str] | None = None,
) -> Dataset:
    """Applies `limit`, casts to the documented dtypes and wraps arrays in a `Dataset`."""
    out: dict[str, np.ndarray] = {}
    sizes: dict[str, int] = {}
    for split, suffix in (("train", "train"), ("validation", "val"), ("test", "test")):
        x, y = splits[split]
        n = cap(len(x), limit)
        x_dtype = np.int32 if info.input_kind == "tokens" else np.float32
        out[f"x_{suffix}"] = np.ascontiguousarray(x[:n], dtype=x_dtype)
        out[f"y_{suffix}"] = np.ascontiguousarray(y[:n], dtype=np.int32)
        sizes[split] = n
    return Dataset(info=_with_sizes(info, sizes), vocabulary=vocabulary, **out)


def _with_sizes(info: DatasetInfo, sizes: dict[str, int]) -> DatasetInfo:
    """`info` with the split sizes actually loaded."""
    return replace(info, sizes=dict(sizes))
