"""The Experiments tab's figure numbers, read from run folders: a curve's mean and band over
seeds by epoch, and the gradient norm by depth (geometric mean over steps, then seeds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.core.experiments.curves import epoch_curve, gradient_by_depth
from resnet_studio.core.runs.records import gradient_record


def fake_run(d: Path, losses: list[float | None], layers: list[str] | None = None,
             norms: np.ndarray | None = None) -> Path:
    """A run folder with epoch records (and gradient norms) as the run writer lays them."""
    d.mkdir(parents=True)
    lines = [json.dumps({"kind": "step", "step": 1, "loss": 9.0})]
    lines += [json.dumps({"kind": "epoch", "epoch": i + 1, "train_loss": v})
              for i, v in enumerate(losses)]
    (d / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if layers is not None:
        g = d / "gradients"
        g.mkdir()
        (g / "layers.json").write_text(json.dumps({"layers": layers, "blocks": layers}),
                                       encoding="utf-8")
        rec = np.zeros(len(norms), dtype=gradient_record(len(layers)))
        rec["step"] = np.arange(1, len(norms) + 1)
        rec["norms"] = norms
        (g / "norms.bin").write_bytes(rec.tobytes())
    return d


def test_epoch_curve_is_mean_and_sample_sd_over_the_seeds_that_reached_each_epoch(tmp_path):
    a = fake_run(tmp_path / "s0", [2.0, 1.0, 0.5])
    b = fake_run(tmp_path / "s1", [3.0, 2.0])  # stopped after two epochs
    c = fake_run(tmp_path / "s2", [2.5, None, float("nan")])  # a missing and a NaN value
    curve = epoch_curve([a, b, c], "train_loss")
    assert curve.x.tolist() == [1.0, 2.0, 3.0]
    assert curve.mean == pytest.approx([2.5, 1.5, 0.5])
    assert curve.sd == pytest.approx([np.std([2.0, 3.0, 2.5], ddof=1),
                                      np.std([1.0, 2.0], ddof=1), 0.0])
    assert curve.n.tolist() == [3, 2, 1]
    assert epoch_curve([tmp_path / "missing"], "train_loss").x.size == 0


def test_gradient_by_depth_is_a_geometric_mean_without_the_norm_layers(tmp_path):
    layers = ["stem_conv", "stem_bn", "stage1_1_conv1", "stage1_1_bn2", "head_logits"]
    n0 = np.array([[1.0, 5.0, 10.0, 5.0, 100.0], [100.0, 5.0, 10.0, 5.0, 0.0]], np.float32)
    n1 = np.array([[10.0, 5.0, 1000.0, 5.0, 10.0]], np.float32)
    a = fake_run(tmp_path / "s0", [1.0], layers, n0)
    b = fake_run(tmp_path / "s1", [1.0], layers, n1)
    names, norms = gradient_by_depth([a, b])
    assert names == ["stem_conv", "stage1_1_conv1", "head_logits"]
    # stem: seed 0 geometric mean 10, seed 1 10 -> 10; conv1: 10 and 1000 -> 100;
    # head: the zero norm is left out (log undefined), 100 and 10 -> sqrt(1000).
    assert norms == pytest.approx([10.0, 100.0, 1000 ** 0.5])
    all_names, all_norms = gradient_by_depth([a, b], skip_norm_layers=False)
    assert all_names == layers and all_norms[1] == pytest.approx(5.0)
    assert gradient_by_depth([tmp_path / "none"]) == ([], pytest.approx(np.zeros(0)))
