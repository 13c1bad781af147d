"""Export dialog: writes a run's model as a SavedModel, a .keras file, TFLite or Python code.

The export itself is `restore.export_run` (Qt-free): it rebuilds the model from the run
folder, loads the last checkpoint, writes the export into a temporary folder, reloads it and
compares its outputs with Keras on a test batch, and only then renames it into place. That
takes seconds to minutes, so it runs in its own QThread; the dialog shows a busy bar, and the
result (or the error, in red) when the thread reports back.

The export is a job (gui.jobs: `export_job` in a QThread made for this one export, its
outcome delivered to slots of the dialog in the GUI thread). Closing the dialog waits for
that thread and delivers the outcome at once: an export cannot be interrupted half-way (it
would leave a temporary folder behind), and a QThread destroyed while running aborts the
process.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from resnet_studio.core.export import ExportError, ExportResult
from resnet_studio.core.jobs import JobState
from resnet_studio.core.runs import RunInfo, exports_dir
from resnet_studio.core.training import restore
from resnet_studio.gui import theme
from resnet_studio.gui.jobs import Job

# (format key, label in the combo box, default file or folder name under <run>/exports/)
FORMATS: tuple[tuple[str, str, str], ...] = (
    ("savedmodel", "TensorFlow SavedModel (folder: TF Serving, converters)", "savedmodel"),
    ("keras", "Keras model (.keras file: architecture and weights)", "model.keras"),
    ("tflite", "TensorFlow Lite (.tflite file: mobile and embedded)", "model.tflite"),
    ("python", "Python code (.py that rebuilds the architecture, no weights)", "model.py"),
)
QUANTIZED_TFLITE_NAME = "model-quantized.tflite"
FILE_FILTERS = {
    "savedmodel": "SavedModel folder (*)",
    "keras": "Keras model (*.keras)",
    "tflite": "TensorFlow Lite model (*.tflite)",
    "python": "Python script (*.py)",
}
# What the reloaded export was compared with, for the verification line.
VERIFIED_AGAINST = {
    "savedmodel": "the reloaded SavedModel",
    "keras": "the reloaded .keras model",
    "tflite": "the TFLite model run in tf.lite.Interpreter",
}


def format_bytes(n: int) -> str:
    """1.2 MB style sizes (powers of 1000, like file managers show them)."""
    size = float(n)
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} bytes"  # pragma: no cover - the loop always returns


def describe_result(result: ExportResult) -> str:
    """The verification line(s) shown after a successful export."""
    d = result.details or {}
    if result.format == "python":
        params = d.get("params")
        rebuilt = f" with {params:,} parameters" if isinstance(params, int) else ""
        head = ("Verified: the script, run in a fresh interpreter without resnet_studio, "
                f"rebuilds the model{rebuilt}.")
    elif result.format == "tflite" and d.get("quantized"):
        reduction = d.get("size_reduction")
        smaller = f", {100 * reduction:.0f} % smaller than float32" if reduction else ""
        head = (f"Verified: the quantized TFLite model runs; max |Δ| = "
                f"{result.max_abs_diff:.1e} from Keras (quantization changes the numbers"
                f"{smaller}).")
    else:
        against = VERIFIED_AGAINST.get(result.format, "the reloaded export")
        head = f"Verified: max |Δ| = {result.max_abs_diff:.1e} between Keras and {against}."
    return f"{head}\nSize: {format_bytes(result.bytes)} ({result.bytes:,} bytes)\n{result.path}"


def describe_error(e: BaseException) -> str:
    """One readable line: our own errors already say what and where; others get their type."""
    from resnet_studio.core.data.op_errors import explain, is_op_error

    if isinstance(e, (ExportError, FileNotFoundError, FileExistsError, ValueError)):
        return str(e)
    if is_op_error(e):  # a test batch that cannot be read: our words, not TensorFlow's
        return explain(e)
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0] if lines else 'no message'}"


def export_job(run: RunInfo, fmt: str, out: str, quantize: bool, overwrite: bool,
               state: JobState) -> ExportResult:
    """Exports a run's model (a job function, core.jobs). Not interruptible half-way: a
    stopped export would leave a temporary folder behind, so `state` is not consulted."""
    del state
    return restore.export_run(run, fmt, out, quantize=quantize, overwrite=overwrite)


class ExportDialog(QDialog):
    """Exports the model of one run (its last checkpoint), verified, in a background thread.

    Signals:
        exported(object): the ExportResult of a successful export (also when the dialog was
            closed while the export was finishing).
        failed(str): an export was refused or failed; the message shown in red.

    Close it (Close button, Escape, close(); WA_DeleteOnClose is fine) rather than delete
    it while an export runs: closing waits for the export thread.

    Attributes:
        format_combo, path_edit, browse_button, quantize_check, overwrite_check,
        export_button, show_button, close_button, result_label, progress: the widgets.
        result: The last successful ExportResult, or None.
        error: The last error message, or "".
    """

    exported = Signal(object)
    failed = Signal(str)

    def __init__(self, run: RunInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.result: ExportResult | None = None
        self.error = ""
        self._export: Job | None = None
        self._export_error = ""
        self._auto_path = ""
        self.setWindowTitle(f"Export {run.id}")
        self.setObjectName("exportDialog")

        intro = QLabel(
            f"Exports the model of the run <b>{run.id}</b> from its last checkpoint. Every "
            "export is reloaded and checked against the Keras model on a test batch before "
            "it is put in place; a failed export leaves nothing behind.", self)
        intro.setWordWrap(True)
        self.format_combo = QComboBox(self)
        for key, label, _name in FORMATS:
            self.format_combo.addItem(label, key)
        self.path_edit = QLineEdit(self)
        self.path_edit.setClearButtonEnabled(True)
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self.browse)
        self.quantize_check = QCheckBox("Quantize the weights (dynamic range, about 4× smaller)",
                                        self)
        self.quantize_check.setToolTip("TensorFlow Lite only: weights stored as 8-bit "
                                       "integers; outputs differ slightly from the float model.")
        self.overwrite_check = QCheckBox("Replace an existing file or folder", self)
        self.overwrite_check.setToolTip("The old export is only replaced once the new one "
                                        "has been verified.")
        grid = QGridLayout()
        grid.addWidget(QLabel("Format", self), 0, 0)
        grid.addWidget(self.format_combo, 0, 1, 1, 2)
        grid.addWidget(QLabel("Save to", self), 1, 0)
        grid.addWidget(self.path_edit, 1, 1)
        grid.addWidget(self.browse_button, 1, 2)
        grid.addWidget(self.quantize_check, 2, 1, 1, 2)
        grid.addWidget(self.overwrite_check, 3, 1, 1, 2)
        grid.setColumnStretch(1, 1)

        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)  # indeterminate: the export reports no progress
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        self.result_label = QLabel(self)
        self.result_label.setObjectName("exportResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.PlainText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.setMinimumHeight(48)
        self.result_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

        self.show_button = QPushButton("Show in Folder", self)
        self.show_button.setEnabled(False)
        self.show_button.clicked.connect(self.show_in_folder)
        self.export_button = QPushButton("Export", self)
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        self.close_button = QPushButton("Close", self)
        self.close_button.setToolTip("While an export runs, closing waits for it to finish.")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.show_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(grid)
        layout.addWidget(self.progress)
        layout.addWidget(self.result_label, 1)
        layout.addLayout(buttons)
        self.resize(620, self.sizeHint().height())

        self.format_combo.currentIndexChanged.connect(self._on_format_changed)
        self.quantize_check.toggled.connect(self._on_format_changed)
        self._on_format_changed()
        app = QCoreApplication.instance()
        if app is not None:  # quitting with an export running must not abort in ~QThread
            app.aboutToQuit.connect(self.wait)

    # ------------------------------------------------------------------ API
    @property
    def busy(self) -> bool:
        """An export is running in the background thread."""
        return self._export is not None

    def current_format(self) -> str:
        return str(self.format_combo.currentData())

    def set_format(self, fmt: str) -> None:
        index = self.format_combo.findData(fmt)
        if index < 0:
            raise ValueError(f"Expected fmt in {[f[0] for f in FORMATS]}, received: {fmt!r}")
        self.format_combo.setCurrentIndex(index)

    def target(self) -> Path | None:
        text = self.path_edit.text().strip()
        return Path(os.path.abspath(os.path.expanduser(text))) if text else None

    def start_export(self) -> None:
        """Checks the target and starts the export in a new thread (the Export button)."""
        if self.busy:
            return
        target = self.target()
        if target is None:
            self._show_error("Choose where to write the export.")
            return
        overwrite = self.overwrite_check.isChecked()
        if (target.exists() or target.is_symlink()) and not overwrite:
            # Said here at once, in the dialog's words, instead of after loading the model.
            self._show_error(f"{target} already exists. Choose another name, or tick "
                             "“Replace an existing file or folder”; it is left as it is.")
            return
        fmt = self.current_format()
        quantize = fmt == "tflite" and self.quantize_check.isChecked()
        self._set_busy(True, f"Exporting {self.format_combo.currentText().split(' (')[0]} to "
                             f"{target}…\nLoading the last checkpoint, writing, then verifying "
                             "the export.")
        self._export_error = ""
        self._export = Job(export_job, self.run, fmt, str(target), quantize, overwrite,
                           name=f"export-{self.run.id}", describe=describe_error, parent=self)
        self._export.failed.connect(self._on_export_failed)
        self._export.finished.connect(self._on_export_finished)
        self._export.start()

    @Slot()
    def wait(self) -> None:
        """Blocks until a running export has finished and shows its outcome (used on close)."""
        job = self._export
        if job is None:
            return
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            job.thread.wait()
        finally:
            QGuiApplication.restoreOverrideCursor()
        QCoreApplication.sendPostedEvents(job)  # its outcome reaches _on_export_finished now

    def browse(self) -> None:
        fmt = self.current_format()
        start = str(self.target() or exports_dir(self.run.dir))
        path, _ = QFileDialog.getSaveFileName(self, "Export To", start, FILE_FILTERS[fmt])
        if not path:
            return
        if fmt == "keras" and not path.endswith(".keras"):
            path += ".keras"
        self.path_edit.setText(path)
        if Path(path).exists():
            # The file dialog already asked whether to replace it.
            self.overwrite_check.setChecked(True)

    def show_in_folder(self) -> None:
        """Opens the file manager on the export (a SavedModel folder) or its folder."""
        if self.result is None:
            return
        from resnet_studio.gui.reveal import show_in_folder

        show_in_folder(self, self.result.path)  # a dialog with the path where nothing opens

    # ------------------------------------------------------------------ closing
    def done(self, r: int) -> None:  # Close button, Escape, window close while shown
        self.wait()
        super().done(r)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.wait()
        super().closeEvent(event)

    # ------------------------------------------------------------------ internals
    def _default_path(self) -> str:
        fmt = self.current_format()
        name = next(n for k, _label, n in FORMATS if k == fmt)
        if fmt == "tflite" and self.quantize_check.isChecked():
            name = QUANTIZED_TFLITE_NAME
        folder = exports_dir(self.run.dir)
        path = folder / name
        stem, suffix = (name, "") if fmt == "savedmodel" else (path.stem, path.suffix)
        n = 2
        while path.exists():  # never propose overwriting an earlier export
            path = folder / f"{stem}-{n}{suffix}"
            n += 1
        return str(path)

    @Slot()
    def _on_format_changed(self) -> None:
        tflite = self.current_format() == "tflite"
        self.quantize_check.setEnabled(tflite and not self.busy)
        if not tflite:
            self.quantize_check.blockSignals(True)
            self.quantize_check.setChecked(False)
            self.quantize_check.blockSignals(False)
        # Follow the format with the default name unless the user typed a path of their own.
        if self.path_edit.text() in ("", self._auto_path):
            self._auto_path = self._default_path()
            self.path_edit.setText(self._auto_path)

    @Slot(str, str)
    def _on_export_failed(self, message: str, _details: str) -> None:
        self._export_error = message

    @Slot(object)
    def _on_export_finished(self, result: object) -> None:
        # Dropped only now, its thread ended: deleting a QThread that still runs crashes.
        job, self._export = self._export, None
        if job is not None:
            job.deleteLater()
        self._set_busy(False)
        result = result if isinstance(result, ExportResult) else None
        error = self._export_error
        if result is not None:
            self.result, self.error = result, ""
            self._set_result_text(describe_result(result), theme.OK_COLOR)
            self.show_button.setEnabled(True)
            self.exported.emit(result)
        else:
            self._show_error(error or "the export failed without a message")

    def _show_error(self, message: str) -> None:
        self.error = message
        self._set_result_text(f"Export failed: {message}\nThe run is unchanged.",
                              theme.ERROR_COLOR)
        self.failed.emit(message)

    def _set_result_text(self, text: str, color: str | None) -> None:
        self.result_label.setText(text)
        c = theme.accent(color, self.palette()) if color else None
        self.result_label.setStyleSheet(f"color: {c.name()};" if c is not None else "")

    def _set_busy(self, busy: bool, text: str = "") -> None:
        for w in (self.format_combo, self.path_edit, self.browse_button, self.overwrite_check,
                  self.export_button):
            w.setEnabled(not busy)
        self.quantize_check.setEnabled(not busy and self.current_format() == "tflite")
        self.progress.setVisible(busy)
        if busy:
            self.show_button.setEnabled(False)
            self._set_result_text(text, None)
