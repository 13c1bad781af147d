"""The residual lab in the GUI: Compare with Plain Twin, gradient flow, alert banners, the
Learn panel and the Residual Connections page.

Comparisons run lab-sigmoid-mlp (a 20-layer sigmoid MLP) on the digits, capped at LIMIT
examples per split through CompareView.limit, for 1–2 epochs. Everything waits on signals
or on conditions checked while the event loop runs; nothing sleeps. Runs go to
$RESNET_STUDIO_HOME/runs (a fresh folder per test, tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from resnet_studio.core.runs import read_gradients, read_metrics, read_run
from resnet_studio.gui.learn import IDENTITY_GRADIENT
from resnet_studio.gui.training.compare_view import ROLES

RUN_TIMEOUT_MS = 240_000
LIMIT = 512  # about 15 batches an epoch: enough for the vanishing alert's 10-step window
PRESET = "lab-sigmoid-mlp"
BODY, EMBED = (2,), (1,)  # the residual MLP stage and the dense layer before it


def set_epochs(window, epochs: int) -> None:
    """Types the epoch count into the Training tab's spin box (Enter commits it)."""
    spin = window.training_view.panel.fields["epochs"].widget
    spin.setValue(epochs)
    spin.editingFinished.emit()
    assert window.training_view.panel.config().epochs == epochs


def expected_mean_log(norms: np.ndarray, window: int) -> np.ndarray:
    """The window average as defined in gradflow.py, computed independently: the mean of
    log10 norms over the last `window` recorded steps."""
    tail = np.asarray(norms[-window:], dtype=np.float64)
    return np.log10(np.maximum(tail, 1e-38)).mean(axis=0)


