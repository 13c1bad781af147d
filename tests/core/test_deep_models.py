"""Depth: the builder takes thousands of blocks in a row (ResNet-1202, He et al. 2016 §4.2)
without Python recursion proportional to depth; `validate` accepts exactly what builds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_studio.core import graph_order
from resnet_studio.core.builder import build_model, summarize
from resnet_studio.core.presets import load_preset
from resnet_studio.core.spec import spec_from_dict

ROOT = Path(__file__).resolve().parents[2]
DEPTH = 1200  # sequential blocks; Keras's recursive graph walk fails beyond ~1,000 nodes


def _deep_spec(depth: int = DEPTH) -> dict:
    blocks = [{"type": "dense", "params": {"units": 8}}]
    blocks += [{"type": "activation", "params": {"function": "relu"}}] * depth
    blocks += [{"type": "classifier_head", "params": {"classes": 3}}]
    return {"schema_version": 1, "name": "deep", "input": {"kind": "vector", "shape": [4]},
            "blocks": blocks}


def test_iterative_graph_order_equals_keras_recursive_one():
    built = build_model(load_preset("resnet20-cifar"))  # branches: shortcuts and adds
    model = built.model
    assert graph_order._keras_build_map is not None
    ours = graph_order.build_map(model.inputs, model.outputs)
    theirs = graph_order._keras_build_map(model.inputs, model.outputs)
    assert [id(n) for n in ours[0]] == [id(n) for n in theirs[0]]
    assert {id(k): v for k, v in ours[1].items()} == {id(k): v for k, v in theirs[1].items()}
    assert len(ours[0]) > 60


@pytest.mark.slow
def test_thousands_of_sequential_blocks_build_and_validate(tmp_path):
    spec = spec_from_dict(_deep_spec(), "deep")
    built = build_model(spec)
    assert len(built.model.layers) >= DEPTH
    assert summarize(spec).total_params == built.summary.total_params
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(_deep_spec()))
    proc = subprocess.run([sys.executable, "-m", "resnet_studio", "validate", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0 and "valid" in proc.stdout, proc.stderr[-1500:]


@pytest.mark.slow
def test_resnet1202_has_table_6_parameter_count_and_1202_weighted_layers():
    spec = load_preset("resnet1202-cifar")
    summary = summarize(spec)
    # He et al. 2016, Table 6: 19.4M parameters.
    assert abs(summary.total_params - 19.4e6) / 19.4e6 < 0.01
    convs = sum(1 for b in summary.flat_blocks() for name in b.layers
                if name.endswith("conv") or "_conv" in name)
    assert convs == 6 * 200 + 1  # + the classifier: 6n + 2 weighted layers
