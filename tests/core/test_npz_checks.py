"""Bad `npz:` data is refused up front with the array named (exit 2), never an internal
error, a MemoryError or a failure after training (docs/reliability.md, section 4)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.cli import main
from resnet_studio.core.data import DatasetError, load_dataset


def _arrays(**changes: object) -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    arrays = {"x_train": x, "y_train": y, "x_test": x[:10].copy(), "y_test": y[:10].copy()}
    arrays.update(changes)
    return arrays


def _npy(array: np.ndarray, shape: tuple[int, ...] | None = None) -> bytes:
    out = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
              "shape": shape or array.shape}
    np.lib.format.write_array_header_1_0(out, header)
    out.write(array.tobytes())
    return out.getvalue()


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for key, data in members.items():
            z.writestr(f"{key}.npy", data)


def _nan_labels(a):
    y = a["y_train"].astype("float64")
    y[3] = np.nan
    return _arrays(y_train=y)


CASES = {
    "nan_labels": (_nan_labels, r"'y_train' has a non-finite label \(nan\) at index 3"),
    "string_labels": (lambda a: _arrays(y_test=np.array(["cat"] * 10)),
                      r"array 'y_test' has dtype <U3; expected numbers"),
    "float_labels": (lambda a: _arrays(y_test=a["y_test"].astype("float32")),
                     r"'y_test' has float labels \(dtype float32\)"),
    "scalar_x": (lambda a: _arrays(x_train=np.float32(3.0)),
                 r"'x_train' is a single number \(shape \(\)\)"),
    "complex_x": (lambda a: _arrays(x_train=a["x_train"].astype("complex64")),
                  r"array 'x_train' has dtype complex64; .*complex numbers are not supported"),
    "no_train": (lambda a: _arrays(x_train=a["x_train"][:0], y_train=a["y_train"][:0]),
                 r"'x_train' has 0 examples: nothing to train on"),
    "no_test": (lambda a: _arrays(x_test=a["x_test"][:0], y_test=a["y_test"][:0]),
                r"'x_test' has 0 examples: nothing to test on"),
    "2d_y_test": (lambda a: _arrays(y_test=a["y_test"][:, None]),
                  r"'y_test' has shape \(10, 1\) but 'y_train' has \(40,\)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_arrays_are_refused_naming_the_array(tmp_path, case):
    make, message = CASES[case]
    path = tmp_path / f"{case}.npz"
    np.savez(path, **make(_arrays()))
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset(f"npz:{path}")
    assert str(path) in str(info.value)


def test_a_header_claiming_10_to_the_12_elements_is_refused_without_allocating(tmp_path):
    a = _arrays()
    members = {k: _npy(v) for k, v in a.items()}
    members["x_train"] = _npy(a["x_train"], shape=(1_000_000, 1_000_000))
    path = tmp_path / "huge.npz"
    _zip(path, members)
    with pytest.raises(DatasetError, match=r"'x_train': its header says shape \(1000000, "
                                           r"1000000\) \(1,000,000,000,000 values.*damaged"):
        load_dataset(f"npz:{path}")


def test_a_damaged_crc_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "crc.npz"
    np.savez(path, **_arrays())
    data = bytearray(path.read_bytes())
    at = [i for i in range(len(data)) if data.startswith(b"\x93NUMPY", i)][3]  # y_test
    data[at + 140] ^= 0xFF  # a byte of its values, past the 128-byte header
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"crc\.npz is damaged \(Bad CRC-32"):
        load_dataset(f"npz:{path}")


def test_cli_exit_2_no_traceback_and_no_run_folder(tmp_path, capsys):
    path = tmp_path / "nan.npz"
    np.savez(path, **_nan_labels(_arrays()))
    run_dir = tmp_path / "run"
    code = main(["train", "resnet8-digits", "--dataset", f"npz:{path}", "--epochs", "1",
                 "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "non-finite label" in err and "Traceback" not in err
    assert not run_dir.exists()
