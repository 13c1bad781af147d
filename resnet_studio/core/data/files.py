"""The user's own data: `folder:PATH` (one subfolder per class) and `npz:PATH` (numpy arrays).

Folder layout, either:
    PATH/CLASS/FILE                 test = a stratified 20% of the files, drawn with the seed
    PATH/train/CLASS/FILE (+ PATH/test/CLASS/FILE, PATH/validation/ or PATH/val/)
Splits without a folder of their own are carved from the training files: validation is a
stratified `validation_fraction` of them, drawn with the seed.
Files are indexed in sorted order and split by a seeded permutation, so a seed always gives the
same split and every split has a fixed order. (Keras' `image_dataset_from_directory` cannot:
its `validation_split` needs shuffling, which makes the returned training split reshuffle on
every pass, and it offers no three-way split.)

Images (.png .jpg .jpeg .bmp .gif) are decoded with TensorFlow. Their size is taken from the
first image of each class when these agree and neither side exceeds `MAX_NATIVE_SIDE`, else
every image is resized to `FALLBACK_IMAGE_SIZE`; images of another size are always resized,
so one odd file cannot break a run. Channels: 1 if the sampled images are all grayscale,
else 3 (alpha is dropped). Pixels are scaled to [0, 1] and standardized per channel with
training statistics. Images are streamed (and decoded) on the fly.

Text files (.txt) become byte-level tokens of fixed length (`sequence_length`, default 256):
UTF-8 byte b is token b + 1, 0 pads; vocab_size 257. They are read into memory.

npz: arrays `x_train, y_train, x_test, y_test` and optionally `x_val, y_val`; the input kind
is inferred from `x_train`: (N, H, W, C) image; (N, H, W) integer image with C = 1; (N, T, F)
float sequence; (N, F) float vector; (N, T) integer tokens (vocab = max id + 1). Labels of
shape (N,) are classes (count = max label + 1); labels of the same shape as integer token
inputs make a language-model set. Integer images are scaled by 1/255; all images are
standardized per channel with training statistics; other float inputs are used as given.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .base import (
    BYTE_VOCAB_SIZE,
    DEFAULT_TEXT_LENGTH,
    Dataset,
    DatasetError,
    DatasetInfo,
    RawImages,
    cap,
    standardize_channels,
)
from .filescan import FileScan, policy_from_env
from .op_errors import DIAGNOSE_SECONDS, clean_op_message, explain, is_decode_error
from .splits import TEST_FRACTION, held_out, in_memory

if TYPE_CHECKING:
    import tensorflow as tf

FOLDER_PREFIX = "folder:"
NPZ_PREFIX = "npz:"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
TEXT_EXTENSIONS = (".txt",)
FALLBACK_IMAGE_SIZE = (64, 64)
# Larger native images would give models with absurd activations on a desktop: resize instead.
MAX_NATIVE_SIDE = 512
# First image of at most this many classes is decoded to choose the size: cheap and representative.
_SIZE_SAMPLE = 32


# ------------------------------------------------------------------------------------- folders


def _folder_path(name: str) -> Path:
    raw = name[len(FOLDER_PREFIX) :]
    if not raw:
        raise DatasetError(f"{name}: expected folder:PATH, e.g. folder:~/data/flowers.")
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise DatasetError(
            f"{name}: {path} is not a folder. Give a folder with one subfolder per class."
        )
    return path


def _class_dirs(root: Path, scan: FileScan | None = None) -> list[Path]:
    # Hidden folders (.git, .ipynb_checkpoints) are never classes.
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for d in dirs if scan is not None else ():
        scan.class_folder(root, d)
    return dirs


def _files_of(class_dir: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return files


def _index(
    root: Path, class_names: list[str] | None, name: str, scan: FileScan
) -> tuple[list[str], list[Path], np.ndarray]:
    """Returns class names, files (sorted) and their labels under `root`; unreadable files
    are left out and recorded in `scan` (filescan.py)."""
    dirs = _class_dirs(root, scan)
    if class_names is None:
        class_names = [d.name for d in dirs]
    else:
        unknown = sorted({d.name for d in dirs} - set(class_names))
        if unknown:
            raise DatasetError(
                f"{name}: {root} has class folders {unknown} that the training folder lacks."
            )
    files: list[Path] = []
    labels: list[int] = []
    for d in dirs:
        for f in _files_of(d):
            suffix = f.suffix.lower()
            if suffix in IMAGE_EXTENSIONS + TEXT_EXTENSIONS and \
                    scan.keep(f, image=suffix in IMAGE_EXTENSIONS):
                files.append(f)
                labels.append(class_names.index(d.name))
    return class_names, files, np.asarray(labels, dtype=np.int64)


def _stratified_indices(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (kept, held-out) index arrays: `fraction` of each class held out, seeded."""
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_held = held_out(len(idx), fraction) if len(idx) > 1 else 0
        held.append(idx[:n_held])
        kept.append(idx[n_held:])
    kept_all = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    held_all = np.concatenate(held) if held else np.zeros(0, np.int64)
    # Interleave classes in a seeded order, so a `limit` or the first batch sees every class.
    return rng.permutation(kept_all), rng.permutation(held_all)


