"""What the canvas shows is what trains: the editor's numbers are those of the spec bound to
the training panel's dataset (core.binding), differences are marked with a one-click fix,
and the W_s box is drawn only where Keras builds a projection.

Nothing sleeps: every wait is on a signal (qtbot.waitSignal) or a condition checked while
the event loop runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from resnet_studio.core import editing
from resnet_studio.core.binding import bind_spec, facts_for_editor
from resnet_studio.core.builder import summarize
from tests.gui.conftest import wait_summary

RUN_TIMEOUT_MS = 240_000


def _head(spec) -> tuple[int, ...]:
    return next((i,) for i, b in enumerate(spec.blocks) if b.type == "classifier_head")


def _shown_count(window) -> int:
    """The parameter count the status bar and the canvas header show (they must agree)."""
    status = window.build_status.text()
    assert status.endswith(" parameters"), status
    count = int(status.split()[0].replace(",", ""))
    assert f"{count:,} parameters" in window.canvas.header_text()
    return count


def _train_one_epoch(window, qtbot) -> dict:
    view = window.training_view
    spin = view.panel.fields["epochs"].widget
    spin.setValue(1)
    spin.editingFinished.emit()
    with qtbot.waitSignal(view.run_finished, timeout=RUN_TIMEOUT_MS) as blocker:
        qtbot.mouseClick(window.train_button, Qt.MouseButton.LeftButton)
    finished = blocker.args[0]
    assert finished.status == "completed", finished.error
    return json.loads((Path(finished.run_dir) / "run.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("edit", ["input", "classes"])
def test_canvas_count_equals_the_trained_models_with_a_mismatched_spec(make_window, qtbot,
                                                                          edit):
    window = make_window("resnet8-digits")
    assert window.training_view.dataset() == "digits"
    before = wait_summary(qtbot, window)
    assert before.differences == []
    if edit == "input":
        window.doc.set_input("image", (8, 8, 3))
        expected = [("input", "shape", (8, 8, 3), (8, 8, 1))]
    else:
        head = _head(window.doc.spec)
        window.doc.set_param(head, "classes", 3)
        expected = [(editing.location_of(head), "classes", 3, 10)]
    result = wait_summary(qtbot, window)
    assert [(d.location, d.field, d.user, d.dataset) for d in result.differences] == expected
    # The spec as written would have another count: the editor shows the bound one.
    assert summarize(window.doc.spec).total_params != result.summary.total_params
    shown = _shown_count(window)
    assert shown == result.summary.total_params
    run = _train_one_epoch(window, qtbot)
    assert run["params"] == shown


def test_a_difference_is_marked_and_fixed_in_one_undoable_click(make_window, qtbot):
    window = make_window("resnet8-digits")
    head = _head(window.doc.spec)
    window.doc.set_param(head, "classes", 3)
    window.doc.rename(head, "head")  # a separate edit: the fix does not merge into `classes`
    result = wait_summary(qtbot, window)
    assert [d.field for d in window.canvas.differences_for(head)] == ["classes"]
    state = window.summary_view.state.text()  # the Model Summary says what it shows
    assert "for training on digits" in state and "1 value replaced" in state
    assert "classes" in window.canvas._tooltip(window.canvas.node(head).head.center())
    notice = window.inspector.binding_notice
    window.doc.set_selection([head])
    assert notice.isVisible()
    assert "the dataset has 10" in notice.label.text()
    bound_count = result.summary.total_params
    qtbot.mouseClick(notice.fix_button, Qt.MouseButton.LeftButton)
    assert editing.get_block(window.doc.spec, head).params["classes"] == 10
    assert "classes" in window.doc.undo_stack.undoText()
    fixed = wait_summary(qtbot, window)
    assert fixed.differences == [] and not notice.isVisible()
    assert fixed.summary.total_params == bound_count  # the model training builds is unchanged
    window.doc.undo_stack.undo()
    assert editing.get_block(window.doc.spec, head).params["classes"] == 3
    # The input: its notice shows with no block selected; the fix writes the dataset's shape.
    window.doc.set_param(head, "classes", 10)
    window.doc.set_input("image", (8, 8, 3))
    window.doc.set_selection([])
    wait_summary(qtbot, window)
    assert notice.isVisible() and window.canvas.differences_for(None)
    assert "yours: 8 × 8 × 3" in window.canvas._input_text()
    notice.apply_fix()
    assert window.doc.spec.input.shape == (8, 8, 1)
    assert wait_summary(qtbot, window).differences == []


def test_choosing_another_dataset_rebinds_the_numbers(make_window, qtbot):
    window = make_window("resnet8-digits")
    first = wait_summary(qtbot, window)
    with qtbot.waitSignal(window.summary_ready, timeout=60_000,
                          check_params_cb=lambda r: r.dataset == "synthetic-images") as b:
        window.training_view.panel.set_dataset("synthetic-images")
    result = b.args[0]
    facts = facts_for_editor(window.doc.spec, "synthetic-images")
    bound = bind_spec(window.doc.spec, facts)
    assert result.summary.total_params == summarize(window.doc.spec, facts).total_params
    assert result.summary.total_params != first.summary.total_params
    assert {(d.field, d.dataset) for d in result.differences} == {
        (d.field, d.dataset) for d in bound.differences} == {("shape", (16, 16, 3)),
                                                              ("classes", 4)}


def test_a_dataset_that_cannot_be_read_leaves_the_spec_unbound_and_says_why(make_window,
                                                                            qtbot, tmp_path):
    window = make_window("resnet8-digits")
    missing = f"npz:{tmp_path / 'missing.npz'}"
    with qtbot.waitSignal(window.summary_ready, timeout=60_000,
                          check_params_cb=lambda r: bool(r.dataset_error)) as b:
        window.training_view.panel.set_dataset(missing)
    result = b.args[0]
    assert result.ok and result.dataset == "" and result.differences == []
    assert result.summary.total_params == summarize(window.doc.spec).total_params
    assert "missing.npz" in result.dataset_error
    assert "could not be read" in window.summary_view.state.text()


def test_ws_is_drawn_only_where_keras_builds_a_projection(make_window, qtbot):
    window = make_window("resnet8-digits")
    result = wait_summary(qtbot, window)
    spec = window.doc.spec
    stages = [(i,) for i, b in enumerate(spec.blocks) if b.type == "basic_block"]
    assert [editing.shortcut_of(spec, p) for p in stages] == ["projection"] * 3
    built = {p: any(layer.endswith("proj_conv") for layer in
                    result.block_summaries()[p].layers) for p in stages}
    assert built == {stages[0]: False, stages[1]: True, stages[2]: True}
    for p in stages:
        assert window.canvas.projection_drawn(p) == built[p]
    # The Learn panel explains stage1 with the identity shortcut, stage2 with W_s.
    learn = window.learn_panel
    window.doc.set_selection([stages[0]])
    formula, note = learn.formula_text().split("Keras builds no")
    assert "Ws" not in formula
    assert all(u.shortcut in (None, "identity") for u in learn.explanation.units)
    window.doc.set_selection([stages[1]])
    assert "Keras builds no" not in learn.formula_text()
    assert any(u.shortcut == "projection" for u in learn.explanation.units)
    # He et al.'s option C projects in every unit: W_s appears on stage1 too.
    window.doc.set_param(stages[0], "shortcut", "projection_all")
    wait_summary(qtbot, window)
    assert window.canvas.projection_drawn(stages[0])
    window.doc.set_param(stages[0], "shortcut", "projection")
    assert not wait_summary(qtbot, window).has_projection(stages[0])
    # Making stage1 change its shape (stride 2) builds a projection: W_s appears.
    window.doc.set_param(stages[0], "stride", 2)
    wait_summary(qtbot, window)
    assert window.canvas.projection_drawn(stages[0])
