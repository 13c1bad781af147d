"""The Experiments tab: run a built-in experiment (core/experiments) in the background and
tabulate its arms, mean ± sd over seeds, as each arm × seed finishes.

A thin layer over `ExperimentRun`: the run happens in a `Job` (gui/jobs.py); each finished
run arrives as a partial result and updates its arm's row; Pause, Stop and closing the window
reach the experiment through the job's stop switches. The table sorts by any column (by the
number, not the text) and exports as CSV. A stopped experiment keeps its folder: `resnet-studio
experiment --resume DIR` continues it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Arm", "Final train loss", "Val accuracy", "Test accuracy", "Gradient ratio",
           "Params", "Seconds / run", "Runs")
STATS = ("final_train_loss", "val_accuracy", "test_accuracy", "gradient_ratio")
TINY = {"seeds": 1, "epochs": 1, "limit": 64, "architecture": {"repeat": 1}}


def run_experiment_job(experiment: Any, folder: Path, settings: Any, state: Any) -> Any:
    """Job function (worker thread): the experiment's arms summaries; each finished run is
    streamed as a partial result (arm, seed, run summary, kept from before)."""
    from resnet_studio.core.experiments.runner import ExperimentRun

    run = ExperimentRun(experiment, folder, settings=settings,
                        progress=lambda arm, seed, s, kept: state.partial((arm, seed, s, kept)))
    state.bind(stop=run.request_stop, pause=run.pause, resume=run.resume)
    return run.run()


class _NumberItem(QTableWidgetItem):
    """A cell shown as text, sorted by its number (missing values last)."""

    def __init__(self, text: str, value: float | None) -> None:
        super().__init__(text)
        self.value = math.inf if value is None else float(value)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _NumberItem):
            return self.value < other.value
        return super().__lt__(other)


def _pm(stat: dict[str, Any] | None, fmt: str) -> str:
    if not stat or stat.get("mean") is None:
        return "—"
    return f"{stat['mean']:{fmt}} ± {stat['sd']:{fmt}}"


class ExperimentsView(QWidget):
    """Run-tab view (the protocol of gui/window/run_tabs.py).

    Signals:
        error(title, text, details): the experiment could not run.
        state_changed(): running / paused changed.
        finished(object): the arms' summaries (None after a failure).
    """

    error = Signal(str, str, str)
    state_changed = Signal()
    finished = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from resnet_studio.core.experiments.schema import experiment_names

        self.run_guard: Any = None
        self.job: Any = None
        self.runs_root: Path | None = None  # None: the default runs root
        self.experiment: Any = None  # set_experiment() overrides the combo (tests, files)
        self.folder: Path | None = None
        self.arms: list[dict[str, Any]] = []
        self._runs: dict[str, list[dict[str, Any]]] = {}
        self._paused = False

        self.choice = QComboBox()
        self.choice.addItems(experiment_names())
        self.choice.currentTextChanged.connect(self._describe)
        self.about = QLabel(wordWrap=True)
        self.about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.seeds = QSpinBox(minimum=0, maximum=100, specialValueText="experiment's")
        self.epochs = QSpinBox(minimum=0, maximum=10_000, specialValueText="experiment's")
        self.tiny = QCheckBox("Smoke test (1 seed, 1 epoch, 64 examples, 1 unit per stage)")
        form = QFormLayout()
        form.addRow("Experiment", self.choice)
        form.addRow("Seeds", self.seeds)
        form.addRow("Epochs", self.epochs)
        form.addRow("", self.tiny)

        self.run_button = QPushButton("Run")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.export_button = QPushButton("Export CSV…")
        self.run_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button.clicked.connect(self.stop)
        self.export_button.clicked.connect(self._export_clicked)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.pause_button, self.stop_button, self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.progress = QProgressBar()
        self.status = QLabel(wordWrap=True)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        # The experiment's arm order until the user sorts by a column (a click on its header).
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.
                                                           ResizeToContents)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.about)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        self._describe(self.choice.currentText())
        self._update_buttons()

    # ------------------------------------------------------------------ protocol
    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    @property
    def paused(self) -> bool:
        return self.running and self._paused

    def set_experiment(self, experiment: Any) -> None:
        """Runs `experiment` (an Experiment) instead of the chosen built-in one."""
        self.experiment = experiment
        self.about.setText(self._about_text(experiment))

    def start(self) -> None:
        from resnet_studio.core.experiments.runner import Settings, new_experiment_dir
        from resnet_studio.core.experiments.schema import load_experiment
        from resnet_studio.core.runs import default_runs_root
        from resnet_studio.gui.jobs import Job

        if self.running:
            return
        if self.run_guard is not None and not self.run_guard("run an experiment"):
            return
        try:
            experiment = self.experiment or load_experiment(self.choice.currentText())
        except ValueError as e:
            self.error.emit("Experiment", str(e), "")
            return
        tiny = TINY if self.tiny.isChecked() else {}
        settings = Settings(seeds=self.seeds.value() or tiny.get("seeds"),
                            epochs=self.epochs.value() or tiny.get("epochs"),
                            limit=tiny.get("limit"),
                            architecture=dict(tiny.get("architecture", {})))
        self.folder = new_experiment_dir(self.runs_root or default_runs_root(),
                                         experiment.name)
        seeds = settings.seeds or experiment.seeds
        self._total = seeds * len(experiment.arms)
        self._done = 0
        self._runs = {a.name: [] for a in experiment.arms}
        self.arms = []
        self.table.setRowCount(0)
        self.progress.setRange(0, self._total)
        self.progress.setValue(0)
        self.status.setText(f"Running {experiment.name} in {self.folder}…")
        self._paused = False
        self.job = Job(run_experiment_job, experiment, self.folder, settings,
                       name="experiment", parent=self)
        self.job.partial.connect(self._on_run_finished)
        self.job.failed.connect(self._on_failed)
        self.job.finished.connect(self._on_finished)
        self.job.start()
        self._update_buttons()

    @Slot()
    def stop(self) -> None:
        if self.running:
            self.job.cancel()
            self.status.setText("Stopping after the current batch… (resume later with "
                                f"resnet-studio experiment --resume {self.folder})")

    @Slot()
    def pause(self) -> None:
        if self.running and not self._paused:
            self.job.state.pause()
            self._paused = True
            self._update_buttons()

    @Slot()
    def resume(self) -> None:
        if self.running and self._paused:
            self.job.state.resume()
            self._paused = False
            self._update_buttons()

    def confirm_stop(self, action: str) -> bool:
        if not self.running:
            return True
        from resnet_studio.gui.training.worker import ask_to_stop

        if not ask_to_stop(self, "Experiment in Progress", f"An experiment is running. Stop "
                           f"it to {action}?\n\nFinished runs are kept; resume the rest with "
                           f"resnet-studio experiment --resume {self.folder}"):
            return False
        return self.shutdown()

    def shutdown(self) -> bool:
        if self.job is not None and self.job.running:
            return self.job.cancel_and_deliver(self)
        return True

    # ------------------------------------------------------------------ results
    @Slot(object)
    def _on_run_finished(self, item: Any) -> None:
        from resnet_studio.core.experiments.summary import arm_summary

        arm, seed, summary, kept = item
        self._runs.setdefault(arm, []).append(summary)
        self._done += 1
        self.progress.setValue(self._done)
        loss = summary.get("final_train_loss")
        text = f"{arm} seed {seed}: {summary['status']}"
        if loss is not None:
            text += f", train loss {loss:.4f}"
        self.status.setText(text + (" (kept from before)" if kept else ""))
        self.arms = [arm_summary(name, runs) for name, runs in self._runs.items() if runs]
        self._fill_table()

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.error.emit("Experiment failed", message, details)

    @Slot(object)
    def _on_finished(self, arms: Any) -> None:
        if arms is not None:
            self.arms = list(arms)
            self._fill_table()
            self.status.setText(f"Done: {self.folder}")
        self._paused = False
        self._update_buttons()
        self.finished.emit(arms)

    def _fill_table(self) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.arms))
        fmts = {"final_train_loss": ".4f", "val_accuracy": ".3f", "test_accuracy": ".3f",
                "gradient_ratio": ".3g"}
        for row, a in enumerate(self.arms):
            self.table.setItem(row, 0, QTableWidgetItem(a["name"]))
            for col, key in enumerate(STATS, start=1):
                stat = a.get(key) or {}
                self.table.setItem(row, col, _NumberItem(_pm(stat, fmts[key]),
                                                         stat.get("mean")))
            params, seconds = a.get("params"), a.get("seconds")
            self.table.setItem(row, 5, _NumberItem(f"{params:,}" if params else "—", params))
            self.table.setItem(row, 6, _NumberItem(f"{seconds:.0f}" if seconds else "—",
                                                   seconds))
            self.table.setItem(row, 7, _NumberItem(str(len(a["runs"])), len(a["runs"])))
        self.table.setSortingEnabled(True)

    def export_csv(self, path: str | Path) -> None:
        """The table as CSV: mean and sd in separate columns."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["arm", *(f"{k}_{m}" for k in STATS for m in ("mean", "sd")),
                        "params", "seconds_per_run", "runs"])
            for a in self.arms:
                w.writerow([a["name"], *((a[k] or {}).get(m) for k in STATS
                                         for m in ("mean", "sd")),
                            a.get("params"), a.get("seconds"), len(a["runs"])])

    def _export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export results", "experiment.csv",
                                              "CSV (*.csv)")
        if path:
            self.export_csv(path)

    # ------------------------------------------------------------------ helpers
    def _on_pause_clicked(self) -> None:
        self.resume() if self._paused else self.pause()

    def _update_buttons(self) -> None:
        running = self.running
        self.run_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Resume" if self._paused else "Pause")
        self.stop_button.setEnabled(running)
        self.export_button.setEnabled(bool(self.arms))
        self.state_changed.emit()

    def _describe(self, name: str) -> None:
        from resnet_studio.core.experiments.schema import load_experiment

        if not name:
            return
        try:
            self.about.setText(self._about_text(load_experiment(name)))
        except ValueError as e:
            self.about.setText(str(e))

    @staticmethod
    def _about_text(e: Any) -> str:
        arms = ", ".join(a.name for a in e.arms)
        return (f"<b>{e.title or e.name}</b> — {e.preset} on {e.dataset}, arms: {arms}; "
                f"{e.seeds} seed(s).<br><i>Claim:</i> {e.claim}<br><i>Source:</i> "
                f"{e.citation}")
