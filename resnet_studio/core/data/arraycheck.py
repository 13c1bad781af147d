"""Checks of an `npz:` dataset's arrays, so bad data is refused up front with the array named
(exit 2) instead of an internal error, a 3.6 TiB MemoryError, or a failure after training.

Two stages:
- `check_headers` reads only each array's .npy header inside the archive (a few hundred
  bytes) and refuses a header whose shape does not fit the bytes stored (a damaged or
  forged file claiming 10^12 elements would otherwise make numpy allocate them), object
  arrays (they need pickle, which can run code) and dtypes that are not numbers.
- `check_arrays` looks at the loaded arrays: every array has an example axis, inputs are
  real numbers, labels are whole non-negative numbers of the right shape (no NaN, no text),
  and train and test are not empty.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .base import DatasetError


def check_headers(name: str, path: Path, keys: list[str]) -> None:
    """Refuses arrays whose .npy header is damaged, too large for its bytes, or not numeric.

    Raises:
        DatasetError: naming the array.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            for key in keys:
                try:
                    info = archive.getinfo(f"{key}.npy")
                except KeyError:
                    continue  # np.load reports the missing array
                with archive.open(info) as member:
                    _check_header(name, path, key, member, info.file_size)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise DatasetError(f"{name}: {path} is damaged ({e}); write it again with "
                           "numpy.savez") from None


def _check_header(name: str, path: Path, key: str, member: object, stored: int) -> None:
    fmt = np.lib.format
    where = f"{name}: {path}: array {key!r}"
    try:
        version = fmt.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(member)
        else:
            shape, _, dtype = fmt.read_array_header_2_0(member)
        header_bytes = member.tell()  # type: ignore[attr-defined]
    except (ValueError, OSError, EOFError) as e:
        raise DatasetError(f"{where} has a damaged header ({e})") from None
    if dtype.hasobject:
        raise DatasetError(f"{where} holds Python objects (dtype {dtype}), which can only be "
                           "read with pickle; store numbers (e.g. int64 labels, float32 "
                           "inputs)")
    if dtype.kind not in "biuf":
        raise DatasetError(f"{where} has dtype {dtype}; expected numbers (integer or float"
                           f"{'; complex numbers are not supported' if dtype.kind == 'c' else ''}"
                           ")")
    elements = 1
    for d in shape:
        elements *= int(d)
    needed = elements * dtype.itemsize
    if needed != stored - header_bytes:
        raise DatasetError(f"{where}: its header says shape {tuple(shape)} ({elements:,} "
                           f"values, {needed:,} bytes) but the file holds "
                           f"{max(0, stored - header_bytes):,} bytes: the file is damaged")


def check_arrays(name: str, path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Refuses arrays that cannot be a dataset (see the module docstring).

    Raises:
        DatasetError: naming the array and what is wrong with it.
    """
    where = f"{name}: {path}:"
    for key, a in arrays.items():
        if a.ndim == 0:
            raise DatasetError(f"{where} {key!r} is a single number (shape ()); expected one "
                               "entry per example along the first axis")
        if np.iscomplexobj(a):
            raise DatasetError(f"{where} {key!r} holds complex numbers; expected real ones")
    for split in ("train", "val", "test"):
        y = arrays.get(f"y_{split}")
        if y is None:
            continue
        key = f"y_{split}"
        if y.dtype.kind == "f":
            bad = ~np.isfinite(y)
            if bad.any():
                i = int(np.flatnonzero(bad.ravel())[0])
                raise DatasetError(f"{where} {key!r} has a non-finite label ({y.ravel()[i]}) at "
                                   f"index {i}; labels are class ids 0, 1, 2, …")
            raise DatasetError(f"{where} {key!r} has float labels (dtype {y.dtype}); labels are "
                               "whole class ids: store them as integers (y.astype('int64'))")
        if y.dtype.kind not in "biu":
            raise DatasetError(f"{where} {key!r} has dtype {y.dtype}; labels are integer "
                               "class ids")
    y_train = arrays["y_train"]
    for split in ("val", "test"):
        y = arrays.get(f"y_{split}")
        if y is not None and y.ndim != y_train.ndim:
            raise DatasetError(f"{where} 'y_{split}' has shape {y.shape} but 'y_train' has "
                               f"{y_train.shape}; both must be (N,) class ids (or token "
                               "windows like 'x' for a language model)")
    for key in ("x_train", "x_test"):
        if len(arrays[key]) == 0:
            what = "train on" if key == "x_train" else "test on"
            raise DatasetError(f"{where} {key!r} has 0 examples: nothing to {what}")
