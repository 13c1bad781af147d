"""Training through the GUI's own controls: live plots, runs view, export, stop, pause, close.

Everything waits on signals or on conditions checked while the event loop runs; nothing
sleeps. Runs go to $RESNET_STUDIO_HOME/runs (a fresh folder per test, tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from resnet_studio.core.runs import read_gradients, read_metrics, read_run
from resnet_studio.core.training.events import Log

# Trains, exports or spawns processes: not in `make test-fast`.
pytestmark = pytest.mark.slow

RUN_TIMEOUT_MS = 240_000


def click(qtbot, widget) -> None:
    assert widget.isEnabled(), widget.objectName()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def set_epochs(window, epochs: int) -> None:
    """Types the epoch count into the panel's own spin box (Enter commits it)."""
    spin = window.training_view.panel.fields["epochs"].widget
    spin.setValue(epochs)
    spin.editingFinished.emit()
    assert window.training_view.panel.config().epochs == epochs


def wait_finished(qtbot, window, timeout: int = RUN_TIMEOUT_MS):
    with qtbot.waitSignal(window.training_view.run_finished, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def test_train_one_epoch_plots_runs_view_and_export(make_window, qtbot, tmp_path):
    window = make_window("resnet8-digits")
    view = window.training_view
    assert view.panel.dataset() == "digits"
    set_epochs(window, 1)
    with qtbot.waitSignal(view.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        click(qtbot, window.train_button)  # the toolbar's Train
        assert window.tabs.currentWidget() is view
    finished = blocker.args[0]
    assert finished.status == "completed", finished.error
    run_dir = Path(finished.run_dir)
    meta = read_run(run_dir).meta
    assert meta["status"] == "completed" and meta["epochs_completed"] == 1

    # The GUI asks for at most one BatchEnd per 20 ms (worker.BATCH_EVENT_INTERVAL_S): the
    # loss plot holds those steps with their values on disk, the last step always; and
    # every layer's gradient norm at every step.
    batches = [r for r in read_metrics(run_dir) if r["kind"] == "batch"]
    steps = meta["steps"]
    assert steps == len(batches) > 10
    plots = view.plots
    plots.refresh()
    shown = plots.loss_history.x.astype(int)
    assert len(shown) == view.batches_seen <= steps and shown[-1] == steps
    assert shown[0] == 1 and np.all(np.diff(shown) > 0)
    by_step = {r["step"]: r["loss"] for r in batches}
    np.testing.assert_allclose(plots.loss_history.y, [by_step[s] for s in shown], rtol=1e-6)
    layers, _, grad_steps, norms = read_gradients(run_dir)
    assert plots.gradients.n_layers == len(layers) == norms.shape[1] > 10
    assert len(plots.gradients) == steps == len(grad_steps)
    np.testing.assert_allclose(plots.gradients.latest, norms[-1], rtol=1e-6)
    assert len(plots.val_loss_history) == 1
    assert "test accuracy" in view.panel.status_label.text()

    # The run appears in the runs view, completed.
    rv = window.runs_view
    qtbot.waitUntil(lambda: any(r.dir == run_dir for r in rv.runs()), timeout=10_000)
    run = next(r for r in rv.runs() if r.dir == run_dir)
    assert run.status == "completed"

    # Export a SavedModel from the dialog (Train → Export Model… exports the latest run).
    window.actions["export_model"].trigger()
    dialog = window.export_dialog
    out = tmp_path / "exported"
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("savedmodel"))
    dialog.path_edit.setText(str(out))
    with qtbot.waitSignal(dialog.exported, timeout=RUN_TIMEOUT_MS) as exported:
        click(qtbot, dialog.export_button)
    result = exported.args[0]
    assert result.max_abs_diff <= 1e-4
    assert (out / "saved_model.pb").exists()
    assert "1e-" in dialog.result_label.text() or "e-0" in dialog.result_label.text()
    # Reload in a fresh Python with no resnet_studio import; same predictions as the run's
    # own model on the same batch.
    sample = np.random.default_rng(0).normal(size=(4, 8, 8, 1)).astype("float32")
    np.save(tmp_path / "x.npy", sample)
    code = ("import sys, numpy as np, tensorflow as tf\n"
            f"m = tf.saved_model.load({str(out)!r})\n"
            f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
            # serve takes uint8 images (the run's preprocessing inside); these are floats
            "np.save(sys.argv[1], m.serve_float(x).numpy())\n"
            "assert 'resnet_studio' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "y.npy")], check=True,
                   timeout=300)
    from resnet_studio.core.training.restore import load_run_model

    trainer, _ = load_run_model(read_run(run_dir))
    expected = trainer.built.model.predict(sample, verbose=0)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, atol=1e-4)
    dialog.close()


