"""The small residual CNN that compression tests train on the digits: a stem, basic blocks, a
pooled classifier (8×8×1 in, 10 classes, Adam at 0.01). One definition for the tests that need
a trained parent run quickly, and for the subprocess scripts they start."""

from __future__ import annotations

from typing import Any


def tiny_residual_cnn(name: str, *units: dict[str, Any]) -> Any:
    """A spec named ``name``; ``units`` are the basic blocks' params (default: one, 8 filters)."""
    from resnet_studio.core.spec import spec_from_dict

    blocks = [{"type": "basic_block", "params": dict(u)} for u in (units or ({"filters": 8},))]
    return spec_from_dict({
        "name": name, "input": {"kind": "image", "shape": [8, 8, 1]},
        "blocks": [{"type": "conv_stem", "params": {"filters": 8, "kernel_size": 3,
                                                    "stride": 1, "pool": False}},
                   *blocks,
                   {"type": "global_pool", "params": {}},
                   {"type": "classifier_head", "params": {"classes": 10}}],
        "training": {"optimizer": "adam", "learning_rate": 0.01}, "dataset": "digits"})
