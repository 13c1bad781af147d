"""Tests of the dataset registry, loaders and tf.data pipelines (resnet_studio.core.data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import resnet_studio.core.data as data
from resnet_studio.core.data import DatasetError, load_dataset, make_pipelines
from resnet_studio.core.data import builtin as builtin_mod
from resnet_studio.core.data import tfds as tfds_mod

BUILTINS = [
    "digits", "mnist1d", "python-docs", "synthetic-images", "synthetic-sequences", "stdlib-docs",
]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Keeps the generated mnist1d cache out of the user's cache folder."""
    old = os.environ.get("RESNET_STUDIO_CACHE")
    os.environ["RESNET_STUDIO_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("RESNET_STUDIO_CACHE", None)
    else:
        os.environ["RESNET_STUDIO_CACHE"] = old


def _batches(ds, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x.numpy(), y.numpy()) for x, y in ds.take(n)]


# ------------------------------------------------------------------------------- registry


@pytest.mark.slow
def test_metadata_does_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "import resnet_studio.core.data as d\n"
        "infos = d.list_datasets()\n"
        "assert [i.name for i in infos] == " + repr(BUILTINS) + "\n"
        "assert d.describe_dataset('digits').input_shape == (8, 8, 1)\n"
        "d.describe_dataset('python-docs'); d.dataset_names()\n"
        "leaked = [m for m in ('tensorflow', 'tensorflow_datasets', 'keras') if m in sys.modules]\n"
        "assert not leaked, leaked\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_dataset_names_and_unknown_name() -> None:
    names = data.dataset_names()
    assert names[:len(BUILTINS)] == BUILTINS
    assert {"tfds:NAME[/CONFIG]", "folder:PATH", "npz:PATH"} <= set(names)
    with pytest.raises(DatasetError, match="Unknown dataset 'cifar'.*digits.*tfds:NAME"):
        load_dataset("cifar")
    with pytest.raises(DatasetError, match="Unknown dataset"):
        data.describe_dataset("nope")


def test_info_to_dict_is_json() -> None:
    for info in data.list_datasets():
        d = json.loads(json.dumps(info.to_dict()))
        assert d["name"] == info.name
        assert d["input_shape"] == list(info.input_shape)
        assert set(d["sizes"]) == {"train", "validation", "test"}


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"validation_fraction": -0.1}, "validation_fraction"),
        ({"limit": 0}, "limit"),
        ({"sequence_length": 0}, "sequence_length"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, argument: str) -> None:
    with pytest.raises(DatasetError, match=f"received: {argument}="):
        load_dataset("synthetic-images", **kwargs)


def test_unknown_split_and_augmentation() -> None:
    ds = load_dataset("synthetic-images", limit=8)
    with pytest.raises(DatasetError, match="split name"):
        ds.split("holdout")
    with pytest.raises(DatasetError, match="augment"):
        make_pipelines(ds, batch_size=4, augment=["rotate"])
    with pytest.raises(DatasetError, match="batch_size"):
        make_pipelines(ds, batch_size=0)


# ------------------------------------------------------------------------------- built-ins


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_shapes_dtypes_and_labels(name: str) -> None:
    ds = load_dataset(name, limit=48)
    info = ds.info
    assert info.offline
    assert info.sizes == {"train": 48, "validation": 48, "test": 48}
    train, val, test = make_pipelines(ds, batch_size=16, seed=0)
    for pipeline in (train, val, test):
        x, y = next(iter(pipeline))
        assert tuple(x.shape[1:]) == info.input_shape
        assert x.dtype.name == ("int32" if info.input_kind == "tokens" else "float32")
        assert y.dtype.name == "int32"
        if info.task == "classification":
            assert tuple(y.shape) == (16,)
            assert 0 <= int(np.min(y)) and int(np.max(y)) < info.num_classes
        else:
            assert tuple(y.shape) == (16, *info.input_shape)
            assert int(np.max(x)) < info.vocab_size and int(np.max(y)) < info.vocab_size


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_sizes_match_static_metadata(name: str) -> None:
    ds = load_dataset(name)
    assert ds.info.sizes == data.describe_dataset(name).sizes
    for split in ("train", "validation", "test"):
        x, y = ds.arrays(split)
        assert len(x) == len(y) == ds.info.sizes[split]


