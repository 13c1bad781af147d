"""`tfds:NAME[/CONFIG]`: datasets from TensorFlow Datasets.

Offline first: TFDS left to itself retries a download for minutes when there is no network.
So we look for prepared data with the Google Cloud Storage look-up disabled (instant), and
only when it is missing probe the network with short socket connects before downloading.
The user hears within seconds what to do instead.

Images are scaled to [0, 1] and standardized per channel with statistics of the first
`streams.STATS_EXAMPLES` training images; images of varying size are resized to the
architecture's input size when the caller passes it (`default_image_size`), else to
`VARIABLE_IMAGE_SIZE` (aspect ratio not kept). With a crop geometry (`crop`), evaluation
images are centre crops and training images are cut by the crop augmentations
(`crops.py`). Text inputs become byte-level tokens of length `sequence_length` (default 256;
see `streams.byte_tokens`).

Validation is the last `validation_fraction` of the train split (TFDS prepares shuffled
train files, so the tail is a fair sample); test is the `test` split (for ImageNet, whose
test labels are withheld, its `validation` split), else the dataset's `validation` split,
else (no held-out split at all) the same slice as validation.
Only classification datasets (a `ClassLabel` target) are supported.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

from resnet_studio.core import keras_private
from resnet_studio.core.network import FALLBACK_HOST, network_available

from .base import (
    BYTE_VOCAB_SIZE,
    DEFAULT_TEXT_LENGTH,
    Dataset,
    DatasetError,
    DatasetInfo,
    RawImages,
)
from .splits import held_out

PREFIX = "tfds:"
# Images of varying size (e.g. tf_flowers) are resized to this: small enough to train on a
# CPU, big enough to keep the objects recognisable.
VARIABLE_IMAGE_SIZE = (64, 64)
# Datasets whose `test` split has no labels: their `validation` split is the test set (the
# ImageNet papers report on the 50k validation images).
_UNLABELLED_TEST = frozenset({"imagenet2012", "imagenet2012_subset", "imagenet2012_real"})


def _ref(name: str) -> str:
    name = name.partition("?")[0]  # text feature choices: tfds_text.split_query
    ref = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    if not ref or ref.startswith("/") or ref.endswith("/"):
        raise DatasetError(
            f"{name}: expected tfds:NAME or tfds:NAME/CONFIG, e.g. tfds:cifar10 or "
            f"tfds:mnist_corrupted/shot_noise."
        )
    return ref


def _tfds() -> Any:
    """Imports tensorflow_datasets with the Google Cloud Storage look-up disabled."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DatasetError(
            "tfds: tensorflow-datasets is not installed. Install it with "
            "`pip install tensorflow-datasets`."
        ) from exc
    keras_private.disable_tfds_gcs()  # no look-up of gs://tfds-data: it stalls offline
    return tfds


def _data_dir(data_dir: str | None) -> str | None:
    return data_dir or os.environ.get("TFDS_DATA_DIR") or None


def _builder(name: str, data_dir: str | None) -> Any:
    tfds = _tfds()
    ref = _ref(name)
    try:
        return tfds.builder(ref, data_dir=_data_dir(data_dir))
    except Exception as exc:  # TFDS raises several types (DatasetNotFoundError, ValueError...)
        # TFDS appends its whole catalogue to the message: keep the first line only.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetError(
            f"{name}: TensorFlow Datasets does not know {ref!r} ({reason}). See "
            f"https://www.tensorflow.org/datasets/catalog for names and configs."
        ) from exc


def _download_hosts(builder: Any) -> list[str]:
    """Returns the hosts the builder downloads from, when its checksums file names them."""
    try:
        urls = list((builder.url_infos or {}).keys())
    except Exception:  # Some builders compute URLs lazily or have no checksums file.
        urls = []
    hosts = []
    for url in urls:
        host = urlparse(url).hostname
        if host and host not in hosts:
            hosts.append(host)
    return hosts[:3]


def _offline_error(name: str, builder: Any) -> DatasetError:
    ref = _ref(name)
    return DatasetError(
        f"{name}: no prepared data in {builder.data_dir} and no network. Run "
        f"`tfds build {ref} --data_dir DIR` on a connected machine and copy DIR here, or pass "
        f"--data-dir (or set TFDS_DATA_DIR) to where the prepared data is."
    )


