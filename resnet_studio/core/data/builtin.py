"""Built-in datasets that work offline, out of the box.

- `digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images).
- `mnist1d`: the MNIST-1D benchmark, generated locally by the `mnist1d` package with the
  paper's default arguments (4,000 train / 1,000 test sequences of length 40), cached as .npz.
- `python-docs`: character-level language modelling on CPython's bundled documentation text
  (`pydoc_data.topics`).
- `synthetic-images`, `synthetic-sequences`: tiny learnable sets generated from the seed, for
  smoke tests and first steps.
- `stdlib-docs`: text classification of the standard library's docstrings (`stdlib_docs`).

Metadata (`BUILTINS[name].describe`) is static or computed from tiny inputs: no TensorFlow,
scikit-learn or generation happens until `load` is called.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import stdlib_docs
from .base import Dataset, DatasetError, DatasetInfo, cache_dir, standardize_channels
from .splits import TEST_FRACTION, held_out, in_memory, stratified_split

DEFAULT_SEQUENCE_LENGTH = 128
# Fraction of the python-docs text (its end) held out as test.
TEXT_TEST_FRACTION = 0.1

_DIGITS_N = 1797
_MNIST1D_TRAIN, _MNIST1D_TEST, _MNIST1D_LEN = 4000, 1000, 40
# Synthetic sets: big enough for a loss curve to mean something, small enough for a smoke test.
_SYNTH_POOL, _SYNTH_TEST = 640, 128
_SYNTH_CLASSES = 4


@dataclass(frozen=True)
class Builtin:
    """Registry entry of one built-in dataset.

    Args:
        name: Dataset name.
        describe: `(validation_fraction, sequence_length) -> DatasetInfo` without loading.
        load: `(seed, validation_fraction, sequence_length, limit) -> Dataset`; text sets
            also take `tokenizer` and `vocab_size` keywords.
        text: A text-classification set whose tokenizer the caller chooses.
    """

    name: str
    describe: Callable[[float, int | None], DatasetInfo]
    load: Callable[..., Dataset]
    text: bool = False


# --------------------------------------------------------------------------------------- digits


def _digits_sizes(validation_fraction: float) -> dict[str, int]:
    n_test = held_out(_DIGITS_N, TEST_FRACTION)
    n_val = held_out(_DIGITS_N - n_test, validation_fraction)
    return {"train": _DIGITS_N - n_test - n_val, "validation": n_val, "test": n_test}


def _describe_digits(validation_fraction: float, sequence_length: int | None) -> DatasetInfo:
    del sequence_length  # Fixed-size images.
    return DatasetInfo(
        name="digits",
        task="classification",
        input_kind="image",
        input_shape=(8, 8, 1),
        num_classes=10,
        vocab_size=None,
        class_names=tuple(str(i) for i in range(10)),
        sizes=_digits_sizes(validation_fraction),
        offline=True,
        description=(
            "1,797 handwritten digits, 8x8 grayscale (scikit-learn's bundled copy of the UCI "
            "set). Offline; trains in seconds on a CPU."
        ),
    )


def _load_digits(
    seed: int, validation_fraction: float, sequence_length: int | None, limit: int | None
) -> Dataset:
    from sklearn.datasets import load_digits  # Deferred: slow import.

    bunch = load_digits()
    # Pixels are counts 0..16 of a 4x4 block; scale first so the stored stats are readable.
    x = (bunch.images.astype(np.float32) / 16.0)[..., None]
    y = bunch.target.astype(np.int64)
    x_rest, y_rest, x_test, y_test = stratified_split(x, y, TEST_FRACTION, seed)
    x_train, y_train, x_val, y_val = stratified_split(x_rest, y_rest, validation_fraction, seed)
    scaled_train = x_train
    x_train, x_val, x_test = _standardize_scalar(x_train, x_val, x_test)
    splits = {"train": (x_train, y_train), "validation": (x_val, y_val), "test": (x_test, y_test)}
    data = in_memory(_describe_digits(validation_fraction, sequence_length), splits, limit)
    if data.info.input_kind == "image":  # exports then serve the raw counts as uint8
        from .pixels import PixelTransform

        std = float(scaled_train.std()) if scaled_train.size else 1.0
        data.pixels = PixelTransform.of(1 / 16, float(scaled_train.mean()) if
                                        scaled_train.size else 0.0, std if std > 1e-8 else 1.0)
    return data


def _standardize_scalar(x_train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Standardizes with one mean/std over all training values (one channel, few pixels)."""
    mean = float(x_train.mean()) if x_train.size else 0.0
    std = float(x_train.std()) if x_train.size else 1.0
    std = std if std > 1e-8 else 1.0
    return tuple(((a - mean) / std).astype(np.float32) for a in (x_train, *others))


