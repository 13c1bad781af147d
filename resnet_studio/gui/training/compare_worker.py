"""The bridge between the Qt-free `Comparison` and the GUI: two runs, one QThread.

Same pattern as worker.py: a job (gui.jobs) whose thread owns both models (Keras state is
per thread); the comparison's observer only hands each event, tagged with the run's role
("residual" or "plain"), to the job state, which makes it a queued signal; the session lives
in the GUI thread and re-emits everything, so whoever connects to it runs in the GUI thread.
Control calls (stop, pause, resume) go through the job state to the comparison, which is
thread-safe.

The `Comparison` is constructed in the GUI thread: that is cheap (no TensorFlow) and
rejects an architecture without shortcuts at once, before a thread exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from resnet_studio.core.jobs import JobState
from resnet_studio.core.spec import ArchitectureSpec
from resnet_studio.core.training_config import TrainingConfig
from resnet_studio.gui.training.worker import BATCH_EVENT_INTERVAL_S, RunSession


@dataclass
class CompareRequest:
    """Everything a comparison needs, decided in the GUI thread.

    Attributes:
        spec: The residual architecture (a snapshot; its twin is derived from it).
        dataset: Dataset name.
        config: Training settings used for both runs.
        runs_root: Folder receiving the two sibling run folders.
        limit: Examples per split cap (tests and quick looks).
        data_dir: TFDS data folder.
    """

    spec: ArchitectureSpec
    dataset: str
    config: TrainingConfig
    runs_root: Path
    limit: int | None = None
    data_dir: str | None = None


def compare_job(comparison: Any, state: JobState) -> Any:
    """Runs a prepared Comparison (a job function, core.jobs); returns {role: summary}."""
    state.bind(stop=comparison.request_stop, pause=comparison.pause, resume=comparison.resume)
    return comparison.run()


class CompareSession(RunSession):
    """A comparison in its own thread (a `Job` of `compare_job`); a stop ends the run in
    progress after its current batch and skips the other one.

    Signals:
        event(str, object): (role, training event), in order.
        failed(str, str), finished(object): as Job's ({role: summary} or None).

    Raises (from the constructor): CompareError when the architecture has no shortcut.
    """

    event = Signal(str, object)

    def __init__(self, request: CompareRequest, parent: QObject | None = None) -> None:
        from resnet_studio.core.training.compare import Comparison

        r = request
        # Made here, in the GUI thread: cheap, and may raise CompareError before any thread.
        comparison = Comparison(r.spec, r.dataset, r.config, runs_root=r.runs_root,
                                data_dir=r.data_dir, limit=r.limit, observer=self._observe,
                                batch_interval_s=BATCH_EVENT_INTERVAL_S)
        super().__init__(compare_job, comparison, name=f"compare-{request.spec.name}",
                         parent=parent)
        self.comparison = comparison
        self.request = request
        self.partial.connect(self._on_partial_event)

    def _observe(self, role: str, event: Any) -> None:
        # Called in the training thread: only hands the event to the job state (a signal).
        self.state.partial((role, event))

    @property
    def dirs(self) -> dict[str, Path]:
        """Run folder of each role (decided before the runs start)."""
        return dict(self.comparison.dirs)

    @Slot(object)
    def _on_partial_event(self, tagged: tuple[str, Any]) -> None:
        self.event.emit(*tagged)
