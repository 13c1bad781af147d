"""A damaged image met DURING a run (not in the check before training) ends it the way one
met before training does: our message naming the file, exit 2, the run folder `failed` with
that message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.cli import main
from resnet_studio.core.runs import read_run
from tests.core.test_op_errors import NOISE


def _png(path: Path, value: int) -> None:
    import tensorflow as tf

    path.write_bytes(tf.io.encode_png(np.full((8, 8, 1), value, np.uint8)).numpy())


def _folder(root: Path, damaged_split: str, count: int) -> Path:
    """train/ and `damaged_split`/ with two classes of 8×8 PNGs (`count` per class in
    `damaged_split`); its last file of class b keeps a PNG's signature and ending (the byte
    checks before training pass it) but is damaged in between, so only decoding it fails."""
    for split, n in (("train", 6), (damaged_split, count)):
        for c in ("a", "b"):
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for k in range(n):
                _png(root / split / c / f"{k:02d}.png", (40 * k + (c == "b") * 10) % 256)
    bad = root / damaged_split / "b" / "z-late.png"
    good = (root / "train" / "a" / "00.png").read_bytes()
    bad.write_bytes(good[:16] + bytes(range(60)) + good[-12:])
    return bad


# Where the damaged image is met: validation/ among the histograms' probe examples (read as
# fit begins), validation/ after them (81st of 81: Keras's validation at the epoch's end),
# test/ (evaluation after training), train/ (a training batch).
@pytest.mark.slow
@pytest.mark.parametrize("split,count", [("validation", 3), ("validation", 40), ("test", 3),
                                         ("train", 6)])
def test_a_damaged_image_met_mid_run_exits_2_naming_it(capsys, monkeypatch, tmp_path, split,
                                                      count):
    from resnet_studio.core.training.histograms import PROBE_EXAMPLES

    if split == "validation" and count > 3:  # the damaged one lies beyond the examples the histograms' probe reads
        assert 2 * count >= PROBE_EXAMPLES
    bad = _folder(tmp_path / "ds", split, count)
    if split == "train":
        # The normalization statistics read the first 2,000 training images before training
        # (streams.STATS_EXAMPLES): a damaged one among them is found there. Reading none
        # stands for a damaged image after the first 2,000, met in a later batch.
        from resnet_studio.core.data import streams

        real = streams.image_stats
        monkeypatch.setattr(streams, "image_stats", lambda images, *_: real(images, 0))
    code = main(["train", "resnet8-digits", "--dataset", f"folder:{tmp_path / 'ds'}",
                 "--epochs", "1", "--batch-size", "4", "--run-dir", str(tmp_path / "run"),
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert str(bad) in err and "is not an image TensorFlow can decode" in err, err
    assert "Traceback" not in err and not any(n in err for n in NOISE), err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "failed" and str(bad) in result["error"]
    assert result["failure"]["exception"] == "DatasetError"
    # The run folder says the same; it started (the file was met during the run).
    info = read_run(tmp_path / "run")
    assert info.status == "failed" and info.meta["error"] == result["error"]
    assert info.meta["failure"]["exception"] == "DatasetError"
    # Met after the epoch (in evaluation): the epoch is kept; else the epoch did not end.
    assert info.meta["epochs_completed"] == (1 if split == "test" else 0)
