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
