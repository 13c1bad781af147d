"""SavedModels of image models that take raw uint8 images.

The `serve` endpoint takes a batch of uint8 images of the model's input size (H, W, C) and
applies the run's preprocessing inside the graph, exactly as training saw its data
(`data/pixels.py`: `x = (raw * scale - mean) / std` per channel); `serve_float` keeps the
model's own input (preprocessed float32) for callers that preprocess themselves. Resizing is
the caller's: the serving function takes the size the model was trained at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.data.pixels import PixelTransform


def export_image_savedmodel(model: Any, path: Path, sample: np.ndarray,
                            pixels: PixelTransform) -> tuple[float, dict[str, Any]]:
    """Writes a SavedModel whose `serve` reads uint8 images; checks it after reloading.

    Args:
        sample: Preprocessed test images; their uint8 pixels (`pixels.invert`) verify the
            export.

    Returns:
        (max |Δ| between the Keras model on the preprocessed pixels and the reloaded
        SavedModel on the raw uint8 pixels, details for the export result).
    """
    import keras
    import tensorflow as tf

    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    scale = tf.constant(pixels.scale, tf.float32)
    mean = tf.constant(np.asarray(pixels.mean, np.float32))
    std = tf.constant(np.asarray(pixels.std, np.float32))
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(images: tf.Tensor) -> tf.Tensor:
        x = (tf.cast(images, tf.float32) * scale - mean) / std
        return model(x, training=False)

    def serve_float(x: tf.Tensor) -> tf.Tensor:
        return model(x, training=False)

    archive.add_endpoint("serve", serve,
                         input_signature=[tf.TensorSpec([None, *shape], tf.uint8)])
    archive.add_endpoint("serve_float", serve_float,
                         input_signature=[tf.TensorSpec([None, *shape], tf.float32)])
    archive.write_out(str(path), verbose=False)
    loaded = tf.saved_model.load(str(path))
    raw = pixels.invert(sample)
    expected = keras.ops.convert_to_numpy(model(pixels.apply(raw), training=False))
    got = loaded.serve(tf.constant(raw)).numpy()
    diff = float(np.max(np.abs(expected - got))) if expected.size else 0.0
    return diff, {"endpoint": "serve", "input": f"uint8 images {shape}",
                  "preprocessing": pixels.to_dict(),
                  "signatures": sorted(loaded.signatures.keys())}
