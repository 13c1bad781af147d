"""Run by tests/core/test_pruning.py in a subprocess (the CPU is split into two logical
devices before TensorFlow starts, which the pytest process must not see).

Trains a tiny parent on one device, then fine-tunes it pruned to 70 % (one-shot) and to 60 %
(gradual) under MirroredStrategy over CPU:0 and CPU:1; prints one JSON line: the
fine-tunings' status and replicas, how many pruned weights are non-zero afterwards (must be
0), how far the kept weights moved (must be > 0: the run did train), and the gradual run's
zero count.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np


def gradual(parent: object, root: Path) -> dict:
    """Gradual schedule under the strategy: masks recomputed by the callback (cross-replica
    context) while the constraint holds them in every replica's step."""
    from resnet_studio.core.compress.prune import prune_run
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.sparsity.masks import sparsity_report
    from resnet_studio.core.training.restore import load_run_model

    outcome = prune_run(parent, 0.6, schedule="gradual", fine_tune_epochs=2,
                        run_dir=root / "gradual", strategy="mirrored", devices="CPU:0,CPU:1")
    trainer, _ = load_run_model(read_run(root / "gradual"))
    report = sparsity_report({v.path: v.numpy() for v in trainer.model.trainable_weights})
    return {"status": outcome.status, "error": outcome.error, "zeros": report["zeros"],
            "prunable": report["prunable"]}


def main() -> None:
    from resnet_studio.core.training.distribute import make_distribution

    make_distribution("mirrored", "CPU:0,CPU:1")  # splits the CPU while TF has not started
    from resnet_studio.core.compress.prune import ParentModel, prune_run
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.training.restore import load_run_model
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig
    from tests.tiny_models import tiny_residual_cnn

    spec = tiny_residual_cnn("prune-mirrored")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = TrainingConfig.from_sources(spec.training, {"epochs": 1, "batch_size": 32,
                                                          "seed": 3})
        parent_result = Trainer(spec, "digits", cfg, run_dir=root / "parent", limit=256).run()
        parent = ParentModel(root / "parent")
        masks = parent.masks(0.7, False, "global")
        outcome = prune_run(parent, 0.7, fine_tune_epochs=2, run_dir=root / "pruned",
                            strategy="mirrored", devices="CPU:0,CPU:1")
        trainer, _ = load_run_model(read_run(root / "pruned"))
        after = {v.path: v.numpy() for v in trainer.model.trainable_weights}
        nonzero = sum(int(np.count_nonzero(after[p][m == 0])) for p, m in masks.items())
        moved = max(float(np.abs(after[p][m == 1] - parent.values[p][m == 1]).max())
                    for p, m in masks.items())
        meta = json.loads((root / "pruned" / "run.json").read_text())
        print(json.dumps({"parent": parent_result.status, "status": outcome.status,
                          "error": outcome.error, "replicas": (meta.get("distribution") or {}).get("replicas"),
                          "strategy": (meta.get("config") or {}).get("strategy"),
                          "pruned": int(sum(int((m == 0).sum()) for m in masks.values())),
                          "nonzero_pruned": nonzero, "kept_moved": moved,
                          "measured_sparsity": outcome.measured_sparsity,
                          "gradual": gradual(parent, root)}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
