"""SavedModels of text models that read raw strings: the tokenizer runs inside the graph.

The `serve` endpoint takes a batch of UTF-8 strings and returns logits; `serve_ids` keeps the
model's own input (token ids) for callers that tokenize themselves. Tokenization in the graph
is the one training used (`core/data/tokenizers.py`):

- bytes: the first `length` UTF-8 bytes, byte b -> b + 1, 0 pads;
- WordPiece (learnt or a preset's): keras-hub's `WordPieceTokenizer` (TensorFlow Text ops),
  the ids cut to `length - 2`, framed by `[CLS]` … `[SEP]`, padded with `[PAD]`.

Sentence pairs (a run on `glue/mrpc`, … whose tokenizer says `pair`): `serve` takes two
string batches, `text_a` and `text_b`, and builds `[CLS] a [SEP] b [SEP]` in the graph, the
longer text cut first exactly as the data was (`tfds_text.encode_pairs`); the segment ids
(0 through the first `[SEP]`, 1 after) are derived from the ids inside the model, as in
training.

Loading such a SavedModel needs TensorFlow and, for WordPiece, `import tensorflow_text` (it
registers the ops the tokenizer uses); nothing of Keras or of this project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.data.tokenizers import CLS_ID, PAD_ID, SEP_ID, Tokenizer


def _graph_tokenize(tokenizer: Tokenizer, length: int) -> Any:
    """A TensorFlow function: string batch (N,) -> int32 ids (N, length), as `encode` does."""
    import tensorflow as tf

    if tokenizer.kind == "bytes":
        def tokenize(texts: tf.Tensor) -> tf.Tensor:
            raw = tf.io.decode_raw(texts, tf.uint8, fixed_length=length)
            n = tf.minimum(tf.strings.length(texts), length)
            mask = tf.sequence_mask(n, length)
            return tf.where(mask, tf.cast(raw, tf.int32) + 1, 0)

        return tokenize
    layer = tokenizer.layer()
    cls = tokenizer.special_id("[CLS]", CLS_ID)
    sep = tokenizer.special_id("[SEP]", SEP_ID)
    pad = tokenizer.special_id("[PAD]", PAD_ID)

    def tokenize(texts: tf.Tensor) -> tf.Tensor:
        ids = tf.cast(layer(texts), tf.int32)[:, : length - 2]
        n = tf.shape(texts)[0]
        cls_col = tf.RaggedTensor.from_tensor(tf.fill([n, 1], cls))
        sep_col = tf.RaggedTensor.from_tensor(tf.fill([n, 1], sep))
        framed = tf.concat([cls_col, ids, sep_col], axis=1)
        return framed.to_tensor(default_value=pad, shape=[None, length])

    return tokenize


def _pair_lengths(la: Any, lb: Any, budget: int) -> tuple[Any, Any]:
    """Lengths kept of two texts that must share `budget` tokens, longest cut first.

    The closed form of BERT's loop (pop from `a` while len(a) >= len(b), else from `b`,
    until they fit; `encode_pairs`): a text shorter than its half keeps all of it, the
    other takes the rest; else `a` keeps floor(budget / 2) and `b` the remainder.
    """
    import tensorflow as tf

    half_a, half_b = budget // 2, budget - budget // 2
    keep_a = tf.minimum(la, tf.maximum(budget - lb, half_a))
    keep_b = tf.minimum(lb, tf.maximum(budget - la, half_b))
    return keep_a, keep_b


def _graph_pair_tokenize(tokenizer: Tokenizer, length: int) -> Any:
    """A TensorFlow function: two string batches (N,) -> int32 ids (N, length) framed as
    `[CLS] a [SEP] b [SEP]`, as `tfds_text.encode_pairs` does."""
    import tensorflow as tf

    layer = tokenizer.layer()
    cls = tokenizer.special_id("[CLS]", CLS_ID)
    sep = tokenizer.special_id("[SEP]", SEP_ID)
    pad = tokenizer.special_id("[PAD]", PAD_ID)

    def tokenize(text_a: tf.Tensor, text_b: tf.Tensor) -> tf.Tensor:
        a, b = tf.cast(layer(text_a), tf.int32), tf.cast(layer(text_b), tf.int32)
        keep_a, keep_b = _pair_lengths(a.row_lengths(), b.row_lengths(), length - 3)
        a = tf.ragged.boolean_mask(a, tf.ragged.range(a.row_lengths()) < keep_a[:, None])
        b = tf.ragged.boolean_mask(b, tf.ragged.range(b.row_lengths()) < keep_b[:, None])
        n = tf.shape(text_a)[0]
        cls_col = tf.RaggedTensor.from_tensor(tf.fill([n, 1], cls))
        sep_col = tf.RaggedTensor.from_tensor(tf.fill([n, 1], sep))
        framed = tf.concat([cls_col, a, sep_col, b, sep_col], axis=1)
        return framed.to_tensor(default_value=pad, shape=[None, length])

    return tokenize


def split_pairs(texts: list[str]) -> tuple[list[str], list[str]]:
    """The two texts of each "a [SEP] b" (how pair datasets keep their texts)."""
    from resnet_studio.core.data.tfds_text import PAIR_JOIN

    parts = [t.split(PAIR_JOIN, 1) for t in texts]
    return [p[0] for p in parts], [p[1] if len(p) > 1 else "" for p in parts]


def export_text_savedmodel(model: Any, path: Path, tokenizer: Tokenizer,
                           texts: list[str]) -> tuple[float, dict[str, Any]]:
    """Writes a SavedModel whose `serve` reads strings; checks it after reloading.

    Returns:
        (max |Δ| between the Keras model on `tokenizer.encode(texts)` and the reloaded
        SavedModel on the raw `texts`, details for the export result).
    """
    import keras
    import tensorflow as tf

    length = int(model.inputs[0].shape[1])
    if tokenizer.pair:
        return _export_pairs(model, path, tokenizer, texts, length)
    tokenize = _graph_tokenize(tokenizer, length)
    archive = keras.export.ExportArchive()
    archive.track(model)
    if tokenizer.kind != "bytes":
        layer = tokenizer.layer()
        if not layer.built:  # a layer is tracked once built; a first call builds it
            layer(texts[:1])
        archive.track(layer)

    def serve(texts: tf.Tensor) -> tf.Tensor:
        return model(tokenize(texts), training=False)

    def serve_ids(ids: tf.Tensor) -> tf.Tensor:
        return model(ids, training=False)

    archive.add_endpoint("serve", serve, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.add_endpoint("serve_ids", serve_ids,
                         input_signature=[tf.TensorSpec([None, length], tf.int32)])
    archive.write_out(str(path), verbose=False)
    loaded = tf.saved_model.load(str(path))
    expected = keras.ops.convert_to_numpy(model(tokenizer.encode(texts, length), training=False))
    got = loaded.serve(tf.constant(texts)).numpy()
    diff = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    return diff, {"endpoint": "serve", "input": "strings", "tokenizer": tokenizer.kind,
                  "sequence_length": length, "signatures": sorted(loaded.signatures.keys())}


def _export_pairs(model: Any, path: Path, tokenizer: Tokenizer, texts: list[str], length: int
                  ) -> tuple[float, dict[str, Any]]:
    """`export_text_savedmodel` for sentence pairs: `serve(text_a, text_b)`."""
    import keras
    import tensorflow as tf

    from resnet_studio.core.data.tfds_text import encode_pairs

    tokenize = _graph_pair_tokenize(tokenizer, length)
    first, second = split_pairs(texts)
    archive = keras.export.ExportArchive()
    archive.track(model)
    layer = tokenizer.layer()
    if not layer.built:
        layer(first[:1])
    archive.track(layer)

    def serve(text_a: tf.Tensor, text_b: tf.Tensor) -> tf.Tensor:
        return model(tokenize(text_a, text_b), training=False)

    def serve_ids(ids: tf.Tensor) -> tf.Tensor:
        return model(ids, training=False)

    strings = tf.TensorSpec([None], tf.string)
    archive.add_endpoint("serve", serve, input_signature=[strings, strings])
    archive.add_endpoint("serve_ids", serve_ids,
                         input_signature=[tf.TensorSpec([None, length], tf.int32)])
    archive.write_out(str(path), verbose=False)
    loaded = tf.saved_model.load(str(path))
    ids = encode_pairs(tokenizer, first, second, length)
    expected = keras.ops.convert_to_numpy(model(ids, training=False))
    got = loaded.serve(tf.constant(first), tf.constant(second)).numpy()
    diff = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    return diff, {"endpoint": "serve", "input": "string pairs (text_a, text_b)",
                  "tokenizer": tokenizer.kind, "sequence_length": length,
                  "signatures": sorted(loaded.signatures.keys())}