def _ensure_prepared(name: str, builder: Any) -> None:
    if builder.is_prepared():
        return
    # The dataset's own hosts and TFDS's storage, always probed too.
    if not network_available([*_download_hosts(builder), FALLBACK_HOST]):
        raise _offline_error(name, builder)
    try:
        builder.download_and_prepare()
    except Exception as exc:  # Network drops, manual-download datasets, full disks...
        raise DatasetError(
            f"{name}: downloading and preparing failed: {exc}. Check the network and free "
            f"space in {builder.data_dir}, or prepare it elsewhere with `tfds build "
            f"{_ref(name)} --data_dir DIR` and pass --data-dir DIR."
        ) from exc


def _keys(name: str, builder: Any) -> tuple[str, str]:
    """Returns the (input, label) feature keys."""
    tfds = _tfds()
    info = builder.info
    if info.supervised_keys and len(info.supervised_keys) == 2:
        x_key, y_key = info.supervised_keys
        if isinstance(x_key, str) and isinstance(y_key, str):
            return x_key, y_key
    features = info.features
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    if images and labels:
        return images[0], labels[0]
    raise DatasetError(
        f"{name}: no (input, label) pair found in its features {list(features.keys())}; only "
        f"classification datasets with one image, text or tensor input are supported."
    )


def _layout(
    name: str, builder: Any, sequence_length: int | None
) -> tuple[str, str, str, tuple[int, ...], int, tuple[str, ...] | None, int | None]:
    """Returns `(x_key, y_key, input_kind, input_shape, num_classes, class_names, vocab)`."""
    tfds = _tfds()
    x_key, y_key = _keys(name, builder)
    features = builder.info.features
    x_feature, y_feature = features[x_key], features[y_key]
    if not isinstance(y_feature, tfds.features.ClassLabel):
        raise DatasetError(
            f"{name}: its label {y_key!r} is not a class label; only classification datasets "
            f"are supported from TFDS."
        )
    num_classes = int(y_feature.num_classes)
    names = tuple(y_feature.names) if y_feature.names else None
    if isinstance(x_feature, tfds.features.Image):
        h, w, c = x_feature.shape
        if h is None or w is None:
            h, w = VARIABLE_IMAGE_SIZE
        return x_key, y_key, "image", (h, w, c or 3), num_classes, names, None
    if isinstance(x_feature, tfds.features.Text):
        length = sequence_length or DEFAULT_TEXT_LENGTH
        return x_key, y_key, "tokens", (length,), num_classes, names, BYTE_VOCAB_SIZE
    shape = tuple(getattr(x_feature, "shape", ()) or ())
    if isinstance(x_feature, tfds.features.Tensor) and len(shape) in (1, 2) and None not in shape:
        kind = "vector" if len(shape) == 1 else "sequence"
        return x_key, y_key, kind, shape, num_classes, names, None
    raise DatasetError(
        f"{name}: input feature {x_key!r} ({type(x_feature).__name__}, shape {shape}) is not "
        f"supported; TFDS sources must have an image, text or fixed-shape 1-D/2-D tensor input."
    )


def _split_plan(
    builder: Any, validation_fraction: float
) -> tuple[dict[str, str], dict[str, int | None]]:
    """Returns the TFDS split strings of our three splits and their sizes when known.

    An empty string stands for an empty split (no validation data).
    """
    available = {k: int(v.num_examples) for k, v in builder.info.splits.items()}
    if available and "train" not in available:
        raise DatasetError(
            f"tfds:{builder.info.full_name}: has no 'train' split (it has "
            f"{sorted(available)}); only datasets with a train split are supported."
        )
    test = "test" if "test" in available or not available else None
    if test is None and "validation" in available:
        test = "validation"
    if builder.info.name in _UNLABELLED_TEST and "validation" in available:
        test = "validation"  # ImageNet's test labels are withheld (TFDS stores -1)
    n_train = available.get("train")
    if n_train is not None:
        n_val = held_out(n_train, validation_fraction)
        cut = n_train - n_val
        # TFDS refuses empty slices: "" marks an empty split, built as `take(0)` in `load`.
        plan = {"train": f"train[:{cut}]", "validation": f"train[{cut}:]" if n_val else ""}
        sizes: dict[str, int | None] = {"train": cut, "validation": n_val}
    else:
        # Sizes unknown (not prepared yet): percent slices resolve once data exists.
        pct = round(validation_fraction * 100)
        plan = {
            "train": f"train[:{100 - pct}%]",
            "validation": f"train[{100 - pct}%:]" if pct else "",
        }
        sizes = {"train": None, "validation": None}
    if test is None:
        # No held-out split at all: the test set is the validation slice, said in the info.
        plan["test"] = plan["validation"]
        sizes["test"] = sizes["validation"]
    else:
        plan["test"] = test
        sizes["test"] = available.get(test)
    return plan, sizes


