"""Running an experiment: every arm × seed as an ordinary run, grouped in one folder.

```
<runs root>/20261205-130000-degradation-3fa2/
    experiment.json               the experiment, the settings it ran with, its base preset
    shared-start-seed0.npz        the initial weights the arms of seed 0 share (training/shared_start.py)
    plain-8-seed0/ ...            ordinary run folders (run.json, metrics, gradients, …)
```

Seeds are the outer loop: all arms of seed 0, then of seed 1, so the first comparable
numbers arrive early. An interrupted experiment resumes arm by arm (`resume_experiment`):
completed and failed runs are kept (a diverged arm is a result), a run cut off mid-training
continues from its last checkpoint (Trainer `resume`), a run killed before its first
checkpoint starts over from the saved shared start.

Qt-free. `run()` blocks; call it in the thread that should own the models.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_studio.core.experiments.schema import Arm, Experiment, experiment_from_dict
from resnet_studio.core.experiments.summary import arm_summary, run_summary
from resnet_studio.core.runs import is_run_dir
from resnet_studio.core.spec import ArchitectureSpec, spec_from_dict
from resnet_studio.core.training.shared_start import RunSequence, SharedStart

FILE = "experiment.json"
# Observer of the runs' events: observer(arm name, seed, event).
ExperimentObserver = Callable[[str, int, Any], None]
# Told when a run ends or is found finished: progress(arm, seed, run summary, skipped).
ProgressCallback = Callable[[str, int, dict[str, Any], bool], None]


@dataclass
class Settings:
    """What the experiment runs with beyond its file (CLI flags, tiny-size overrides).

    Args:
        seeds: Number of seeds (default: the file's); seeds are base seed + 0, 1, ….
        epochs: Epochs of every arm (default: the arms' own).
        dataset: Dataset of every arm (default: the file's).
        limit: At most this many examples per split (smoke tests).
        data_dir: TFDS data folder.
        training: Further training overrides for every arm (applied last).
        architecture: Further architecture overrides for every arm, applied last to every
            block that has the parameter (`{"repeat": 1}` shrinks every arm for a smoke
            test).
    """

    seeds: int | None = None
    epochs: int | None = None
    dataset: str | None = None
    limit: int | None = None
    data_dir: str | None = None
    training: dict[str, Any] = field(default_factory=dict)
    architecture: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def new_experiment_dir(runs_root: str | Path, name: str) -> Path:
    root = Path(runs_root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    while True:
        d = root / f"{stamp}-{name}-{secrets.token_hex(2)}"
        if not d.exists():
            return d


def run_folder_name(arm: str, seed: int) -> str:
    return f"{arm}-seed{seed}"


class ExperimentRun(RunSequence):
    """One experiment in one folder (new, or resumed with `resume_experiment`).

    Raises (from the constructor or run(), before anything trains):
        ExperimentError / SpecError / DatasetError / BlockBuildError: bad input.
    """

    def __init__(self, experiment: Experiment, folder: str | Path, *,
                 settings: Settings | None = None, base: ArchitectureSpec | None = None,
                 observer: ExperimentObserver | None = None,
                 progress: ProgressCallback | None = None) -> None:
        super().__init__()
        self.experiment = experiment
        self.folder = Path(folder)
        self.settings = settings or Settings()
        self.base = base or experiment.base_spec()
        self.observer = observer
        self.progress = progress
        self.dataset = self.settings.dataset or experiment.dataset
        n = self.settings.seeds or experiment.seeds
        self.configs = {arm.name: self._config(arm) for arm in experiment.arms}
        first = self.configs[experiment.arms[0].name].seed
        self.seeds = [first + i for i in range(n)]
        self.results: dict[str, list[dict[str, Any]]] = {a.name: [] for a in experiment.arms}

    # -- configuration
    def _config(self, arm: Arm) -> Any:
        from resnet_studio.core.experiments.schema import ExperimentError
        from resnet_studio.core.params import Problem
        from resnet_studio.core.training_config import TrainingConfig

        overrides = dict(self.settings.training)
        if self.settings.epochs is not None:
            overrides["epochs"] = self.settings.epochs
        try:
            return TrainingConfig.from_sources(self.experiment.arm_training(self.base, arm),
                                               overrides)
        except ValueError as e:
            raise ExperimentError([Problem(f"arm {arm.name}", str(e))],
                                  self.experiment.source) from None

    def arm_spec(self, arm: Arm) -> ArchitectureSpec:
        from resnet_studio.core.experiments.schema import apply_architecture

        spec = self.experiment.arm_spec(arm, self.base)
        apply_architecture(spec, self.settings.architecture)
        return spec

    def run_dir(self, arm: Arm, seed: int) -> Path:
        return self.folder / run_folder_name(arm.name, seed)

    def _write_manifest(self) -> None:
        from resnet_studio.core.spec import atomic_write_text

        data = {"experiment": self.experiment.to_dict(), "settings": self.settings.to_dict(),
                "base_spec": self.base.to_dict(), "dataset": self.dataset,
                "seeds": self.seeds, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "runs": {a.name: [run_folder_name(a.name, s) for s in self.seeds]
                         for a in self.experiment.arms}}
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / FILE
        if path.exists():  # resuming: keep the creation time
            try:
                data["created"] = json.loads(path.read_text(encoding="utf-8"))["created"]
            except (OSError, ValueError, KeyError):
                pass
        atomic_write_text(path, json.dumps(data, indent=2) + "\n", backup=False)

    # -- running (owning thread)
    def _trainer(self, arm: Arm, seed: int, resume: bool) -> Any:
        from dataclasses import replace

        from resnet_studio.core.training.trainer import Trainer

        cfg = replace(self.configs[arm.name], seed=seed)
        observer = self.observer

        def forward(event: Any) -> None:
            if observer is not None:
                observer(arm.name, seed, event)

        return Trainer(self.arm_spec(arm), self.dataset, cfg, run_dir=self.run_dir(arm, seed),
                       observer=forward, data_dir=self.settings.data_dir,
                       limit=self.settings.limit, resume=resume,
                       preset=f"{self.experiment.name}-{arm.name}",
                       run_meta={"experiment": {"name": self.experiment.name,
                                                "folder": self.folder.name, "arm": arm.name,
                                                "seed": seed}})

    def _state(self, arm: Arm, seed: int) -> str:
        """'done' (completed or failed: keep), 'resume' (has a checkpoint) or 'new'."""
        from resnet_studio.core.runs import checkpoint_complete, read_run

        d = self.run_dir(arm, seed)
        try:
            status = read_run(d).status
        except (OSError, ValueError):
            return "new"
        if status in ("completed", "failed"):
            return "done"
        if checkpoint_complete(d):
            return "resume"
        return "new"

    def run(self) -> list[dict[str, Any]]:
        """Trains every arm × seed not yet done; returns the arms' summaries (summary.py).

        A stop ends the current run and leaves the rest for a later resume.
        """
        for arm in self.experiment.arms:  # bad architectures surface before any folder
            spec_from_dict(self.arm_spec(arm).to_dict(), f"arm {arm.name}")
        self._write_manifest()
        for seed in self.seeds:
            start_path = self.folder / f"shared-start-seed{seed}.npz"
            start = SharedStart.load(start_path)
            for arm in self.experiment.arms:
                if self.stopped:
                    break
                self._run_one(arm, seed, start, start_path)
        self._detach()
        return self.summaries()

    def _run_one(self, arm: Arm, seed: int, start: SharedStart, start_path: Path) -> None:
        state = self._state(arm, seed)
        d = self.run_dir(arm, seed)
        if state == "done":
            self._report(arm, seed, run_summary(d), skipped=True)
            return
        if state == "new" and d.exists():
            shutil.rmtree(d)  # killed before its first checkpoint: nothing to continue
        trainer = self._trainer(arm, seed, resume=state == "resume")
        trainer.prepare()
        if state == "new":
            start.share(trainer.model)
            start.save(start_path)
        if not self._attach(trainer):
            return
        trainer.run()
        self._report(arm, seed, run_summary(d), skipped=False)

    def _report(self, arm: Arm, seed: int, summary: dict[str, Any], skipped: bool) -> None:
        runs = self.results[arm.name]
        runs[:] = [r for r in runs if r["run_dir"] != summary["run_dir"]] + [summary]
        if self.progress is not None:
            self.progress(arm.name, seed, summary, skipped)

    def summaries(self) -> list[dict[str, Any]]:
        """Per arm, mean ± sd over the seeds' runs that exist on disk."""
        out = []
        for arm in self.experiment.arms:
            runs = []
            for seed in self.seeds:
                d = self.run_dir(arm, seed)
                if is_run_dir(d):
                    try:
                        runs.append(run_summary(d))
                    except (OSError, ValueError):
                        continue
            out.append(arm_summary(arm.name, runs))
        return out

    def to_json(self, arms: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The CLI's --json object: {"experiment", "dir", "arms": [...]}."""
        return {"experiment": self.experiment.name, "dir": str(self.folder),
                "dataset": self.dataset, "seeds": self.seeds,
                "arms": arms if arms is not None else self.summaries()}


def start_experiment(experiment: Experiment, runs_root: str | Path, **kw: Any) -> ExperimentRun:
    """A new experiment folder under `runs_root` (created when it runs)."""
    return ExperimentRun(experiment, new_experiment_dir(runs_root, experiment.name), **kw)


def resume_experiment(folder: str | Path, **kw: Any) -> ExperimentRun:
    """The experiment in `folder`, with the settings it started with.

    Raises:
        ExperimentError: no readable experiment.json in `folder`.
    """
    from resnet_studio.core.experiments.schema import ExperimentError
    from resnet_studio.core.params import Problem

    path = Path(folder) / FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        settings = Settings(**data["settings"])
        base = spec_from_dict(data["base_spec"], f"{path}: base_spec")
        exp_data = dict(data["experiment"])
    except FileNotFoundError:
        raise ExperimentError([Problem("", "no experiment.json: not an experiment folder")],
                              str(folder)) from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ExperimentError([Problem("", f"unreadable ({e})")], str(path)) from None
    # The base preset is the saved one (a preset file may have changed or moved since).
    experiment = experiment_from_dict(exp_data, str(path), base=base)
    return ExperimentRun(experiment, folder, settings=settings, base=base, **kw)
