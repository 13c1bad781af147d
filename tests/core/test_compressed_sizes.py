"""Sparse files are as large as dense ones, and smaller once compressed (gzip): the sizes
that `prune --json`, `export --json` and the Compress panel report."""

from __future__ import annotations

import gzip

import keras
import numpy as np
import pytest

from resnet_studio.core.compress.sizes import file_sizes, gzip_size, model_sizes
from resnet_studio.core.sparsity.masks import compute_masks


def test_gzip_size_is_deterministic_and_counts_a_folder_file_by_file(tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    zeros = bytes(50_000)
    assert gzip_size(noise) == gzip_size(noise) == len(gzip.compress(noise, 6, mtime=0))
    assert gzip_size(zeros) < 200 < 50_000 <= gzip_size(noise)  # noise does not compress
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.bin").write_bytes(noise)
    (tmp_path / "d" / "b.bin").write_bytes(zeros)
    got = file_sizes(tmp_path / "d")
    assert got == {"size_bytes": 100_000,
                   "compressed_size_bytes": gzip_size(noise) + gzip_size(zeros)}
    assert file_sizes(tmp_path / "d" / "a.bin")["compressed_size_bytes"] == gzip_size(noise)


@pytest.mark.slow
def test_an_80_percent_pruned_model_is_as_large_but_compresses_much_smaller():
    keras.utils.set_random_seed(1)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inp)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(10)(x))
    sample = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 1)).astype(np.float32)
    dense = model_sizes(model, sample)
    values = {v.path: v.numpy() for v in model.trainable_weights}
    masks = compute_masks(values, 0.8)
    for v in model.trainable_weights:
        if v.path in masks:
            v.assign(values[v.path] * masks[v.path])
    pruned = model_sizes(model, sample)
    assert pruned["size_bytes"] == dense["size_bytes"]  # zeros are stored like any float
    # Random float32 weights barely compress; 80 % zeros remove well over half the bytes
    # (the positions of the zeros still cost bits: not 5x).
    assert dense["compressed_size_bytes"] > 0.8 * dense["size_bytes"]
    assert pruned["compressed_size_bytes"] < 0.5 * dense["compressed_size_bytes"]