def _folder_plan(
    name: str, seed: int, validation_fraction: float, scan: FileScan
) -> tuple[list[str], dict[str, tuple[list[Path], np.ndarray]], str]:
    """Indexes a folder and splits it; returns class names, split files/labels and the kind.
    Every file of every split is checked first (`scan` collects what was left out)."""
    root = _folder_path(name)
    subdirs = {d.name for d in _class_dirs(root)}
    # train/ (+ test/, validation/ or val/) is a split layout only if nothing else is there:
    # a lone class that happens to be called "train" stays a class.
    split_layout = "train" in subdirs and subdirs <= {"train", "validation", "val", "test"}
    train_root = root / "train" if split_layout else root
    class_names, files, labels = _index(train_root, None, name, scan)
    if len(class_names) == 1:
        raise DatasetError(
            f"{name}: {train_root} has one class folder ({class_names[0]}); a classifier needs "
            f"at least two. Expected {train_root}/CLASS_NAME/FILE for each class."
        )
    if not files:
        raise DatasetError(
            f"{name}: no image ({' '.join(IMAGE_EXTENSIONS)}) or text (.txt) files in class "
            f"subfolders of {train_root}. Expected {train_root}/CLASS_NAME/FILE."
        )
    images = sum(f.suffix.lower() in IMAGE_EXTENSIONS for f in files)
    kind = "image" if images >= len(files) - images else "text"
    wanted = IMAGE_EXTENSIONS if kind == "image" else TEXT_EXTENSIONS

    def only_kind(fs: list[Path], ls: np.ndarray) -> tuple[list[Path], np.ndarray]:
        keep = [i for i, f in enumerate(fs) if f.suffix.lower() in wanted]
        return [fs[i] for i in keep], ls[keep] if len(ls) else ls

    def from_folder(folder: str) -> tuple[list[Path], np.ndarray]:
        _, fs, ls = _index(root / folder, class_names, name, scan)
        return only_kind(fs, ls)

    def pick(fs: list[Path], ls: np.ndarray, idx: np.ndarray) -> tuple[list[Path], np.ndarray]:
        return [fs[i] for i in idx], ls[idx]

    files, labels = only_kind(files, labels)
    scan.empty_classes = [c for i, c in enumerate(class_names) if not np.any(labels == i)]
    # A fraction of 0 just puts the files in a seeded order, holding nothing out.
    test_share = 0.0 if split_layout and "test" in subdirs else TEST_FRACTION
    rest_idx, test_idx = _stratified_indices(labels, test_share, seed)
    rest_files, rest_labels = pick(files, labels, rest_idx)
    test = from_folder("test") if test_share == 0.0 else pick(files, labels, test_idx)
    val_dir = next((d for d in ("validation", "val") if split_layout and d in subdirs), None)
    val_share = 0.0 if val_dir else validation_fraction
    train_idx, val_idx = _stratified_indices(rest_labels, val_share, seed + 1)
    train = pick(rest_files, rest_labels, train_idx)
    val = from_folder(val_dir) if val_dir else pick(rest_files, rest_labels, val_idx)
    return class_names, {"train": train, "validation": val, "test": test}, kind


