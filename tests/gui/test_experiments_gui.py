"""The Experiments tab runs a two-arm experiment in the background to its sortable table."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import Qt

from resnet_studio.core.experiments.schema import experiment_from_dict

RUN_TIMEOUT_MS = 600_000


@pytest.mark.slow
def test_a_two_arm_experiment_runs_from_the_tab_to_its_table(make_window, qtbot, tmp_path):
    window = make_window("resnet8-digits")
    window.tabs.setCurrentIndex(4)  # the Experiments tab, made when first opened
    view = window.runs.built("experiments")
    assert view is not None and window.tabs.currentWidget() is view
    assert view.choice.count() == 7 and "Claim" in view.about.text()
    experiment = experiment_from_dict({
        "name": "twins", "preset": "resnet8-digits", "dataset": "digits", "seeds": 2,
        "training": {"epochs": 1, "batch_size": 32},
        "arms": [{"name": "residual"}, {"name": "plain", "architecture": {"shortcut": "none"}}],
    }, "twins")
    view.set_experiment(experiment)
    view.tiny.setChecked(True)  # 64 examples, one unit per stage
    view.seeds.setValue(2)
    with qtbot.waitSignal(view.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        view.run_button.click()
        assert view.running and not view.run_button.isEnabled()
    arms = blocker.args[0]
    assert [a["name"] for a in arms] == ["residual", "plain"]
    assert all(len(a["runs"]) == 2 and a["statuses"] == ["completed"] * 2 for a in arms)
    assert not view.running and view.run_button.isEnabled() and view.export_button.isEnabled()
    assert view.progress.value() == view.progress.maximum() == 4
    # The table: one row per arm, mean ± sd over the two seeds, as the runs recorded them.
    assert view.table.rowCount() == 2
    rows = {view.table.item(r, 0).text(): r for r in range(2)}
    for a in arms:
        loss = a["final_train_loss"]
        cell = view.table.item(rows[a["name"]], 1).text()
        assert cell == f"{loss['mean']:.4f} ± {loss['sd']:.4f}"
        assert view.table.item(rows[a["name"]], 7).text() == "2"
    # Sorting by a column orders by the number.
    view.table.sortItems(1, Qt.SortOrder.AscendingOrder)
    ordered = sorted(arms, key=lambda a: a["final_train_loss"]["mean"])
    assert [view.table.item(r, 0).text() for r in range(2)] == [a["name"] for a in ordered]
    # CSV export: mean and sd apart.
    view.export_csv(tmp_path / "t.csv")
    with open(tmp_path / "t.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [r["arm"] for r in table] == ["residual", "plain"]
    assert float(table[0]["final_train_loss_mean"]) == pytest.approx(
        arms[0]["final_train_loss"]["mean"])
    # The runs are in the run store, grouped in the experiment folder.
    assert sorted(p.name for p in view.folder.iterdir() if p.is_dir()) == [
        "plain-seed0", "plain-seed1", "residual-seed0", "residual-seed1"]
