"""The comparison lab: an architecture against its plain twin, under identical conditions.

"Residual networks train because the shortcut keeps the gradient alive" is only convincing
when nothing else differs. So both runs use the same seed, configuration and batch order
(the pipelines are seeded from the config), and the plain twin starts from the residual
model's initial weights wherever the two share a layer (same name, same shapes); layers that
exist only in the residual model (projection shortcuts, ReZero/LayerScale gains) are simply
absent from the twin. The two run folders are siblings and name each other in run.json
(`"compare": {"role": ..., "partner": ...}`), so the runs view can pair them later.

The headline number is `gradient_ratio`: the mean over recorded steps of (gradient norm of
the first weighted block ÷ that of the last weighted block before the head). Near 1 the
first layers learn as fast as the last; 1e-10 means they do not learn at all.

Qt-free. `compare()` blocks; call it in the thread that should own the models.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.runs.pairs import ROLES
from resnet_studio.core.spec import ArchitectureSpec
from resnet_studio.core.training.blocknorms import read_block_map
from resnet_studio.core.training.events import Event
from resnet_studio.core.training.shared_start import RunSequence, SharedStart
from resnet_studio.core.training_config import TrainingConfig

CompareObserver = Callable[[str, Event], None]


class CompareError(ValueError):
    """The architecture cannot be compared (it has no shortcut to remove)."""


def has_shortcuts(spec: ArchitectureSpec) -> bool:
    """True when removing the shortcuts changes something (else the twin is the spec)."""
    from resnet_studio.core.builder import plain_twin

    twin = plain_twin(spec)
    return [b.to_dict() for b in twin.blocks] != [b.to_dict() for b in spec.blocks]


def pair_run_dirs(runs_root: str | Path, preset: str) -> tuple[Path, Path]:
    """Two new sibling folders sharing a stamp and a token:
    `<stamp>-<preset>-residual-3fa2` and `<stamp>-<preset>-plain-3fa2`."""
    root = Path(runs_root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    while True:
        token = secrets.token_hex(2)
        res, plain = (root / f"{stamp}-{preset}-{role}-{token}" for role in ROLES)
        if not res.exists() and not plain.exists():
            return res, plain


# --------------------------------------------------------------------------- reading a run
def block_norms(run_dir: str | Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(top-level block names with weights, steps (S,), block gradient norms (S, B)).

    A block's norm at a step is sqrt(sum of its layers' squared norms) (blocknorms.py).
    """
    from resnet_studio.core.runs import read_gradients

    bmap = read_block_map(run_dir)
    _, _, steps, norms = read_gradients(run_dir)
    return list(bmap.names), steps, bmap.block_norms(norms)


def gradient_ratio(run_dir: str | Path) -> float | None:
    """Mean over all recorded steps of (gradient norm of the first weighted block ÷ that of
    the last weighted block before the head).

    None when the architecture has fewer than two weighted non-head blocks, or when no step
    was recorded. Steps where the last block's gradient is exactly 0 are left out.
    """
    from resnet_studio.core.runs import read_gradients

    bmap = read_block_map(run_dir)
    if bmap.ratio_blocks is None:
        return None
    _, _, steps, norms = read_gradients(run_dir)
    ratios = bmap.ratios(bmap.block_norms(norms))
    if ratios is None:
        return None
    ratios = ratios[np.isfinite(ratios)]
    return float(ratios.mean()) if ratios.size else None