def test_digits_split_is_stratified_and_standardized() -> None:
    ds = load_dataset("digits", seed=3)
    assert ds.info.sizes == {"train": 1293, "validation": 144, "test": 360}
    counts = np.bincount(ds.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # 360 / 10 classes, stratified
    assert abs(float(ds.x_train.mean())) < 1e-4
    assert abs(float(ds.x_train.std()) - 1.0) < 1e-3
    other = load_dataset("digits", seed=4)
    assert not np.array_equal(ds.y_train[:50], other.y_train[:50])
    again = load_dataset("digits", seed=3)
    np.testing.assert_array_equal(ds.x_val, again.x_val)


def test_mnist1d_is_cached_and_regenerated_when_unreadable() -> None:
    path = Path(builtin_mod._mnist1d_cache_path())
    path.unlink(missing_ok=True)
    first = load_dataset("mnist1d", seed=0)
    assert path.is_file()
    assert first.info.sizes == {"train": 3600, "validation": 400, "test": 1000}
    second = load_dataset("mnist1d", seed=0)
    np.testing.assert_array_equal(first.x_test, second.x_test)
    # The generator reseeds numpy's global RNG: our wrapper must leave it as it was.
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    path.write_bytes(b"not an npz")
    regenerated = load_dataset("mnist1d", seed=0)
    assert np.random.rand() == expected
    np.testing.assert_array_equal(first.x_test, regenerated.x_test)
    assert builtin_mod._read_mnist1d_cache(str(path)) is not None


def test_python_docs_windows_are_shifted_and_contiguous() -> None:
    ds = load_dataset("python-docs", sequence_length=64)
    info = ds.info
    assert info.task == "language_model" and info.input_shape == (64,)
    assert len(ds.vocabulary) == info.vocab_size
    assert ds.vocabulary == sorted(ds.vocabulary)
    x, y = ds.x_train, ds.y_train
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # targets = inputs shifted by one
    np.testing.assert_array_equal(y[:-1, -1], x[1:, 0])  # stride T: windows tile the text
    from pydoc_data.topics import topics

    text = "".join(topics[k] for k in sorted(topics))
    assert "".join(ds.vocabulary[i] for i in x[0]) == text[:64]
    decoded_test = "".join(ds.vocabulary[i] for i in ds.x_test[0])
    assert text.index(decoded_test) >= int(len(text) * 0.9) - 1  # test = the text's end


def test_synthetic_data_depends_on_seed_only() -> None:
    a = load_dataset("synthetic-sequences", seed=1)
    b = load_dataset("synthetic-sequences", seed=1)
    c = load_dataset("synthetic-sequences", seed=2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.allclose(a.x_train, c.x_train)
    assert set(np.unique(a.y_train)) == {0, 1, 2, 3}


# ------------------------------------------------------------------------------- pipelines


def test_same_seed_same_batches_epoch_by_epoch() -> None:
    """Bit-exact, within one machine (both pipelines run in this process)."""
    ds = load_dataset("synthetic-images", seed=0)

    def epochs(seed: int) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        train, _, _ = make_pipelines(ds, batch_size=32, seed=seed, augment=["pad_crop", "flip"])
        return [_batches(train, 3), _batches(train, 3)]

    run_a, run_b, run_other = epochs(7), epochs(7), epochs(8)
    for epoch_a, epoch_b in zip(run_a, run_b, strict=True):
        for (xa, ya), (xb, yb) in zip(epoch_a, epoch_b, strict=True):
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_array_equal(xa, xb)
    # A new order each epoch, and a different one for another seed.
    assert not np.array_equal(run_a[0][0][1], run_a[1][0][1])
    assert not np.array_equal(run_a[0][0][1], run_other[0][0][1])


def test_no_shuffle_keeps_the_split_order() -> None:
    ds = load_dataset("digits", limit=64)
    train, _, _ = make_pipelines(ds, batch_size=64, shuffle=False)
    x, y = next(iter(train))
    np.testing.assert_array_equal(y.numpy(), ds.y_train[:64])


def test_flip_mirrors_some_images_and_spares_eval_splits() -> None:
    ds = load_dataset("synthetic-images", seed=0)
    plain = make_pipelines(ds, batch_size=64, shuffle=False)
    flipped = make_pipelines(ds, batch_size=64, shuffle=False, augment=["flip"], seed=5)
    x0, y0 = next(iter(plain[0]))
    x1, y1 = next(iter(flipped[0]))
    np.testing.assert_array_equal(y0, y1)
    same = [np.array_equal(a, b) for a, b in zip(x0.numpy(), x1.numpy(), strict=True)]
    mirrored = [np.array_equal(a[:, ::-1], b) for a, b in zip(x0.numpy(), x1.numpy(), strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 10 < sum(mirrored) < 54  # about half of 64
    for split in (1, 2):  # validation and test are never augmented
        np.testing.assert_array_equal(next(iter(plain[split]))[0], next(iter(flipped[split]))[0])


def test_pad_crop_is_a_shifted_window_and_changes_each_epoch() -> None:
    ds = load_dataset("synthetic-images", seed=0, limit=16)
    train, _, _ = make_pipelines(ds, batch_size=16, shuffle=False, augment=["pad_crop"])
    original = ds.x_train
    epoch1, epoch2 = _batches(train, 1)[0][0], _batches(train, 1)[0][0]
    assert epoch1.shape == original.shape
    assert not np.array_equal(epoch1, epoch2)
    pad = 16 // 8
    shifted = 0
    for src, out in zip(original, epoch1, strict=True):
        padded = np.pad(src, ((pad, pad), (pad, pad), (0, 0)))
        windows = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if np.array_equal(padded[dy : dy + 16, dx : dx + 16], out)
        ]
        assert windows, "augmented image is not a crop of the padded original"
        shifted += windows[0] != (pad, pad)
    assert shifted >= 8


def test_augmentation_is_skipped_for_non_images() -> None:
    ds = load_dataset("synthetic-sequences", limit=32)
    plain, _, _ = make_pipelines(ds, batch_size=32, shuffle=False)
    augmented, _, _ = make_pipelines(ds, batch_size=32, shuffle=False, augment=["flip"])
    np.testing.assert_array_equal(next(iter(plain))[0], next(iter(augmented))[0])


def test_drop_remainder_and_batch_count() -> None:
    ds = load_dataset("synthetic-images", limit=50)
    train, val, test = make_pipelines(ds, batch_size=16, drop_remainder=True)
    assert [len(y) for _, y in _batches(train, 10)] == [16, 16, 16]
    # Evaluation splits keep every example even then.
    assert [len(y) for _, y in _batches(val, 10)] == [16, 16, 16, 2]
    assert sum(len(y) for _, y in _batches(test, 10)) == 50


# ------------------------------------------------------------------------------- npz


def test_npz_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.normal(size=(40, 6)).astype(np.float32),
        "y_train": rng.integers(0, 3, 40),
        "x_val": rng.normal(size=(8, 6)).astype(np.float32),
        "y_val": rng.integers(0, 3, 8),
        "x_test": rng.normal(size=(10, 6)).astype(np.float32),
        "y_test": np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]),
    }
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    ds = load_dataset(f"npz:{path}")
    assert ds.info.input_kind == "vector" and ds.info.input_shape == (6,)
    assert ds.info.num_classes == 4  # max label over all splits + 1
    assert ds.info.sizes == {"train": 40, "validation": 8, "test": 10}
    np.testing.assert_array_equal(ds.x_test, arrays["x_test"])
    np.testing.assert_array_equal(ds.y_val, arrays["y_val"])
    x, y = next(iter(ds.split("test").batch(10)))
    np.testing.assert_array_equal(y.numpy(), arrays["y_test"])
    assert data.describe_dataset(f"npz:{path}") == load_dataset(f"npz:{path}").info