def test_stop_keeps_a_checkpoint_and_resume_from_the_runs_view_completes(make_window, qtbot):
    window = make_window("resnet8-digits")
    view = window.training_view
    set_epochs(window, 50)
    with qtbot.waitSignal(view.run_started, timeout=RUN_TIMEOUT_MS):
        click(qtbot, view.panel.start_button)
    qtbot.waitUntil(lambda: view.batches_seen >= 3, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(view.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        click(qtbot, view.panel.stop_button)
    finished = blocker.args[0]
    assert finished.status == "stopped"
    run_dir = Path(finished.run_dir)
    assert read_run(run_dir).status == "stopped"
    state = json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())
    assert state["step"] == finished.step >= 3
    assert view.panel.start_button.isEnabled() and not view.panel.stop_button.isEnabled()

    # The runs view offers Resume; resuming continues from the checkpoint's step.
    rv = window.runs_view
    rv.refresh()
    run = next(r for r in rv.runs() if r.dir == run_dir)
    with qtbot.waitSignal(view.run_started, timeout=RUN_TIMEOUT_MS):
        rv.resume_requested.emit(run)
    assert view.session.request.resume
    # The plots kept the stopped run's history and continue it.
    assert len(view.plots.loss_history) == state["step"]
    qtbot.waitUntil(lambda: view.batches_seen >= 2, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(view.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        click(qtbot, view.panel.stop_button)
    again = blocker.args[0]
    assert again.status == "stopped" and again.run_dir == str(run_dir)
    batches = [r["step"] for r in read_metrics(run_dir) if r["kind"] == "batch"]
    assert batches == list(range(1, again.step + 1))  # one continuous step count
    assert read_run(run_dir).meta["resumes"] == 1


def test_pause_holds_the_step_count_and_resume_continues(make_window, qtbot):
    window = make_window("resnet8-digits")
    view = window.training_view
    set_epochs(window, 50)
    with qtbot.waitSignal(view.run_started, timeout=RUN_TIMEOUT_MS):
        click(qtbot, view.panel.start_button)
    # The step of the last batch the view received when each log line arrives (events come
    # in order, and a batch held back by the throttle is sent before any log line).
    logs: list[tuple[str, int]] = []
    view.session.event.connect(
        lambda e: logs.append((e.message, view.latest_step)) if isinstance(e, Log) else None)
    qtbot.waitUntil(lambda: view.latest_step >= 2, timeout=RUN_TIMEOUT_MS)
    click(qtbot, view.panel.pause_button)
    assert view.panel.pause_button.text() == "Resume"
    assert window.actions["pause_training"].text() == "&Resume"
    qtbot.waitUntil(lambda: any(m.startswith("Paused at step") for m, _ in logs),
                    timeout=RUN_TIMEOUT_MS)
    message, seen_at_pause = next((m, n) for m, n in logs if m.startswith("Paused at step"))
    held = int(message.rsplit(" ", 1)[1])
    assert seen_at_pause == held
    click(qtbot, view.panel.pause_button)
    qtbot.waitUntil(lambda: any(m.startswith("Resumed") for m, _ in logs),
                    timeout=RUN_TIMEOUT_MS)
    # No batch ran while paused: the "Resumed" line (emitted before the next batch) found
    # the count where the pause left it.
    message, seen_at_resume = next((m, n) for m, n in logs if m.startswith("Resumed"))
    assert message == f"Resumed at step {held}" and seen_at_resume == held
    qtbot.waitUntil(lambda: view.latest_step > held + 2, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(view.run_finished, timeout=RUN_TIMEOUT_MS):
        window.actions["stop_training"].trigger()


def test_closing_the_window_mid_training_stops_the_run_and_its_thread(
        make_window, qtbot, monkeypatch, qtlog):
    window = make_window("resnet8-digits")
    view = window.training_view
    set_epochs(window, 50)
    with qtbot.waitSignal(view.run_started, timeout=RUN_TIMEOUT_MS):
        click(qtbot, view.panel.start_button)
    qtbot.waitUntil(lambda: view.batches_seen >= 2, timeout=RUN_TIMEOUT_MS)
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    thread = view.session.thread
    assert window.close()
    assert asked and "A run is training" in asked[0]
    assert not thread.isRunning()
    run_dir = view.last_run_dir
    assert read_run(run_dir).status == "stopped"
    # (The offscreen platform's own "does not support propagateSizeHints" notes aside.)
    assert not [r.message for r in qtlog.records
                if r.type.name in ("QtWarningMsg", "QtCriticalMsg", "QtFatalMsg")
                and "propagateSizeHints" not in r.message]


def test_closing_can_be_cancelled_and_training_goes_on(make_window, qtbot, monkeypatch):
    window = make_window("resnet8-digits")
    view = window.training_view
    set_epochs(window, 50)
    with qtbot.waitSignal(view.run_started, timeout=RUN_TIMEOUT_MS):
        click(qtbot, view.panel.start_button)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    assert not window.close()
    assert view.training and window.isVisible()
    seen = view.batches_seen
    qtbot.waitUntil(lambda: view.batches_seen > seen + 1, timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(view.run_finished, timeout=RUN_TIMEOUT_MS):
        click(qtbot, view.panel.stop_button)


def test_a_worker_exception_reaches_the_gui_and_the_run_says_failed(
        make_window, qtbot, monkeypatch):
    window = make_window("resnet8-digits")
    view = window.training_view
    set_epochs(window, 1)

    def broken_evaluate(*_args, **_kwargs):
        raise RuntimeError("evaluation exploded")

    monkeypatch.setattr("resnet_studio.core.training.evaluation.evaluate", broken_evaluate)
    with qtbot.waitSignal(view.error, timeout=RUN_TIMEOUT_MS) as error:
        click(qtbot, view.panel.start_button)
    title, text, _details = error.args
    assert title == "Training Failed" and "evaluation exploded" in text
    finished = wait_finished(qtbot, window) if view.training else view.last_finished
    assert finished.status == "failed"
    assert read_run(finished.run_dir).status == "failed"
    assert "evaluation exploded" in read_run(finished.run_dir).meta["error"]
    box = window.last_error_box
    assert box.isVisible() and "evaluation exploded" in box.text()
    assert "evaluation exploded" in view.panel.status_label.text()
    box.close()


@pytest.mark.parametrize("dataset, expected", [
    ("npz:/nonexistent/data.npz", "data.npz"),
    ("python-docs", "stem"),  # a conv stem cannot take token ids
])
def test_bad_input_before_training_is_a_readable_error(make_window, qtbot, dataset, expected):
    window = make_window("resnet8-digits")
    view = window.training_view
    view.panel.set_dataset(dataset)
    with qtbot.waitSignal(view.error, timeout=RUN_TIMEOUT_MS) as error:
        click(qtbot, view.panel.start_button)
    title, text, _ = error.args
    assert title == "Cannot Start Training"
    assert expected in text and "Traceback" not in text
    qtbot.waitUntil(lambda: not view.training, timeout=RUN_TIMEOUT_MS)
    assert view.panel.start_button.isEnabled()
    assert window.last_error_box.isVisible()
    window.last_error_box.close()


def test_the_memory_guard_is_a_dialog_before_training(make_window, qtbot, monkeypatch):
    """The GUI runs the same core check as the CLI (core/training/memory.py)."""
    monkeypatch.setenv("RESNET_STUDIO_MEMORY_LIMIT", "1e5")
    window = make_window("resnet8-digits")
    view = window.training_view
    with qtbot.waitSignal(view.error, timeout=RUN_TIMEOUT_MS) as error:
        click(qtbot, view.panel.start_button)
    title, text, _ = error.args
    assert title == "Cannot Start Training"
    assert "needs about" in text and "does not fit" in text and "Traceback" not in text
    qtbot.waitUntil(lambda: not view.training, timeout=RUN_TIMEOUT_MS)
    window.last_error_box.close()
