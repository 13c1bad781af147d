"""Rebuilding a run's model from its folder: evaluation and export of finished runs."""

from __future__ import annotations

from typing import Any

from resnet_studio.core.runs import RunInfo, checkpoint_dir, read_architecture, write_final
from resnet_studio.core.runs.checkpoints import load_checkpoint


def load_run_model(info: RunInfo, checkpoint: str = "last") -> tuple[Any, Any]:
    """(compiled MonitoredModel with the checkpoint's weights, loaded Dataset) of a run.

    The architecture comes from architecture.json (already bound to the data) and the
    dataset from run.json, loaded with the run's seed and split settings so the test split
    is the one the run was evaluated on.
    """
    from resnet_studio.core.training.config import TrainingConfig
    from resnet_studio.core.training.trainer import Trainer

    meta = info.meta
    spec = read_architecture(info.dir)
    # Evaluating or exporting needs no strategy: however the run trained (several GPUs, or
    # machines that a TF_CONFIG described), its checkpoint loads on one device.
    cfg = TrainingConfig.from_sources(meta.get("config", {}), {"strategy": "default",
                                                               "devices": ""})
    trainer = Trainer(spec, meta["dataset"], cfg, run_dir=info.dir, limit=meta.get("limit"),
                      data_dir=meta.get("data_dir"), preset=meta.get("preset"))
    trainer.prepare()
    ckpt = checkpoint_dir(info.dir, checkpoint)
    if not ckpt.exists():
        raise FileNotFoundError(f"{info.dir}: no checkpoint '{checkpoint}' (the run ended "
                                "before its first epoch)")
    load_checkpoint(ckpt, trainer.model)
    return trainer, trainer.data


def evaluate_run(info: RunInfo) -> dict[str, Any]:
    """Evaluates the last checkpoint on the test split; writes the run's final metrics."""
    from resnet_studio.core.training.evaluation import evaluate

    trainer, data = load_run_model(info)
    test = evaluate(trainer.model, trainer.test_ds, data.info.task, data.info.num_classes)
    write_final(info.dir, {"test": test, "run_id": info.id})
    return test


def export_run(info: RunInfo, fmt: str, out: str, *, quantize: bool = False,
               overwrite: bool = False) -> Any:
    """Exports the run's model (last checkpoint) in `fmt`, verified on a test batch."""
    import numpy as np

    from resnet_studio.core.export import export_model
    from resnet_studio.core.runs.vocabulary import load_tokenizer

    trainer, data = load_run_model(info)
    x, _ = next(iter(trainer.test_ds))
    sample = np.asarray(x)[:8]
    # Text runs: the SavedModel reads raw strings with the run's own tokenizer.
    tokenizer = load_tokenizer(info.dir)
    texts = (data.texts or {}).get("test", [])[:8]
    # Export the plain functional graph (no custom train_step): it is what serving needs.
    return export_model(trainer.built.model, fmt, out, sample=sample, quantize=quantize,
                        overwrite=overwrite, spec_name=trainer.spec.name,
                        tokenizer=tokenizer, texts=texts)
