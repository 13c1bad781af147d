"""Runs view and export dialog: listing real and fake run folders, selection, results,
deletion, resume, and exports of a real tiny run in a background thread.

One real run is trained per module (resnet8-digits, 1 epoch, 256 examples: a few seconds)
and copied where a test needs it, so no test changes it; other runs are fake run.json files.
Nothing sleeps: tests wait on signals or on conditions (qtbot.waitUntil).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QMessageBox

from resnet_studio.core.runs import default_runs_root, read_run
from resnet_studio.core.runs.store import process_start
from resnet_studio.core.runs.summary import format_duration, format_started
from resnet_studio.gui.training import runs_table as rt
from resnet_studio.gui.training import runs_view as rv
from resnet_studio.gui.training.export_dialog import ExportDialog
from resnet_studio.gui.training.run_results import status_color
from resnet_studio.gui.training.runs_view import RunsView

EXPORT_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    """A completed tiny run (checkpoint, final.json); read-only: tests copy it."""
    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig

    base = tmp_path_factory.mktemp("real-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_STUDIO_HOME", str(base / "home"))
        spec = load_preset("resnet8-digits")
        cfg = TrainingConfig.from_sources(spec.training, {"epochs": 1, "batch_size": 64})
        result = Trainer(spec, "digits", cfg, run_dir=base / "runs" / "r1", limit=256,
                         preset="resnet8-digits").run()
    assert result.status == "completed", result.error
    return base / "runs" / "r1"


def copy_run(real_run: Path, root: Path, name: str = "real") -> Path:
    dest = root / name
    shutil.copytree(real_run, dest)
    meta = json.loads((dest / "run.json").read_text())
    meta["id"] = name
    meta["started"] = "2025-12-01T10:00:00+0000"  # older than the fake runs: a fixed order
    (dest / "run.json").write_text(json.dumps(meta))
    return dest


def fake_run(root: Path, name: str, status: str = "completed", *, checkpoint: bool = False,
             started: str = "2026-01-01T10:00:00+0000", **meta) -> Path:
    """A run folder with only a run.json (and optionally an empty checkpoint folder)."""
    d = root / name
    d.mkdir(parents=True)
    data = {"id": name, "preset": "resnet20-cifar", "dataset": "tfds:cifar10",
            "status": status, "started": started, "params": 1234567, "seconds": 3725.0,
            "epochs_completed": 12,
            "best_val_metric": {"epoch": 12, "loss": 0.21, "accuracy": 0.973}, **meta}
    (d / "run.json").write_text(json.dumps(data))
    if checkpoint:
        (d / "checkpoints" / "last").mkdir(parents=True)
    return d


def running_here(root: Path, name: str, **meta) -> Path:
    """A run whose run.json says running in this very process (alive)."""
    return fake_run(root, name, "running", host=socket.gethostname(), pid=os.getpid(),
                    pid_start=process_start(os.getpid()), **meta)


def row_texts(view: RunsView, run_dir: Path) -> list[str]:
    for row in range(view.proxy.rowCount()):
        if view.proxy.index(row, 0).data(rt.RUN_ROLE).dir == run_dir:
            return [view.proxy.index(row, c).data() for c in range(len(rt.COLUMNS))]
    raise AssertionError(f"{run_dir} not listed")


@pytest.fixture
def make_view(qtbot, styled_qapp):
    def make(root: Path | None = None) -> RunsView:
        view = RunsView(root)
        qtbot.addWidget(view)
        view.resize(1100, 700)
        return view

    return make


# --------------------------------------------------------------------------- listing
@pytest.mark.slow
def test_runs_are_listed_with_their_columns(make_view, real_run, tmp_path):
    root = tmp_path / "runs"
    real = copy_run(real_run, root)
    failed = fake_run(root, "f1", "failed", started="2026-01-02T10:00:00+0000",
                      error="non-finite loss at step 7", seconds=5.0, best_val_metric=None)
    lm = fake_run(root, "lm1", "stopped", started="2026-01-03T10:00:00+0000", params=999,
                  best_val_metric={"epoch": 2, "loss": 1.5})
    for name, text in (("broken", "{not json"), ("a-list", "[1, 2]"),
                       ("odd-status", '{"status": 5}')):
        (root / name).mkdir()
        (root / name / "run.json").write_text(text)
    (root / "not-a-run").mkdir()
    (root / "a-file").write_text("x")

    view = make_view(root)
    assert {r.dir for r in view.runs()} == {real, failed, lm}  # broken folders skipped
    assert view.stack.currentIndex() == 0
    assert view.proxy.headerData(0, Qt.Orientation.Horizontal) == "Name"

    meta = read_run(real).meta
    final = json.loads((real / "final.json").read_text())
    texts = row_texts(view, real)
    assert [texts[c] for c in (rt.COL_RUN, rt.COL_PRESET, rt.COL_DATASET, rt.COL_STATUS)] == \
        ["real", "resnet8-digits", "digits", "completed"]
    # The name its writer gave it, and the settings it trained with, from run.json.
    assert texts[rt.COL_NAME] == meta["name"] == "resnet8-digits · digits · r1"
    config = meta["config"]
    assert [texts[c] for c in (rt.COL_OPTIMIZER, rt.COL_LR, rt.COL_BATCH, rt.COL_EPOCHS)] == \
        [config["optimizer"], f"{config['learning_rate']:.3g}", str(config["batch_size"]),
         f"{meta['epochs_completed']}/{config['epochs']}"]
    best = meta["best_val_metric"]
    assert texts[rt.COL_BEST] == f"acc {best['accuracy']:.3f} @ ep 1"
    assert texts[rt.COL_TEST] == f"{final['test']['accuracy']:.3f}"
    assert texts[rt.COL_PARAMS] == f"{meta['params']:,}" and "," in texts[rt.COL_PARAMS]
    assert texts[rt.COL_DURATION] == format_duration(meta["seconds"])

    cols = (rt.COL_STATUS, rt.COL_BEST, rt.COL_TEST, rt.COL_PARAMS, rt.COL_DURATION,
            rt.COL_STARTED, rt.COL_NAME, rt.COL_OPTIMIZER)
    assert [row_texts(view, failed)[c] for c in cols] == [
        "failed", "—", "—", "1,234,567", "0:00:05",
        format_started("2026-01-02T10:00:00+0000"), "resnet20-cifar · tfds:cifar10 · f1", "—"]
    assert row_texts(view, lm)[rt.COL_BEST] == "loss 1.5000 @ ep 2"
    assert format_duration(3725.0) == "1:02:05"

    # Status colours come from the theme: failed red, completed green, stopped amber.
    def status_colour(run_dir):
        for row in range(view.proxy.rowCount()):
            index = view.proxy.index(row, rt.COL_STATUS)
            if index.data(rt.RUN_ROLE).dir == run_dir:
                return index.data(Qt.ItemDataRole.ForegroundRole).color()

    assert status_colour(failed) == status_color("failed")
    assert status_colour(real) == status_color("completed")
    assert status_colour(lm) == status_color("stopped")

    # Newest first by default; numbers sort as numbers.
    order = [view.proxy.index(r, rt.COL_RUN).data() for r in range(view.proxy.rowCount())]
    assert order == ["lm1", "f1", "real"]
    view.table.sortByColumn(rt.COL_PARAMS, Qt.SortOrder.AscendingOrder)
    order = [view.proxy.index(r, rt.COL_RUN).data() for r in range(view.proxy.rowCount())]
    assert order == ["lm1", "real", "f1"]  # 999 < 77,754 < 1,234,567


def test_empty_store_shows_the_empty_state_and_new_runs_appear(make_view, qtbot, tmp_path):
    view = make_view()  # default root, under this test's RESNET_STUDIO_HOME
    assert view.runs() == []
    assert view.stack.currentIndex() == 1
    assert view.empty_label.text() == rv.EMPTY_TEXT
    assert not view.results_scroll.isVisibleTo(view)

    root = default_runs_root()
    first = fake_run(root, "a", "completed")
    view.refresh()  # the default root is read at refresh time
    assert [r.dir for r in view.runs()] == [first]
    assert view.stack.currentIndex() == 0

    # The poll timer picks up new runs and changed run.json files while the view is shown.
    view.poll_timer.setInterval(20)
    view.show()
    qtbot.waitExposed(view)
    fake_run(root, "b", "completed", started="2026-02-01T10:00:00+0000")
    qtbot.waitUntil(lambda: len(view.runs()) == 2, timeout=5000)
    meta = json.loads((first / "run.json").read_text())
    meta.update(status="failed", error="disk full", extra="x" * 10)
    (first / "run.json").write_text(json.dumps(meta))
    qtbot.waitUntil(lambda: any(r.status == "failed" for r in view.runs()), timeout=5000)
    view.hide()
    assert not view.poll_timer.isActive()


def test_set_root_switches_stores(make_view, tmp_path):
    a = fake_run(tmp_path / "one", "a")
    b = fake_run(tmp_path / "two", "b")
    view = make_view(tmp_path / "one")
    assert [r.dir for r in view.runs()] == [a]
    view.set_root(tmp_path / "two")
    assert [r.dir for r in view.runs()] == [b]
    view.set_root(tmp_path / "missing")
    assert view.runs() == [] and view.stack.currentIndex() == 1


# --------------------------------------------------------------------------- selection
def test_selecting_two_runs_emits_selection_changed_with_both(make_view, qtbot, tmp_path):
    root = tmp_path / "runs"
    a = fake_run(root, "a", started="2026-01-01T10:00:00+0000")
    b = fake_run(root, "b", started="2026-01-02T10:00:00+0000")
    c = fake_run(root, "c", started="2026-01-03T10:00:00+0000")
    view = make_view(root)
    view.show()
    qtbot.waitExposed(view)

    # Like a user: click one row, ctrl-click another.
    def click(row: int, modifier=Qt.KeyboardModifier.NoModifier):
        rect = view.table.visualRect(view.proxy.index(row, rt.COL_PRESET))
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, modifier,
                         rect.center())

    with qtbot.waitSignal(view.selection_changed) as blocker:
        click(0)
    assert [r.dir for r in blocker.args[0]] == [c]
    with qtbot.waitSignal(view.selection_changed) as blocker:
        click(2, Qt.KeyboardModifier.ControlModifier)
    assert {r.dir for r in blocker.args[0]} == {a, c}
    assert {r.dir for r in view.selected_runs()} == {a, c}

    with qtbot.waitSignal(view.selection_changed) as blocker:
        view.select_runs([str(a), b])
    assert {r.dir for r in blocker.args[0]} == {a, b}

    # A refresh keeps the selection by folder and says nothing when it did not change…
    with qtbot.assertNotEmitted(view.selection_changed):
        view.refresh()
        view.poll()
    assert {r.dir for r in view.selected_runs()} == {a, b}
    # …and reports a selected run that disappeared.
    shutil.rmtree(b)
    with qtbot.waitSignal(view.selection_changed) as blocker:
        view.refresh()
    assert [r.dir for r in blocker.args[0]] == [a]


def test_double_click_and_open_request_the_run(make_view, qtbot, tmp_path):
    a = fake_run(tmp_path / "runs", "a")
    view = make_view(tmp_path / "runs")
    view.show()
    qtbot.waitExposed(view)
    rect = view.table.visualRect(view.proxy.index(0, rt.COL_DATASET))
    with qtbot.waitSignal(view.open_requested) as blocker:
        # QTest sends the double-click alone; the view wants the press before it.
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton,
                          pos=rect.center())
    assert blocker.args[0].dir == a
    view.select_runs([a])
    with qtbot.waitSignal(view.open_requested) as blocker:
        view.open_action.trigger()
    assert blocker.args[0].dir == a
    menu = view.build_context_menu()
    assert {"Open", "Resume", "Export…", "Delete…", "Refresh", "Show in File Manager"} <= {
        act.text() for act in menu.actions()}


# --------------------------------------------------------------------------- results
@pytest.mark.slow
def test_results_panel_shows_test_metrics_and_the_confusion_matrix(make_view, real_run,
                                                                   tmp_path):
    root = tmp_path / "runs"
    real = copy_run(real_run, root)
    view = make_view(root)
    view.select_runs([real])
    final = json.loads((real / "final.json").read_text())["test"]
    res = view.results
    assert res.run.dir == real
    assert res.metric_values["accuracy"].text() == f"{final['accuracy']:.4f}"
    assert res.metric_values["f1_macro"].text() == f"{final['f1_macro']:.4f}"
    assert res.metric_values["precision_macro"].isVisibleTo(res)
    assert not res.metric_values["perplexity"].isVisibleTo(res)  # not a language model
    assert res.matrix_values() == final["confusion_matrix"]
    table = res.confusion_table
    assert table.rowCount() == table.columnCount() == 10
    names = read_run(real).meta["binding"]["class_names"]
    assert [table.horizontalHeaderItem(j).text() for j in range(10)] == names
    # The diagonal is tinted (a heat-table), empty cells are not.
    diag = next(i for i in range(10) if final["confusion_matrix"][i][i])
    assert table.item(diag, diag).background().style() != Qt.BrushStyle.NoBrush
    assert str(real) in res.path_label.text()
    assert not res.error_label.isVisibleTo(res)


def test_results_panel_for_failed_and_language_model_runs(make_view, tmp_path):
    root = tmp_path / "runs"
    failed = fake_run(root, "f", "failed", error="non-finite loss at step 7 (layer conv1)")
    lm = fake_run(root, "lm", "completed", test={"loss": 1.0, "accuracy": 0.5,
                                                 "perplexity": 2.718})
    view = make_view(root)
    res = view.results
    view.select_runs([failed])
    assert res.error_label.isVisibleTo(res)
    assert "non-finite loss at step 7" in res.error_label.text()
    assert res.note_label.isVisibleTo(res)  # no test metrics
    assert not res.confusion_table.isVisibleTo(res)
    view.select_runs([lm])
    assert res.metric_values["perplexity"].text() == "2.718"
    assert not res.metric_values["f1_macro"].isVisibleTo(res)
    assert not res.confusion_table.isVisibleTo(res) and not res.error_label.isVisibleTo(res)
    view.select_runs([])
    assert res.run is None and res.placeholder.isVisibleTo(res)


# --------------------------------------------------------------------------- delete
def test_delete_asks_and_removes_or_keeps_the_folders(make_view, monkeypatch, tmp_path):
    root = tmp_path / "runs"
    a = fake_run(root, "a", started="2026-01-01T10:00:00+0000")
    b = fake_run(root, "b", "stopped", started="2026-01-02T10:00:00+0000")
    view = make_view(root)
    asked: list[str] = []
    answer = QMessageBox.StandardButton.No

    def question(parent, title, text, *args):
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    runs = view.runs()
    assert view.delete_runs(runs) is False
    assert a.exists() and b.exists() and len(view.runs()) == 2
    assert "a (completed)" in asked[0] and "b (stopped)" in asked[0]

    answer = QMessageBox.StandardButton.Yes
    view.select_runs([b])
    assert view.delete_action.isEnabled()
    view.delete_action.trigger()
    assert not b.exists() and a.exists()
    assert [r.dir for r in view.runs()] == [a]
    assert "Delete the run b?" in asked[1]

    assert view.delete_runs(view.runs(), confirm=False) is True
    assert len(asked) == 2  # no question without confirm
    assert not a.exists() and view.runs() == [] and view.stack.currentIndex() == 1


def test_delete_refuses_a_running_run(make_view, monkeypatch, tmp_path):
    root = tmp_path / "runs"
    live = running_here(root, "live")
    done = fake_run(root, "done")
    view = make_view(root)
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda parent, title, text, *a: warnings.append(text))

    def no_question(*args):
        raise AssertionError("a running run must be refused before asking")

    monkeypatch.setattr(QMessageBox, "question", no_question)
    [run] = [r for r in view.runs() if r.dir == live]
    assert run.status == "running"
    view.select_runs([live, done])
    assert not view.delete_action.isEnabled()
    assert view.delete_runs(view.selected_runs()) is False
    assert view.delete_runs([run], confirm=False) is False
    assert live.exists() and done.exists()
    assert len(warnings) == 2 and "live" in warnings[0] and "this window" in warnings[0]


# --------------------------------------------------------------------------- resume
def test_resume_is_enabled_only_for_stopped_or_interrupted_runs_with_a_checkpoint(
        make_view, qtbot, tmp_path):
    root = tmp_path / "runs"
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    cases = {
        fake_run(root, "stopped-ckpt", "stopped", checkpoint=True): True,
        fake_run(root, "interrupted-ckpt", "running", checkpoint=True,
                 host=socket.gethostname(), pid=dead_pid): True,
        fake_run(root, "stopped-no-ckpt", "stopped"): False,
        fake_run(root, "failed-ckpt", "failed", checkpoint=True): False,
        fake_run(root, "completed-ckpt", "completed", checkpoint=True): False,
        running_here(root, "running-ckpt", checkpoint=True): False,
    }
    view = make_view(root)
    for run_dir, enabled in cases.items():
        view.select_runs([run_dir])
        assert view.resume_action.isEnabled() is enabled, run_dir.name
        assert view.resume_button.isEnabled() is enabled, run_dir.name
    interrupted = root / "interrupted-ckpt"
    view.select_runs([interrupted])
    assert view.selected_runs()[0].status == "interrupted"
    with qtbot.waitSignal(view.resume_requested) as blocker:
        view.resume_action.trigger()
    assert blocker.args[0].dir == interrupted
    view.select_runs([root / "stopped-ckpt", interrupted])
    assert not view.resume_action.isEnabled()  # one run at a time


# --------------------------------------------------------------------------- export
@pytest.fixture
def run_copy(real_run, tmp_path):
    return read_run(copy_run(real_run, tmp_path / "runs"))


def make_dialog(qtbot, run) -> ExportDialog:
    dialog = ExportDialog(run)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


@pytest.mark.slow
def test_export_dialog_follows_the_format(qtbot, styled_qapp, run_copy):
    dialog = make_dialog(qtbot, run_copy)
    exports = run_copy.dir / "exports"
    assert dialog.path_edit.text() == str(exports / "savedmodel")
    assert not dialog.quantize_check.isEnabled()
    dialog.set_format("tflite")
    assert dialog.path_edit.text() == str(exports / "model.tflite")
    assert dialog.quantize_check.isEnabled()
    dialog.quantize_check.setChecked(True)
    assert dialog.path_edit.text() == str(exports / "model-quantized.tflite")
    dialog.set_format("keras")
    assert not dialog.quantize_check.isEnabled() and not dialog.quantize_check.isChecked()
    assert dialog.path_edit.text() == str(exports / "model.keras")
    dialog.path_edit.setText(str(run_copy.dir / "mine.keras"))  # the user's own path stays
    dialog.set_format("python")
    assert dialog.path_edit.text() == str(run_copy.dir / "mine.keras")
    assert [dialog.format_combo.itemData(i) for i in range(dialog.format_combo.count())] == \
        ["savedmodel", "keras", "tflite", "python"]
    dialog.close()


@pytest.mark.slow
def test_export_a_savedmodel_of_a_real_run(qtbot, styled_qapp, run_copy):
    dialog = make_dialog(qtbot, run_copy)
    with qtbot.waitSignal(dialog.exported, timeout=EXPORT_TIMEOUT_MS) as blocker:
        dialog.start_export()
        assert dialog.busy and dialog.progress.isVisible()
        assert not dialog.export_button.isEnabled() and not dialog.format_combo.isEnabled()
    result = blocker.args[0]
    target = run_copy.dir / "exports" / "savedmodel"
    assert result.path == str(target) and result.format == "savedmodel"
    assert (target / "saved_model.pb").exists()
    text = dialog.result_label.text()
    assert "max |Δ|" in text and f"{result.max_abs_diff:.1e}" in text
    assert "reloaded SavedModel" in text and str(target) in text
    assert not dialog.busy and dialog.export_button.isEnabled()
    assert dialog.show_button.isEnabled() and not dialog.progress.isVisible()
    # The next default never points at the export just written.
    dialog.set_format("keras")
    dialog.set_format("savedmodel")
    assert dialog.path_edit.text() == str(run_copy.dir / "exports" / "savedmodel-2")
    dialog.close()


@pytest.mark.slow
def test_exporting_to_an_existing_target_shows_an_error_and_keeps_it(qtbot, styled_qapp,
                                                                     run_copy, tmp_path):
    before = sorted(p.relative_to(run_copy.dir) for p in run_copy.dir.rglob("*"))
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    dialog = make_dialog(qtbot, run_copy)
    dialog.path_edit.setText(str(existing))
    with qtbot.assertNotEmitted(dialog.exported), \
            qtbot.waitSignal(dialog.failed) as blocker:
        dialog.start_export()
    assert not dialog.busy  # refused at once: nothing started
    assert "already exists" in blocker.args[0]
    assert "already exists" in dialog.result_label.text()
    assert theme_error_name(dialog) in dialog.result_label.styleSheet()
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    assert (existing / "keep.txt").read_text() == "mine"

    # An error from the export itself (found in the worker thread) is shown the same way.
    blocker_file = tmp_path / "a-file"
    blocker_file.write_text("x")
    dialog.set_format("keras")
    dialog.path_edit.setText(str(blocker_file / "model.keras"))
    with qtbot.waitSignal(dialog.failed, timeout=EXPORT_TIMEOUT_MS) as blocker:
        dialog.start_export()
    assert "it is a file" in blocker.args[0]
    assert "Export failed" in dialog.result_label.text() and not dialog.busy
    assert blocker_file.read_text() == "x"
    assert sorted(p.relative_to(run_copy.dir) for p in run_copy.dir.rglob("*")) == before
    dialog.close()


def theme_error_name(widget) -> str:
    from resnet_studio.gui import theme

    return theme.error_color(widget.palette()).name()


@pytest.mark.slow
def test_closing_the_dialog_while_exporting_leaves_no_running_thread(qtbot, styled_qapp,
                                                                      run_copy, tmp_path):
    dialog = make_dialog(qtbot, run_copy)
    dialog.set_format("keras")
    target = tmp_path / "out" / "model.keras"
    dialog.path_edit.setText(str(target))
    with qtbot.waitSignal(dialog.exported, timeout=EXPORT_TIMEOUT_MS) as blocker:
        dialog.start_export()
        thread = dialog._export.thread
        assert thread is not None and thread.isRunning()
        dialog.close()  # waits for the export, which cannot be interrupted half-way
    assert not thread.isRunning() and thread.isFinished()
    assert not dialog.busy and not dialog.isVisible()
    assert blocker.args[0].path == str(target) and target.is_file()
    # The worker's queued report arrives after the close and is ignored.
    QCoreApplication.processEvents()
    assert dialog.result is blocker.args[0]


def test_a_run_locked_by_another_trainer_lists_as_running_and_cannot_be_resumed(
        make_view, tmp_path):
    from resnet_studio.core.runs.lock import RunLock

    root = tmp_path / "runs"
    run_dir = fake_run(root, "owned", "stopped", checkpoint=True)
    lock = RunLock(run_dir).acquire()  # what a trainer in another process holds
    try:
        view = make_view(root)
        view.select_runs([run_dir])
        assert view.selected_runs()[0].status == "running"
        assert not view.resume_action.isEnabled()
    finally:
        lock.release()