def test_npz_grayscale_images_and_language_model(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "gray.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (30, 5, 7), dtype=np.uint8),
        y_train=rng.integers(0, 2, 30),
        x_test=rng.integers(0, 256, (6, 5, 7), dtype=np.uint8),
        y_test=rng.integers(0, 2, 6),
    )
    ds = load_dataset(f"npz:{path}", validation_fraction=0.2)
    assert ds.info.input_kind == "image" and ds.info.input_shape == (5, 7, 1)
    assert ds.info.sizes == {"train": 24, "validation": 6, "test": 6}
    assert abs(float(ds.x_train.mean())) < 1e-4

    tokens = rng.integers(0, 50, (20, 9))
    lm = tmp_path / "lm.npz"
    np.savez(
        lm,
        x_train=tokens[:, :8],
        y_train=tokens[:, 1:],
        x_test=tokens[:4, :8],
        y_test=tokens[:4, 1:],
    )
    info = load_dataset(f"npz:{lm}").info
    assert (info.task, info.input_kind, info.input_shape) == ("language_model", "tokens", (8,))
    assert info.vocab_size == int(tokens.max()) + 1


def test_broken_npz_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    np.savez(path, x_train=np.zeros((4, 3)), y_train=np.zeros(4, int), x_test=np.zeros((2, 3)))
    with pytest.raises(DatasetError, match=r"broken\.npz has no array 'y_test'"):
        load_dataset(f"npz:{path}")
    np.savez(
        path,
        x_train=np.zeros((4, 3)),
        y_train=np.zeros(5, int),
        x_test=np.zeros((2, 3)),
        y_test=np.zeros(2, int),
    )
    with pytest.raises(DatasetError, match="'x_train' has 4 examples but 'y_train' has 5"):
        load_dataset(f"npz:{path}")
    (tmp_path / "garbage.npz").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="garbage.npz"):
        load_dataset(f"npz:{tmp_path / 'garbage.npz'}")
    with pytest.raises(DatasetError, match="no file"):
        load_dataset(f"npz:{tmp_path / 'missing.npz'}")


