"""The Runs tab as a place to compare runs: the selected runs' curves drawn beside the table
(never over the Training tab's live plots), names renamed in place, the hyperparameter
columns sorted as numbers, the log-scale switch of the curves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from resnet_studio.core.runs import default_runs_root, read_run
from resnet_studio.core.runs.writer import RunWriter
from resnet_studio.gui.training import runs_table as rt
from resnet_studio.gui.training.runs_view import RunsView


def stored_run(root: Path, run_id: str, steps: int, *, lr: float = 0.1, batch: int = 32,
               wd: float = 0.0, schedule: str = "constant", loss0: float = 2.0,
               val_accuracy: float = 0.8, started: str) -> Path:
    """A finished run written through the run package: `steps` batches, one epoch."""
    d = root / run_id
    meta = {"id": run_id, "preset": "resnet8-digits", "dataset": "digits", "params": 28986,
            "started": started,
            "config": {"optimizer": "adam", "learning_rate": lr, "batch_size": batch,
                       "epochs": 1, "weight_decay": wd, "schedule": schedule}}
    writer = RunWriter(d, meta, {"name": "x"}, ["dense"], ["b0"])
    for step in range(1, steps + 1):
        writer.log({"kind": "batch", "step": step, "epoch": 1, "loss": loss0 / step,
                    "lr": lr, "train_accuracy": 0.5})
    writer.log({"kind": "epoch", "epoch": 1, "step": steps, "val_loss": loss0 / steps,
                "val_accuracy": val_accuracy})
    writer.update(epochs_completed=1, steps=steps, test={"accuracy": val_accuracy})
    writer.finish("completed")
    return d


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "runs"
    return {
        "a": stored_run(root, "20261205-100000-resnet8-digits-aaaa", 40, lr=0.1, batch=128,
                        wd=5e-4, schedule="cosine", started="2026-12-05T10:00:00+0000"),
        "b": stored_run(root, "20261205-110000-resnet8-digits-bbbb", 400, lr=0.003, batch=32,
                        wd=5e-5, schedule="step", loss0=3.0, val_accuracy=0.9,
                        started="2026-12-05T11:00:00+0000"),
        "c": stored_run(root, "20261205-120000-resnet8-digits-cccc", 90, lr=0.02, batch=64,
                        wd=1e-3, started="2026-12-05T12:00:00+0000"),
    }


@pytest.fixture
def view(qtbot, styled_qapp, store):
    v = RunsView(next(iter(store.values())).parent)
    qtbot.addWidget(v)
    v.resize(1300, 800)
    v.show()
    qtbot.waitExposed(v)
    return v


def column(view: RunsView, col: int) -> list[str]:
    return [view.proxy.index(r, col).data() for r in range(view.proxy.rowCount())]


def test_selected_runs_are_drawn_together_beside_the_table(view, store, qtbot):
    curves = view.curves
    assert curves.curves == [] and curves.stack.currentWidget() is curves.empty_label
    with qtbot.waitSignal(view.selection_changed):
        view.select_runs([store["a"], store["b"]])
    names = [c.run.name for c in curves.curves]
    assert sorted(names) == ["resnet8-digits · digits · aaaa", "resnet8-digits · digits · bbbb"]
    assert curves.stack.currentWidget() is curves.graphics
    legend = [label.text for _, label in curves.legend.items]
    assert sorted(legend) == sorted(names)
    by_name = {c.run.name: c for c in curves.curves}
    b = by_name["resnet8-digits · digits · bbbb"]
    x, y = b.loss.getOriginalDataset()
    assert x[0] == 1 and x[-1] == 400  # the whole run, its own steps
    assert y[0] == pytest.approx(3.0)  # the smoothed loss starts at the first value
    assert list(b.metric.getOriginalDataset()[1]) == [0.9]  # validation accuracy per epoch
    pens = {c.loss.opts["pen"].color().name() for c in curves.curves}
    assert len(pens) == 2  # a colour per run
    # Another selection replaces the curves; a run read before is not read again.
    kept = by_name["resnet8-digits · digits · aaaa"].history
    with qtbot.waitSignal(view.selection_changed):
        view.select_runs([store["a"], store["c"]])
    assert [c.history for c in curves.curves if c.run.dir == store["a"]] == [kept]
    assert len(curves.legend.items) == 2


def test_overlays_never_reach_the_training_plots(make_window, qtbot, store):
    root = default_runs_root()
    root.mkdir(parents=True, exist_ok=True)
    for d in store.values():
        d.rename(root / d.name)
    window = make_window("resnet8-digits")
    runs = window.runs_view
    runs.refresh()
    plots = window.training_view.plots
    own_items = list(plots.loss_plot.listDataItems())
    runs.select_runs([root / d.name for d in store.values()])
    assert len(runs.curves.curves) == 3
    # The Training tab keeps only its own run's curves: a live run's x axis is its own.
    assert plots.loss_plot.listDataItems() == own_items
    plots.begin_run(["dense"], ["b0"], label="live")
    for step in range(1, 21):
        plots.add_batch(step, 1.0 / step, 0.1, {"accuracy": 0.5})
    plots.refresh()
    for plot in (plots.loss_plot, plots.lr_plot):
        x_range = plots._bounds[id(plot)]._ranges[0]
        assert x_range[1] <= 25  # 20 steps (rounded up), not the stored runs' 400


def test_a_name_is_renamed_in_place_and_a_bad_one_is_refused(view, store, qtbot, monkeypatch):
    view.select_runs([store["a"]])
    row = next(r for r in range(view.proxy.rowCount())
               if view.proxy.index(r, rt.COL_NAME).data(rt.RUN_ROLE).dir == store["a"])
    index = view.proxy.index(row, rt.COL_NAME)
    assert index.flags() & Qt.ItemFlag.ItemIsEditable
    view.rename_action.trigger()  # F2: an editor opens on the name
    editor = view.table.indexWidget(index) or view.table.focusWidget()
    editor.setText("baseline, lr 0.1")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: read_run(store["a"]).name == "baseline, lr 0.1")
    qtbot.waitUntil(lambda: "baseline, lr 0.1" in column(view, rt.COL_NAME))
    assert [c.run.name for c in view.curves.curves] == ["baseline, lr 0.1"]  # legend too
    assert json.loads((store["a"] / "run.json").read_text())["name"] == "baseline, lr 0.1"

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    assert not view.rename(read_run(store["a"]), "x" * 200)
    assert "at most 80 characters" in warnings[0]
    assert read_run(store["a"]).name == "baseline, lr 0.1"


def test_hyperparameter_columns_sort_as_numbers(view, store):
    assert column(view, rt.COL_LR) == ["0.02", "0.003", "0.1"]  # newest first
    view.table.sortByColumn(rt.COL_LR, Qt.SortOrder.AscendingOrder)
    assert column(view, rt.COL_LR) == ["0.003", "0.02", "0.1"]
    view.table.sortByColumn(rt.COL_BATCH, Qt.SortOrder.DescendingOrder)
    assert column(view, rt.COL_BATCH) == ["128", "64", "32"]
    view.table.sortByColumn(rt.COL_TEST, Qt.SortOrder.DescendingOrder)
    assert column(view, rt.COL_TEST) == ["0.900", "0.800", "0.800"]
    assert set(column(view, rt.COL_OPTIMIZER)) == {"adam"}
    assert column(view, rt.COL_EPOCHS) == ["1/1"] * 3
    assert set(column(view, rt.COL_DATASET)) == {"digits"}
    assert set(column(view, rt.COL_PARAMS)) == {"28,986"}


def test_weight_decay_sorts_as_a_number_and_schedule_as_text(view, store):
    # Each row shows its own run.json's values (newest first: c, b, a).
    assert [view.proxy.index(r, rt.COL_NAME).data(rt.RUN_ROLE).dir
            for r in range(3)] == [store["c"], store["b"], store["a"]]
    assert column(view, rt.COL_WD) == ["0.001", "5e-05", "0.0005"]
    assert column(view, rt.COL_SCHEDULE) == ["constant", "step", "cosine"]
    assert view.model.headerData(rt.COL_WD, Qt.Orientation.Horizontal) == "WD"
    assert "Weight decay" in view.model.headerData(rt.COL_WD, Qt.Orientation.Horizontal,
                                                   Qt.ItemDataRole.ToolTipRole)
    # As numbers: 5e-05 < 0.0005 < 0.001 (as text "5e-05" would come last).
    view.table.sortByColumn(rt.COL_WD, Qt.SortOrder.AscendingOrder)
    assert column(view, rt.COL_WD) == ["5e-05", "0.0005", "0.001"]
    view.table.sortByColumn(rt.COL_WD, Qt.SortOrder.DescendingOrder)
    assert column(view, rt.COL_WD) == ["0.001", "0.0005", "5e-05"]
    view.table.sortByColumn(rt.COL_SCHEDULE, Qt.SortOrder.AscendingOrder)
    assert column(view, rt.COL_SCHEDULE) == ["constant", "cosine", "step"]


def test_curves_log_scale_is_remembered_and_drops_zero(view, store, qtbot):
    view.select_runs([store["b"]])
    curves = view.curves
    assert not curves.loss_log
    curves.log_loss_box.setChecked(True)
    assert curves.loss_plot.getAxis("left").logMode
    y = curves.curves[0].loss.getOriginalDataset()[1]
    assert np.all(y > 0)
    again = RunsView(store["b"].parent)
    qtbot.addWidget(again)
    assert again.curves.loss_log and again.curves.log_loss_box.isChecked()


def test_compare_tab_starts_on_log_loss_and_remembers_linear(qtbot, styled_qapp, store):
    from resnet_studio.gui.training.compare_view import CompareView

    view = CompareView()
    qtbot.addWidget(view)
    assert view.loss_log and view.loss_plot.getAxis("left").logMode  # its default
    history = view.runs["residual"].history
    history.begin(["dense"], ["b0"])
    for step, loss in enumerate([2.0, 0.0, 1.0], start=1):  # a zero loss: left out on log
        history.add_batch(step, loss, 0.1, {})
    view.refresh()
    y = view.raw_curves["residual"].getOriginalDataset()[1]
    assert np.isnan(y[1]) and y[0] == 2.0
    assert "log scale" in view.loss_plot.titleLabel.text
    view.log_loss_box.setChecked(False)
    assert not view.loss_plot.getAxis("left").logMode
    assert list(view.raw_curves["residual"].getOriginalDataset()[1]) == [2.0, 0.0, 1.0]
    again = CompareView()
    qtbot.addWidget(again)
    assert not again.loss_log


def test_a_training_run_is_read_again_at_most_every_few_seconds(qtbot, styled_qapp, tmp_path,
                                                                 monkeypatch):
    from resnet_studio.gui.training import runs_curves
    from resnet_studio.gui.training.runs_curves import RunsCurves

    d = tmp_path / "20261205-130000-resnet8-digits-dddd"
    writer = RunWriter(d, {"id": d.name, "preset": "resnet8-digits", "dataset": "digits"},
                       {"name": "x"}, ["dense"], ["b0"])
    for step in range(1, 11):
        writer.log({"kind": "batch", "step": step, "loss": 1.0 / step, "lr": 0.1})
    writer.update(steps=10)
    writer.flush()
    curves = RunsCurves()
    qtbot.addWidget(curves)
    clock = [1000.0]
    monkeypatch.setattr(runs_curves.time, "monotonic", lambda: clock[0])
    curves.set_runs([read_run(d)])  # this process trains it: status running
    assert read_run(d).status == "running" and len(curves.curves[0].history.loss) == 10
    for step in range(11, 21):
        writer.log({"kind": "batch", "step": step, "loss": 1.0 / step, "lr": 0.1})
    writer.update(steps=20)
    writer.flush()
    clock[0] += runs_curves.RELOAD_RUNNING_S / 2
    curves.set_runs([read_run(d)])
    assert len(curves.curves[0].history.loss) == 10  # too soon: not read again
    clock[0] += runs_curves.RELOAD_RUNNING_S
    curves.set_runs([read_run(d)])
    assert len(curves.curves[0].history.loss) == 20
    writer.finish("completed")
    curves.set_runs([read_run(d)])  # finished: its stamp changed, read at once
    assert curves.curves[0].run.status == "completed"
