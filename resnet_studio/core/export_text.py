"""SavedModels of text models that read raw strings: the tokenizer runs inside the graph.

The `serve` endpoint takes a batch of UTF-8 strings and returns logits; `serve_ids` keeps the
model's own input (token ids) for callers that tokenize themselves. Tokenization in the graph
is the one training used (`core/data/tokenizers.py`):

- bytes: the first `length` UTF-8 bytes, byte b -> b + 1, 0 pads;
- WordPiece (learnt or a preset's): keras-hub's `WordPieceTokenizer` (TensorFlow Text ops),
  the ids cut to `length - 2`, framed by `[CLS]` … `[SEP]`, padded with `[PAD]`.

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
