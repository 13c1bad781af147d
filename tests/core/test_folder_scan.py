"""Folder datasets: every file is checked before training; bad ones are named, not a
TensorFlow op error mid-run (docs/reliability.md, section 4)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.core.data import DatasetError, load_dataset
from resnet_studio.core.data.filescan import file_problem


def _png(path: Path, level: int, rng: np.random.Generator, size: int = 8) -> None:
    import keras

    pixels = np.clip(level + rng.normal(0, 10, (size, size, 3)), 0, 255).astype("uint8")
    keras.utils.save_img(path, pixels, scale=False)


def _folder(root: Path, per_class: int, classes: tuple[str, ...] = ("dark", "bright")) -> None:
    rng = np.random.default_rng(0)
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            _png(root / name / f"{i:03d}.png", 40 + 170 * label, rng)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_each_kind_of_unreadable_file_is_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    good = tmp_path / "good.png"
    _png(good, 100, rng)
    jpeg = tmp_path / "good.jpg"
    import keras

    keras.utils.save_img(jpeg, np.full((8, 8, 3), 90, np.uint8), scale=False)
    truncated_jpeg = tmp_path / "cut.jpg"
    truncated_jpeg.write_bytes(jpeg.read_bytes()[:-40])
    truncated_png = tmp_path / "cut.png"
    truncated_png.write_bytes(good.read_bytes()[:-30])
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello, I am not a picture\n")
    loop = tmp_path / "loop.png"
    os.symlink(loop.name, loop)
    assert file_problem(good, True) is None
    assert file_problem(jpeg, True) is None
    assert "truncated" in file_problem(truncated_png, True)
    assert "truncated" in file_problem(truncated_jpeg, True)
    assert file_problem(tmp_path / "zero.png", True) == "empty file (0 bytes)"
    assert "not an image" in file_problem(tmp_path / "text.jpg", True)
    assert file_problem(loop, True) == "a symlink that points to itself"
    bad_name = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.png"))
    _png(bad_name, 100, rng)
    assert file_problem(bad_name, True) == "the file name is not UTF-8"


def test_bad_files_in_every_split_are_skipped_and_listed_before_training(
        tmp_path: Path) -> None:
    for split, n in (("train", 6), ("test", 2)):
        _folder(tmp_path / split, n)
    _truncate(tmp_path / "train" / "dark" / "002.png")
    (tmp_path / "train" / "bright" / "empty.png").write_bytes(b"")
    _truncate(tmp_path / "test" / "bright" / "001.png")  # only in test/: found up front
    os.symlink(tmp_path / "train" / "dark" / "000.png", tmp_path / "train" / "dark" / "dup.png")
    data = load_dataset(f"folder:{tmp_path}")
    assert data.info.sizes["test"] == 3
    assert data.info.sizes["train"] + data.info.sizes["validation"] == 11  # 12 - 1 truncated
    text = "\n".join(data.warnings)
    assert "skipped 3 unreadable files" in text
    for name in ("train/dark/002.png", "train/bright/empty.png", "test/bright/001.png"):
        assert name in text
    assert "dup.png" in text and "used once" in text
    # Every remaining file decodes: iterating all splits raises no TensorFlow error.
    for split in ("train", "validation", "test"):
        assert sum(1 for _ in data.split(split)) == data.info.sizes[split]


def test_refuse_policy_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _folder(tmp_path, 4)
    _truncate(tmp_path / "bright" / "003.png")
    monkeypatch.setenv("RESNET_STUDIO_BAD_FILES", "refuse")
    with pytest.raises(DatasetError, match=r"bright/003\.png: truncated"):
        load_dataset(f"folder:{tmp_path}")
    monkeypatch.setenv("RESNET_STUDIO_BAD_FILES", "sometimes")
    with pytest.raises(DatasetError, match="RESNET_STUDIO_BAD_FILES: expected one of skip"):
        load_dataset(f"folder:{tmp_path}")


def test_class_folder_problems_are_reported_before_training(tmp_path: Path) -> None:
    one = tmp_path / "one"
    _folder(one, 3, ("cats",))
    with pytest.raises(DatasetError, match=r"one class folder \(cats\); a classifier needs"):
        load_dataset(f"folder:{one}")
    looped = tmp_path / "looped"
    _folder(looped, 3)
    os.symlink(looped, looped / "everything")
    with pytest.raises(DatasetError, match="everything is a symlink to .* contains the dataset"):
        load_dataset(f"folder:{looped}")
    with_empty = tmp_path / "with_empty"
    _folder(with_empty, 4)
    (with_empty / "ghosts").mkdir()
    data = load_dataset(f"folder:{with_empty}")
    assert data.info.num_classes == 3
    assert any("no usable training file: ghosts" in w for w in data.warnings)


@pytest.mark.slow
def test_a_truncated_png_among_100_good_ones_trains_and_the_warning_names_it(
        tmp_path: Path, capfd) -> None:
    """The CLI in this process (no second TensorFlow start-up); capfd reads file descriptors
    1 and 2, so a TensorFlow op error printed by its C++ side would be seen too."""
    from resnet_studio.cli import main

    data = tmp_path / "data"
    _folder(data, 50)
    _truncate(data / "bright" / "017.png")
    code = main(["train", "resnet8-digits", "--dataset", f"folder:{data}", "--epochs", "1",
                 "--batch-size", "16", "--run-dir", str(tmp_path / "run")])
    out, err = capfd.readouterr()
    assert code == 0, err[-2000:]
    assert "completed: 1 epochs" in out
    warning = [line for line in err.splitlines() if "unreadable file" in line]
    assert warning and "bright/017.png (truncated or damaged image" in warning[0]
    assert "Traceback" not in err and "InvalidArgumentError" not in err