def describe(
    name: str,
    data_dir: str | None = None,
    validation_fraction: float = 0.1,
    sequence_length: int | None = None,
) -> DatasetInfo:
    """Returns the metadata of a TFDS dataset without downloading or reading its examples.

    Sizes are -1 when the dataset is not prepared yet (TFDS only learns them by preparing).

    Raises:
        DatasetError: Unknown name or unsupported features.
    """
    builder = _builder(name, data_dir)
    from . import tfds_text

    keys = tfds_text.text_keys(name, builder, _tfds())
    if keys is not None:
        label = builder.info.features[keys[1]]
        _, sizes = _split_plan(builder, validation_fraction)
        return DatasetInfo(
            name=name, task="classification", input_kind="tokens",
            input_shape=(sequence_length or DEFAULT_TEXT_LENGTH,),
            num_classes=int(label.num_classes), vocab_size=BYTE_VOCAB_SIZE,
            class_names=tuple(label.names) if label.names else None,
            sizes={k: (-1 if v is None else v) for k, v in sizes.items()},
            offline=bool(builder.is_prepared()), description=describe_text(builder))
    _, _, kind, shape, num_classes, names, vocab = _layout(name, builder, sequence_length)
    _, sizes = _split_plan(builder, validation_fraction)
    return DatasetInfo(
        name=name,
        task="classification",
        input_kind=kind,
        input_shape=shape,
        num_classes=num_classes,
        vocab_size=vocab,
        class_names=names,
        sizes={k: (-1 if v is None else v) for k, v in sizes.items()},
        offline=bool(builder.is_prepared()),
        description=describe_text(builder),
    )


