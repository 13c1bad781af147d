"""The Experiments tab: the arms table edits an experiment with the inspector's editors; a
two-arm experiment runs in the background to its sortable table and its figures, which
export as CSV, PNG and SVG; pause, stop and resume act on it from the tab."""

from __future__ import annotations

import csv
import json
import struct
import xml.etree.ElementTree as ET

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox

from resnet_studio.core.experiments.schema import experiment_from_dict

RUN_TIMEOUT_MS = 600_000


def twins(seeds: int = 2) -> dict:
    return {"name": "twins", "preset": "resnet8-digits", "dataset": "digits", "seeds": seeds,
            "training": {"epochs": 2, "batch_size": 32},
            "arms": [{"name": "residual"},
                     {"name": "plain", "architecture": {"shortcut": "none"}}]}


def test_the_arms_table_edits_an_arm_with_the_inspectors_editors(qtbot):
    from resnet_studio.gui.experiments.view import ExperimentsView
    from resnet_studio.gui.inspector import ParamField

    view = ExperimentsView()
    qtbot.addWidget(view)
    view.choice.setCurrentText("shortcuts")
    editor = view.arms_editor
    assert editor.table.rowCount() == 3 and view.experiment.name == "shortcuts"
    # Cells show what each arm runs with: its own shortcut, the experiment's rate.
    shortcut = editor.field(1, "shortcut")
    assert isinstance(shortcut, ParamField) and isinstance(shortcut.widget, QComboBox)
    assert shortcut.widget.currentData() == "projection"
    rate = editor.field(2, "learning_rate")
    assert isinstance(rate.widget, QDoubleSpinBox) and rate.widget.value() == 0.1
    assert not rate.reset_button.isVisibleTo(editor.table)
    # Editing a cell sets that arm's override, and only that arm's.
    rate.widget.setValue(0.05)
    zero_pad = shortcut.widget.findData("zero_pad")
    shortcut.widget.setCurrentIndex(zero_pad)
    data = view.built_experiment().to_dict()
    assert data["arms"][2]["training"] == {"learning_rate": 0.05}
    assert data["arms"][1]["architecture"]["shortcut"] == "zero_pad"
    assert "training" not in data["arms"][0] and "training" not in data["arms"][1]
    assert rate.reset_button.isVisibleTo(editor.table) and rate.label.font().bold()
    # Reset drops the override; the cell shows the experiment's value again.
    rate.reset_button.click()
    assert "training" not in view.built_experiment().to_dict()["arms"][2]
    assert rate.widget.value() == 0.1
    # Add arm copies the selected one under a new name; a bad name is refused on Run.
    editor.table.setCurrentCell(1, 0)
    editor.add_button.click()
    arms = view.built_experiment().to_dict()["arms"]
    assert [a["name"] for a in arms][-1] == "B-projection-2"
    assert arms[-1]["architecture"] == arms[1]["architecture"]
    name = editor.table.cellWidget(3, 0)
    name.setText("not a name")
    name.editingFinished.emit()
    with qtbot.waitSignal(view.error) as blocker:
        view.run_button.click()
    assert "arms[3].name" in blocker.args[1] and not view.running


