"""TensorFlow op errors in words a user can act on, naming the file where one is to blame.

TensorFlow reports a file it cannot decode as `{{function_node __wrapped__IteratorGetNext…}}
Error in user-defined function passed to ParallelMapDatasetV2… Invalid PNG. Failed to
initialize decoder. [[{{node decode_image/DecodeImage}}]] [Op:IteratorGetNext]`: no file
name, and internals a user cannot act on. `core.data.filescan` checks every file of a
`folder:` dataset before training, but only by its first and last bytes (a full decode of
every file would cost seconds per thousand files): a file with an image's signature and
ending but damaged in between (or a file with an image's extension that TensorFlow's decoder
still refuses) gets through, and the first read of it fails inside a tf.data pipeline — when
the normalization statistics are computed, in the preview, mid-epoch, in evaluation or in
an export's verification.

`explain(error, dataset, found)` turns such an error into our message; for a `folder:`
dataset, `files.explain_data_error` first finds the file by decoding the dataset's images one
by one (only on this failure path, bounded by `DIAGNOSE_SECONDS`) so the message names it.
Any other op error keeps only its human part (`clean_op_message`). The CLI, the GUI's dialogs
and the run's `error` field all go through here.
"""

from __future__ import annotations

import re
from pathlib import Path

DIAGNOSE_SECONDS = 60.0  # decoding time spent looking for the bad file at most
# Op names that mean "a file's bytes could not be decoded".
_DECODE_OPS = ("DecodeImage", "DecodePng", "DecodeJpeg", "DecodeGif", "DecodeBmp",
               "DecodeAndCropJpeg", "ReadFile")
_DECODE_WORDS = ("Invalid PNG", "Invalid JPEG", "Not a JPEG", "Unknown image file format",
                 "Invalid GIF", "Invalid BMP", "decode_image", "Failed to initialize decoder",
                 "Truncated", "corrupt")
# TensorFlow's framing around the human part of a message.
_NOISE = (
    re.compile(r"\{\{function_node [^}]*\}\}\s*"),
    re.compile(r"\[\[\{\{node [^}]*\}\}\]\]\s*"),
    re.compile(r"\[Op:[A-Za-z0-9_]+\]\s*(name:\s*\S*)?"),
    re.compile(r"Error in user-defined function passed to [A-Za-z0-9_:]+ transformation with "
               r"iterator: [A-Za-z0-9_:]+:\s*"),
    re.compile(r"\s*name:\s*$"),
)


def is_op_error(error: BaseException) -> bool:
    """True for TensorFlow's runtime errors (`tf.errors.OpError` and its subclasses), checked
    without importing TensorFlow."""
    return any(c.__name__ == "OpError" and c.__module__.startswith("tensorflow")
               for c in type(error).__mro__)


def clean_op_message(text: str) -> str:
    """The human part of a TensorFlow message: node names, op tags and iterator chains
    removed, whitespace squeezed."""
    for pattern in _NOISE:
        text = pattern.sub(" ", text)
    text = " ".join(text.split()).strip(" :").rstrip(".")
    return text or "TensorFlow reported an error without a message"


def is_decode_error(error: BaseException) -> bool:
    text = str(error)
    return is_op_error(error) and (any(f"Op:{op}" in text or f"/{op}" in text or
                                       f"__wrapped__{op}" in text for op in _DECODE_OPS)
                                   or any(w in text for w in _DECODE_WORDS))


def explain(error: BaseException, dataset: str | None = None,
            found: tuple[Path, str] | None = None) -> str:
    """Our message for `error` (any exception; non-TensorFlow errors keep their text).

    Args:
        error: What was raised.
        dataset: The dataset being read, when known.
        found: The file to blame and the decoder's reason, when one was found
            (`files.explain_data_error` looks for it in a `folder:` dataset).
    """
    if not is_op_error(error):
        return str(error)
    reason = clean_op_message(str(error))
    if is_decode_error(error):
        where = dataset or "the dataset"
        if found is not None:
            path, why = found
            return (f"{where}: {path} is not an image TensorFlow can decode ({why}). Remove "
                    "or replace the file and try again.")
        return (f"{where}: an image could not be decoded ({reason}). Check the dataset's "
                "files: one is damaged or not an image despite its extension.")
    return f"TensorFlow could not run this: {reason}"