# --------------------------------------------------------------------------- the comparison
class Comparison(RunSequence):
    """Trains `spec` and `plain_twin(spec)` one after the other (see module docstring): the
    two-arm case of an experiment (core/experiments), sharing its start and its controls.

    `request_stop()`, `pause()` and `resume()` may be called from any thread; a stop ends
    the current run and skips the one not yet started.

    Raises (from run(), before any run folder exists):
        CompareError: the architecture has no shortcut.
        DatasetError, SpecError, BlockBuildError: bad input.
    """

    def __init__(self, spec: ArchitectureSpec, dataset: str, config: TrainingConfig, *,
                 runs_root: str | Path, data_dir: str | None = None, limit: int | None = None,
                 observer: CompareObserver | None = None, batch_interval_s: float = 0.0) -> None:
        super().__init__()
        if not has_shortcuts(spec):
            raise CompareError(f"{spec.name}: the architecture has no shortcut to remove, so "
                               "its plain twin is the architecture itself; compare a "
                               "residual architecture (e.g. resnet8-digits, lab-sigmoid-mlp)")
        self.spec = spec
        self.dataset = dataset
        self.config = config
        self.runs_root = Path(runs_root)
        self.data_dir = data_dir
        self.limit = limit
        self.observer = observer
        self.batch_interval_s = batch_interval_s  # > 0: fewer BatchEnd events (throttle.py)
        self.dirs = dict(zip(ROLES, pair_run_dirs(self.runs_root, spec.name), strict=True))

    # -- the runs (owning thread)
    def _trainer(self, role: str, spec: ArchitectureSpec,
                 initial_weights: dict[str, list[np.ndarray]] | None) -> Any:
        from resnet_studio.core.runs import pair_meta
        from resnet_studio.core.training.throttle import BatchThrottle
        from resnet_studio.core.training.trainer import Trainer

        partner = self.dirs["plain" if role == "residual" else "residual"]
        observer = self.observer

        def forward(event: Event) -> None:
            if observer is not None:
                observer(role, event)

        return Trainer(spec, self.dataset, self.config, run_dir=self.dirs[role],
                       observer=forward, data_dir=self.data_dir, limit=self.limit,
                       initial_weights=initial_weights, preset=spec.name,
                       run_meta=pair_meta(role, partner),
                       batch_throttle=BatchThrottle(self.batch_interval_s)
                       if self.batch_interval_s > 0 else None)

    def prepare_residual(self) -> Any:
        """The residual Trainer, prepared (data loaded, model built, weights initialised)."""
        trainer = self._trainer("residual", self.spec, None)
        trainer.prepare()
        return trainer

    def prepare_plain(self, initial_weights: dict[str, list[np.ndarray]]) -> Any:
        """The plain twin's Trainer, prepared and loaded with the shared initial weights."""
        from resnet_studio.core.builder import plain_twin

        trainer = self._trainer("plain", plain_twin(self.spec), None)
        trainer.prepare()
        SharedStart(initial_weights).load_into(trainer.model)
        return trainer

    def run(self) -> dict[str, dict[str, Any]]:
        """Trains both; returns {"residual": {...}, "plain": {...}} (see `summarize`)."""
        residual = self.prepare_residual()  # bad input surfaces here, before any folder
        start = SharedStart()  # copies: the residual run trains its layers in place
        start.add_from(residual.model)
        results: dict[str, dict[str, Any]] = {}
        if self._attach(residual):
            results["residual"] = summarize(residual.run())
        else:
            results["residual"] = _skipped(self.dirs["residual"])
        residual = None  # free the first model before building the second
        # A stop during the first run skips the second without building it: loading the
        # data and building the twin can take longer than the user is willing to wait.
        plain = None if self.stopped else self.prepare_plain(start.weights)
        if plain is not None and self._attach(plain):
            results["plain"] = summarize(plain.run())
        else:
            results["plain"] = _skipped(self.dirs["plain"])
        self._detach()
        return results


def summarize(result: Any) -> dict[str, Any]:
    """One role's entry of the comparison result, from a Trainer's RunResult."""
    from resnet_studio.core.runs import read_run

    run_dir = Path(result.run_dir)
    try:
        ratio = gradient_ratio(run_dir)
    except (OSError, ValueError, KeyError):
        ratio = None
    try:
        alerts = [a.get("kind") for a in read_run(run_dir).meta.get("alerts") or []]
    except (OSError, ValueError):
        alerts = []
    test = None if result.test is None else {
        k: v for k, v in result.test.items() if k != "confusion_matrix"}
    return {"run_dir": str(run_dir), "run_id": run_dir.name, "status": result.status,
            "final_train_loss": result.final_train_loss, "test": test,
            "gradient_ratio": ratio, "params": result.params, "seconds": result.seconds,
            "epochs_completed": result.epochs_completed, "steps": result.steps,
            "alerts": alerts, "error": result.error, "failure": result.failure or None}


def _skipped(run_dir: Path) -> dict[str, Any]:
    return {"run_dir": str(run_dir), "run_id": run_dir.name, "status": "skipped",
            "final_train_loss": None, "test": None, "gradient_ratio": None, "params": None,
            "seconds": 0.0, "epochs_completed": 0, "steps": 0, "alerts": [],
            "error": "not started: the comparison was stopped", "failure": None}


def compare(spec: ArchitectureSpec, dataset: str, config: TrainingConfig, *,
            runs_root: str | Path, data_dir: str | None = None, limit: int | None = None,
            observer: CompareObserver | None = None) -> dict[str, dict[str, Any]]:
    """Trains `spec` and its plain twin from the same initial weights and batch order.

    Args:
        spec: A residual architecture (CompareError when it has no shortcut).
        dataset: Dataset name.
        config: Training settings, used for both runs (seed included).
        runs_root: Folder in which the two sibling run folders are created.
        data_dir: TFDS data folder.
        limit: At most this many examples per split (smoke tests).
        observer: Called as `observer(role, event)` with role "residual" or "plain".

    Returns:
        {"residual": {...}, "plain": {...}}; each has run_dir, run_id, status,
        final_train_loss, test (metrics, no confusion matrix), gradient_ratio, params,
        seconds, epochs_completed, steps, alerts (kinds raised) and error.
    """
    return Comparison(spec, dataset, config, runs_root=runs_root, data_dir=data_dir,
                      limit=limit, observer=observer).run()
