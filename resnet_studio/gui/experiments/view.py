"""The Experiments tab: choose a built-in experiment or an experiment file, edit its arms,
run it in the background, and read its results as they come.

A thin layer over core/experiments:

- **Setup**: the experiment (a built-in one, or a file), its description and claim, seeds and
  epochs (or a smoke test), and the arms table (`ArmsEditor`: a cell per arm and parameter,
  the inspector's and training panel's editors). Run builds the experiment from the table
  and validates it like a file (a problem names the arm and the field, in a dialog);
  Save… writes it as an experiment file.
- **Running**: `ExperimentRun` in a `Job` (gui/jobs.py). Each run's start and epochs arrive
  as partial results and update its arm's Progress cell; each finished run updates its arm's
  row (mean ± sd over the seeds done so far) and the figures. Pause holds the current run
  between batches (the tab says when it really stopped), Stop ends it at a checkpoint, and
  Resume continues a stopped experiment — or any experiment folder — arm by arm: finished
  runs are kept, the cut-off one continues from its checkpoint (`resume_experiment`).
- **Results**: the table sorts by any column (by the number, not the text) and exports as
  CSV; the figures (figures.py) export as PNG and SVG.
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
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.gui.experiments.arms_editor import ArmsEditor
from resnet_studio.gui.experiments.figures import ExperimentFigures

COLUMNS = ("Arm", "Final train loss", "Val accuracy", "Test accuracy", "Gradient ratio",
           "Params", "Seconds / run", "Runs", "Progress")
STATS = ("final_train_loss", "val_accuracy", "test_accuracy", "gradient_ratio")
FORMATS = {"final_train_loss": ".4f", "val_accuracy": ".3f", "test_accuracy": ".3f",
           "gradient_ratio": ".3g"}
TINY = {"seeds": 1, "epochs": 1, "limit": 64, "architecture": {"repeat": 1}}
PAUSED_PREFIX = "Paused at step "


def run_experiment_job(run: Any, state: Any) -> Any:
    """Job function (worker thread): runs `run` (an ExperimentRun), streaming as partial
    results ("start", arm, seed, epochs), ("epoch", arm, seed, epoch, epochs),
    ("paused", arm, seed, step) and ("run", arm, seed, run summary, kept from before);
    returns the arms' summaries."""
    from resnet_studio.core.training.events import EpochEnd, Log, Started

    def observe(arm: str, seed: int, event: Any) -> None:
        if isinstance(event, Started):
            state.partial(("start", arm, seed, event.epochs))
        elif isinstance(event, EpochEnd):
            state.partial(("epoch", arm, seed, event.epoch, run.configs[arm].epochs))
        elif isinstance(event, Log) and event.message.startswith(PAUSED_PREFIX):
            state.partial(("paused", arm, seed, event.message[len(PAUSED_PREFIX):]))

    run.observer = observe
    run.progress = lambda arm, seed, s, kept: state.partial(("run", arm, seed, s, kept))
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
        run_paused(arm, seed): the run in progress really holds (between two batches).
        finished(object): the arms' summaries (None after a failure).
    """

    error = Signal(str, str, str)
    state_changed = Signal()
    run_paused = Signal(str, int)
    finished = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from resnet_studio.core.experiments.schema import experiment_names

        self.run_guard: Any = None
        self.job: Any = None
        self.runs_root: Path | None = None  # None: the default runs root
        self.experiment: Any = None  # what the arms table shows (built-in, file or given)
        self.run: Any = None  # the ExperimentRun in progress or last run
        self.folder: Path | None = None
        self.arms: list[dict[str, Any]] = []
        self._runs: dict[str, list[dict[str, Any]]] = {}
        self._progress: dict[str, dict[str, Any]] = {}
        self._paused = False
        self._incomplete = False

        self.choice = QComboBox()
        self.choice.addItems(experiment_names())
        self.choice.currentTextChanged.connect(self._choose)
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Load an experiment file into the arms table")
        self.open_button.clicked.connect(self._open_clicked)
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the experiment, with the table's arms, as a file")
        self.save_button.clicked.connect(self._save_clicked)
        chooser = QHBoxLayout()
        chooser.addWidget(self.choice, 1)
        chooser.addWidget(self.open_button)
        chooser.addWidget(self.save_button)
        self.about = QLabel(wordWrap=True)
        self.about.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.seeds = QSpinBox(minimum=0, maximum=100, specialValueText="experiment's")
        self.epochs = QSpinBox(minimum=0, maximum=10_000, specialValueText="arms'")
        self.tiny = QCheckBox("Smoke test (1 seed, 1 epoch, 64 examples, 1 unit per stage)")
        form = QFormLayout()
        form.addRow("Experiment", chooser)
        form.addRow("Seeds", self.seeds)
        form.addRow("Epochs", self.epochs)
        form.addRow("", self.tiny)
        self.arms_editor = ArmsEditor()

        self.run_button = QPushButton("Run")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume…")
        self.resume_button.setToolTip("Continue a stopped or interrupted experiment arm by "
                                      "arm (finished runs are kept)")
        self.export_button = QPushButton("Export CSV…")
        self.run_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self._resume_clicked)
        self.export_button.clicked.connect(self._export_clicked)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.pause_button, self.stop_button, self.resume_button,
                  self.export_button):
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
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.
                                                           ResizeToContents)
        self.figures = ExperimentFigures()

        setup = QWidget()
        top = QVBoxLayout(setup)
        top.setContentsMargins(0, 0, 0, 0)
        top.addLayout(form)
        top.addWidget(self.about)
        top.addWidget(self.arms_editor, 1)
        results = QWidget()
        middle = QVBoxLayout(results)
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addLayout(buttons)
        middle.addWidget(self.progress)
        middle.addWidget(self.status)
        middle.addWidget(self.table, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        for w in (setup, results, self.figures):
            self.splitter.addWidget(w)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setStretchFactor(2, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)
        self._choose(self.choice.currentText())
        self._update_buttons()

    # ------------------------------------------------------------------ protocol
    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    @property
    def paused(self) -> bool:
        return self.running and self._paused

    def set_experiment(self, experiment: Any) -> None:
        """Shows `experiment` (an Experiment) in the arms table, to run or edit."""
        self.experiment = experiment
        self.about.setText(self._about_text(experiment))
        self.arms_editor.set_experiment(experiment)

    def built_experiment(self) -> Any:
        """The experiment of the arms table, validated (raises ExperimentError)."""
        from resnet_studio.core.experiments.schema import experiment_from_dict

        source = (self.experiment.source if self.experiment is not None else "") or \
            "the arms table"
        return experiment_from_dict(self.arms_editor.experiment_dict(), source)

    def start(self) -> None:
        from resnet_studio.core.experiments.runner import (
            ExperimentRun,
            Settings,
            new_experiment_dir,
        )
        from resnet_studio.core.runs import default_runs_root

        if self.running:
            return
        if self.run_guard is not None and not self.run_guard("run an experiment"):
            return
        try:
            experiment = self.built_experiment()
            tiny = TINY if self.tiny.isChecked() else {}
            settings = Settings(seeds=self.seeds.value() or tiny.get("seeds"),
                                epochs=self.epochs.value() or tiny.get("epochs"),
                                limit=tiny.get("limit"),
                                architecture=dict(tiny.get("architecture", {})))
            folder = new_experiment_dir(self.runs_root or default_runs_root(), experiment.name)
            run = ExperimentRun(experiment, folder, settings=settings)
        except ValueError as e:  # ExperimentError / SpecError: the arm and field named
            self.error.emit("Experiment", str(e), "")
            return
        self._launch(run, f"Running {experiment.name} in {folder}…")

    def resume_folder(self, folder: str | Path) -> None:
        """Continues the experiment in `folder` arm by arm (finished runs are kept)."""
        from resnet_studio.core.experiments.runner import resume_experiment

        if self.running:
            return
        if self.run_guard is not None and not self.run_guard("resume an experiment"):
            return
        try:
            run = resume_experiment(folder)
        except ValueError as e:
            self.error.emit("Resume experiment", str(e), "")
            return
        self._launch(run, f"Resuming {run.experiment.name} in {folder}…")

    def _launch(self, run: Any, text: str) -> None:
        from resnet_studio.gui.jobs import Job

        self.run, self.folder = run, run.folder
        self._total = len(run.seeds) * len(run.experiment.arms)
        self._done = 0
        self._runs = {a.name: [] for a in run.experiment.arms}
        self._progress = {a.name: {"runs": 0, "seed": None, "epoch": 0, "epochs": 0}
                          for a in run.experiment.arms}
        self.arms = []
        self.progress.setRange(0, self._total)
        self.progress.setValue(0)
        self.status.setText(text)
        self._paused = False
        self._incomplete = True
        self._fill_table()
        self.figures.set_runs({})
        self.job = Job(run_experiment_job, run, name="experiment", parent=self)
        self.job.partial.connect(self._on_partial)
        self.job.failed.connect(self._on_failed)
        self.job.finished.connect(self._on_finished)
        self.job.start()
        self._update_buttons()

    @Slot()
    def stop(self) -> None:
        if self.running:
            self.job.cancel()
            self.status.setText("Stopping after the current batch… (Resume continues it, as "
                                f"does resnet-studio experiment --resume {self.folder})")

    @Slot()
    def pause(self) -> None:
        if self.running and not self._paused:
            self.job.state.pause()
            self._paused = True
            self.status.setText("Pausing after the current batch…")
            self._update_buttons()

    @Slot()
    def resume(self) -> None:
        if self.running and self._paused:
            self.job.state.resume()
            self._paused = False
            self.status.setText("Resumed")
            self._update_buttons()

    def confirm_stop(self, action: str) -> bool:
        if not self.running:
            return True
        from resnet_studio.gui.training.worker import ask_to_stop

        if not ask_to_stop(self, "Experiment in Progress", f"An experiment is running. Stop "
                           f"it to {action}?\n\nFinished runs are kept; resume the rest from "
                           f"the Experiments tab (Resume…) or with resnet-studio experiment "
                           f"--resume {self.folder}"):
            return False
        return self.shutdown()

    def shutdown(self) -> bool:
        if self.job is not None and self.job.running:
            return self.job.cancel_and_deliver(self)
        return True

    # ------------------------------------------------------------------ results
    @Slot(object)
    def _on_partial(self, item: Any) -> None:
        kind, arm = item[0], item[1]
        p = self._progress.setdefault(arm, {"runs": 0, "seed": None, "epoch": 0, "epochs": 0})
        if kind == "start":
            p.update(seed=item[2], epochs=item[3], epoch=0)
            self.status.setText(f"{arm} seed {item[2]}: training…")
        elif kind == "epoch":
            p.update(seed=item[2], epoch=item[3], epochs=item[4])
        elif kind == "paused":
            self.status.setText(f"Paused: {arm} seed {item[2]} at step {item[3]}")
            self.run_paused.emit(arm, int(item[2]))
        elif kind == "run":
            self._on_run_finished(arm, item[2], item[3], item[4])
            return
        self._fill_progress()

    def _on_run_finished(self, arm: str, seed: int, summary: dict[str, Any],
                         kept: bool) -> None:
        from resnet_studio.core.experiments.summary import arm_summary

        self._runs.setdefault(arm, []).append(summary)
        self._progress[arm].update(runs=len(self._runs[arm]), seed=None, epoch=0)
        self._done += 1
        self.progress.setValue(self._done)
        loss = summary.get("final_train_loss")
        text = f"{arm} seed {seed}: {summary['status']}"
        if loss is not None:
            text += f", train loss {loss:.4f}"
        self.status.setText(text + (" (kept from before)" if kept else ""))
        self.arms = [arm_summary(name, runs) for name, runs in self._runs.items() if runs]
        self._fill_table()
        self.figures.set_runs(self.run_dirs())

    def run_dirs(self) -> dict[str, list[str]]:
        """Arm name -> the folders of its finished runs (arm order)."""
        return {name: [r["run_dir"] for r in runs] for name, runs in self._runs.items()
                if runs}

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.error.emit("Experiment failed", message, details)

    @Slot(object)
    def _on_finished(self, arms: Any) -> None:
        if arms is not None:
            self.arms = [a for a in arms if a["runs"]]
            statuses = [s for a in arms for s in a["statuses"]]
            self._incomplete = len(statuses) < self._total or "stopped" in statuses
            for a in arms:
                self._runs[a["name"]] = [{"run_dir": d} for d in a["runs"]]
                self._progress[a["name"]].update(runs=len(a["runs"]), seed=None)
            self._fill_table()
            self.figures.set_runs(self.run_dirs())
            self.status.setText(("Stopped (Resume continues it): " if self._incomplete else
                                 "Done: ") + str(self.folder))
        self._paused = False
        self._update_buttons()
        self.finished.emit(arms)

    def _fill_table(self) -> None:
        """One row per arm of the experiment, in its order (rows of arms with no finished
        run yet show only their progress)."""
        self.table.setSortingEnabled(False)
        names = list(self._progress)
        by_name = {a["name"]: a for a in self.arms}
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            a = by_name.get(name, {"name": name, "runs": []})
            self.table.setItem(row, 0, QTableWidgetItem(name))
            for col, key in enumerate(STATS, start=1):
                stat = a.get(key) or {}
                self.table.setItem(row, col, _NumberItem(_pm(stat, FORMATS[key]),
                                                         stat.get("mean")))
            params, seconds = a.get("params"), a.get("seconds")
            self.table.setItem(row, 5, _NumberItem(f"{params:,}" if params else "—", params))
            self.table.setItem(row, 6, _NumberItem(f"{seconds:.0f}" if seconds else "—",
                                                   seconds))
            self.table.setItem(row, 7, _NumberItem(str(len(a["runs"])), len(a["runs"])))
            self.table.setItem(row, 8, self._progress_item(name))
        self.table.setSortingEnabled(True)

    def _progress_item(self, arm: str) -> _NumberItem:
        p = self._progress[arm]
        seeds = len(self.run.seeds) if self.run is not None else 1
        epochs = max(1, p["epochs"] or 1)
        fraction = min(1.0, (p["runs"] + (p["epoch"] / epochs if p["seed"] is not None
                                          else 0.0)) / seeds)
        text = f"{p['runs']}/{seeds} runs"
        if p["seed"] is not None:
            text += f" · seed {p['seed']}, epoch {p['epoch']}/{p['epochs']}"
        return _NumberItem(f"{fraction:4.0%}  {text}", fraction)

    def _fill_progress(self) -> None:
        for row in range(self.table.rowCount()):
            name = self.table.item(row, 0).text()
            if name in self._progress:
                self.table.setItem(row, 8, self._progress_item(name))

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

    # ------------------------------------------------------------------ setup
    def _choose(self, name: str) -> None:
        from resnet_studio.core.experiments.schema import load_experiment

        if not name:
            return
        try:
            self.set_experiment(load_experiment(name))
        except ValueError as e:
            self.about.setText(str(e))

    def _open_clicked(self) -> None:
        from resnet_studio.core.experiments.schema import load_experiment_file

        path, _ = QFileDialog.getOpenFileName(self, "Open experiment", "",
                                              "Experiment (*.json)")
        if not path:
            return
        try:
            self.set_experiment(load_experiment_file(path))
        except ValueError as e:
            self.error.emit("Open experiment", str(e), "")

    def _save_clicked(self) -> None:
        import json

        from resnet_studio.core.spec import atomic_write_text

        try:
            experiment = self.built_experiment()
        except ValueError as e:
            self.error.emit("Save experiment", str(e), "")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save experiment",
                                              f"{experiment.name}.json", "Experiment (*.json)")
        if path:
            atomic_write_text(Path(path), json.dumps(experiment.to_dict(), indent=2,
                                                     ensure_ascii=False) + "\n", backup=False)

    def _resume_clicked(self) -> None:
        if self.folder is not None and self._incomplete:
            self.resume_folder(self.folder)
            return
        from resnet_studio.core.runs import default_runs_root

        folder = QFileDialog.getExistingDirectory(self, "Resume experiment folder",
                                                  str(self.runs_root or default_runs_root()))
        if folder:
            self.resume_folder(folder)

    # ------------------------------------------------------------------ helpers
    def _on_pause_clicked(self) -> None:
        self.resume() if self._paused else self.pause()

    def _update_buttons(self) -> None:
        running = self.running
        self.run_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Continue" if self._paused else "Pause")
        self.stop_button.setEnabled(running)
        self.resume_button.setEnabled(not running)
        self.resume_button.setText("Resume" if self._incomplete and self.folder else
                                   "Resume…")
        self.export_button.setEnabled(bool(self.arms))
        for w in (self.choice, self.open_button, self.arms_editor):
            w.setEnabled(not running)
        self.state_changed.emit()

    @staticmethod
    def _about_text(e: Any) -> str:
        return (f"<b>{e.title or e.name}</b> — {e.preset} on {e.dataset}; {e.seeds} "
                f"seed(s).<br><i>Claim:</i> {e.claim}<br><i>Source:</i> {e.citation}")
