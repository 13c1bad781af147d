"""The Training tab: the train panel beside the live plots, and the one run in progress.

Events arrive from the worker in the GUI thread, in order. Each is appended to the plots'
buffers (they redraw from their own ~30 Hz timer) and the latest batch is kept for the
progress bar, which a 10 Hz timer updates; nothing here redraws per event.

The gradient-flow profile (gradflow.py, the same widget the Compare tab shows twice) is a
second tab beside the plots rather than a seventh plot inside them: the plots keep their
layout and their width, and a hidden tab costs nothing (both redraw only while visible).
Gradient alerts appear in a banner above both tabs until the next run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from resnet_studio.core.training.events import (
    Alert,
    BatchEnd,
    EpochEnd,
    Finished,
    GradNorms,
    Log,
    Started,
)
from resnet_studio.gui.document import Document
from resnet_studio.gui.training.alert_banner import AlertBanner
from resnet_studio.gui.training.gradflow import GradientFlowPanel
from resnet_studio.gui.training.panel import TrainPanel, format_duration
from resnet_studio.gui.training.plots import RUN_COLOR, TrainingPlots
from resnet_studio.gui.training.worker import RunRequest, TrainingSession, ask_to_stop

PROGRESS_INTERVAL_MS = 100


class TrainingView(QWidget):
    """Signals:
        run_started(str): a run folder was created (or reopened to resume).
        run_finished(object): the run's thread ended: the Finished event, or None when the
            run could not start.
        error(str, str, str): a message for the user (title, text, details).

    Attributes:
        flow: the gradient-flow profile of the run in view (role "run").
        alert_banner: the gradient alerts of the run in view.
        run_guard: called with an action ("start a run") before a run starts; False
            cancels (the window asks to stop a comparison there).

    hold_previews: the panel's dataset previews wait for `release_previews()`.
    """

    run_started = Signal(str)
    run_finished = Signal(object)
    error = Signal(str, str, str)
    state_changed = Signal()  # Pause, Resume or Stop pressed in the panel
    dataset_changed = Signal(str)  # the user chose another dataset (the editor rebinds)

    def __init__(self, document: Document, parent: QWidget | None = None, *,
                 hold_previews: bool = False) -> None:
        super().__init__(parent)
        self.doc = document
        self.session: TrainingSession | None = None
        self.last_run_dir: Path | None = None
        self.last_finished: Finished | None = None
        # BatchEnd events handled in this run: fewer than its steps, the Trainer sends at
        # most one per 20 ms (worker.BATCH_EVENT_INTERVAL_S); `latest_step` is the step.
        self.batches_seen = 0
        self.grad_events_seen = 0
        self._latest: BatchEnd | None = None
        self._started: Started | None = None
        self._resuming = False
        self.run_guard: Callable[[str], bool] | None = None

        self.panel = TrainPanel(self, hold_previews=hold_previews)
        self.panel.setObjectName("trainPanel")
        self.plots = TrainingPlots(self)
        self.plots.setObjectName("trainingPlots")
        self.flow = GradientFlowPanel([("run", "Gradient flow", RUN_COLOR)], parent=self)
        self.flow.setObjectName("trainingFlow")
        self.flow.set_caption("run", "press Train to start")
        self.plot_tabs = QTabWidget(self)
        self.plot_tabs.setObjectName("plotTabs")
        self.plot_tabs.setDocumentMode(True)
        self.plot_tabs.addTab(self.plots, "Curves and gradients")
        self.plot_tabs.addTab(self.flow, "Gradient flow by depth")
        self.plot_tabs.setTabToolTip(1, "Each layer's gradient norm against its depth (log "
                                        "scale): the latest step and a window average")
        self.alert_banner = AlertBanner(self)
        right = QWidget(self)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(4)
        rl.addWidget(self.alert_banner)
        rl.addWidget(self.plot_tabs, 1)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.panel)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([390, 1000])
        self.splitter = split
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

        # What this view does with each kind of event besides the curves (_on_event).
        self._handlers: dict[type, Callable[[Any], None]] = {
            BatchEnd: self._on_batch, GradNorms: self._on_grad_norms, EpochEnd: self._on_epoch,
            Log: self._on_log, Alert: self.alert_banner.add_alert, Started: self._on_started,
            Finished: self._on_finished}
        self.panel.start_requested.connect(self.start)
        self.panel.dataset_changed.connect(self.dataset_changed)
        self.panel.stop_requested.connect(self.stop)
        self.panel.pause_requested.connect(self.pause)
        self.panel.resume_requested.connect(self.resume)
        for button in (self.panel.pause_requested, self.panel.resume_requested,
                       self.panel.stop_requested):  # after the view has acted on it
            button.connect(self.state_changed)
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(PROGRESS_INTERVAL_MS)
        self._progress_timer.timeout.connect(self._update_progress)
        self.doc.changed.connect(self._on_doc_changed)
        self.doc.replaced.connect(self._on_doc_replaced)
        self._on_doc_changed()

    # ------------------------------------------------------------------ state
    @property
    def training(self) -> bool:
        return self.session is not None and self.session.running

    @property
    def paused(self) -> bool:
        return self.panel.state == "paused"

    def _on_doc_changed(self) -> None:
        spec = self.doc.spec
        from resnet_studio.core.data.tokenizers import text_load_args

        self.panel.set_preset_defaults(spec.training, spec.dataset, text_load_args(spec))

    def _on_doc_replaced(self) -> None:
        """Training settings belong to the document: a new one brings its own (item 3 of
        issue 18: epochs set for one net leaked into the next preset)."""
        spec = self.doc.spec
        from resnet_studio.core.data.tokenizers import text_load_args

        self.panel.adopt_document(spec.name, spec.training, spec.dataset, text_load_args(spec))

    # ------------------------------------------------------------------ for the main window
    @property
    def running(self) -> bool:
        """A run is going (the name every run view shares; `training` here)."""
        return self.training

    def set_backend(self, gpus: int, device: str, devices: list[str]) -> None:
        """TensorFlow is imported: the device choices, and the held previews may load."""
        self.panel.set_gpu_available(gpus > 0, device)
        self.panel.set_devices(devices)
        self.release_previews()

    def release_previews(self) -> None:
        """Dataset previews held during the TensorFlow import load now (PreviewLoader)."""
        self.panel.loader.release()

    def dataset(self) -> str:
        """The dataset chosen in the panel."""
        return self.panel.dataset()

    def run_settings(self) -> tuple[Any, str]:
        """(training settings, dataset) from the panel; ValueError names a bad setting."""
        return self.panel.config(), self.panel.dataset()

    # ------------------------------------------------------------------ starting
    def request_for_current(self) -> RunRequest | None:
        """A run of the open architecture with the panel's settings (None: reported why)."""
        from resnet_studio.core.runs import default_runs_root, new_run_dir

        try:
            config = self.panel.config()
        except ValueError as e:
            self.error.emit("Cannot Start Training", "A training setting is not valid.", str(e))
            return None
        dataset = self.panel.dataset()
        if not dataset:
            self.error.emit("Cannot Start Training", "Choose a dataset first.", "")
            return None
        spec = self.doc.spec.copy()
        return RunRequest(spec, dataset, config, new_run_dir(default_runs_root(), spec.name),
                          preset=spec.name)

    @Slot()
    def start(self, request: RunRequest | None = None, *, limit: int | None = None) -> bool:
        """Starts a run (of the open architecture unless `request` is given).

        If a run is going, asks first; returns False when nothing was started.
        """
        if self.training and not self.confirm_stop("start a new run"):
            return False
        if self.run_guard is not None and not self.run_guard("start a training run"):
            return False
        request = request or self.request_for_current()
        if request is None:
            return False
        if limit is not None:
            request.limit = limit
        self._begin(request)
        return True

    def resume_run(self, run_dir: str | Path, epochs: int | None = None) -> bool:
        """Continues a stopped or interrupted run from its last checkpoint, in its folder."""
        from resnet_studio.core.runs import resume_target

        if self.training and not self.confirm_stop("resume another run"):
            return False
        if self.run_guard is not None and not self.run_guard("resume a run"):
            return False
        try:  # SpecError and NotResumable are ValueErrors
            target = resume_target(run_dir, {"epochs": epochs} if epochs else None)
        except (OSError, ValueError) as e:
            self.error.emit("Cannot Resume Run", f"The run in {run_dir} cannot be resumed.",
                            str(e))
            return False
        info = target.info
        request = RunRequest(target.spec, target.dataset, target.config, info.dir,
                             resume=True, limit=target.limit, data_dir=target.data_dir,
                             preset=target.preset)
        self._show_history(info.dir)
        self._begin(request, resuming=True)
        return True

    def _begin(self, request: RunRequest, resuming: bool = False) -> None:
        self.session = TrainingSession(request, self)
        self.session.event.connect(self._on_event)
        self.session.failed.connect(self._on_failed)
        self.session.finished.connect(self._on_session_finished)
        self.batches_seen = self.grad_events_seen = 0
        self._latest, self._started, self.last_finished = None, None, None
        self._resuming = resuming
        if not resuming:
            self.alert_banner.clear()  # a resumed run keeps its alerts (_show_history)
        self.panel.set_state("starting")
        self.panel.set_status(f"Preparing {request.dataset}…")
        self.panel.append_log(("Resuming " if resuming else "Starting ")
                              + f"{request.preset} on {request.dataset} → {request.run_dir}")
        self.session.start()

    # ------------------------------------------------------------------ control
    @Slot()
    def stop(self) -> None:
        if self.session is not None and self.training:
            self.panel.set_state("stopping")
            self.panel.set_status("Stopping after the current batch…")
            self.session.request_stop()

    @Slot()
    def pause(self) -> None:
        if self.session is not None and self.training:
            self.session.pause()
            self.panel.set_state("paused")
            self.panel.set_status("Paused — optimizer state kept; Resume continues.")

    @Slot()
    def resume(self) -> None:
        if self.session is not None and self.training:
            self.session.resume()
            self.panel.set_state("running" if self._started else "starting")
            self.panel.set_status("Training…")

    def confirm_stop(self, action: str) -> bool:
        """Asks whether to stop the run in progress in order to `action`; stops it if so.

        Returns True when no run is going any more.
        """
        if not self.training:
            return True
        if not ask_to_stop(self, "Training in Progress",
                           f"A run is training. Stop it to {action}?\n\nIts last checkpoint "
                           "is kept; it can be resumed from the Runs tab."):
            return False
        return self.shutdown()

    def shutdown(self) -> bool:
        """Stops a run in progress and waits for its thread (window closing)."""
        self.panel.loader.wait()
        if self.session is None or not self.session.thread.isRunning():
            return True
        self.panel.set_status("Stopping after the current batch…")
        return self.session.stop_and_deliver(self)

    # ------------------------------------------------------------------ events
    @Slot(object)
    def _on_event(self, event: Any) -> None:
        # The curves first: the plots' run history takes what the event carries (the plots
        # observe it and redraw from their timer); then what this view shows of it.
        self.plots.history.apply(event)
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    @property
    def latest_step(self) -> int:
        """The step of the last BatchEnd received in this run (0 before the first)."""
        return self._latest.step if self._latest is not None else 0

    def _on_batch(self, e: BatchEnd) -> None:
        self.batches_seen += 1
        self._latest = e  # the progress bar's, read by its own timer

    def _on_grad_norms(self, e: GradNorms) -> None:
        self.grad_events_seen += 1
        self.flow.add("run", e.step, e.norms)

    def _on_epoch(self, e: EpochEnd) -> None:
        self.panel.append_log(_epoch_line(e, self._started))

    def _on_log(self, e: Log) -> None:
        self.panel.append_log(e.message, e.level)

    def _on_started(self, e: Started) -> None:
        self._started = e
        self.last_run_dir = Path(e.run_dir)
        if not self._resuming:  # the plots' history began with the event (Started.feed)
            self.flow.begin("run", e.layers, e.layer_blocks)
        steps = e.steps_per_epoch * e.epochs if e.steps_per_epoch > 0 else 0
        self.panel.begin_progress(steps, e.initial_step)
        if self.panel.state == "starting":
            self.panel.set_state("running")
        elif self.panel.state == "paused":
            self.panel.set_status(f"Paused before step {e.initial_step + 1}.")
        if self.panel.state == "running":
            self.panel.set_status(f"Training on {e.device} · {len(e.layers)} weighted layers")
        self._progress_timer.start()
        self.run_started.emit(e.run_dir)

    def _on_finished(self, e: Finished) -> None:
        self.last_finished = e
        self._update_progress()
        self._progress_timer.stop()
        self.plots.refresh()
        self.flow.refresh()
        self.panel.end_progress(e.status == "completed")
        took = format_duration(e.seconds)
        if e.status == "completed":
            acc = (e.test or {}).get("accuracy")
            tail = f" · test accuracy {acc:.4f}" if isinstance(acc, float) else ""
            self.panel.set_status(f"Completed {e.epochs_completed} epochs in {took}{tail}.")
        elif e.status == "stopped":
            self.panel.set_status(f"Stopped at step {e.step} after {e.epochs_completed} "
                                  "complete epochs; resume it from the Runs tab.")
        else:
            self.panel.set_status(f"Failed: {e.error}", error=True)
            self.error.emit("Training Failed", f"The run failed: {e.error}",
                            f"Run folder: {e.run_dir}")

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.panel.set_status(f"Could not train: {message}", error=True)
        self.panel.append_log(message, "error")
        self.error.emit("Cannot Start Training", message, details)

    @Slot(object)
    def _on_session_finished(self, _result: Any) -> None:
        self._progress_timer.stop()
        self.panel.set_state("idle")
        if self._started is None:
            self.panel.end_progress(False)
        self.run_finished.emit(self.last_finished)

    def _update_progress(self) -> None:
        e, s = self._latest, self._started
        if e is None or s is None:
            return
        self.panel.show_progress(e.epoch + 1, s.epochs, e.batch, s.steps_per_epoch, e.step,
                                 e.samples_per_second, int(s.config.get("batch_size", 1)))

    # ------------------------------------------------------------------ finished runs
    def _show_history(self, run_dir: Path) -> None:
        from resnet_studio.core.runs import read_gradients_or_empty, read_metrics, read_run

        info = read_run(run_dir)
        records = read_metrics(run_dir)
        layers, blocks, steps, norms = read_gradients_or_empty(run_dir)
        task = (info.meta.get("binding") or {}).get("task", "classification")
        self.plots.load_run(records, layers, blocks, steps, norms, task=task, label=info.id)
        self.flow.load("run", layers, blocks, steps, norms)
        self.alert_banner.set_alerts(list(info.meta.get("alerts") or []))

    def show_run(self, run_dir: str | Path) -> bool:
        """Shows a run from disk in the plots (when no run is training)."""
        if self.training:
            return False
        try:
            self._show_history(Path(run_dir))
        except (OSError, ValueError) as e:
            self.error.emit("Cannot Open Run", f"Cannot read the run in {run_dir}.", str(e))
            return False
        self.last_run_dir = Path(run_dir)
        return True


def _epoch_line(e: EpochEnd, started: Started | None) -> str:
    total = f"/{started.epochs}" if started else ""
    parts = [f"epoch {e.epoch}{total}"]
    for prefix, values in (("", e.train), ("val_", e.val)):
        for k in ("loss", "accuracy"):
            if k in values:
                parts.append(f"{prefix}{k} {values[k]:.4f}")
    parts.append(f"({e.seconds:.1f} s)")
    return "  ".join(parts)