# -------------------------------------------------------------------------------------- mnist1d


def _mnist1d_sizes(validation_fraction: float) -> dict[str, int]:
    n_val = held_out(_MNIST1D_TRAIN, validation_fraction)
    return {"train": _MNIST1D_TRAIN - n_val, "validation": n_val, "test": _MNIST1D_TEST}


def _describe_mnist1d(validation_fraction: float, sequence_length: int | None) -> DatasetInfo:
    del sequence_length  # The paper's length, 40, is part of the benchmark.
    return DatasetInfo(
        name="mnist1d",
        task="classification",
        input_kind="sequence",
        input_shape=(_MNIST1D_LEN, 1),
        num_classes=10,
        vocab_size=None,
        class_names=tuple(str(i) for i in range(10)),
        sizes=_mnist1d_sizes(validation_fraction),
        offline=True,
        description=(
            "MNIST-1D (Greydanus 2020): 1-D signals of length 40 made from 10 digit templates "
            "with shifts, shear and noise. Generated locally; small but hard enough to separate "
            "residual from plain networks."
        ),
    )


def _mnist1d_cache_path() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg_version = version("mnist1d")
    except PackageNotFoundError:
        pkg_version = "unknown"
    # The package version is in the name: a new generator may give different data.
    return os.path.join(cache_dir(), f"mnist1d-default-{pkg_version}.npz")


def _read_mnist1d_cache(path: str) -> dict[str, np.ndarray] | None:
    """Returns the cached arrays, or None when the file is missing, truncated or wrong."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x", "y", "x_test", "y_test")}
    except (OSError, ValueError, KeyError, EOFError):
        return None
    expected = {
        "x": (_MNIST1D_TRAIN, _MNIST1D_LEN),
        "y": (_MNIST1D_TRAIN,),
        "x_test": (_MNIST1D_TEST, _MNIST1D_LEN),
        "y_test": (_MNIST1D_TEST,),
    }
    if any(arrays[k].shape != shape for k, shape in expected.items()):
        return None
    return arrays


def _generate_mnist1d() -> dict[str, np.ndarray]:
    """Runs the package's generator with its default (the paper's) arguments.

    `mnist1d.get_dataset` would try to download a pickle from GitHub first; `make_dataset`
    only generates. It reseeds Python's and numpy's global generators, which would silently
    change the caller's random streams, so their states are restored afterwards.
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DatasetError(
            "mnist1d: the `mnist1d` package is not installed. Install it with "
            "`pip install mnist1d`."
        ) from exc
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x": np.asarray(raw["x"], dtype=np.float32),
        "y": np.asarray(raw["y"], dtype=np.int64),
        "x_test": np.asarray(raw["x_test"], dtype=np.float32),
        "y_test": np.asarray(raw["y_test"], dtype=np.int64),
    }


def mnist1d_arrays() -> dict[str, np.ndarray]:
    """Returns the MNIST-1D arrays `x, y, x_test, y_test`, generating them on first use.

    The cache is written atomically (temporary file + rename), so an interrupted run cannot
    leave a truncated file that the next run would trust.
    """
    path = _mnist1d_cache_path()
    arrays = _read_mnist1d_cache(path)
    if arrays is not None:
        return arrays
    arrays = _generate_mnist1d()
    try:
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError:
        # A read-only cache folder costs a few seconds per load, not a failure.
        pass
    return arrays


