"""The editor, driven like a user would: clicks, keys, drops, the inspector's fields."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QSpinBox

from resnet_studio.cli import main as cli_main
from resnet_studio.core import editing
from resnet_studio.core.builder import build_model
from resnet_studio.core.presets import DEFAULT_PRESET, load_preset
from resnet_studio.core.spec import save_spec, spec_from_dict
from resnet_studio.gui.canvas import BLOCK_PATHS_MIME
from resnet_studio.gui.palette import BLOCK_TYPE_MIME
from tests.gui.conftest import wait_summary

PRIMITIVES = {
    "name": "three-primitives", "input": {"kind": "image", "shape": [8, 8, 8]},
    "blocks": [{"type": "conv", "params": {"filters": 8}}, {"type": "batch_norm"},
               {"type": "activation"}, {"type": "global_pool"},
               {"type": "classifier_head", "params": {"classes": 3}}]}


def click_card(qtbot, window, path, modifier=Qt.KeyboardModifier.NoModifier):
    window.canvas.ensure_visible(path)
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, modifier,
                     window.canvas.card_center(path))


def drop_on_canvas(window, mime: QMimeData, path_before) -> None:
    """Delivers a drop just above the card at `path_before` (what a drag ends with)."""
    canvas = window.canvas
    node = canvas.node(path_before)
    pos = QPointF(node.head.center().x(), node.rect.top() - 4) * canvas.zoom
    action = Qt.DropAction.MoveAction if mime.hasFormat(BLOCK_PATHS_MIME) else \
        Qt.DropAction.CopyAction
    event = QDropEvent(pos, action, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    canvas.dropEvent(event)


def test_opens_the_default_preset_ready_to_train(make_window):
    window = make_window()
    assert window.doc.spec == load_preset(DEFAULT_PRESET)
    assert window.doc.spec.dataset == "digits"
    result = window.service.latest
    assert result.ok and result.spec == window.doc.spec
    assert result.summary.total_params == build_model(load_preset(DEFAULT_PRESET)) \
        .summary.total_params
    assert window.summary_view.total_params == result.summary.total_params
    # The status bar names the device training will use.
    assert window.tf_loader.state == "ready"
    assert window.tf_loader.info.device in window.backend_status.text()
    assert "TensorFlow" in window.backend_status.text()
    # A first-time user can press Train at once: it is enabled, on the toolbar, and the
    # Training tab offers the preset's dataset.
    train = window.actions["train"]
    assert train.isEnabled()
    assert window.training_view.panel.dataset() == "digits"
    assert window.train_button.defaultAction() is train
    assert not window.isWindowModified()
    assert window.windowTitle().startswith(DEFAULT_PRESET)
    for name in ("File", "Edit", "View", "Train", "Help"):
        assert any(a.text().replace("&", "") == name for a in window.menuBar().actions())


def test_inspector_edit_gives_the_cli_parameter_count(make_window, qtbot, tmp_path, capsys):
    window = make_window("resnet20-cifar")
    before = window.summary_view.total_params
    click_card(qtbot, window, (2,))
    assert window.doc.selection == [(2,)]
    spin = window.inspector.editor("filters")
    assert isinstance(spin, QSpinBox) and spin.value() == 32
    assert spin.minimum() == 1 and spin.maximum() == 65536
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "48")
    assert window.doc.spec.blocks[2].params["filters"] == 32  # nothing committed while typing
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert window.doc.spec.blocks[2].params["filters"] == 48
    result = wait_summary(qtbot, window)
    assert result.ok and window.summary_view.total_params != before
    # The same edit made by hand, summarised by `resnet-studio summary --json`.
    edited = editing.set_param(load_preset("resnet20-cifar"), (2,), "filters", 48)
    assert edited == window.doc.spec
    save_spec(edited, tmp_path / "edited.json")
    assert cli_main(["summary", str(tmp_path / "edited.json"), "--json"]) == 0
    cli_total = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["total_params"]
    assert window.summary_view.total_params == cli_total
    assert window.summary_view.values["total"].text() == f"{cli_total:,}"
    assert window.doc.undo_stack.undoText() == "Change filters of stage2 to 48"
    assert window.isWindowModified()


def test_invalid_input_is_flagged_while_typing(make_window, qtbot):
    window = make_window("gpt-char")
    click_card(qtbot, window, (2,))  # final layer norm: epsilon is a text field
    field = window.inspector.fields["epsilon"]
    field.widget.setFocus()
    field.widget.selectAll()
    qtbot.keyClicks(field.widget, "-1")
    assert field.message.isVisible() and "Expected a number" in field.message.text()
    qtbot.keyClick(field.widget, Qt.Key.Key_Return)
    assert "epsilon" not in window.doc.spec.blocks[2].params  # the invalid value was refused
    field.widget.selectAll()
    qtbot.keyClicks(field.widget, "1e-6")
    assert not field.message.isVisible()
    qtbot.keyClick(field.widget, Qt.Key.Key_Return)
    assert window.doc.spec.blocks[2].params["epsilon"] == 1e-6


def test_add_reorder_delete_then_undo_each_back_to_the_original(make_window, qtbot):
    window = make_window()
    original = window.doc.spec
    canvas = window.canvas
    # Add from the palette: double-click "Dropout" with stage1 selected.
    click_card(qtbot, window, (1,))
    tree = window.palette_view.tree
    item = window.palette_view.items["dropout"]
    tree.scrollToItem(item)
    pos = tree.visualItemRect(item).center()
    # A real double-click starts with a press (QTest's mouseDClick sends only the second).
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert [b.type for b in window.doc.spec.blocks][1:3] == ["basic_block", "dropout"]
    assert window.doc.selection == [(2,)]
    after_add = window.doc.spec
    # Drag a block type from the palette onto the canvas, above the head.
    mime = QMimeData()
    mime.setData(BLOCK_TYPE_MIME, b"dense")
    drop_on_canvas(window, mime, (6,))
    assert window.doc.spec.blocks[6].type == "dense"
    after_drop = window.doc.spec
    # Reorder by dragging: the dropout goes above the stem.
    mime = QMimeData()
    mime.setData(BLOCK_PATHS_MIME, canvas.paths_mime_payload([(2,)]))
    drop_on_canvas(window, mime, (0,))
    assert window.doc.spec.blocks[0].type == "dropout"
    after_move = window.doc.spec
    # Reorder with the keyboard, then delete with the Delete key.
    canvas.setFocus()
    window.actions["move_down"].trigger()
    assert window.doc.spec.blocks[1].type == "dropout"
    assert window.doc.selection == [(1,)]
    after_key_move = window.doc.spec
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert "dropout" not in [b.type for b in window.doc.spec.blocks]
    stack = window.doc.undo_stack
    assert [stack.text(i) for i in range(stack.count())] == [
        "Add Dropout", "Add Dense", "Move dropout", "Move dropout down", "Delete dropout"]
    for expected in (after_key_move, after_move, after_drop, after_add, original):
        stack.undo()
        assert window.doc.spec == expected
    assert not window.isWindowModified()
    wait_summary(qtbot, window)
    stack.redo()
    assert window.doc.spec == after_add


def test_wrap_three_primitives_in_a_residual_container(make_window, qtbot):
    window = make_window(spec_from_dict(PRIMITIVES))
    # Summaries of the spec as written: no built-in dataset has the 8 channels it reads
    # (bound to the training panel's digits, the identity shortcut would not fit).
    window.service.dataset_source = None
    click_card(qtbot, window, (0,))
    click_card(qtbot, window, (2,), Qt.KeyboardModifier.ShiftModifier)
    assert window.doc.selection == [(0,), (1,), (2,)]
    assert window.actions["wrap"].isEnabled()
    window.canvas.setFocus()
    window.actions["wrap"].trigger()
    container = window.doc.spec.blocks[0]
    assert container.type == "residual" and container.params == {"shortcut": "identity"}
    assert [b.type for b in container.blocks] == ["conv", "batch_norm", "activation"]
    assert window.doc.selection == [(0,)]
    result = wait_summary(qtbot, window)
    assert result.ok
    assert result.block_summaries()[(0,)].output_shape == (None, 8, 8, 8)
    node = window.canvas.node((0,))
    assert node.is_container and [c.path for c in node.children] == [(0, 0), (0, 1), (0, 2)]
    assert node.arc is not None  # the shortcut is drawn beside the frame
    # A block dropped between two children lands inside the container.
    mime = QMimeData()
    mime.setData(BLOCK_TYPE_MIME, b"dropout")
    drop_on_canvas(window, mime, (0, 1))
    assert [b.type for b in window.doc.spec.blocks[0].blocks] == [
        "conv", "dropout", "batch_norm", "activation"]
    window.doc.undo_stack.undo()
    # Collapse with the chevron, expand with the keyboard.
    chevron = node.chevron.center() * window.canvas.zoom
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton,
                     pos=QPoint(int(chevron.x()), int(chevron.y())))
    assert window.canvas.is_collapsed((0,)) and window.canvas.node((0, 1)) is None
    qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    assert not window.canvas.is_collapsed((0,))
    # Switching the shortcut off (clicking its arc) and on again is undoable.
    arc = window.canvas.node((0,)).arc.center() * window.canvas.zoom
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton,
                     pos=QPoint(int(arc.x()), int(arc.y())))
    assert window.doc.spec.blocks[0].params["shortcut"] == "none"
    assert window.doc.undo_stack.undoText() == "Switch off the shortcut of residual"
    window.doc.undo_stack.undo()
    window.actions["unwrap"].trigger()
    assert window.doc.spec == spec_from_dict(PRIMITIVES)


def test_save_reopen_gives_an_equal_spec(make_window, qtbot, tmp_path, monkeypatch):
    window = make_window("resnet20-cifar")
    window.doc.set_param((1,), "repeat", 2)
    window.doc.rename((4,), "pool")
    edited = window.doc.spec
    target = tmp_path / "my-resnet.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "my-resnet"), ""))
    window.actions["save"].trigger()  # a preset has no file yet: Save asks where
    assert target.exists() and window.doc.path == target.resolve()
    assert not window.isWindowModified() and window.windowTitle().startswith("my-resnet.json")
    assert str(target.resolve()) in window.settings.recent_files()
    assert window.open_preset("gpt-char")
    assert window.open_path(target)
    assert window.doc.spec == edited
    assert window.doc.undo_stack.count() == 0 and not window.isWindowModified()


def test_a_block_that_cannot_build_is_marked_and_the_summary_says_so(make_window, qtbot):
    window = make_window()
    good = window.doc.spec
    window.doc.add_block("gru", (), 1)  # a GRU after a 2D convolution
    result = wait_summary(qtbot, window)
    assert not result.ok
    errors = window.canvas.errors_for((1,))
    assert errors and "sequence" in errors[0]
    # Blocks before the failing one still show their shapes.
    assert window.canvas.info_for((0,)).output_shape == (None, 8, 8, 16)
    assert window.canvas.info_for((2,)) is None
    state = window.summary_view.state.text()
    assert state.startswith("Model does not build: gru (blocks[1]): expects a sequence")
    assert window.summary_view.total_params is None
    assert window.build_status.text() == "Model does not build"
    assert window.inspector.block_errors.isVisible()
    assert "sequence" in window.inspector.block_errors.text()
    window.doc.undo_stack.undo()
    assert wait_summary(qtbot, window).ok and window.doc.spec == good
    assert window.canvas.errors_for((1,)) == []


def test_opening_a_broken_file_shows_a_dialog_and_keeps_the_document(make_window, qtbot,
                                                                      tmp_path):
    window = make_window()
    window.doc.set_param((1,), "filters", 24)
    spec, stack_count = window.doc.spec, window.doc.undo_stack.count()
    broken = tmp_path / "broken.json"
    data = load_preset("resnet8-digits").to_dict()
    data["blocks"][2]["params"]["filters"] = -64
    broken.write_text(json.dumps(data))
    seen = {}

    def answer_dialog():
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen["text"], seen["info"] = box.text(), box.informativeText()
        box.accept()

    QTimer.singleShot(0, answer_dialog)
    assert not window.open_path(broken, ask=False)
    assert "broken.json" in seen["text"]
    assert "blocks[2].params.filters" in seen["info"] and "-64" in seen["info"]
    assert window.doc.spec == spec and window.doc.path is None
    assert window.doc.undo_stack.count() == stack_count and window.isWindowModified()
    # Not JSON at all: the dialog says where the syntax breaks.
    broken.write_text('{"name": "x",')
    QTimer.singleShot(0, answer_dialog)
    assert not window.open_path(broken, ask=False)
    assert "not valid JSON" in seen["info"] and window.doc.spec == spec


def test_stale_builds_are_dropped(make_window, qtbot):
    window = make_window(wait=True)
    service = window.service
    dropped, finished = [], []
    service.dropped.connect(dropped.append)
    service.finished.connect(lambda r: finished.append(r.generation))
    first = editing.set_param(window.doc.spec, (1,), "filters", 8)
    second = editing.set_param(window.doc.spec, (1,), "filters", 12)
    service.request(first)
    service.flush()  # the first build starts now…
    gen = service.request(second)
    service.flush()  # …and the second waits for it
    with qtbot.waitSignal(service.finished, timeout=60_000,
                          check_params_cb=lambda r: r.generation == gen) as blocker:
        pass
    assert blocker.args[0].spec == second
    assert dropped == [gen - 1] and finished == [gen]


def test_keyboard_navigation_and_shortcuts(make_window, qtbot):
    window = make_window()
    canvas = window.canvas
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Down)
    assert window.doc.selection == [(0,)]
    qtbot.keyClick(canvas, Qt.Key.Key_Down)
    qtbot.keyClick(canvas, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert window.doc.selection == [(1,), (2,)]
    window.actions["duplicate"].trigger()
    assert [b.name for b in window.doc.spec.blocks[1:5]] == ["stage1", "stage2", "stage1_2",
                                                             "stage2_2"]
    assert window.doc.selection == [(3,), (4,)]
    window.actions["copy"].trigger()
    window.actions["delete"].trigger()
    assert len(window.doc.spec.blocks) == 6
    assert window.doc.selection == [(3,)]  # the block that took the deleted ones' place
    window.actions["paste"].trigger()  # pastes after the selection, names kept (now free)
    assert [b.name for b in window.doc.spec.blocks[3:6]] == ["stage3", "stage1_2", "stage2_2"]
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert window.doc.selection == []
    assert window.inspector.stack.currentWidget() is window.inspector._model_page


def test_model_page_edits_the_input(make_window, qtbot):
    window = make_window()
    inspector = window.inspector
    inspector.input_shape.setFocus()
    inspector.input_shape.selectAll()
    qtbot.keyClicks(inspector.input_shape, "16, 16")
    assert inspector.input_message.isVisible()  # an image needs 3 sizes
    qtbot.keyClicks(inspector.input_shape, ", 1")
    assert not inspector.input_message.isVisible()
    qtbot.keyClick(inspector.input_shape, Qt.Key.Key_Return)
    assert window.doc.spec.input.shape == (16, 16, 1)
    result = wait_summary(qtbot, window)
    # Training on digits feeds 8×8×1 (core.binding): the summary is of that model, and the
    # spec's 16×16×1 is reported as a difference from the dataset.
    assert result.summary.input_shape == (None, 8, 8, 1)
    assert [(d.field, d.user, d.dataset) for d in result.differences] == [
        ("shape", (16, 16, 1), (8, 8, 1))]
    assert window.doc.undo_stack.undoText() == "Change the input to image 16×16×1"


def test_palette_search_filters_and_enter_adds_the_first_match(make_window, qtbot):
    window = make_window()
    palette = window.palette_view
    qtbot.keyClicks(palette.search, "multi-head")
    visible = [t for t, item in palette.items.items() if not item.isHidden()]
    assert visible == ["attention"]
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert window.doc.spec.blocks[5].type == "attention"  # before the head
    palette.search.clear()
    qtbot.keyClicks(palette.search, "zzz")
    assert palette.empty.isVisible() and not palette.tree.isVisible()
