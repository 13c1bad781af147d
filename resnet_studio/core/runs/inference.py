"""What a run keeps so that it stands alone for inference: `inference.npz`, a few test
examples exactly as the model received them (after the dataset's preprocessing and
normalisation) with their labels, and `inference.json`, the fingerprint of the test split it
was evaluated on. The input spec, class names and normalisation binding are in run.json
(`binding`) and architecture.json; the tokenizer of text runs in vocabulary.py's files.

Export verifies an export on this sample, so it works with the dataset gone or moved;
evaluation, which needs the whole test split, compares the fingerprint and says when the
data changed since training.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.runs import diskio
from resnet_studio.core.runs.jsonfile import write_json

SAMPLE_NPZ = "inference.npz"
FINGERPRINT_JSON = "inference.json"
SAMPLE_SIZE = 8

PathLike = str | os.PathLike[str]


def first_batch(test_ds: Any) -> tuple[np.ndarray, np.ndarray]:
    """The first (at most 8) examples of a batched test pipeline, as numpy arrays."""
    x, y = next(iter(test_ds))
    return np.asarray(x)[:SAMPLE_SIZE], np.asarray(y)[:SAMPLE_SIZE]


def fingerprint(x: np.ndarray, test_examples: int) -> dict[str, Any]:
    """What identifies a test split cheaply: its size and a hash of its first examples."""
    return {"test_examples": int(test_examples),
            "sample_sha256": hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest(),
            "sample_shape": list(x.shape), "sample_dtype": str(x.dtype)}


def save_sample(run_dir: PathLike, test_ds: Any, test_examples: int) -> None:
    """Writes inference.npz and inference.json (StoreWriteError on a full disk); nothing for
    an empty test split."""
    try:
        x, y = first_batch(test_ds)
    except StopIteration:
        return
    path = Path(run_dir) / SAMPLE_NPZ
    tmp = path.with_name(f".{SAMPLE_NPZ}.tmp.npz")
    with diskio.guarded(path):
        np.savez(tmp, x=x, y=y)
        os.replace(tmp, path)
    write_json(Path(run_dir) / FINGERPRINT_JSON, fingerprint(x, test_examples))


def load_sample(run_dir: PathLike) -> tuple[np.ndarray, np.ndarray] | None:
    """(x, y) stored by `save_sample`, or None (runs from before it existed, or damaged)."""
    try:
        with np.load(Path(run_dir) / SAMPLE_NPZ, allow_pickle=False) as f:
            return f["x"], f["y"]
    except (OSError, ValueError, KeyError):
        return None


def data_changed(run_dir: PathLike, test_ds: Any, test_examples: int) -> str | None:
    """A sentence saying how the test data differs from the run's, or None when it is the
    same (or the run kept no fingerprint)."""
    import json

    try:
        then = json.loads((Path(run_dir) / FINGERPRINT_JSON).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    try:
        x, _ = first_batch(test_ds)
    except StopIteration:
        x = np.zeros((0,), np.float32)
    now = fingerprint(x, test_examples)
    if then.get("test_examples") != now["test_examples"]:
        return (f"the test data changed since training: {then.get('test_examples')} "
                f"examples then, {now['test_examples']} now; these metrics are on the new data")
    if then.get("sample_sha256") != now["sample_sha256"]:
        return ("the test data changed since training (its first examples differ); these "
                "metrics are on the new data")
    return None


def sample_dataset(run_dir: PathLike, binding: dict[str, Any]) -> Any:
    """A tiny in-memory Dataset of the stored sample, described by run.json's `binding`:
    enough to rebuild, load and export the model without the original data. None when the
    run has no sample or no binding."""
    from resnet_studio.core.data.base import Dataset, DatasetInfo

    sample = load_sample(run_dir)
    if sample is None or not isinstance(binding, dict):
        return None
    x, y = sample
    fields = dict(binding)
    fields["input_shape"] = tuple(fields.get("input_shape") or x.shape[1:])
    if fields.get("class_names") is not None:
        fields["class_names"] = tuple(fields["class_names"])
    n = len(x)
    fields["sizes"] = {"train": n, "validation": n, "test": n}
    try:
        info = DatasetInfo(**fields)
    except (TypeError, ValueError):
        return None
    return Dataset(info=info, x_train=x, y_train=y, x_val=x, y_val=y, x_test=x, y_test=y)