def _image_geometry(
    files: list[Path], labels: np.ndarray, default_size: tuple[int, int] | None = None
) -> tuple[int, int, int]:
    """Returns (H, W, C) for the folder's images (see the module docstring); `default_size`
    replaces FALLBACK_IMAGE_SIZE (the architecture's input size, when it says one)."""
    import tensorflow as tf

    firsts = [files[int(np.flatnonzero(labels == c)[0])] for c in np.unique(labels)]
    shapes = []
    for path in firsts[:_SIZE_SAMPLE]:
        try:
            image = tf.io.decode_image(tf.io.read_file(str(path)), expand_animations=False)
        except tf.errors.OpError as exc:  # the reason only, not TensorFlow's node names
            raise DatasetError(f"folder: {path} is not an image TensorFlow can decode "
                               f"({clean_op_message(exc.message)}). Remove or replace the "
                               "file and try again.") from None
        shapes.append(tuple(int(s) for s in image.shape))
    sizes = {s[:2] for s in shapes}
    channels = 1 if all(s[2] == 1 for s in shapes) else 3
    (h, w) = next(iter(sizes))
    if len(sizes) != 1 or max(h, w) > MAX_NATIVE_SIDE:
        h, w = default_size or FALLBACK_IMAGE_SIZE
    return h, w, channels


def _folder_info(
    name: str,
    class_names: list[str],
    kind: str,
    shape: tuple[int, ...],
    sizes: dict[str, int],
) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        task="classification",
        input_kind="image" if kind == "image" else "tokens",
        input_shape=shape,
        num_classes=len(class_names),
        vocab_size=None if kind == "image" else BYTE_VOCAB_SIZE,
        class_names=tuple(class_names),
        sizes=sizes,
        offline=True,
        description=(
            f"{'Images' if kind == 'image' else 'Text files'} in {len(class_names)} class "
            f"folders under {name[len(FOLDER_PREFIX) :]}."
        ),
    )


def describe_folder(
    name: str, validation_fraction: float = 0.1, sequence_length: int | None = None
) -> DatasetInfo:
    """Returns a folder dataset's metadata: indexes files, decodes a few images for the size.

    Raises:
        DatasetError: Missing or empty folder, or undecodable sample image.
    """
    class_names, splits, kind = _folder_plan(name, 0, validation_fraction,
                                             FileScan(name, policy_from_env()))
    if kind == "image":
        shape: tuple[int, ...] = _image_geometry(*splits["train"])
    else:
        shape = (sequence_length or DEFAULT_TEXT_LENGTH,)
    sizes = {k: len(v[0]) for k, v in splits.items()}
    return _folder_info(name, class_names, kind, shape, sizes)


def load_folder(
    name: str,
    *,
    seed: int = 0,
    validation_fraction: float = 0.1,
    sequence_length: int | None = None,
    limit: int | None = None,
    tokenizer: str = "bytes",
    vocab_size: int = 0,
    bad_files: str | None = None,
    image_size: tuple[int, int] | None = None,
    default_image_size: tuple[int, int] | None = None,
    crop: bool = False,
) -> Dataset:
    """Loads `folder:PATH` (see the module docstring; the image options as in
    `registry.load_dataset`).

    Text folders use `tokenizer` (`tokenizers.fit_tokenizer`, fitted on the training files).

    Args:
        bad_files: "skip" unreadable files (listed in `Dataset.warnings`) or "refuse" the
            dataset naming the first; None reads `$RESNET_STUDIO_BAD_FILES` (default skip).

    Raises:
        DatasetError: Missing or empty folder, a single class, or (refuse) a bad file.
    """
    scan = FileScan(name, policy_from_env(bad_files))
    class_names, splits, kind = _folder_plan(name, seed, validation_fraction, scan)
    limited = {
        k: (f[: cap(len(f), limit)], y[: cap(len(f), limit)]) for k, (f, y) in splits.items()
    }
    sizes = {k: len(v[0]) for k, v in limited.items()}
    if kind == "text":
        length = sequence_length or DEFAULT_TEXT_LENGTH
        if tokenizer == "bytes":
            arrays = {k: (_encode_texts(f, length), y) for k, (f, y) in limited.items()}
            data = in_memory(_folder_info(name, class_names, kind, (length,), sizes), arrays,
                             None)
        else:
            data = _tokenized_texts(name, class_names, splits["train"][0], limited, length,
                                    tokenizer, vocab_size)
    else:
        shape = _image_geometry(*splits["train"], default_image_size)
        if image_size:
            shape = (*image_size, shape[2])
        info = _folder_info(name, class_names, kind, shape, sizes)
        streams, raw, stats = _image_streams(limited, shape, crop and bool(image_size), name)
        from .pixels import PixelTransform

        data = Dataset(info=info, streams=streams, raw_train=raw,
                       eval_cropped=raw is not None,
                       pixels=PixelTransform.of(1 / 255, *stats))  # exports serve uint8
    data.warnings = scan.warnings()
    return data