def check_view_matches_disk(view, dirs: dict[str, Path]) -> None:
    """Loss curves and depth profiles of both roles equal what the run folders hold."""
    view.refresh()
    n = view.flow.window
    for role in ROLES:
        meta = read_run(dirs[role]).meta
        batches = [r for r in read_metrics(dirs[role]) if r["kind"] == "batch"]
        run = view.runs[role]
        # Live, the GUI receives at most one BatchEnd per 20 ms (the last always): the
        # steps shown are a subset of the records, with their values.
        assert meta["steps"] == len(batches) > 10
        shown = run.loss.x.astype(int)
        assert 2 <= len(shown) <= meta["steps"] and shown[-1] == meta["steps"]
        by_step = {r["step"]: r["loss"] for r in batches}
        np.testing.assert_allclose(run.loss.y, [by_step[s] for s in shown], rtol=1e-6)
        assert len(view.loss_curves[role].xData) == len(run.smooth) == len(shown)
        layers, blocks, _steps, norms = read_gradients(dirs[role])
        profile = view.flow.profile(role)
        plot = view.flow.plot(role)
        assert plot.layers == layers and plot.blocks == blocks
        assert profile.n_layers == norms.shape[1] == len(layers) == 20
        np.testing.assert_allclose(profile.latest, norms[-1], rtol=1e-6)
        expected = expected_mean_log(norms, n)
        np.testing.assert_allclose(profile.mean_log(n), expected, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(plot.mean_curve.yData, expected, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(plot.latest_curve.yData, np.log10(norms[-1]), rtol=1e-6)


@pytest.mark.slow
def test_compare_with_plain_twin_trains_both_and_shows_the_evidence(make_window, qtbot):
    window = make_window(PRESET)
    view = window.compare_view
    action = window.actions["compare"]
    assert action.isEnabled() and action in window.menuBar().actions()[3].menu().actions()
    set_epochs(window, 2)
    view.limit = LIMIT
    with qtbot.waitSignal(view.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        action.trigger()  # Train → Compare with Plain Twin
        assert window.tabs.currentWidget() is view and view.running
    results = blocker.args[0]
    assert [results[r]["status"] for r in ROLES] == ["completed", "completed"], results
    assert not view.running and not view.session.thread.isRunning()
    dirs = {role: Path(results[role]["run_dir"]) for role in ROLES}

    # Both runs are in the runs view, completed, each naming the other as its partner.
    rv = window.runs_view
    rv.refresh()
    listed = {r.dir: r for r in rv.runs()}
    for role, other in (("residual", "plain"), ("plain", "residual")):
        run = listed[dirs[role]]
        assert run.status == "completed"
        assert run.meta["compare"] == {"role": role, "partner": dirs[other].name}

    # Loss curves and depth profiles hold exactly what the runs recorded.
    check_view_matches_disk(view, dirs)
    # The plain twin's first layer gets a vanishing share of the gradient; the residual's not.
    plain_mean = view.flow.profile("plain").mean_log(view.flow.window)
    res_mean = view.flow.profile("residual").mean_log(view.flow.window)
    assert plain_mean[0] < plain_mean[-2] - 4 and res_mean[0] > res_mean[-2] - 2

    # The vanishing alert is on the plain side only.
    plain_banner, res_banner = view.flow.banner("plain"), view.flow.banner("residual")
    assert plain_banner.isVisible()
    assert "vanishing" in [a.kind for a in plain_banner.alerts]
    assert "Vanishing gradients" in plain_banner.text() and "embed" in plain_banner.text()
    assert "vanishing" not in [a.kind for a in res_banner.alerts]
    if not res_banner.alerts:
        assert "No gradient alert" in res_banner.text()
    assert results["plain"]["gradient_ratio"] < 1e-4 < results["residual"]["gradient_ratio"]
    headline = view.headline.text()
    assert "plain twin's first block (embed) receives" in headline
    assert "Final training loss" in headline

    # Either run of the pair reopens the pair from the runs view.
    view._reset()
    assert len(view.runs["plain"].loss) == 0
    rv.select_runs([dirs["plain"]])
    assert rv.compare_action.isEnabled()
    rv.compare_action.trigger()
    assert window.tabs.currentWidget() is view
    check_view_matches_disk(view, dirs)
    assert "vanishing" in [a.kind for a in view.flow.banner("plain").alerts]
    assert "plain twin's first block (embed) receives" in view.headline.text()


@pytest.mark.slow
def test_stop_and_close_during_a_comparison_end_it_cleanly(make_window, qtbot, monkeypatch):
    window = make_window(PRESET)
    view = window.compare_view
    set_epochs(window, 50)
    with qtbot.waitSignal(view.run_started, timeout=RUN_TIMEOUT_MS) as started:
        window.actions["compare"].trigger()
    assert started.args[0] == "residual"
    qtbot.waitUntil(lambda: view.runs["residual"].batches >= 3, timeout=RUN_TIMEOUT_MS)

    # Train while comparing asks first; "No" leaves the comparison running, nothing else.
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    window.actions["train"].trigger()
    assert asked and "comparison" in asked[0]
    assert not window.training_view.training and view.running

    # Stop: the residual run stops with a checkpoint, the plain twin is never started.
    thread = view.session.thread
    assert window.actions["stop_training"].isEnabled()
    with qtbot.waitSignal(view.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.actions["stop_training"].trigger()
    results = blocker.args[0]
    assert results["residual"]["status"] == "stopped"
    assert results["plain"]["status"] == "skipped"
    assert not thread.isRunning() and not view.running and view.state == "idle"
    assert read_run(results["residual"]["run_dir"]).status == "stopped"
    assert not Path(results["plain"]["run_dir"]).exists()
    assert "Stopped" in view.headline.text()
    assert not window.actions["stop_training"].isEnabled()

    # Closing the window mid-comparison asks, stops the run and waits for the thread.
    with qtbot.waitSignal(view.run_started, timeout=RUN_TIMEOUT_MS):
        view.again_button.click()
    qtbot.waitUntil(lambda: view.runs["residual"].batches >= 2, timeout=RUN_TIMEOUT_MS)
    thread = view.session.thread
    asked.clear()
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    assert window.close()
    assert asked and "comparison" in asked[0]
    assert not thread.isRunning()
    assert read_run(view.runs["residual"].run_dir).status == "stopped"


@pytest.mark.slow
def test_training_tab_shows_gradient_flow_and_the_alert_banner(make_window, qtbot):
    window = make_window(PRESET)
    view = window.training_view
    window.actions["plain_twin"].trigger()  # Edit → Remove All Shortcuts: a plain network
    assert not window.actions["compare"].isEnabled()
    assert "no shortcut to remove" in window.actions["compare"].toolTip()
    set_epochs(window, 1)
    assert not view.alert_banner.isVisible()
    with qtbot.waitSignal(view.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.tabs.setCurrentWidget(view)
        assert view.start(limit=LIMIT)
    finished = blocker.args[0]
    assert finished.status == "completed", finished.error
    banner = view.alert_banner
    assert banner.isVisible() and [a.kind for a in banner.alerts] == ["vanishing"]
    assert "embed" in banner.text()
    view.plot_tabs.setCurrentWidget(view.flow)
    view.flow.refresh()
    _layers, _blocks, _steps, norms = read_gradients(finished.run_dir)
    profile = view.flow.profile("run")
    np.testing.assert_allclose(profile.latest, norms[-1], rtol=1e-6)
    np.testing.assert_allclose(view.flow.plot("run").mean_curve.yData,
                               expected_mean_log(norms, view.flow.window), atol=1e-9)
    view.flow.set_window(5)
    view.flow.refresh()
    np.testing.assert_allclose(view.flow.plot("run").mean_curve.yData,
                               expected_mean_log(norms, 5), atol=1e-9)


def test_help_page_and_learn_panel_follow_the_selection(make_window, qtbot):
    window = make_window(PRESET, wait=False)
    help_menu = window.menuBar().actions()[-1].menu()
    assert window.actions["residual_help"] in help_menu.actions()
    window.actions["residual_help"].trigger()
    dialog = window.residual_help
    assert dialog.isVisible()
    text = dialog.text()
    assert IDENTITY_GRADIENT == "∂y/∂x = I + ∂F/∂x" and IDENTITY_GRADIENT in text
    for cited in ("1512.03385", "1603.05027", "2003.04887", "2103.17239", "1603.09382"):
        assert f"arXiv:{cited}" in text
    dialog.close()

    view_menu = window.menuBar().actions()[2].menu()
    assert window.learn_dock.toggleViewAction() in view_menu.actions()
    panel = window.learn_panel
    window.doc.set_selection([BODY])
    assert panel.explanation.type == "residual_dense"
    assert panel.title_label.text() == "Residual MLP — body"
    assert IDENTITY_GRADIENT in panel.formula_text()
    assert panel.diagram.units[0].shortcut == "identity" and panel.diagram.repeat == 18
    assert panel.diagram.height() > 100

    window.doc.set_selection([EMBED])  # another block: the panel follows
    assert panel.explanation.type == "dense"
    assert "no shortcut" in panel.formula_text()
    assert panel.diagram.units[0].shortcut is None

    window.doc.set_selection([BODY])  # a param change: the formula follows
    window.doc.set_param(BODY, "scaling", "rezero")
    assert "y = α·F(x) + x" in panel.formula_text() and "ReZero" in panel.formula_text()
    assert panel.diagram.units[0].scale == "× α"
    window.doc.set_shortcut(BODY, "none")
    assert "Plain unit" in panel.formula_text() and panel.diagram.units[0].shortcut is None
    assert not window.actions["compare"].isEnabled()
    window.doc.undo_stack.undo()
    assert window.actions["compare"].isEnabled()
    window.doc.set_selection([])
    assert panel.explanation is None and panel.title_label.text() == "Residual connections"
