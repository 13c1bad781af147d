"""Rough edges a new user hit (issue 18, items 3, 4, 6-10): each checked through the GUI.

Nothing sleeps: tests wait on signals or on conditions (qtbot.waitSignal / waitUntil).
"""

from __future__ import annotations

from PySide6.QtCore import Qt


def _type_into(qtbot, widget, text: str) -> None:
    """Selects what a field holds and types `text` as a user would, then presses Enter."""
    widget.setFocus()
    line = widget.lineEdit() if hasattr(widget, "lineEdit") else widget
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


# ---------------------------------------------------------------- item 3
def test_training_settings_belong_to_the_document(make_window, qtbot):
    window = make_window("resnet8-digits")
    panel = window.training_view.panel
    epochs = panel.fields["epochs"]
    _type_into(qtbot, epochs.widget, "60")
    assert panel.config().epochs == 60 and epochs.label.font().bold()
    # An edit of the architecture keeps the user's settings.
    window.doc.set_param((1,), "filters", 24)
    assert panel.config().epochs == 60
    window.doc.undo_stack.setClean()
    assert window.open_preset("lab-sigmoid-mlp")
    # The preset says 10 epochs of SGD at 0.05: that is what the panel shows and trains.
    config = panel.config()
    assert (config.epochs, config.optimizer, config.learning_rate) == (10, "sgd", 0.05)
    assert epochs.widget.value() == 10
    assert not epochs.label.font().bold() and not epochs.reset_button.isVisible()
    assert "epochs" in panel.log_text()  # what was dropped is said, not silent


# ---------------------------------------------------------------- item 9
def test_a_stale_could_not_train_line_goes_when_another_dataset_is_chosen(
        make_window, qtbot, tmp_path):
    window = make_window("resnet8-digits")
    view = window.training_view
    view.panel.set_dataset(f"folder:{tmp_path / 'missing'}")
    with qtbot.waitSignal(view.error, timeout=120_000):
        view.panel.start_button.click()
    qtbot.waitUntil(lambda: not view.training, timeout=120_000)
    window.last_error_box.close()
    assert view.panel.status_label.text().startswith("Could not train")
    view.panel.set_dataset("digits")
    assert "Could not train" not in view.panel.status_label.text()


# ---------------------------------------------------------------- item 8
def _all_number_params():
    from resnet_studio.core.blocks import registry
    from resnet_studio.core.training_config import TRAINING_PARAMS

    for name, bt in registry.BLOCK_TYPES.items():
        for p in bt.params:
            yield f"{name}.{p.name}", p
    for p in TRAINING_PARAMS:
        yield f"training.{p.name}", p


def test_every_editor_takes_exactly_the_schemas_range(styled_qapp):
    """What a preset file may hold, the inspector and the training panel can show; what it
    refuses, they refuse (one source of truth: core's Param schemas)."""
    from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox, QWidget

    from resnet_studio.gui.inspector import ParamField

    parent = QWidget()
    checked = 0
    for where, p in _all_number_params():
        if p.kind not in ("int", "float") or p.maximum is None:
            continue
        field = ParamField(p, parent)
        w = field.widget
        field.set_value(p.normalize(p.maximum), True)
        if isinstance(w, (QSpinBox, QDoubleSpinBox)):
            assert w.value() == p.maximum, where
            assert w.maximum() == p.maximum, where
            if not p.exclusive_minimum and p.minimum is not None:
                assert w.minimum() == p.minimum, where
            assert (w.text_problem(w.textFromValue(p.maximum)) == ""), where
            over = p.maximum + (1 if p.kind == "int" else p.maximum * 0.5)
            assert w.text_problem(str(over)), where
            checked += 1
    assert checked > 50  # filters, units, rates, epochs, … of every block type


def test_invalid_numbers_are_said_in_red_and_not_applied(make_window, qtbot):
    window = make_window("resnet8-digits")
    window.doc.set_selection([(1,)])
    before = window.doc.spec
    field = window.inspector.fields["filters"]
    for text in ("99999999999", "-5abc"):
        _type_into(qtbot, field.widget, text)
        assert window.doc.spec == before, text  # nothing applied, nothing clamped
        assert field.message.isVisible() and "not applied" in field.message.text()
        assert text in field.message.text() and "65,536" in field.message.text()
        assert "border" in field.widget.styleSheet()  # the field is red
    # The largest value a preset may hold is accepted and shown as it is.
    _type_into(qtbot, field.widget, "65536")
    assert window.doc.spec.blocks[1].params["filters"] == 65536
    assert field.widget.value() == 65536 and not field.message.isVisible()
    window.doc.undo_stack.undo()

    panel = window.training_view.panel
    lr = panel.fields["learning_rate"]
    old = panel.config().learning_rate
    _type_into(qtbot, lr.widget, "250")
    assert panel.config().learning_rate == old
    assert not lr.message.isHidden() and "“250” was not applied" in lr.message.text()
    _type_into(qtbot, lr.widget, "0.00001")  # below the old 4-decimal floor, but valid
    assert panel.config().learning_rate == 1e-5 and lr.message.isHidden()