def _encode_texts(files: list[Path], length: int) -> np.ndarray:
    out = np.zeros((len(files), length), dtype=np.int32)
    for i, path in enumerate(files):
        try:
            data = path.read_bytes()[:length]
        except OSError as exc:
            raise DatasetError(f"folder: cannot read {path}: {exc.strerror}") from exc
        # Byte b -> token b + 1; 0 stays free for padding.
        out[i, : len(data)] = np.frombuffer(data, dtype=np.uint8).astype(np.int32) + 1
    return out


def _tokenized_texts(name: str, class_names: list[str], train_files: list[Path],
                     limited: dict[str, tuple[list[Path], np.ndarray]], length: int,
                     tokenizer: str, vocab_size: int) -> Dataset:
    """Text folders under a learnt tokenizer (fitted on every training file, before `limit`)."""
    from dataclasses import replace

    from .tokenizers import fit_tokenizer

    def read(files: list[Path]) -> list[str]:
        out = []
        for path in files:
            try:
                out.append(path.read_text(encoding="utf-8", errors="replace"))
            except OSError as exc:
                raise DatasetError(f"folder: cannot read {path}: {exc.strerror}") from exc
        return out

    fitted = fit_tokenizer(tokenizer, read(train_files), vocab_size)
    texts = {k: read(f) for k, (f, _) in limited.items()}
    arrays = {k: (fitted.encode(texts[k], length), y) for k, (_, y) in limited.items()}
    sizes = {k: len(v[0]) for k, v in limited.items()}
    info = replace(_folder_info(name, class_names, "text", (length,), sizes),
                   vocab_size=fitted.vocab_size)
    data = in_memory(info, arrays, None)
    data.tokenizer, data.texts = fitted, texts
    return data


