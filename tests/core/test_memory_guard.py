"""The memory guard: a training step estimated too large for the memory available is refused
before training (exit 2) naming a batch size that fits (docs/reliability.md, section 4)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from resnet_studio.cli import main
from resnet_studio.core.training import memory


def _images(path, side: int = 128) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (64, side, side, 3), dtype=np.uint8)
    y = np.arange(64) % 2
    np.savez(path, x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])


def test_the_estimate_grows_with_batch_and_activations():
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    per_example = 32 * 32 * 3 + 32 * 32 * 8 + 8 + 2  # input, conv, pool, dense outputs
    assert memory.activation_values_per_example(model) == per_example
    assert memory.step_bytes(model, 10) - memory.step_bytes(model, 0) == 10 * 4 * per_example
    assert memory.fixed_bytes(model) == 16 * model.count_params()


def test_too_large_a_step_is_refused_naming_a_batch_that_fits(tmp_path, capsys, monkeypatch):
    data = tmp_path / "big.npz"
    _images(data)
    monkeypatch.setenv(memory.MEMORY_LIMIT_ENV, "200e6")
    run_dir = tmp_path / "run"
    code = main(["train", "resnet8-digits", "--dataset", f"npz:{data}", "--epochs", "1",
                 "--batch-size", "64", "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert code == 2, err[-1500:]
    # 64 images, fewer after the validation split: a step's batch is the training set.
    m = re.search(r"batch size (5\d) needs about ([\d.]+) (GB|MB).*--batch-size (\d+) would fit", err)
    assert m, err
    fit = int(m.group(4))
    assert 1 <= fit < int(m.group(1)) and not run_dir.exists()
    monkeypatch.setenv(memory.MEMORY_LIMIT_ENV, "1e6")
    assert main(["train", "resnet8-digits", "--dataset", f"npz:{data}", "--epochs", "1",
                 "--run-dir", str(run_dir)]) == 2
    assert "even a batch of 1 does not fit" in capsys.readouterr().err
    monkeypatch.setenv(memory.MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(memory.MemoryGuardError, match="RESNET_STUDIO_MEMORY_LIMIT: expected"):
        memory.available_bytes()


def test_available_memory_is_known_here():
    available = memory.available_bytes()
    assert available is None or available > 0
