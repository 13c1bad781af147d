"""What a TFLite file is made of, and the debug strings it does not need.

A TFLite model is a FlatBuffer (tensorflow/lite/schema/schema.fbs). Besides the weights it
stores, per tensor, a name (the TensorFlow op path it came from, often several joined with
`;` after fusion: 100+ characters each), and, per quantized tensor, one float32 scale and one
int64 zero point per channel. For a model as small as resnet8-digits these extras are a
tenth of an int8 file (docs/compression.md measures each part with `size_breakdown`).

Tensor names are debug information: the interpreter addresses tensors by index, and the
signature (`serving_default`: input and output names -> tensor indices) carries the names a
caller uses. `strip_tensor_names` removes them (and the converter's free-text description),
keeping the signature, the metadata (minimum runtime version, conversion options) and every
weight byte. It is TensorFlow's own `tools/flatbuffer_utils.strip_strings` minus the part
that drops the signatures; buffers stay 16-byte aligned, as the schema asks
(`force_align: 16`) and the converter writes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BUFFER_ALIGNMENT = 16
_FILE_IDENTIFIER = b"TFL3"


def _schema() -> Any:
    from tensorflow.lite.python import schema_py_generated

    return schema_py_generated


def _unpack(flatbuffer: bytes) -> Any:
    return _schema().ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)


def _aligned_builder() -> Any:
    import flatbuffers  # a dependency of TensorFlow itself

    class AlignedBuilder(flatbuffers.Builder):
        """Writes byte vectors (the weight buffers) 16-byte aligned, like the converter."""

        def CreateNumpyVector(self, x: np.ndarray) -> int:  # noqa: N802 (flatbuffers API)
            if x.dtype == np.uint8 and x.size:
                self.Prep(BUFFER_ALIGNMENT, x.size)
            return super().CreateNumpyVector(x)

    return AlignedBuilder(1024)


def _pack(model: Any) -> bytes:
    builder = _aligned_builder()
    builder.Finish(model.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output())


def strip_tensor_names(flatbuffer: bytes) -> bytes:
    """The same model without tensor names and description (signatures and metadata kept).

    Args:
        flatbuffer: A TFLite model as written by `tf.lite.TFLiteConverter.convert()`.

    Returns:
        The smaller flatbuffer; every weight and quantization parameter unchanged, so the
        interpreter computes exactly the same outputs.
    """
    model = _unpack(flatbuffer)
    if any(getattr(b, "offset", 0) for b in model.buffers or []):
        return flatbuffer  # >2 GB models keep weights outside the flatbuffer: leave as is
    model.description = None
    for subgraph in model.subgraphs or []:
        for tensor in subgraph.tensors or []:
            tensor.name = None
    return _pack(model)


def size_breakdown(flatbuffer: bytes) -> dict[str, int]:
    """Bytes of a TFLite file by what they hold.

    Returns:
        {"total", "buffers" (constant tensor data: weights, biases, shapes), "quantization"
        (per-channel and per-tensor scales as float32 and zero points as int64),
        "tensor_names", "metadata" (metadata buffers: runtime version, conversion options),
        "structure" (the rest: tensor and operator tables, shapes, signatures, alignment)}.
    """
    model = _unpack(flatbuffer)
    sizes = [0 if b.data is None else len(b.data) for b in model.buffers or []]
    meta_buffers = {m.buffer for m in model.metadata or []}
    quant = names = 0
    for subgraph in model.subgraphs or []:
        for tensor in subgraph.tensors or []:
            names += len(tensor.name or b"")
            q = tensor.quantization
            if q is not None:
                quant += 4 * len(q.scale if q.scale is not None else [])
                quant += 8 * len(q.zeroPoint if q.zeroPoint is not None else [])
    data = sum(s for i, s in enumerate(sizes) if i not in meta_buffers)
    meta = sum(sizes[i] for i in meta_buffers if i < len(sizes))
    total = len(flatbuffer)
    return {"total": total, "buffers": data, "quantization": quant, "tensor_names": names,
            "metadata": meta, "structure": total - data - quant - names - meta}