def _load_mnist1d(
    seed: int, validation_fraction: float, sequence_length: int | None, limit: int | None
) -> Dataset:
    arrays = mnist1d_arrays()
    x = arrays["x"][..., None]
    x_test = arrays["x_test"][..., None]
    # The generator already centred and scaled the whole set; the paper uses it as is.
    x_train, y_train, x_val, y_val = stratified_split(x, arrays["y"], validation_fraction, seed)
    splits = {
        "train": (x_train, y_train),
        "validation": (x_val, y_val),
        "test": (x_test, arrays["y_test"]),
    }
    return in_memory(_describe_mnist1d(validation_fraction, sequence_length), splits, limit)


# ---------------------------------------------------------------------------------- python-docs


@lru_cache(maxsize=1)
def _python_docs_ids() -> tuple[np.ndarray, tuple[str, ...]]:
    """Returns the token ids of the whole corpus and the vocabulary (sorted characters)."""
    from pydoc_data.topics import topics

    text = "".join(topics[key] for key in sorted(topics))
    # UTF-32 gives one fixed-width code point per character: vectorized tokenization.
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    vocab_codes = np.unique(codes)
    ids = np.searchsorted(vocab_codes, codes).astype(np.int32)
    ids.setflags(write=False)
    return ids, tuple(chr(c) for c in vocab_codes)


def _text_segments(n: int, validation_fraction: float) -> tuple[int, int]:
    """Returns `(validation_start, test_start)` character offsets of the contiguous splits."""
    test_start = n - held_out(n, TEXT_TEST_FRACTION)
    val_start = test_start - held_out(test_start, validation_fraction)
    return val_start, test_start


