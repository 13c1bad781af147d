"""Lesion study: delete residual units of a trained network at test time.

Veit, Wilber, Belongie. Residual Networks Behave Like Ensembles of Relatively Shallow
Networks. NeurIPS 2016. arXiv:1605.06431. Deleting one unit of a trained ResNet barely changes
its test error, deleting several degrades it smoothly, while deleting one layer of a plain
network destroys it: a residual network acts like a collection of paths of many lengths, not
like one deep chain.

How. The run's architecture is rebuilt with a BranchGate on every removable unit
(`build_model(..., lesion_gates=True)`), the trained weights are copied in by layer name, and
each lesion sets some gates to 0:
- residual unit, y = F(x) + s(x): the branch F is removed and the shortcut s kept as it is
  (a projection or zero-padding shortcut stays; in a v1 block the ReLU after the addition
  stays too, and is the identity on the already rectified x);
- plain unit, y = F(x): replaced by the identity where F keeps the shape of x; units that
  change the shape (a stride, more channels) cannot be deleted and are reported as skipped.
BatchNormalization uses its trained running statistics (inference mode), as in the paper;
nothing is retrained and the run's files are not modified.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from resnet_studio.core.geometry.runmodel import (
    CancelCheck,
    GeometryError,
    Progress,
    RunModel,
    check_cancel,
    copy_weights,
    cross_entropy,
    never,
    no_progress,
    open_run,
    split_arrays,
)

VEIT_2016 = ("Veit, Wilber, Belongie. Residual Networks Behave Like Ensembles of Relatively "
             "Shallow Networks. NeurIPS 2016. arXiv:1605.06431")
EVAL_BATCH = 256


@dataclass
class BlockLesion:
    """Test metrics with one unit deleted. `drop` = baseline accuracy − this accuracy."""

    block: str
    stage: str
    accuracy: float
    loss: float
    drop: float


@dataclass
class KPoint:
    """k random units deleted at once, `draws` times: mean and sample sd of the accuracy."""

    k: int
    mean: float
    sd: float
    draws: int
    loss_mean: float


@dataclass
class LesionResult:
    """A lesion study of one run (see the module docstring)."""

    run_dir: str
    residual: bool
    baseline: dict[str, float]
    blocks: list[BlockLesion]
    skipped: list[str]
    k_curve: list[KPoint]
    examples: int
    draws: int
    seed: int
    seconds: float = 0.0
    units: list[str] = field(default_factory=list)  # every unit, deleted or skipped, in order
    citation: str = VEIT_2016
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mean_drop(self) -> float | None:
        """Mean accuracy drop over the single-unit lesions (None when no unit is removable)."""
        if not self.blocks:
            return None
        return float(np.mean([b.drop for b in self.blocks]))

    def to_json(self) -> dict[str, Any]:
        """The `resnet-studio lesion --json` object."""
        return {
            "run_dir": self.run_dir,
            "baseline": dict(self.baseline),
            "blocks": [{"block": b.block, "accuracy": b.accuracy, "drop": b.drop,
                        "loss": b.loss, "stage": b.stage} for b in self.blocks],
            "skipped": list(self.skipped),
            "mean_drop": self.mean_drop,
            "k_curve": [{"k": p.k, "mean": p.mean, "sd": p.sd, "draws": p.draws,
                         "loss_mean": p.loss_mean} for p in self.k_curve],
            "residual": self.residual,
            "examples": self.examples,
            "draws": self.draws,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LesionModel:
    """A run's architecture with switchable units and the trained weights.

    Args:
        spec: The run's (bound) architecture.
        binding: Dataset facts (classes) the run was built with.
        trained: The trained keras.Model whose weights are copied (not modified).
    """

    def __init__(self, spec: Any, binding: Any, trained: Any) -> None:
        import tensorflow as tf

        from resnet_studio.core.builder import build_model

        self.built = build_model(spec, binding, lesion_gates=True)
        self.model = self.built.model
        copy_weights(trained, self.model)
        self.units = list(self.built.units)
        self.removable = [u.name for u in self.units if u.removable]
        self.skipped = [u.name for u in self.units if not u.removable]
        self._gates = {u.name: self.model.get_layer(f"{u.name}_gate") for u in self.units
                       if u.removable}
        model = self.model
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def set_removed(self, names: set[str] | list[str] | tuple[str, ...]) -> None:
        """Deletes exactly the units `names` (all others restored)."""
        unknown = set(names) - set(self._gates)
        if unknown:
            raise GeometryError(f"no removable unit named {', '.join(sorted(unknown))}; "
                                f"removable: {', '.join(self.removable)}")
        for name, layer in self._gates.items():
            layer.gate.assign(0.0 if name in names else 1.0)

    def logits(self, x: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
        """The model's logits on `x` in inference mode, in batches."""
        out = [np.asarray(self._forward(x[i:i + batch])) for i in range(0, len(x), batch)]
        return np.concatenate(out) if out else np.zeros((0,))

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(loss, accuracy) on (x, y) with the current lesion."""
        return cross_entropy(self.logits(x), y)


def lesion_model(run: RunModel) -> LesionModel:
    """The switchable model of an opened run."""
    from resnet_studio.core.training.trainer import binding_for

    trainer = run.trainer
    return LesionModel(trainer.built.spec, binding_for(trainer.data.info), run.model)


def lesion_study(run_dir: str | os.PathLike[str], *, draws: int = 5, max_k: int | None = None,
                 seed: int = 0, split: str = "test", progress: Progress = no_progress,
                 cancel: CancelCheck = never, run: RunModel | None = None) -> LesionResult:
    """Deletes each removable unit alone, then k random units for k = 1 … K.

    Args:
        run_dir: The run folder.
        draws: Random sets of k units per k (≥ 1).
        max_k: Largest k (default: every removable unit).
        seed: Seeds the random sets.
        split: Split evaluated ("test").
        progress: Called with (done, total, what) after each evaluated lesion.
        cancel: Checked before each evaluation; True raises Cancelled.
        run: An already opened run (saves rebuilding it).

    Raises:
        GeometryError: the run cannot be studied.
        Cancelled: `cancel()` returned True.
    """
    import time

    t0 = time.time()
    if draws < 1:
        raise GeometryError(f"draws must be at least 1, got {draws}")
    run = run or open_run(run_dir)
    lm = lesion_model(run)
    x, y = split_arrays(run.data, split)
    units = lm.removable
    if not lm.units:
        raise GeometryError(f"{run.run_dir}: the architecture has no residual units to delete")
    k_max = len(units) if max_k is None else max(0, min(int(max_k), len(units)))
    total = 1 + len(units) + k_max * draws
    done = 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        progress(done, total, what)

    check_cancel(cancel)
    lm.set_removed(())
    base_loss, base_acc = lm.evaluate(x, y)
    step("baseline")
    blocks: list[BlockLesion] = []
    for name in units:
        check_cancel(cancel)
        lm.set_removed({name})
        loss, acc = lm.evaluate(x, y)
        stage = next(u.block for u in lm.units if u.name == name)
        blocks.append(BlockLesion(name, stage, acc, loss, base_acc - acc))
        step(f"without {name}")
    rng = np.random.default_rng(seed)
    curve: list[KPoint] = []
    for k in range(1, k_max + 1):
        accs, losses = [], []
        for _ in range(draws):
            check_cancel(cancel)
            chosen = rng.choice(len(units), size=k, replace=False)
            lm.set_removed({units[i] for i in chosen})
            loss, acc = lm.evaluate(x, y)
            accs.append(acc)
            losses.append(loss if math.isfinite(loss) else float("inf"))
            step(f"{k} units removed")
        sd = float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
        curve.append(KPoint(k, float(np.mean(accs)), sd, draws, float(np.mean(losses))))
    lm.set_removed(())
    return LesionResult(str(run.run_dir), run.residual,
                        {"accuracy": base_acc, "loss": base_loss}, blocks, lm.skipped, curve,
                        int(len(y)), draws, seed, time.time() - t0,
                        [u.name for u in lm.units])
