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
