"""The train panel: dataset picker with preview, training settings, run controls, progress, log.

Settings are the same schema as a preset's `training` section and the CLI flags
(core/training_config.py), shown with the inspector's field editors. The preset's values are
the defaults; what the user changes here overrides them for the next run (shown in bold with
a reset button) and survives edits of the architecture.

Training settings belong to the document: opening another file or preset, or File › New,
starts the panel over from that document's `training` section and dataset
(`adopt_document`); the previous document's changes are not carried over (the log says
which were dropped; each run keeps the settings it used in its run.json).
"""

from __future__ import annotations

import math
import time
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.training_config import TRAINING_PARAMS, TrainingConfig
from resnet_studio.gui import icons, theme
from resnet_studio.gui.inspector import ParamField
from resnet_studio.gui.training.preview import (
    SAMPLES,
    Preview,
    PreviewLoader,
    image_pixmap,
    sequence_pixmap,
    token_text,
)

MAIN_SETTINGS = ("optimizer", "learning_rate", "schedule", "epochs", "batch_size",
                 "weight_decay", "weight_decay_mode", "weight_decay_on", "augment", "seed")
# Edited in the Devices group (a strategy choice and a list of the detected devices).
DEVICE_SETTINGS = ("strategy", "devices")
STRATEGY_TEXT = {
    "default": ("One device", "The first GPU, else the CPU."),
    "mirrored": ("Several devices (mirrored)",
                 "Every step splits the batch between the checked devices (none checked: "
                 "every GPU) and sums their gradients; batch size stays the global batch."),
    "multi-worker": ("Several machines (multi-worker)",
                     "Start from the command line on every machine, with TF_CONFIG "
                     "describing the cluster (docs/distributed.md)."),
}
TFDS_SUGGESTIONS = ("tfds:mnist", "tfds:fashion_mnist", "tfds:cifar10", "tfds:imdb_reviews")
LOG_LINES = 5000
THUMB_SHOWN = 36  # eight samples fit the panel's width
STATES = ("idle", "starting", "running", "paused", "stopping")


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainPanel(QWidget):
    """Signals:
        start_requested, stop_requested, pause_requested, resume_requested: the buttons.
        dataset_changed(str): the user picked another dataset.
    """

    start_requested = Signal()
    stop_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    dataset_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, hold_previews: bool = False) -> None:
        """hold_previews: dataset previews wait for loader.release() (PreviewLoader.hold)."""
        super().__init__(parent)
        self.preset_training: dict[str, Any] = {}
        self.overrides: dict[str, Any] = {}
        self._dataset_overridden = False  # the user picked a dataset: presets stop setting it
        self.text_args: dict[str, Any] = {}  # how the open architecture reads text
        self.fields: dict[str, ParamField] = {}
        self.state = "idle"
        self._status_is_error = False
        self._ready_text = "Ready to train."
        self.preview: Preview | None = None
        self.loader = PreviewLoader(self)
        if hold_previews:
            self.loader.hold()
        self.loader.loaded.connect(self._on_preview)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget(scroll)
        scroll.setWidget(body)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self._make_data_group(body))
        lay.addWidget(self._make_settings_group(body))
        lay.addWidget(self._make_devices_group(body))
        lay.addWidget(self._make_advanced_group(body))
        lay.addStretch(1)
        outer.addWidget(scroll, 3)
        outer.addWidget(self._make_controls())
        self.log_view = QPlainTextEdit(self)
        self.log_view.setObjectName("trainingLog")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_LINES)
        self.log_view.setFont(theme.monospace_font())
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_view.setPlaceholderText("The run's log appears here.")
        outer.addWidget(self.log_view, 2)
        self.set_state("idle")

    # ------------------------------------------------------------------ building
    def _make_data_group(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Data", parent)
        grid = QGridLayout(box)
        self.dataset_combo = QComboBox(box)
        self.dataset_combo.setObjectName("datasetCombo")
        self.dataset_combo.setEditable(True)
        self.dataset_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.dataset_combo.setToolTip("A built-in dataset (offline), tfds:NAME[/CONFIG], "
                                      "folder:PATH or npz:PATH")
        for name in _builtin_names():
            self.dataset_combo.addItem(name)
        self.dataset_combo.insertSeparator(self.dataset_combo.count())
        for name in TFDS_SUGGESTIONS:
            self.dataset_combo.addItem(name)
        self.dataset_combo.activated.connect(lambda _i: self._on_dataset_entered())
        self.dataset_combo.lineEdit().editingFinished.connect(self._on_dataset_entered)
        folder = QToolButton(box)
        folder.setText("Folder…")
        folder.setToolTip("Images or texts in one subfolder per class")
        folder.clicked.connect(self._choose_folder)
        npz = QToolButton(box)
        npz.setText(".npz…")
        npz.setToolTip("Arrays x_train, y_train, x_test, y_test")
        npz.clicked.connect(self._choose_npz)
        grid.addWidget(self.dataset_combo, 0, 0)
        grid.addWidget(folder, 0, 1)
        grid.addWidget(npz, 0, 2)
        self.dataset_info = QLabel(box)
        self.dataset_info.setObjectName("datasetInfo")
        self.dataset_info.setWordWrap(True)
        self.dataset_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(self.dataset_info, 1, 0, 1, 3)
        self.samples = QWidget(box)
        self.samples_layout = QHBoxLayout(self.samples)
        self.samples_layout.setContentsMargins(0, 0, 0, 0)
        self.samples_layout.setSpacing(3)
        self.sample_labels: list[QLabel] = []
        for _ in range(SAMPLES):
            label = QLabel(self.samples)
            label.setFixedSize(THUMB_SHOWN, THUMB_SHOWN)
            label.setScaledContents(True)
            self.samples_layout.addWidget(label)
            self.sample_labels.append(label)
        self.samples_layout.addStretch(1)
        grid.addWidget(self.samples, 2, 0, 1, 3)
        self.sample_text = QLabel(box)
        self.sample_text.setFont(theme.monospace_font())
        self.sample_text.setWordWrap(True)
        self.sample_text.hide()
        grid.addWidget(self.sample_text, 3, 0, 1, 3)
        grid.setColumnStretch(0, 1)
        return box

    def _field(self, name: str, parent: QWidget, form: QFormLayout) -> None:
        param = next(p for p in TRAINING_PARAMS if p.name == name)
        f = ParamField(param, parent)
        f.committed.connect(self._on_committed)
        f.reset.connect(self._on_reset)
        self.fields[name] = f
        form.addRow(f.label, f.row)
        form.addRow("", f.message)

    def _make_settings_group(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Training", parent)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name in MAIN_SETTINGS:
            self._field(name, box, form)
        return box

    def _make_devices_group(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Devices", parent)
        box.setObjectName("devicesGroup")
        lay = QVBoxLayout(box)
        self.strategy_combo = QComboBox(box)
        self.strategy_combo.setObjectName("strategyCombo")
        for name, (text, tip) in STRATEGY_TEXT.items():
            self.strategy_combo.addItem(text, name)
            self.strategy_combo.setItemData(self.strategy_combo.count() - 1, tip,
                                            Qt.ItemDataRole.ToolTipRole)
        # The GUI cannot join a cluster: multi-worker runs are started from the CLI.
        item = self.strategy_combo.model().item(self.strategy_combo.count() - 1)
        item.setEnabled(False)
        self.strategy_combo.activated.connect(
            lambda i: self._on_committed("strategy", self.strategy_combo.itemData(i)))
        lay.addWidget(self.strategy_combo)
        self.device_list = QListWidget(box)
        self.device_list.setObjectName("deviceList")
        self.device_list.setToolTip("Devices the mirrored strategy trains on (none checked: "
                                    "every GPU)")
        self.device_list.setMaximumHeight(90)
        self.device_list.itemChanged.connect(self._on_device_checked)
        lay.addWidget(self.device_list)
        self.devices_note = QLabel("Looking for devices…", box)
        self.devices_note.setObjectName("devicesNote")
        self.devices_note.setWordWrap(True)
        lay.addWidget(self.devices_note)
        self._devices_problem = ""
        self._show_devices(TrainingConfig().to_dict())
        return box

    def _make_advanced_group(self, parent: QWidget) -> QGroupBox:
        box = QGroupBox("Advanced", parent)
        box.setCheckable(True)
        box.setChecked(False)
        inner = QWidget(box)
        form = QFormLayout(inner)
        form.setContentsMargins(0, 0, 0, 0)
        for p in TRAINING_PARAMS:
            if p.name not in MAIN_SETTINGS and p.name not in DEVICE_SETTINGS:
                self._field(p.name, inner, form)
        lay = QVBoxLayout(box)
        lay.addWidget(inner)
        inner.setVisible(False)
        box.toggled.connect(inner.setVisible)
        self.advanced_box = box
        return box

    def _make_controls(self) -> QWidget:
        w = QWidget(self)
        grid = QGridLayout(w)
        grid.setContentsMargins(6, 0, 6, 0)
        self.start_button = QPushButton(icons.icon("train"), "Start", w)
        self.start_button.setObjectName("startButton")
        self.start_button.setToolTip("Train the open architecture with these settings (F5)")
        self.start_button.clicked.connect(self.start_requested.emit)
        self.pause_button = QPushButton("Pause", w)
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setToolTip("Hold training between batches (optimizer state kept)")
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button = QPushButton("Stop", w)
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop after the current batch; a checkpoint is kept and "
                                    "the run can be resumed from the Runs tab")
        self.stop_button.clicked.connect(self.stop_requested.emit)
        for col, b in enumerate((self.start_button, self.pause_button, self.stop_button)):
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            grid.addWidget(b, 0, col)
        self.progress = QProgressBar(w)
        self.progress.setObjectName("trainingProgress")
        self.progress.setTextVisible(True)
        grid.addWidget(self.progress, 1, 0, 1, 3)
        # Epoch, batch, speed and ETA: a line of its own (too long for the bar's text).
        self.progress_label = QLabel(w)
        self.progress_label.setObjectName("progressDetails")
        grid.addWidget(self.progress_label, 2, 0, 1, 3)
        self.status_label = QLabel("Ready to train.", w)
        self.status_label.setObjectName("trainingStatus")
        self.status_label.setWordWrap(True)
        grid.addWidget(self.status_label, 3, 0, 1, 3)
        return w

    # ------------------------------------------------------------------ settings
    def set_preset_defaults(self, training: dict[str, Any] | None, dataset: str | None,
                            text: dict[str, Any] | None = None) -> None:
        """The open architecture's `training` section and dataset (the defaults here), and
        how it reads text (`tokenizers.text_load_args`: the preview tokenizes the same way)."""
        self.preset_training = dict(training or {})
        text = dict(text or {})
        retokenize = text != self.text_args
        self.text_args = text
        if dataset and not self._dataset_overridden:
            self.set_dataset(dataset, user=False)
        elif retokenize and self.preview is not None and self.dataset():
            self._load_preview(self.dataset())
        self._show_values()

    def adopt_document(self, name: str, training: dict[str, Any] | None, dataset: str | None,
                       text: dict[str, Any] | None = None) -> None:
        """Another document was opened: its settings replace the user's changes.

        The changes made for the previous document are dropped (and listed in the log), the
        dataset follows the new document when it names one, and a stale "Could not train"
        line is cleared.
        """
        dropped = sorted(self.overrides)
        self.overrides = {}
        self._devices_problem = ""
        for f in self.fields.values():
            f.set_problem("")
        self._dataset_overridden = False
        if dropped:
            self.append_log(f"Training settings now come from {name} (your changes to "
                            f"{', '.join(dropped)} were for the previous architecture).")
        self.clear_error_status()
        self.set_preset_defaults(training, dataset, text)

    def clear_error_status(self) -> None:
        """Removes an error left in the status line by a run that could not start."""
        if self.state == "idle" and self._status_is_error:
            self.set_status(self._ready_text)

    def values(self) -> dict[str, Any]:
        """Defaults < preset < the user's changes."""
        return TrainingConfig.from_sources(self.preset_training, self.overrides).to_dict()

    def config(self) -> TrainingConfig:
        """The settings of the next run. Raises ValueError naming the bad setting."""
        return TrainingConfig.from_sources(self.preset_training, self.overrides)

    def set_value(self, name: str, value: Any) -> None:
        """Sets a setting as if the user had entered it (tests, scripts)."""
        self._on_committed(name, value)

    def _show_values(self) -> None:
        try:
            values = self.values()
        except ValueError:  # a bad preset section: show what can be shown
            values = {**{p.name: p.default for p in TRAINING_PARAMS}, **self.preset_training}
        for name, f in self.fields.items():
            f.set_value(values.get(name), name in self.overrides)
        self._show_devices(values)

    @Slot(str, object)
    def _on_committed(self, name: str, value: Any) -> None:
        self.overrides[name] = value
        try:
            TrainingConfig.from_sources(self.preset_training, self.overrides)
            problem = ""
        except ValueError as e:
            problem = str(e).split(": ", 1)[-1]
        if name in self.fields:
            self.fields[name].set_problem(problem)
        else:  # a device setting
            self._devices_problem = problem
        self._show_values()

    @Slot(str)
    def _on_reset(self, name: str) -> None:
        self.overrides.pop(name, None)
        self.fields[name].set_problem("")
        self._show_values()

    def set_gpu_available(self, available: bool, device: str) -> None:
        """Mixed precision only makes sense on a GPU; say which device will train."""
        f = self.fields["precision"]
        f.widget.setEnabled(available)
        f.widget.setToolTip(f.param.help if available else
                            "Mixed precision needs a GPU; this machine trains on the CPU.")
        self._ready_text = f"Ready to train on {device}."
        if self.state == "idle" and not self._status_is_error:
            self.status_label.setText(self._ready_text)

    # ------------------------------------------------------------------ devices
    def set_devices(self, devices: list[str]) -> None:
        """The devices TensorFlow found ("CPU:0", "GPU:0", … from
        `core.training.distribute.list_devices`), offered to the mirrored strategy."""
        self.device_list.blockSignals(True)
        self.device_list.clear()
        for name in devices:
            item = QListWidgetItem(name, self.device_list)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
        self.device_list.blockSignals(False)
        mirrored = self.strategy_combo.model().item(self.strategy_combo.findData("mirrored"))
        mirrored.setEnabled(len(devices) > 1)
        mirrored.setToolTip(STRATEGY_TEXT["mirrored"][1] if len(devices) > 1 else
                            "Only one device was found on this machine.")
        self._show_values()

    def devices(self) -> list[str]:
        """The detected devices listed in the panel."""
        return [self.device_list.item(i).text() for i in range(self.device_list.count())]

    def _on_device_checked(self, _item: QListWidgetItem) -> None:
        checked = [self.device_list.item(i).text() for i in range(self.device_list.count())
                   if self.device_list.item(i).checkState() == Qt.CheckState.Checked]
        self._on_committed("devices", ",".join(checked))

    def _show_devices(self, values: dict[str, Any]) -> None:
        """Shows the strategy and devices of the next run, and how the batch is split."""
        from resnet_studio.core.training_config import parse_devices

        strategy = values.get("strategy", "default")
        index = self.strategy_combo.findData(strategy)
        self.strategy_combo.setCurrentIndex(max(0, index))
        font = self.strategy_combo.font()
        font.setBold(any(k in self.overrides for k in DEVICE_SETTINGS))
        self.strategy_combo.setFont(font)
        try:
            chosen = [d.rsplit("device:", 1)[-1] for d in parse_devices(values.get("devices")
                                                                         or "")]
        except ValueError:
            chosen = []
        self.device_list.blockSignals(True)
        for i in range(self.device_list.count()):
            item = self.device_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in chosen
                               else Qt.CheckState.Unchecked)
        self.device_list.blockSignals(False)
        self.device_list.setEnabled(strategy == "mirrored" and self.state == "idle")
        listed = self.devices()
        if self._devices_problem:
            note = self._devices_problem
        elif strategy == "mirrored":
            used = chosen or [d for d in listed if d.startswith("GPU")] or ["CPU:0"]
            batch = values.get("batch_size") or 0
            share = f"{batch / len(used):g}" if batch else "?"
            note = (f"{len(used)} replica{'s' if len(used) > 1 else ''} ({', '.join(used)}); "
                    f"each step splits the batch of {batch}: {share} examples per replica.")
        elif strategy == "multi-worker":
            note = STRATEGY_TEXT["multi-worker"][1]
        else:
            gpus = [d for d in listed if d.startswith("GPU")]
            note = f"Trains on {gpus[0] if gpus else 'the CPU'}." if listed else \
                "Trains on the first GPU, else the CPU."
        self.devices_note.setText(note)
        self.devices_note.setStyleSheet(f"color: {theme.error_color().name()};"
                                        if self._devices_problem else "")

    # ------------------------------------------------------------------ dataset
    def dataset(self) -> str:
        return self.dataset_combo.currentText().strip()

    def set_dataset(self, name: str, *, user: bool = True) -> None:
        if user:
            self._dataset_overridden = True
            # "Could not train: folder…" was about the previous choice (issue 18, item 9).
            self.clear_error_status()
        if self.dataset_combo.findText(name) < 0:
            self.dataset_combo.addItem(name)
        self.dataset_combo.setCurrentText(name)
        self._load_preview(name)
        if user:
            self.dataset_changed.emit(name)

    def _on_dataset_entered(self) -> None:
        name = self.dataset()
        if name and (self.preview is None or self.preview.name != name):
            self.set_dataset(name)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Dataset folder (one subfolder per class)")
        if path:
            self.set_dataset(f"folder:{path}")

    def _choose_npz(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Dataset arrays", "",
                                              "NumPy arrays (*.npz);;All files (*)")
        if path:
            self.set_dataset(f"npz:{path}")

    def _load_preview(self, name: str) -> None:
        self.preview = Preview(name)
        self.dataset_info.setText(f"Reading {name}…")
        self.dataset_info.setStyleSheet("")
        for label in self.sample_labels:
            label.clear()
        self.sample_text.hide()
        self.loader.request(name, None, self.text_args or None)

    @Slot(object)
    def _on_preview(self, preview: Preview) -> None:
        self.preview = preview
        if preview.error:
            self.dataset_info.setText(preview.error)
            self.dataset_info.setStyleSheet(f"color: {theme.error_color().name()};")
            return
        info = preview.info
        sizes = " / ".join(f"{info.sizes.get(k, -1):,}" if info.sizes.get(k, -1) >= 0 else "?"
                           for k in ("train", "validation", "test"))
        what = (f"{info.num_classes} classes" if info.task == "classification"
                else f"vocabulary {info.vocab_size}")
        shape = "×".join(str(d) for d in info.input_shape)
        self.dataset_info.setText(
            f"<b>{info.name}</b> — {info.input_kind} {shape}, {what}<br>"
            f"train / validation / test: {sizes}"
            + ("" if info.offline else " · <i>downloads on first use</i>"))
        self.dataset_info.setToolTip(info.description)
        self.dataset_info.setStyleSheet("")
        self._show_samples(preview)

    def _show_samples(self, preview: Preview) -> None:
        info, x = preview.info, preview.x
        if x is None:
            return
        names = info.class_names
        palette = self.palette()
        for i, label in enumerate(self.sample_labels):
            if i >= len(x) or info.input_kind == "tokens":
                label.clear()
                continue
            if info.input_kind == "image":
                label.setPixmap(image_pixmap(x[i]))
            else:
                label.setPixmap(sequence_pixmap(x[i], theme.accent(theme.family_color(
                    "Recurrent"), palette), palette.base().color()))
            y = preview.y[i] if preview.y is not None and preview.y.ndim == 1 else None
            text = (names[int(y)] if names and y is not None and int(y) < len(names)
                    else str(int(y)) if y is not None else "")
            label.setToolTip(f"label: {text}" if text else "")
        if info.input_kind == "tokens":
            self.sample_text.setText(token_text(x[0], preview.vocabulary,
                                                tokens=preview.tokens))
            if preview.tokens is not None:
                self.sample_text.setToolTip(f"The first example as {preview.tokenizer} tokens "
                                            f"(what the model reads)")
            self.sample_text.show()

    # ------------------------------------------------------------------ run state
    def set_state(self, state: str) -> None:
        """idle | starting | running | paused | stopping: which controls are enabled."""
        if state not in STATES:
            raise ValueError(f"Expected state in {STATES}, received: state={state!r}")
        self.state = state
        self.start_button.setEnabled(state == "idle")
        self.pause_button.setEnabled(state in ("running", "paused", "starting"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("starting", "running", "paused"))
        for f in self.fields.values():
            f.row.setEnabled(state == "idle")
        self.dataset_combo.setEnabled(state == "idle")
        self.strategy_combo.setEnabled(state == "idle")
        self.device_list.setEnabled(state == "idle" and
                                    self.strategy_combo.currentData() == "mirrored")

    def _on_pause_clicked(self) -> None:
        if self.state == "paused":
            self.resume_requested.emit()
        else:
            self.pause_requested.emit()

    def set_status(self, text: str, error: bool = False) -> None:
        self._status_is_error = error
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {theme.error_color().name()};" if error else "")

    def begin_progress(self, total_steps: int, first_step: int = 0) -> None:
        self._t0 = time.perf_counter()
        self._first_step = first_step
        if total_steps > 0:
            self.progress.setRange(0, total_steps)
            self.progress.setValue(first_step)
        else:
            self.progress.setRange(0, 0)  # unknown length: busy indicator
        self.progress.setFormat("%p%")
        self.progress_label.setText("")

    def show_progress(self, epoch: int, epochs: int, batch: int, steps_per_epoch: int,
                      step: int, samples_per_second: float, batch_size: int) -> None:
        """Epoch, step, speed and ETA (called at the panel's refresh rate, not per batch)."""
        total = self.progress.maximum()
        if total > 0:
            self.progress.setValue(min(step, total))
        per_epoch = f"/{steps_per_epoch}" if steps_per_epoch > 0 else ""
        eta = "–"
        if total > 0 and samples_per_second > 0:
            eta = format_duration((total - step) * batch_size / samples_per_second)
        self.progress_label.setText(f"epoch {epoch}/{epochs} · batch {batch}{per_epoch} · "
                                    f"{samples_per_second:,.0f} samples/s · ETA {eta}")

    def end_progress(self, completed: bool) -> None:
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        if completed:
            self.progress.setValue(self.progress.maximum())

    def append_log(self, message: str, level: str = "info") -> None:
        stamp = time.strftime("%H:%M:%S")
        cursor = self.log_view.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        fmt = QTextCharFormat()
        if level == "error":
            fmt.setForeground(theme.error_color())
            fmt.setFontWeight(QFont.Weight.Bold)
        elif level == "warning":
            fmt.setForeground(theme.accent(theme.SHORTCUT_COLOR))
        cursor.insertText(("\n" if not self.log_view.document().isEmpty() else "")
                          + f"{stamp}  {message}", fmt)
        # Follow the newest line, from its start (not scrolled to the end of a long line).
        bar = self.log_view.verticalScrollBar()
        bar.setValue(bar.maximum())
        self.log_view.horizontalScrollBar().setValue(0)

    def log_text(self) -> str:
        return self.log_view.toPlainText()


def _builtin_names() -> list[str]:
    from resnet_studio.core.data import dataset_names

    return [n for n in dataset_names() if ":" not in n]