@pytest.mark.slow
def test_a_two_arm_experiment_runs_from_the_tab_to_its_table_and_figures(make_window, qtbot,
                                                                        tmp_path):
    window = make_window("resnet8-digits")
    window.tabs.setCurrentIndex(4)  # the Experiments tab, made when first opened
    view = window.runs.built("experiments")
    assert view is not None and window.tabs.currentWidget() is view
    assert view.choice.count() == 7 and "Claim" in view.about.text()
    view.set_experiment(experiment_from_dict(twins(), "twins"))
    view.tiny.setChecked(True)  # 64 examples, one unit per stage
    view.seeds.setValue(2)
    view.epochs.setValue(2)
    with qtbot.waitSignal(view.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        view.run_button.click()
        assert view.running and not view.run_button.isEnabled()
        assert view.table.rowCount() == 2  # every arm has its row (and progress) at once
    arms = blocker.args[0]
    assert [a["name"] for a in arms] == ["residual", "plain"]
    assert all(len(a["runs"]) == 2 and a["statuses"] == ["completed"] * 2 for a in arms)
    assert not view.running and view.run_button.isEnabled() and view.export_button.isEnabled()
    assert view.progress.value() == view.progress.maximum() == 4
    # The table: one row per arm, mean ± sd over the two seeds, as the runs recorded them.
    rows = {view.table.item(r, 0).text(): r for r in range(2)}
    for a in arms:
        loss = a["final_train_loss"]
        cell = view.table.item(rows[a["name"]], 1).text()
        assert cell == f"{loss['mean']:.4f} ± {loss['sd']:.4f}"
        assert view.table.item(rows[a["name"]], 7).text() == "2"
        assert view.table.item(rows[a["name"]], 8).text().startswith("100%  2/2 runs")
    # Sorting by a column orders by the number, both ways.
    for order, reverse in ((Qt.SortOrder.AscendingOrder, False),
                           (Qt.SortOrder.DescendingOrder, True)):
        view.table.sortItems(1, order)
        ordered = sorted(arms, key=lambda a: a["final_train_loss"]["mean"], reverse=reverse)
        assert [view.table.item(r, 0).text() for r in range(2)] == [a["name"] for a in ordered]
    # CSV export: mean and sd apart.
    view.export_csv(tmp_path / "t.csv")
    with open(tmp_path / "t.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [r["arm"] for r in table] == ["residual", "plain"]
    assert float(table[0]["final_train_loss_mean"]) == pytest.approx(
        arms[0]["final_train_loss"]["mean"])
    # Figures: a mean line and a band over the two seeds per arm; gradient norm by depth.
    curves, gradients = view.figures.curves, view.figures.gradients
    assert set(curves.lines) == set(curves.bands) == {"residual", "plain"}
    x, y = curves.lines["plain"].getData()
    assert x.tolist() == [1.0, 2.0] and y[-1] == pytest.approx(
        arms[1]["final_train_loss"]["mean"], rel=1e-5)
    names, norms = gradients.profiles["residual"]
    assert len(names) == len(norms) >= 4 and names[0].startswith("stem")
    assert (norms > 0).all()
    for fig in (curves, gradients):
        png = fig.export(tmp_path / "f.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert width == fig.plot.width() and abs(height - fig.plot.height()) <= 2
        svg = fig.export(tmp_path / "f.svg").read_bytes()
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.findall(".//{http://www.w3.org/2000/svg}path")  # vector curves
    # The runs are in the run store, grouped in the experiment folder.
    assert sorted(p.name for p in view.folder.iterdir() if p.is_dir()) == [
        "plain-seed0", "plain-seed1", "residual-seed0", "residual-seed1"]


@pytest.mark.slow
def test_pause_stop_and_resume_from_the_tab(qtbot, tmp_path):
    from resnet_studio.gui.experiments.view import ExperimentsView

    view = ExperimentsView()
    qtbot.addWidget(view)
    view.runs_root = tmp_path
    view.set_experiment(experiment_from_dict(twins(seeds=1), "twins"))
    view.tiny.setChecked(True)
    kept: list[tuple[str, bool]] = []
    # Pause before the first batch: the trainer itself reports that it holds.
    with qtbot.waitSignal(view.run_paused, timeout=RUN_TIMEOUT_MS) as paused:
        view.run_button.click()
        view.pause_button.click()
    assert paused.args[0] == "residual" and view.paused
    assert view.pause_button.text() == "Continue" and view.table.item(0, 7).text() == "0"
    # Continue; stop once the first arm's run has finished.
    with qtbot.waitSignal(view.job.partial, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=lambda item: item[0] == "run"):
        view.pause_button.click()
    assert not view.paused
    with qtbot.waitSignal(view.finished, timeout=RUN_TIMEOUT_MS):
        view.stop()
    first = view.folder / "residual-seed0" / "run.json"
    done = json.loads(first.read_text(encoding="utf-8"))
    assert done["status"] == "completed"
    assert view.resume_button.isEnabled() and view.resume_button.text() == "Resume"
    folder = view.folder
    # Resume continues the same folder arm by arm: the finished arm is kept, not re-run.
    with qtbot.waitSignal(view.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        view.resume_button.click()
        # Connected before the event loop runs: the new job's reports are still queued.
        view.job.partial.connect(lambda item: kept.append((item[1], item[4]))
                                 if item[0] == "run" else None)
    assert view.folder == folder
    arms = blocker.args[0]
    assert [a["statuses"] for a in arms] == [["completed"], ["completed"]]
    assert json.loads(first.read_text(encoding="utf-8")) == done
    assert ("residual", True) in kept and ("plain", False) in kept
    assert view.resume_button.text() == "Resume…"


def test_curves_band_over_seeds_and_the_log_loss_switch(qtbot, tmp_path):
    """Runs' epoch records drawn as the mean and a ± sd band; on the log axis (Log loss) an
    arm whose band reaches zero keeps its line and loses its band; accuracies are never on a
    log axis."""
    from resnet_studio.gui.experiments.figures import ExperimentFigures
    from tests.core.test_experiment_curves import fake_run

    figures = ExperimentFigures()
    qtbot.addWidget(figures)
    runs = {"steady": [str(fake_run(tmp_path / "a0", [2.0, 1.0])),
                       str(fake_run(tmp_path / "a1", [2.2, 1.2]))],
            "noisy": [str(fake_run(tmp_path / "b0", [2.0, 0.1])),
                      str(fake_run(tmp_path / "b1", [2.0, 1.9]))],
            "single": [str(fake_run(tmp_path / "c0", [1.5, 0.5]))]}
    curves = figures.curves
    curves.log_box.setChecked(False)
    figures.set_runs(runs)
    assert set(curves.lines) == {"steady", "noisy", "single"}
    assert set(curves.bands) == {"steady", "noisy"}  # one seed: no band
    assert curves.lines["steady"].getData()[1].tolist() == pytest.approx([2.1, 1.1])
    curves.log_box.setChecked(True)  # noisy's last epoch: 1.0 ± 1.27, below zero
    assert curves.log_scale and curves.plot.getPlotItem().ctrl.logYCheck.isChecked()
    assert set(curves.lines) == {"steady", "noisy", "single"} and set(curves.bands) == {"steady"}
    curves.metric.setCurrentIndex(curves.metric.findData("val_accuracy"))
    assert not curves.log_scale and not curves.log_box.isEnabled()