def load(
    name: str,
    *,
    seed: int = 0,
    validation_fraction: float = 0.1,
    data_dir: str | None = None,
    sequence_length: int | None = None,
    limit: int | None = None,
    image_size: tuple[int, int] | None = None,
    default_image_size: tuple[int, int] | None = None,
    crop: bool = False,
    tokenizer: str | None = None,
    vocab_size: int = 0,
) -> Dataset:
    """Loads a TFDS dataset as streamed, normalized splits (see the module docstring).

    Args:
        name: `tfds:NAME[/CONFIG]`.
        seed: Unused: TFDS splits are fixed slices, kept for a uniform loader signature.
        validation_fraction: Share of the train split used for validation.
        data_dir: Where prepared data lives; else `$TFDS_DATA_DIR`, else TFDS's default.
        sequence_length: Token length for text inputs.
        limit: Cap on each split's size.
        image_size: (H, W) for every image, whatever its own size.
        default_image_size: (H, W) for images of varying size instead of
            `VARIABLE_IMAGE_SIZE` (the architecture's input, when it says one).
        crop: With `image_size`: evaluation crops in `split()` and the encoded training
            images in `raw_train`, for the crop augmentations (`crops.py`).
        tokenizer: Text datasets: `bytes`, `wordpiece` or `preset:PATH` (tfds_text.py).
        vocab_size: WordPiece vocabulary size (0 = the default).

    Raises:
        DatasetError: Unknown name, unsupported features, or data missing with no network.
    """
    del seed
    builder = _builder(name, data_dir)
    from . import tfds_text

    keys = tfds_text.text_keys(name, builder, _tfds())
    if keys is not None:
        _ensure_prepared(name, builder)
        return tfds_text.load_text(
            name, builder, _tfds(), keys, validation_fraction=validation_fraction,
            sequence_length=sequence_length, limit=limit, tokenizer=tokenizer,
            vocab_size=vocab_size, description=describe_text(builder))
    _layout(name, builder, sequence_length)  # Refuse unsupported features before downloading.
    _ensure_prepared(name, builder)
    # Again after preparing: some builders learn their class names while generating.
    x_key, _, kind, shape, num_classes, names, vocab = _layout(name, builder, sequence_length)
    # Imported only now: a missing dataset is reported without paying TensorFlow's import.
    import tensorflow as tf

    from . import crops, streams
    from .pixels import PixelTransform

    plan, _ = _split_plan(builder, validation_fraction)
    x_feature = builder.info.features[x_key]

    def read(split: str) -> tf.data.Dataset:
        if not split:
            return read(plan["train"]).take(0)
        try:
            # Fixed file order and no file shuffling: the same split yields the same order.
            return builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
        except Exception as exc:
            raise DatasetError(f"{name}: cannot read split {split!r}: {exc}") from exc

    raw: RawImages | None = None
    pixels: PixelTransform | None = None
    if kind == "image":
        native = tuple(x_feature.shape[:2])
        if image_size:
            shape = (*image_size, shape[2])
        elif None in native and default_image_size:
            shape = (*default_image_size, shape[2])
        h, w, c = shape
        resize = native != (h, w)
        crop = crop and bool(image_size)

        def to_float(x: tf.Tensor) -> tf.Tensor:
            x = tf.cast(x, tf.float32) / 255.0
            if crop:
                return crops.eval_crop(x, (h, w))
            if resize:
                x = tf.image.resize(x, (h, w))
            return tf.ensure_shape(x, (h, w, c))

        raw_train = read(plan["train"]).map(lambda x, y: to_float(x))
        stats = streams.image_stats(raw_train)
        standardize = streams.standardizer(*stats)
        pixels = PixelTransform.of(1 / 255, *stats)  # exports serve uint8 images with it

        def features(x: tf.Tensor) -> tf.Tensor:
            return standardize(to_float(x))

        if crop:
            # Encoded bytes, not pixels, wait in the shuffle buffer; decoded after it.
            records = builder.as_dataset(
                split=plan["train"], as_supervised=True, shuffle_files=False,
                decoders={x_key: _tfds().decode.SkipDecoding()})
            records, _ = streams.sized(
                records.map(lambda x, y: (x, tf.cast(y, tf.int32))), limit)

            def decode(encoded: tf.Tensor) -> tf.Tensor:
                image = tf.io.decode_image(encoded, channels=c, expand_animations=False)
                return standardize(tf.cast(image, tf.float32) / 255.0)

            raw = RawImages(records, decode)

    elif kind == "tokens":
        length = shape[0]

        def features(x: tf.Tensor) -> tf.Tensor:
            return streams.byte_tokens(x, length)

    else:

        def features(x: tf.Tensor) -> tf.Tensor:
            return tf.ensure_shape(tf.cast(x, tf.float32), shape)

    out: dict[str, tf.data.Dataset] = {}
    sizes: dict[str, int] = {}
    for split in ("train", "validation", "test"):
        ds = read(plan[split]).map(
            lambda x, y: (features(x), tf.cast(y, tf.int32)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        out[split], sizes[split] = streams.sized(ds, limit)
    info = DatasetInfo(
        name=name,
        task="classification",
        input_kind=kind,
        input_shape=shape,
        num_classes=num_classes,
        vocab_size=vocab,
        class_names=names,
        sizes=sizes,
        offline=True,
        description=describe_text(builder),
    )
    return Dataset(info=info, streams=out, raw_train=raw, eval_cropped=raw is not None,
                   pixels=pixels)


def describe_text(builder: Any) -> str:
    """Returns the first paragraph of a builder's description (capped for the GUI)."""
    paragraph = (builder.info.description or "").strip().split("\n\n")[0]
    text = " ".join(paragraph.split())[:500]
    return text or f"TensorFlow Datasets: {builder.info.full_name}"