def _n_windows(length: int, t: int) -> int:
    # Each window needs T inputs plus the one next character as the last target.
    return max(0, (length - 1) // t)


def _describe_python_docs(validation_fraction: float, sequence_length: int | None) -> DatasetInfo:
    t = sequence_length or DEFAULT_SEQUENCE_LENGTH
    ids, vocab = _python_docs_ids()
    val_start, test_start = _text_segments(len(ids), validation_fraction)
    sizes = {
        "train": _n_windows(val_start, t),
        "validation": _n_windows(test_start - val_start, t),
        "test": _n_windows(len(ids) - test_start, t),
    }
    return DatasetInfo(
        name="python-docs",
        task="language_model",
        input_kind="tokens",
        input_shape=(t,),
        num_classes=None,
        vocab_size=len(vocab),
        class_names=None,
        sizes=sizes,
        offline=True,
        description=(
            f"Character-level language modelling on CPython's bundled documentation "
            f"({len(ids):,} characters, {len(vocab)} distinct). Non-overlapping windows; the "
            f"last 10% of the text is the test set."
        ),
    )


def _windows(ids: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    n = _n_windows(len(ids), t)
    return ids[: n * t].reshape(n, t), ids[1 : n * t + 1].reshape(n, t)


def _load_python_docs(
    seed: int, validation_fraction: float, sequence_length: int | None, limit: int | None
) -> Dataset:
    del seed  # Contiguous splits of one text: nothing random here (pipelines shuffle windows).
    t = sequence_length or DEFAULT_SEQUENCE_LENGTH
    ids, vocab = _python_docs_ids()
    val_start, test_start = _text_segments(len(ids), validation_fraction)
    splits = {
        "train": _windows(ids[:val_start], t),
        "validation": _windows(ids[val_start:test_start], t),
        "test": _windows(ids[test_start:], t),
    }
    info = _describe_python_docs(validation_fraction, sequence_length)
    return in_memory(info, splits, limit, vocabulary=list(vocab))


# ------------------------------------------------------------------------------------ synthetic


def _synth_sizes(validation_fraction: float) -> dict[str, int]:
    n_val = held_out(_SYNTH_POOL, validation_fraction)
    return {"train": _SYNTH_POOL - n_val, "validation": n_val, "test": _SYNTH_TEST}


def _describe_synthetic_images(
    validation_fraction: float, sequence_length: int | None
) -> DatasetInfo:
    del sequence_length
    return _synthetic_info(
        "synthetic-images", "image", (16, 16, 3),
        ("horizontal", "vertical", "diagonal", "anti-diagonal"), validation_fraction,
        "16x16 colour images of noisy stripes in 4 orientations")


def _synthetic_info(name: str, kind: str, shape: tuple[int, ...], class_names: tuple[str, ...],
                    validation_fraction: float, what: str) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        task="classification",
        input_kind=kind,
        input_shape=shape,
        num_classes=_SYNTH_CLASSES,
        vocab_size=None,
        class_names=class_names,
        sizes=_synth_sizes(validation_fraction),
        offline=True,
        description=f"Tiny generated set: {what}. Learnable in a few steps; for smoke tests.",
    )


def _synthetic_images(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, _SYNTH_CLASSES, size=n)
    # Stripe direction is the class; period, phase and colour vary so no single pixel tells it.
    directions = np.array([(1, 0), (0, 1), (1, 1), (1, -1)], dtype=np.float32)
    rows, cols = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    d = directions[y]
    period = rng.uniform(4.0, 8.0, size=n)
    phase = rng.uniform(0.0, 2 * np.pi, size=n)
    proj = d[:, 0, None, None] * rows + d[:, 1, None, None] * cols
    pattern = np.cos(2 * np.pi * proj / period[:, None, None] + phase[:, None, None])
    colour = rng.uniform(0.3, 1.0, size=(n, 1, 1, 3))
    x = pattern[..., None] * colour + rng.normal(0.0, 0.5, size=(n, 16, 16, 3))
    return x.astype(np.float32), y


def _load_synthetic_images(
    seed: int, validation_fraction: float, sequence_length: int | None, limit: int | None
) -> Dataset:
    rng = np.random.default_rng(seed)
    x, y = _synthetic_images(rng, _SYNTH_POOL + _SYNTH_TEST)
    info = _describe_synthetic_images(validation_fraction, sequence_length)
    return _synthetic_splits(info, x, y, validation_fraction, limit)


def _synthetic_splits(
    info: DatasetInfo, x: np.ndarray, y: np.ndarray, validation_fraction: float, limit: int | None
) -> Dataset:
    n_val = held_out(_SYNTH_POOL, validation_fraction)
    n_train = _SYNTH_POOL - n_val
    x_train, x_val, x_test = standardize_channels(
        x[:n_train], x[n_train:_SYNTH_POOL], x[_SYNTH_POOL:]
    )
    splits = {
        "train": (x_train, y[:n_train]),
        "validation": (x_val, y[n_train:_SYNTH_POOL]),
        "test": (x_test, y[_SYNTH_POOL:]),
    }
    return in_memory(info, splits, limit)


def _describe_synthetic_sequences(
    validation_fraction: float, sequence_length: int | None
) -> DatasetInfo:
    del sequence_length
    return _synthetic_info(
        "synthetic-sequences", "sequence", (32, 4),
        ("1 cycle", "2 cycles", "3 cycles", "4 cycles"), validation_fraction,
        "32-step, 4-channel noisy waves; the class is the frequency")


def _synthetic_sequences(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, _SYNTH_CLASSES, size=n)
    steps = np.arange(32, dtype=np.float64)
    cycles = (y + 1).astype(np.float64)
    # Each channel gets its own phase and amplitude: the shared frequency is the only cue.
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1, 4))
    amplitude = rng.uniform(0.5, 1.5, size=(n, 1, 4))
    wave = np.sin(2 * np.pi * cycles[:, None, None] * steps[None, :, None] / 32 + phase)
    x = amplitude * wave + rng.normal(0.0, 0.5, size=(n, 32, 4))
    return x.astype(np.float32), y


def _load_synthetic_sequences(
    seed: int, validation_fraction: float, sequence_length: int | None, limit: int | None
) -> Dataset:
    rng = np.random.default_rng(seed)
    x, y = _synthetic_sequences(rng, _SYNTH_POOL + _SYNTH_TEST)
    info = _describe_synthetic_sequences(validation_fraction, sequence_length)
    return _synthetic_splits(info, x, y, validation_fraction, limit)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("digits", _describe_digits, _load_digits),
        Builtin("mnist1d", _describe_mnist1d, _load_mnist1d),
        Builtin("python-docs", _describe_python_docs, _load_python_docs),
        Builtin("synthetic-images", _describe_synthetic_images, _load_synthetic_images),
        Builtin("synthetic-sequences", _describe_synthetic_sequences, _load_synthetic_sequences),
        Builtin(stdlib_docs.NAME, stdlib_docs.describe, stdlib_docs.load, text=True),
    )
}