# ---------------------------------------------------------------- item 7
def test_a_damaged_image_is_named_in_the_preview_and_the_dialog(make_window, qtbot, tmp_path):
    from tests.core.test_op_errors import NOISE, _folder

    root = _folder(tmp_path / "ds")
    window = make_window("resnet8-digits")
    view = window.training_view
    panel = view.panel
    with qtbot.waitSignal(panel.loader.loaded, timeout=120_000):
        panel.set_dataset(f"folder:{root}")
    info = panel.dataset_info.text()
    assert "broken.png" in info and not any(n in info for n in NOISE), info
    with qtbot.waitSignal(view.error, timeout=120_000) as error:
        panel.start_button.click()
    qtbot.waitUntil(lambda: not view.training, timeout=120_000)
    title, text, details = error.args
    shown = " ".join((text, details, window.last_error_box.text(),
                      window.last_error_box.informativeText(), panel.status_label.text()))
    assert "broken.png" in text and not any(n in shown for n in NOISE), shown
    window.last_error_box.close()


# ---------------------------------------------------------------- item 6
def test_new_is_blank_builds_and_the_last_block_says_why_it_stays(make_window, qtbot):
    from resnet_studio.core import editing
    from tests.gui.conftest import wait_summary

    window = make_window("resnet8-digits")
    window.actions["new"].trigger()
    assert window.doc.spec == editing.blank_spec() and window.doc.path is None
    result = wait_summary(qtbot, window)
    assert result.summary is not None and result.summary.total_params == 8 * 8 * 10 + 10
    assert window.actions["train"].isEnabled()
    # Everything selected: Delete is greyed and says why (not a status-bar line afterwards).
    window.edit.select_all()
    delete = window.actions["delete"]
    assert not delete.isEnabled() and "at least one block" in delete.toolTip()
    assert "at least one block" in delete.statusTip()
    assert not window.inspector.multi_delete.isEnabled()  # the inspector's button too
    assert "at least one block" in window.inspector.multi_delete.toolTip()
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert window.doc.spec == editing.blank_spec()
    # One block selected of two: deleting it is fine.
    window.doc.set_selection([(0,)])
    assert delete.isEnabled()
    assert window.doc.remove() and len(window.doc.spec.blocks) == 1
    # Asked anyway (a script, the clipboard's Cut): refused, the reason shown over the canvas.
    assert not window.doc.remove([(0,)])
    assert "at least one block" in window.edit.last_refusal
    window.doc.undo_stack.setClean()


# ---------------------------------------------------------------- item 9: Show in Folder
def test_show_in_folder_without_a_file_manager_shows_the_path(styled_qapp, qtbot, tmp_path,
                                                              monkeypatch):
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QMessageBox, QWidget

    from resnet_studio.gui import reveal

    asked = []
    monkeypatch.setattr(reveal, "open_url", lambda url: asked.append(url) or False)
    parent = QWidget()
    qtbot.addWidget(parent)
    run = tmp_path / "run-1"
    run.mkdir()
    box = reveal.show_in_folder(parent, run / "model.keras")
    assert asked and asked[0].toLocalFile() == str(run)  # the folder holding the file
    assert box is not None and box.isVisible() and box.informativeText() == str(run)
    copy = next(b for b in box.buttons() if b.text() == "Copy Path")
    copy.click()
    assert QGuiApplication.clipboard().text() == str(run)
    # Where a file manager opens, nothing else appears.
    monkeypatch.setattr(reveal, "open_url", lambda url: True)
    assert reveal.show_in_folder(parent, run) is None
    assert isinstance(box, QMessageBox)


# ---------------------------------------------------------------- item 9: summary rows
def test_a_long_build_error_wraps_without_overlapping_the_rows(styled_qapp, qtbot):
    from resnet_studio.gui import theme
    from resnet_studio.gui.summary_view import MIN_TABLE_HEIGHT, SummaryView

    view = SummaryView()
    qtbot.addWidget(view)
    view.resize(330, 260)  # a short dock
    view.show()
    long = ("blocks[3] (stage2): cannot build: " + "the input is too small for a 3×3 "
            "convolution with stride 2 after the pooling of the stem; " * 8)
    view._set_state(long, "warning", theme.ERROR_COLOR)
    total_label = view.values["total"]
    qtbot.waitUntil(lambda: view.state.height() >= view.state.heightForWidth(
        view.state.width()) > 0)
    state_bottom = view.state.mapTo(view.scroll.widget(), view.state.rect().bottomLeft()).y()
    total_top = total_label.mapTo(view.scroll.widget(), total_label.rect().topLeft()).y()
    assert state_bottom < total_top  # the wrapped message ends above the first row
    assert view.table.height() >= MIN_TABLE_HEIGHT
    assert view.scroll.verticalScrollBar().maximum() > 0  # it scrolls instead of clipping


