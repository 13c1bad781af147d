"""TensorFlow op errors reach users in our words, naming the file (issue 18, item 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_studio.core.data import DatasetError, explain_data_error, load_dataset
from resnet_studio.core.data.op_errors import clean_op_message, explain, is_op_error

NOISE = ("Op:", "function_node", "{{node", "ParallelMapDatasetV2", "Iterator::")


def _png(path: Path, value: int) -> None:
    import tensorflow as tf

    path.write_bytes(tf.io.encode_png(np.full((8, 8, 1), value, np.uint8)).numpy())


def _folder(root: Path) -> Path:
    """Two classes of small PNGs and one file that passes the byte checks of filescan.py
    (a PNG's signature and ending) but is damaged in between."""
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for k in range(6):
            _png(root / c / f"{k}.png", 40 * k + (c == "b") * 10)
    good = (root / "a" / "0.png").read_bytes()
    (root / "b" / "broken.png").write_bytes(good[:16] + bytes(range(60)) + good[-12:])
    return root


def _decode_error():
    import tensorflow as tf

    try:
        tf.io.decode_image(b"\x89PNG\r\n\x1a\n not really a png")
    except tf.errors.OpError as e:
        return e
    raise AssertionError("TensorFlow decoded garbage")


def test_clean_message_keeps_only_the_human_part():
    e = _decode_error()
    assert is_op_error(e) and not is_op_error(ValueError("x"))
    assert any(n in str(e) for n in NOISE)  # what TensorFlow says
    text = clean_op_message(str(e))
    assert text and not any(n in text for n in NOISE), text
    said = explain(e, "folder:/data")
    assert said.startswith("folder:/data: an image could not be decoded")
    assert not any(n in said for n in NOISE)


def test_loading_a_folder_with_a_damaged_png_names_the_file(tmp_path):
    root = _folder(tmp_path / "ds")
    with pytest.raises(DatasetError) as info:
        load_dataset(f"folder:{root}", seed=0)
    message = str(info.value)
    assert "broken.png" in message and "not an image" in message
    assert not any(n in message for n in NOISE), message
    # The same words for an error met later (mid-epoch, evaluation, export, preview).
    assert "broken.png" in explain_data_error(_decode_error(), f"folder:{root}")


@pytest.mark.slow
def test_cli_train_says_which_file_and_exits_2(tmp_path, capfd):
    """The CLI in this process (no second TensorFlow start-up); capfd reads file descriptor
    2, so an op error printed by TensorFlow's C++ side would be seen too."""
    from resnet_studio.cli import main

    root = _folder(tmp_path / "ds")
    code = main(["train", "resnet8-digits", "--dataset", f"folder:{root}", "--epochs", "1"])
    err = capfd.readouterr().err
    assert code == 2, err
    assert "broken.png" in err and "Traceback" not in err
    assert not any(n in err for n in NOISE), err