def _image_streams(
    splits: dict[str, tuple[list[Path], np.ndarray]], shape: tuple[int, int, int], crop: bool,
    name: str,
) -> tuple[dict[str, tf.data.Dataset], RawImages | None, tuple[np.ndarray, np.ndarray]]:
    """The splits' streams; with `crop`, evaluation crops plus the raw training images; the
    training pixels' per-channel (mean, std) after scaling by 1/255.

    Raises:
        DatasetError: a training image cannot be decoded (named: `op_errors.explain`).
    """
    import tensorflow as tf

    from . import crops, streams

    h, w, c = shape

    def decode_raw(path: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(tf.io.read_file(path), channels=c, expand_animations=False)
        return tf.cast(image, tf.float32) / 255.0

    def decode(path: tf.Tensor) -> tf.Tensor:
        if crop:
            return crops.eval_crop(decode_raw(path), (h, w))
        # Bilinear resize of an image to its own size returns it unchanged.
        image = tf.image.resize(decode_raw(path), (h, w))
        return tf.ensure_shape(image, (h, w, c))

    def files_ds(split: str) -> tf.data.Dataset:
        files, labels = splits[split]
        paths = tf.constant([str(f) for f in files], dtype=tf.string)
        return tf.data.Dataset.from_tensor_slices((paths, tf.constant(labels, tf.int32)))

    raw_train = files_ds("train").map(lambda p, y: decode(p), num_parallel_calls=tf.data.AUTOTUNE)
    try:  # the first full read of the training images: a damaged one is found here
        stats = streams.image_stats(raw_train)
        standardize = streams.standardizer(*stats)
    except tf.errors.OpError as exc:
        raise DatasetError(explain_data_error(exc, name)) from None
    out = {
        split: files_ds(split).map(
            lambda p, y: (standardize(decode(p)), y), num_parallel_calls=tf.data.AUTOTUNE
        )
        for split in ("train", "validation", "test")
    }
    # Paths, not pixels, wait in the shuffle buffer: decoding happens after shuffling.
    raw = RawImages(files_ds("train"), lambda p: standardize(decode_raw(p))) if crop else None
    return out, raw, stats


def explain_data_error(error: BaseException, dataset: str | None = None) -> str:
    """Our message for an error raised while reading `dataset` (op_errors.py): a TensorFlow
    decoding error in a `folder:` dataset names the file to blame."""
    found = None
    if dataset and dataset.startswith(FOLDER_PREFIX) and is_decode_error(error):
        found = find_undecodable(dataset)
    return explain(error, dataset, found)


@contextmanager
def naming_bad_files(dataset: str | None) -> Iterator[None]:
    """Turns a TensorFlow decoding error raised inside into a DatasetError in our words,
    naming the file of a `folder:` dataset (evaluation and export of a run read its data)."""
    try:
        yield
    except Exception as e:
        if is_decode_error(e):
            raise DatasetError(explain_data_error(e, dataset)) from None
        raise


def find_undecodable(dataset: str, budget: float = DIAGNOSE_SECONDS
                     ) -> tuple[Path, str] | None:
    """The first image of a `folder:` dataset that TensorFlow cannot decode, with the
    decoder's reason; None when none is found within `budget` seconds of decoding."""
    try:
        _, splits, kind = _folder_plan(dataset, 0, 0.1, FileScan(dataset, "skip"))
    except (DatasetError, OSError):
        return None
    if kind != "image":
        return None
    import tensorflow as tf

    deadline = time.monotonic() + budget
    seen: set[Path] = set()
    for files, _labels in splits.values():
        for path in files:
            if path in seen:
                continue
            seen.add(path)
            try:
                tf.io.decode_image(tf.io.read_file(str(path)), expand_animations=False)
            except tf.errors.OpError as e:
                return path, clean_op_message(e.message)
            if time.monotonic() > deadline:
                return None
    return None


# ----------------------------------------------------------------------------------------- npz


def _npz_path(name: str) -> Path:
    raw = name[len(NPZ_PREFIX) :]
    if not raw:
        raise DatasetError(f"{name}: expected npz:PATH, e.g. npz:~/data/mine.npz.")
    path = Path(raw).expanduser()
    if not path.is_file():
        raise DatasetError(
            f"{name}: no file {path}. Give an .npz with arrays x_train, y_train, x_test, y_test."
        )
    return path


def _read_npz(name: str) -> dict[str, np.ndarray]:
    path = _npz_path(name)
    import zipfile
    import zlib

    from . import arraycheck

    # np.load takes any non-zip bytes for a pickle and would say so: name the real problem.
    if not zipfile.is_zipfile(path):
        raise DatasetError(
            f"{name}: {path} is not an .npz archive (empty, truncated or another format). "
            f"Write one with numpy.savez(path, x_train=..., y_train=..., x_test=..., "
            f"y_test=...)."
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in keys]
            if missing:
                raise DatasetError(
                    f"{name}: {path} has no array {missing[0]!r} (it has {sorted(keys)}); "
                    f"expected x_train, y_train, x_test, y_test and optionally x_val, y_val."
                )
            if ("x_val" in keys) != ("y_val" in keys):
                absent = "y_val" if "x_val" in keys else "x_val"
                raise DatasetError(f"{name}: {path} has no array {absent!r} to pair with it.")
            wanted = ["x_train", "y_train", "x_test", "y_test"]
            wanted += ["x_val", "y_val"] if "x_val" in keys else []
            arraycheck.check_headers(name, path, wanted)
            arrays = {k: f[k] for k in wanted}
    except DatasetError:
        raise
    except (zipfile.BadZipFile, zlib.error) as exc:  # e.g. "Bad CRC-32 for file 'y_test.npy'"
        raise DatasetError(f"{name}: {path} is damaged ({exc}); write it again with "
                           f"numpy.savez") from exc
    except MemoryError as exc:
        raise DatasetError(f"{name}: {path}: the arrays do not fit in memory") from exc
    except (OSError, ValueError, EOFError) as exc:
        # ValueError: pickled object arrays, which we refuse to load (they can run code).
        raise DatasetError(f"{name}: cannot read {path} as .npz: {exc}") from exc
    arraycheck.check_arrays(name, path, arrays)
    for split in ("train", "val", "test"):
        if f"x_{split}" in arrays and len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise DatasetError(
                f"{name}: {path}: 'x_{split}' has {len(arrays[f'x_{split}'])} examples but "
                f"'y_{split}' has {len(arrays[f'y_{split}'])}."
            )
    return arrays


def _npz_kind(name: str, arrays: dict[str, np.ndarray]) -> tuple[str, str]:
    """Returns `(task, input_kind)` inferred from the arrays."""
    x, y = arrays["x_train"], arrays["y_train"]
    integer = np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_
    if not (integer or np.issubdtype(x.dtype, np.floating)):
        raise DatasetError(f"{name}: 'x_train' must be numeric, received dtype {x.dtype}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(
            f"{name}: 'y_train' must hold integer class ids, received dtype {y.dtype}."
        )
    if x.ndim == 4:
        kind = "image"
    elif x.ndim == 3:
        kind = "image" if integer else "sequence"
    elif x.ndim == 2:
        kind = "tokens" if integer else "vector"
    else:
        raise DatasetError(
            f"{name}: 'x_train' has shape {x.shape}; expected (N, H, W, C), (N, H, W), "
            f"(N, T, F), (N, F) or (N, T)."
        )
    if kind == "tokens" and y.shape == x.shape:
        return "language_model", kind
    if y.ndim != 1:
        raise DatasetError(
            f"{name}: 'y_train' has shape {y.shape}; expected (N,) class ids (or, for token "
            f"inputs, the shape of 'x_train' for a language model)."
        )
    for key in ("x_test", "x_val"):
        if key in arrays and arrays[key].shape[1:] != x.shape[1:]:
            raise DatasetError(
                f"{name}: {key!r} has examples of shape {arrays[key].shape[1:]} but 'x_train' "
                f"has {x.shape[1:]}."
            )
    return "classification", kind


def _npz_arrays(
    name: str, seed: int, validation_fraction: float
) -> tuple[DatasetInfo, dict[str, tuple[np.ndarray, np.ndarray]]]:
    arrays = _read_npz(name)
    task, kind = _npz_kind(name, arrays)
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    if "x_val" in arrays:
        x_val, y_val = arrays["x_val"], arrays["y_val"]
    else:
        order = np.random.default_rng(seed).permutation(len(x_train))
        n_val = held_out(len(x_train), validation_fraction)
        x_val, y_val = x_train[order[:n_val]], y_train[order[:n_val]]
        x_train, y_train = x_train[order[n_val:]], y_train[order[n_val:]]
    x_test, y_test = arrays["x_test"], arrays["y_test"]
    xs = [x_train, x_val, x_test]
    ys = [y_train, y_val, y_test]
    if kind == "image":
        integer = np.issubdtype(x_train.dtype, np.integer)
        if x_train.ndim == 3:
            xs = [x[..., None] for x in xs]
        # Integer pixels are 0..255 by convention; floats are taken as already scaled.
        xs = [x.astype(np.float32) / 255.0 if integer else x.astype(np.float32) for x in xs]
        xs = list(standardize_channels(*xs))
    all_y = np.concatenate([y.ravel() for y in ys])
    if all_y.size and all_y.min() < 0:
        raise DatasetError(f"{name}: labels must be >= 0, found {int(all_y.min())}.")
    num_classes = vocab = None
    if task == "language_model":
        vocab = int(max(all_y.max(initial=0), max(x.max(initial=0) for x in xs))) + 1
    else:
        num_classes = int(all_y.max(initial=0)) + 1
        if kind == "tokens":
            vocab = int(max(x.max(initial=0) for x in xs)) + 1
    info = DatasetInfo(
        name=name,
        task=task,
        input_kind=kind,
        input_shape=tuple(int(s) for s in xs[0].shape[1:]),
        num_classes=num_classes,
        vocab_size=vocab,
        class_names=None,
        sizes={"train": len(xs[0]), "validation": len(xs[1]), "test": len(xs[2])},
        offline=True,
        description=f"Arrays from {name[len(NPZ_PREFIX) :]}.",
    )
    splits = {
        "train": (xs[0], ys[0]),
        "validation": (xs[1], ys[1]),
        "test": (xs[2], ys[2]),
    }
    return info, splits


def describe_npz(name: str, validation_fraction: float = 0.1) -> DatasetInfo:
    """Returns an .npz dataset's metadata (reads the arrays: .npz has no separate header).

    Raises:
        DatasetError: Missing file, missing key, mismatched lengths or unsupported shapes.
    """
    return _npz_arrays(name, 0, validation_fraction)[0]


def load_npz(
    name: str, *, seed: int = 0, validation_fraction: float = 0.1, limit: int | None = None
) -> Dataset:
    """Loads `npz:PATH` (see the module docstring).

    Raises:
        DatasetError: Missing file, missing key, mismatched lengths or unsupported shapes.
    """
    info, splits = _npz_arrays(name, seed, validation_fraction)
    return in_memory(info, splits, limit)