# ---------------------------------------------------------------- item 9: keys and palette
def test_ctrl_n_from_an_inspector_field_even_in_a_floating_dock(make_window, qtbot):
    window = make_window("resnet8-digits")
    window.inspector_dock.setFloating(True)  # a window of its own
    title = window.inspector.model_title
    title.setFocus()
    qtbot.keyClicks(title, " draft")
    qtbot.keyClick(title, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.doc.spec.name == "untitled")
    # The field shows the new document, and leaving it does not write the old title in.
    assert title.text() == "Untitled architecture"
    title.editingFinished.emit()
    assert window.doc.spec.title == "Untitled architecture" and not window.doc.is_dirty
    window.inspector_dock.setFloating(False)


def test_the_palette_shows_the_residual_container_first_and_scrolls(make_window, qtbot):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window = make_window("resnet8-digits", wait=False)
    palette = window.palette_view
    tree = palette.tree
    item = palette.items["residual"]
    rect = tree.visualItemRect(item)
    assert rect.isValid() and tree.viewport().rect().contains(rect)  # no scrolling needed
    bar = tree.verticalScrollBar()
    palette.resize(palette.width(), 300)  # a short dock: the list must scroll, not clip
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    before = bar.value()
    centre = QPointF(tree.viewport().rect().center())
    wheel = QWheelEvent(centre, QPointF(tree.viewport().mapToGlobal(centre.toPoint())),
                        QPoint(), QPoint(0, -120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(tree.viewport(), wheel)
    assert bar.value() > before


# ---------------------------------------------------------------- item 10
def test_toolbar_labels_are_a_remembered_view_option(make_window, qtbot):
    from resnet_studio.gui.settings import Settings

    window = make_window("resnet8-digits", wait=False)
    tb, action = window.toolbar, window.actions["toolbar_text"]
    assert not action.isChecked()
    assert tb.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly
    action.trigger()
    assert tb.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextUnderIcon
    wrap = tb.widgetForAction(window.actions["wrap"])
    assert wrap.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextUnderIcon
    assert wrap.text() == "Wrap"  # one short word, not the menu's sentence
    assert Settings().toolbar_text()
    second = make_window("resnet8-digits", wait=False)  # the next start remembers it
    assert second.actions["toolbar_text"].isChecked()
    assert second.toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextUnderIcon


def test_the_tour_walks_five_parts_and_is_dismissed_for_good(make_window, qtbot):
    from resnet_studio.gui.settings import Settings
    from resnet_studio.gui.window import tour

    window = make_window("resnet8-digits", wait=False)
    assert not window.tour.offer()  # offscreen (tests, screenshots): never by itself
    assert not window.tour.card.isVisible()
    window.actions["tour"].trigger()  # Help › Take the Tour
    seen = []
    while window.tour.active:
        card, outline = window.tour.card, window.tour.outline
        assert card.isVisible() and outline.isVisible()
        # The outline is around the part explained, and the card is inside the window.
        assert outline.geometry().contains(window.tour.target_rect())
        assert window.rect().contains(card.geometry())
        seen.append(window.tour.title.text())
        qtbot.mouseClick(window.tour.next, Qt.MouseButton.LeftButton)
    assert [s.replace("<b>", "").replace("</b>", "") for s in seen] == \
        [s.title for s in tour.STEPS] == ["Blocks", "Canvas", "Inspector", "Training", "Runs"]
    assert Settings().tour_done() and window.tabs.currentIndex() == 0
    # Escape ends it too.
    window.tour.start()
    qtbot.keyClick(window.tour.next, Qt.Key.Key_Escape)
    assert not window.tour.active and not window.tour.card.isVisible()


def test_the_tour_is_offered_once_on_an_interactive_start(make_window, qtbot, monkeypatch):
    from resnet_studio.gui.settings import Settings
    from resnet_studio.gui.window import tour

    window = make_window("resnet8-digits", wait=False)
    monkeypatch.setattr(tour, "wanted", lambda: True)  # as on a real display
    assert window.tour.offer() and window.tour.active
    qtbot.mouseClick(window.tour.skip, Qt.MouseButton.LeftButton)
    assert Settings().tour_done() and not window.tour.offer()


# ---------------------------------------------------------------- item 4
def test_shortcut_off_and_on_from_the_editor_keeps_identity(make_window, qtbot):
    from resnet_studio.core import editing

    window = make_window("resnet8-digits", wait=False)
    doc = window.doc
    doc.set_shortcut((2,), "identity")  # the user's choice, among projection blocks
    doc.set_selection([(2,)])
    window.actions["toggle_shortcut"].trigger()
    assert editing.shortcut_of(doc.spec, (2,)) == "none"
    doc.move_by(+1)  # other edits in between keep the memory
    doc.move_by(-1)
    window.actions["toggle_shortcut"].trigger()
    assert editing.shortcut_of(doc.spec, (2,)) == "identity"
    doc.undo_stack.setClean()
