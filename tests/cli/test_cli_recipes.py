"""CLI: the ImageNet presets' input size, with and without a folder of other-sized images,
and the recipe flags."""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from resnet_studio.cli import main


def _summary(capsys, *argv: str) -> dict:
    assert main(["summary", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr()[0].strip().splitlines()[-1])


def test_resnet50_summary_shows_224x224x3_also_bound_to_300x200_images(capsys, tmp_path):
    assert _summary(capsys, "resnet50")["input_shape"] == [None, 224, 224, 3]
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(2):
            pixels = (rng.random((200, 300, 3)) * 255).astype(np.uint8)
            (tmp_path / c / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    bound = _summary(capsys, "resnet50", "--dataset", f"folder:{tmp_path}")
    # Trained with its scale augmentation, resnet50 sees 224×224 crops of these images.
    assert bound["input_shape"] == [None, 224, 224, 3]
    assert bound["output_shape"] == [None, 2]
    # A preset without a crop augmentation takes the images at their own size.
    assert _summary(capsys, "resnet8-digits", "--dataset", f"folder:{tmp_path}"
                    )["input_shape"] == [None, 200, 300, 3]


def test_bad_weight_decay_mode_is_refused_with_exit_2(capsys):
    try:
        code = main(["train", "resnet8-digits", "--weight-decay-mode", "l3"])
    except SystemExit as e:  # argparse refuses an unknown choice
        code = e.code
    assert code == 2
    assert "l3" in capsys.readouterr()[1]