# ------------------------------------------------------------------------------- folders


def _image_folder(root: Path, per_class: int = 6) -> None:
    import keras

    rng = np.random.default_rng(0)
    for label, (name, level) in enumerate((("dark", 40), ("bright", 210))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(level + rng.normal(0, 10, (12, 10, 3)), 0, 255).astype("uint8")
            keras.utils.save_img(root / name / f"{label}_{i}.png", pixels, scale=False)


def test_image_folder(tmp_path: Path) -> None:
    _image_folder(tmp_path)
    name = f"folder:{tmp_path}"
    info = data.describe_dataset(name)
    assert info.input_kind == "image" and info.input_shape == (12, 10, 3)
    assert info.class_names == ("bright", "dark")  # sorted folder names
    assert info.sizes == {"train": 6, "validation": 2, "test": 4}
    ds = load_dataset(name, seed=0)
    assert ds.info == info
    train, val, test = make_pipelines(ds, batch_size=32, augment=["flip"])
    x, y = next(iter(train))
    assert tuple(x.shape) == (6, 12, 10, 3) and x.dtype.name == "float32"
    # Labels follow folders: "bright" (0) images are brighter than "dark" (1) ones.
    means = x.numpy().mean(axis=(1, 2, 3))
    assert means[y.numpy() == 0].min() > means[y.numpy() == 1].max()
    assert abs(float(x.numpy().mean())) < 0.05  # standardized with training statistics
    assert sum(len(b[1]) for b in _batches(test, 5)) == 4


def test_text_folder_with_train_and_test(tmp_path: Path) -> None:
    for split, n in (("train", 5), ("test", 2)):
        for label in ("neg", "pos"):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(n):
                (tmp_path / split / label / f"{i}.txt").write_text(f"{label} {split} {i}")
    ds = load_dataset(f"folder:{tmp_path}", sequence_length=12)
    info = ds.info
    assert (info.input_kind, info.input_shape, info.vocab_size) == ("tokens", (12,), 257)
    assert info.sizes == {"train": 8, "validation": 2, "test": 4}
    first = ds.x_test[0]
    text = bytes(int(t) - 1 for t in first if t).decode()
    assert text.split()[0] == info.class_names[ds.y_test[0]]
    assert first[-1] == 0  # padded to the fixed length


def test_folder_with_val_folder_carves_test_from_train(tmp_path: Path) -> None:
    for split, n in (("train", 10), ("val", 3)):
        for label in ("a", "b"):
            (tmp_path / split / label).mkdir(parents=True)
            for i in range(n):
                (tmp_path / split / label / f"{i}.txt").write_text(f"{label}{split}{i}")
    ds = load_dataset(f"folder:{tmp_path}", sequence_length=8, seed=1)
    # test = 20% of train/ per class (2 + 2); val/ is used as is, not carved.
    assert ds.info.sizes == {"train": 16, "validation": 6, "test": 4}
    assert ds.info.class_names == ("a", "b")
    val_texts = {bytes(int(t) - 1 for t in row if t).decode() for row in ds.x_val}
    assert all("val" in t for t in val_texts)
    other = load_dataset(f"folder:{tmp_path}", sequence_length=8, seed=2)
    assert not np.array_equal(np.sort(ds.x_test, axis=0), np.sort(other.x_test, axis=0))


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nowhere"):
        load_dataset(f"folder:{tmp_path / 'nowhere'}")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DatasetError, match=str(tmp_path)):
        load_dataset(f"folder:{tmp_path}")


# ------------------------------------------------------------------------------- tfds


