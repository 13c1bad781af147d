"""ImageNet-style input geometry: the evaluation crop's pixels, the training crops' shapes,
and a preset's 224×224 input honoured on a folder of 300×200 images."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from resnet_studio.core.data import crops, load_dataset, make_pipelines

RNG = np.random.default_rng(0)


def test_eval_crop_of_an_image_whose_shorter_side_is_already_256_is_its_centre() -> None:
    image = RNG.random((256, 400, 3), dtype=np.float32)
    out = crops.eval_crop(tf.constant(image), (224, 224)).numpy()
    assert out.shape == (224, 224, 3)
    # Shorter side 256 already: no resizing; centre crop rows 16..239, columns 88..311.
    np.testing.assert_allclose(out, image[16:240, 88:312], atol=1e-5)


def test_eval_crop_resizes_the_shorter_side_to_256_then_takes_the_centre() -> None:
    # A linear ramp survives (antialiased) bilinear resizing exactly away from the borders, so
    # each output pixel's value says which source position it came from.
    rows, cols = np.meshgrid(np.arange(512.0), np.arange(800.0), indexing="ij")
    image = np.stack([rows, cols, rows + cols], -1).astype(np.float32) / 1000.0
    out = crops.eval_crop(tf.constant(image), (224, 224)).numpy()
    # 512×800 → 256×400 (scale 1/2); centre crop offset (16, 88); pixel centres map back to
    # source coordinate 2·t + 0.5.
    i, j = np.meshgrid(np.arange(224.0), np.arange(224.0), indexing="ij")
    src_r, src_c = 2 * (i + 16) + 0.5, 2 * (j + 88) + 0.5
    want = np.stack([src_r, src_c, src_r + src_c], -1) / 1000.0
    np.testing.assert_allclose(out, want, atol=1e-4)


def test_eval_crop_of_a_portrait_image_keeps_its_aspect_ratio() -> None:
    image = np.zeros((600, 300, 1), np.float32)
    image[:300] = 1.0  # top half bright
    out = crops.eval_crop(tf.constant(image), (224, 224)).numpy()[..., 0]
    # 600×300 → 512×256: the centre 224 rows are 144..367 of 512, the bright half ends at 256.
    assert out[:100].min() > 0.99 and out[124:].max() < 0.01


@pytest.mark.parametrize("name", crops.CROP_AUGMENTATIONS)
def test_training_crops_have_the_requested_size_and_depend_on_the_seed_only(name) -> None:
    image = tf.constant(RNG.random((300, 200, 3), dtype=np.float32))
    seed = tf.constant([1, 2], tf.int64)
    a = crops.train_crop(name, image, (224, 224), seed).numpy()
    b = crops.train_crop(name, image, (224, 224), seed).numpy()
    c = crops.train_crop(name, image, (224, 224), tf.constant([3, 4], tf.int64)).numpy()
    assert a.shape == (224, 224, 3)
    np.testing.assert_array_equal(a, b)  # same process, same seed: bit-exact
    assert not np.allclose(a, c)


def test_scale_crop_zooms_by_256_to_480_over_224() -> None:
    # A ramp (value = source row): resized by s/224, neighbouring output rows differ by
    # 224/s, so the slope tells the drawn shorter side s, which must lie in [256, 480].
    rows = np.repeat(np.arange(224.0, dtype=np.float32)[:, None, None], 224, axis=1)
    sides = []
    for k in range(12):
        out = crops.scale_crop(tf.constant(rows), (224, 224),
                               tf.constant([k, 7], tf.int64)).numpy()[:, 112, 0]
        sides.append(224 / np.median(np.diff(out)))
    assert all(255 <= s <= 481 for s in sides), sides
    assert max(sides) - min(sides) > 50  # drawn, not fixed


def _folder(root, count: int = 6) -> str:
    """Two classes of `count` random 300×200 (wide × high) PNGs under `root`."""
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(count):
            pixels = (RNG.random((200, 300, 3)) * 255).astype(np.uint8)  # 300 wide, 200 high
            (root / c / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    return f"folder:{root}"


def test_folder_images_take_the_requested_size_with_crops_streamed(tmp_path) -> None:
    data = load_dataset(_folder(tmp_path / "data"), image_size=(224, 224), crop=True)
    assert data.info.input_shape == (224, 224, 3)
    assert data.raw_train is not None and data.eval_cropped
    # Paths wait in the shuffle buffer; images are decoded at their own size after it.
    assert data.raw_train.records.element_spec[0].dtype == tf.string
    train, val, test = make_pipelines(data, batch_size=4, augment=["scale_crop", "flip"])
    x, _ = next(iter(train))
    assert tuple(x.shape) == (4, 224, 224, 3)
    assert tuple(next(iter(test))[0].shape[1:]) == (224, 224, 3)
    # Without a preset's size the folder keeps its own (300×200 → 200 high, 300 wide).
    assert load_dataset(_folder(tmp_path / "own")).info.input_shape == (200, 300, 3)


def test_in_memory_images_get_the_evaluation_crop_under_a_crop_augmentation() -> None:
    data = load_dataset("digits", limit=16)
    _, _, plain = make_pipelines(data, batch_size=16)
    _, _, cropped = make_pipelines(data, batch_size=16, augment=["scale_crop"])
    x0 = next(iter(plain))[0].numpy()
    x1 = next(iter(cropped))[0].numpy()
    assert x0.shape == x1.shape == (16, 8, 8, 1)
    want = crops.eval_crop(tf.constant(x0[0]), (8, 8)).numpy()
    np.testing.assert_allclose(x1[0], want, atol=1e-6)


@pytest.mark.slow
def test_resnet50_trains_one_step_on_300x200_images_at_224(tmp_path) -> None:
    from resnet_studio.cli.main import main

    dataset = _folder(tmp_path / "data", count=2)
    run_dir = tmp_path / "run"
    code = main(["train", "resnet50", "--dataset", dataset, "--epochs", "1",
                 "--batch-size", "4", "--run-dir", str(run_dir)])
    assert code == 0
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["binding"]["input_shape"] == [224, 224, 3]
    assert meta["steps"] == 1


def test_imagenet_is_tested_on_its_labelled_validation_split() -> None:
    from types import SimpleNamespace

    from resnet_studio.core.data.tfds import _split_plan

    def builder(name: str) -> SimpleNamespace:
        splits = {k: SimpleNamespace(num_examples=n) for k, n in
                  (("train", 1000), ("validation", 50), ("test", 100))}
        return SimpleNamespace(info=SimpleNamespace(name=name, full_name=name, splits=splits))

    # TFDS stores ImageNet's withheld test labels as -1: its validation set is the test set.
    assert _split_plan(builder("imagenet2012"), 0.01)[0]["test"] == "validation"
    assert _split_plan(builder("cifar10"), 0.1)[0]["test"] == "test"
