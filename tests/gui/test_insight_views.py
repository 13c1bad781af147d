"""The Insight tab's Predictions and Histograms views, populated from a real tiny run (and a
run that appends epochs while the view is open), and reached from the Runs tab."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from resnet_studio.cli.main import main
from resnet_studio.core.runs.histograms import append_histograms, read_histograms
from resnet_studio.core.training.events import EpochEnd

TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """resnet8-digits, 2 epochs on 200 digits."""
    run_dir = tmp_path_factory.mktemp("insight-gui") / "run"
    assert main(["train", "resnet8-digits", "--epochs", "2", "--limit", "200",
                 "--run-dir", str(run_dir), "--json"]) == 0
    return run_dir


@pytest.mark.slow
def test_predictions_view_shows_the_misclassified_then_all(qtbot, styled_qapp, tiny_run):
    from resnet_studio.gui.training.predictions_view import CELL, PredictionsView

    view = PredictionsView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    with qtbot.waitSignal(view.ready, timeout=TIMEOUT_MS) as blocker:
        view.set_run(tiny_run)
    p = blocker.args[0]
    assert p.examples == len(p.y_true) > 0
    assert view.only_wrong.isChecked()
    assert view.grid.count() == p.misclassified
    wrong = [int(i) for i in p.order[: p.misclassified]]
    shown = [view.grid.item(i).data(0x0100) for i in range(view.grid.count())]
    assert shown == wrong
    if p.misclassified:
        first = view.grid.item(0)
        t, k = int(p.y_true[wrong[0]]), int(p.y_pred[wrong[0]])
        assert first.text().startswith(f"✗ {t} → {k}\n")
        assert f"{p.confidence[wrong[0]]:.0%}" in first.text()
        assert first.icon().actualSize(view.grid.iconSize()).width() == CELL
    view.only_wrong.setChecked(False)
    assert view.grid.count() == len(p.samples) == p.examples  # 40 test digits, all kept
    assert view.grid.item(view.grid.count() - 1).text().startswith("✓")
    assert f"{p.misclassified} of {p.examples}" in view.summary.text()


@pytest.mark.slow
def test_histograms_view_draws_a_layer_and_follows_new_epochs(qtbot, styled_qapp, tiny_run,
                                                              tmp_path):
    from resnet_studio.gui.training.histograms_view import HistogramsView

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    records = read_histograms(run)
    view = HistogramsView()
    qtbot.addWidget(view)
    view.show()
    view.set_run(run)
    assert view.layer_box.count() == len(records[-1].layers)
    assert view.epoch_slider.maximum() == 1 and view.epoch_slider.value() == 1
    assert view.select_layer("stem_conv")
    curves = view.weights_plot.getPlotItem().listDataItems()
    assert len(curves) == 1
    x, y = curves[0].getData()
    stored = records[-1].layer("stem_conv").weights
    np.testing.assert_allclose(y, stored.counts)
    assert len(view.activations_plot.getPlotItem().listDataItems()) == 1
    view.overlay.setChecked(True)
    assert len(view.weights_plot.getPlotItem().listDataItems()) == 2

    # a third epoch appended on disk (as a training run does) shows up by itself
    third = records[-1].__class__(3, records[-1].step + 5, records[-1].probe,
                                  records[-1].layers)
    with qtbot.waitSignal(view.loaded, timeout=10_000, check_params_cb=lambda n: n == 3):
        append_histograms(run, third)
    assert view.epoch_slider.value() == 2 and "3 of 3" in view.epoch_label.text()
    assert len(view.weights_plot.getPlotItem().listDataItems()) == 3


@pytest.mark.slow
def test_runs_tab_opens_the_insight_tab(qtbot, make_window, tiny_run, monkeypatch):
    monkeypatch.setenv("RESNET_STUDIO_HOME", str(tiny_run.parent.parent))
    window = make_window("resnet8-digits")
    runs = window.runs.view("runs")
    runs.set_root(tiny_run.parent)
    runs.select_runs([tiny_run])
    assert runs.insight_action.isEnabled()
    insight = window.runs.view("insight")
    with qtbot.waitSignal(insight.predictions.ready, timeout=TIMEOUT_MS):
        runs.insight_action.trigger()
    assert window.tabs.currentWidget() is insight
    assert insight.predictions.grid.count() == insight.predictions.predictions.misclassified
    assert insight.histograms.layer_box.count() > 0


@pytest.mark.slow
def test_the_insight_tab_follows_a_run_trained_in_the_window(qtbot, make_window):
    window = make_window("resnet8-digits")
    insight = window.runs.view("insight")
    window.tabs.setCurrentWidget(insight)
    insight.pages.setCurrentWidget(insight.histograms)
    view = window.training_view
    view.panel.set_value("epochs", 2)

    def pause_after_epoch_1(event):  # the run holds between batches until resumed
        if isinstance(event, EpochEnd) and event.epoch == 1:
            view.pause()

    with qtbot.waitSignal(view.run_finished, timeout=TIMEOUT_MS) as blocker:
        assert view.start(limit=200)  # the Insight tab stays in front
        view.session.event.connect(pause_after_epoch_1)
        qtbot.waitUntil(lambda: view.paused, timeout=TIMEOUT_MS)
        # epoch 1's histograms are drawn while the run is still training
        qtbot.waitUntil(lambda: len(insight.histograms.records) == 1, timeout=10_000)
        assert str(insight.run_dir) == str(view.last_run_dir)
        assert insight.histograms.weights_plot.getPlotItem().listDataItems()
        assert insight.predictions.predictions is None  # not while it trains
        view.resume()
    finished = blocker.args[0]
    assert finished.status == "completed", finished.error
    qtbot.waitUntil(lambda: len(insight.histograms.records) == 2, timeout=10_000)
    insight.pages.setCurrentWidget(insight.predictions)  # computed now that it has ended
    qtbot.waitUntil(lambda: insight.predictions.predictions is not None, timeout=TIMEOUT_MS)
    assert str(insight.predictions.run_dir) == finished.run_dir