def test_tfds_mock_data(monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow_datasets as tfds

    # Mocked TFDS reports "not prepared"; pretend the network is there so the (mocked,
    # no-op) download runs instead of the offline error.
    monkeypatch.setattr(tfds_mod, "network_available", lambda hosts, timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=24):
        ds = load_dataset("tfds:cifar10", limit=20)
        info = ds.info
        assert (info.input_kind, info.input_shape, info.num_classes) == ("image", (32, 32, 3), 10)
        assert info.sizes == {"train": 20, "validation": 20, "test": 20}
        train, _, test = make_pipelines(ds, batch_size=8, augment=["pad_crop", "flip"])
        x, y = next(iter(train))
        assert tuple(x.shape) == (8, 32, 32, 3) and x.dtype.name == "float32"
        assert y.dtype.name == "int32" and int(np.max(y)) < 10
        assert abs(float(np.mean(x))) < 0.5  # standardized, not 0..255
        text = load_dataset("tfds:imdb_reviews", limit=4, sequence_length=32)
        x, y = next(iter(text.split("train")))
        assert tuple(x.shape) == (32,) and x.dtype.name == "int32"
        assert text.info.vocab_size == 257 and text.info.input_kind == "tokens"


def test_tfds_missing_offline_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probed: list[list[str]] = []

    def no_network(hosts: list[str], timeout: float = 3.0) -> bool:
        probed.append(hosts)
        return False

    monkeypatch.setattr(tfds_mod, "network_available", no_network)
    start = time.monotonic()
    with pytest.raises(DatasetError) as caught:
        load_dataset("tfds:cifar10", data_dir=str(tmp_path))
    assert time.monotonic() - start < 10
    message = str(caught.value)
    assert "tfds:cifar10" in message and str(tmp_path) in message
    assert "tfds build cifar10" in message and "--data-dir" in message
    assert probed and "www.cs.toronto.edu" in probed[0]  # the dataset's own download host


def test_network_probe_gives_up_quickly() -> None:
    start = time.monotonic()
    assert tfds_mod.network_available(["nonexistent.invalid"], timeout=1.0) is False
    assert time.monotonic() - start < 2.0


def test_tfds_unknown_name() -> None:
    with pytest.raises(DatasetError, match="tfds:no_such_set_zz.*catalog") as caught:
        data.describe_dataset("tfds:no_such_set_zz")
    assert "\n" not in str(caught.value)  # TFDS's catalogue listing is not echoed


def test_tfds_prepared_data_is_used_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tensorflow_datasets as tfds

    class RsTinyImages(tfds.core.GeneratorBasedBuilder):
        """Tiny builder prepared locally: the real (non-mocked) TFDS read path."""

        VERSION = tfds.core.Version("1.0.0")

        def _info(self) -> tfds.core.DatasetInfo:
            features = tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 3)),
                    "label": tfds.features.ClassLabel(names=["a", "b"]),
                }
            )
            return tfds.core.DatasetInfo(
                builder=self,
                description="Tiny.",
                features=features,
                supervised_keys=("image", "label"),
            )

        def _split_generators(self, dl_manager):  # noqa: ANN001, ANN202
            return {"train": self._generate_examples(30), "test": self._generate_examples(10)}

        def _generate_examples(self, n: int):  # noqa: ANN202
            rng = np.random.default_rng(n)
            for i in range(n):
                image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                yield i, {"image": image, "label": i % 2}

    RsTinyImages(data_dir=str(tmp_path)).download_and_prepare()

    def forbidden(hosts: list[str], timeout: float = 3.0) -> bool:
        raise AssertionError("prepared data must not need the network")

    monkeypatch.setattr(tfds_mod, "network_available", forbidden)
    name = "tfds:rs_tiny_images"
    info = data.describe_dataset(name, data_dir=str(tmp_path))
    assert info.offline and info.sizes == {"train": 27, "validation": 3, "test": 10}
    ds = load_dataset(name, data_dir=str(tmp_path), validation_fraction=0.0)
    assert ds.info.sizes == {"train": 30, "validation": 0, "test": 10}
    assert ds.info.class_names == ("a", "b")
    first = [y for _, y in _batches(ds.split("train").batch(30), 1)][0]
    again = load_dataset(name, data_dir=str(tmp_path), validation_fraction=0.0)
    np.testing.assert_array_equal(first, _batches(again.split("train").batch(30), 1)[0][1])
    _, val, _ = make_pipelines(ds, batch_size=8)
    assert _batches(val, 1) == []
