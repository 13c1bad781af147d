"""The bridge between the Qt-free Trainer and the GUI: one run in one QThread.

Training is a job (gui.jobs): `train_job` runs in the run's own thread, which owns the model
(Keras state is per thread). The Trainer's observer is the job state's `partial`, so each
event becomes a queued signal and the GUI thread receives events in order and appends them to
buffers (the plots redraw from their own timer). Control calls (stop, pause, resume) come from
the GUI thread and go through the job state to the Trainer's thread-safe events.

Every exception raised in the thread reaches the GUI: bad input found before the run folder
exists (unknown dataset, a block that cannot take the data) as `failed(message)`, anything
during training as a `Finished` event with status `failed` and the error — the Trainer writes
the same status into run.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from resnet_studio.core.jobs import JobCancelled, JobState
from resnet_studio.core.spec import ArchitectureSpec
from resnet_studio.core.training_config import TrainingConfig
from resnet_studio.gui.jobs import Job

# The GUI asks the Trainer for at most one BatchEnd per 20 ms (core/training/throttle.py): the
# views redraw at 10 Hz, a small model steps hundreds of times a second, and every event
# crosses threads. Epoch ends and a run's last values always arrive; the run folder keeps
# every batch (the Runs tab and overlays read it).
BATCH_EVENT_INTERVAL_S = 0.02


@dataclass
class RunRequest:
    """Everything a run needs, decided in the GUI thread.

    Attributes:
        spec: The architecture (a snapshot: later edits do not touch the running model).
        dataset: Dataset name (`digits`, `tfds:cifar10`, `npz:/path`…).
        config: Resolved training settings.
        run_dir: The run's folder (new, or an existing one when `resume`).
        resume: Continue the run in `run_dir` from its last checkpoint.
        limit: Examples per split cap (tests and quick looks).
        data_dir: TFDS data folder.
        preset: Name recorded in run.json.
        initial_weights: Layer weights to start from (plain-twin comparisons).
    """

    spec: ArchitectureSpec
    dataset: str
    config: TrainingConfig
    run_dir: Path
    resume: bool = False
    limit: int | None = None
    data_dir: str | None = None
    preset: str | None = None
    initial_weights: dict[str, Any] | None = field(default=None, repr=False)


def train_job(request: RunRequest, state: JobState) -> Any:
    """Trains one run (a job function, core.jobs): events stream through `state.partial`;
    stop, pause and resume reach the Trainer. Returns the RunResult."""
    from resnet_studio.core.training.throttle import BatchThrottle
    from resnet_studio.core.training.trainer import Trainer

    r = request
    trainer = Trainer(r.spec, r.dataset, r.config, run_dir=r.run_dir, observer=state.partial,
                      data_dir=r.data_dir, limit=r.limit, initial_weights=r.initial_weights,
                      resume=r.resume, preset=r.preset,
                      batch_throttle=BatchThrottle(BATCH_EVENT_INTERVAL_S))
    # A Stop or Pause pressed while the data was loading still counts.
    state.bind(stop=trainer.request_stop, pause=trainer.pause, resume=trainer.resume)
    trainer.prepare()
    if state.cancelled:
        raise JobCancelled("Stopped before training started.")
    return trainer.run()


class RunSession(Job):
    """A training job as the run views drive it: stop, pause and resume between batches."""

    def request_stop(self) -> None:
        """Stops after the current batch (the run keeps a checkpoint, status `stopped`)."""
        self.cancel()

    def pause(self) -> None:
        self.state.pause()

    def resume(self) -> None:
        self.state.resume()

    def stop_and_deliver(self, *receivers: QObject) -> bool:
        """Stops, waits for the thread, then delivers the queued events (Job)."""
        return self.cancel_and_deliver(*receivers)


class TrainingSession(RunSession):
    """One run in its own thread (a `Job` of `train_job`).

    Signals:
        event(object): the Trainer's events, in order.
        failed(str, str), finished(object): as Job's (RunResult, or None).
    """

    event = Signal(object)

    def __init__(self, request: RunRequest, parent: QObject | None = None) -> None:
        super().__init__(train_job, request, name=f"training-{request.run_dir.name}",
                         parent=parent)
        self.request = request
        self.partial.connect(self.event)


def ask_to_stop(parent: QWidget, title: str, question: str) -> bool:
    """Asks `question` (Yes/No, No by default) before stopping a run; True for Yes."""
    answer = QMessageBox.question(parent, title, question,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
