"""Rebuilding a run's model from its folder: evaluation and export of finished runs."""

from __future__ import annotations

from typing import Any

from resnet_studio.core.data import naming_bad_files
from resnet_studio.core.runs import RunInfo, checkpoint_dir, read_architecture, write_final
from resnet_studio.core.runs.checkpoints import load_checkpoint


def load_run_model(info: RunInfo, checkpoint: str = "last", *,
                   sample_if_data_gone: bool = False) -> tuple[Any, Any]:
    """(compiled MonitoredModel with the checkpoint's weights, loaded Dataset) of a run.

    The architecture comes from architecture.json (already bound to the data) and the
    dataset from run.json, loaded with the run's seed and split settings so the test split
    is the one the run was evaluated on. With `sample_if_data_gone`, a dataset that cannot
    be loaded any more is replaced by the few test examples the run stored
    (runs/inference.py): enough to export, not to evaluate.

    Raises:
        DatasetError: the data cannot be loaded (and no stored sample could stand in).
    """
    from resnet_studio.core.data import DatasetError
    from resnet_studio.core.runs.inference import sample_dataset
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig

    meta = info.meta
    spec = read_architecture(info.dir)
    # Evaluating or exporting needs no strategy: however the run trained (several GPUs, or
    # machines that a TF_CONFIG described), its checkpoint loads on one device.
    cfg = TrainingConfig.from_sources(meta.get("config", {}), {"strategy": "default",
                                                               "devices": ""})
    trainer = Trainer(spec, meta["dataset"], cfg, run_dir=info.dir, limit=meta.get("limit"),
                      data_dir=meta.get("data_dir"), preset=meta.get("preset"))
    try:
        trainer.prepare()
    except DatasetError as e:
        sample = sample_dataset(info.dir, meta.get("binding")) if sample_if_data_gone else None
        if sample is None:
            raise DatasetError(f"{info.dir}: the run's data cannot be loaded: {e}") from None
        trainer = Trainer(spec, meta["dataset"], cfg, run_dir=info.dir, data=sample,
                          preset=meta.get("preset"))
        trainer.prepare()
    ckpt = checkpoint_dir(info.dir, checkpoint)
    if not ckpt.exists():
        raise FileNotFoundError(f"{info.dir}: no checkpoint '{checkpoint}' (the run ended "
                                "before its first epoch)")
    load_checkpoint(ckpt, trainer.model)
    return trainer, trainer.data


def evaluate_run(info: RunInfo, notes: list[str] | None = None) -> dict[str, Any]:
    """Evaluates the last checkpoint on the test split; writes the run's final metrics.

    Args:
        notes: receives a sentence when the test data differs from the run's (size, or its
            first examples), so the caller can say the metrics are on other data.
    """
    from resnet_studio.core.runs.inference import data_changed
    from resnet_studio.core.training.evaluation import evaluate

    trainer, data = load_run_model(info)
    with naming_bad_files(info.meta.get("dataset")):  # a damaged image: named, exit 2
        changed = data_changed(info.dir, trainer.test_ds, data.info.sizes.get("test", -1))
        if changed and notes is not None:
            notes.append(changed)
        test = evaluate(trainer.model, trainer.test_ds, data.info.task, data.info.num_classes)
    write_final(info.dir, {"test": test, "run_id": info.id})
    return test


def export_run(info: RunInfo, fmt: str, out: str, *, quantize: bool = False,
               overwrite: bool = False) -> Any:
    """Exports the run's model (last checkpoint) in `fmt`, verified on a test batch."""
    import numpy as np

    from resnet_studio.core.export import export_model
    from resnet_studio.core.runs.vocabulary import load_tokenizer

    trainer, data = load_run_model(info, sample_if_data_gone=True)
    with naming_bad_files(info.meta.get("dataset")):  # a damaged image: named, exit 2
        x, _ = next(iter(trainer.test_ds))
    sample = np.asarray(x)[:8]
    # Text runs: the SavedModel reads raw strings with the run's own tokenizer.
    tokenizer = load_tokenizer(info.dir)
    texts = (data.texts or {}).get("test", [])[:8]
    # Export the plain functional graph (no custom train_step): it is what serving needs.
    return export_model(trainer.built.model, fmt, out, sample=sample, quantize=quantize,
                        overwrite=overwrite, spec_name=trainer.spec.name,
                        tokenizer=tokenizer, texts=texts,
                        pixels=getattr(data, "pixels", None))  # images: serve uint8
