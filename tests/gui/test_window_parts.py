"""The main window's run tabs as an extension point: a new kind of run view is one RunTab.

The window is not shown and TensorFlow is not imported: these tests drive the composition
(gui.window.run_tabs) with a stand-in view that follows the run-view protocol.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from resnet_studio.gui.main_window import MainWindow
from resnet_studio.gui.window import run_tabs


class LabView(QWidget):
    """A run view that records what the window asks of it."""

    error = Signal(str, str, str)

    def __init__(self) -> None:
        super().__init__()
        self.running = False
        self.paused = False
        self.run_guard = None
        self.calls: list[str] = []

    def pause(self) -> None:
        self.calls.append("pause")
        self.paused = True

    def resume(self) -> None:
        self.calls.append("resume")
        self.paused = False

    def stop(self) -> None:
        self.calls.append("stop")
        self.running = False

    def confirm_stop(self, action: str) -> bool:
        self.calls.append(f"confirm_stop: {action}")
        self.running = False
        return True

    def shutdown(self) -> bool:
        self.calls.append("shutdown")
        return True


@pytest.fixture
def lab_window(qtbot, styled_qapp, monkeypatch):
    made: list[LabView] = []

    def make_lab(_tabs: run_tabs.RunTabs) -> QWidget:
        made.append(LabView())
        return made[-1]

    lab = run_tabs.RunTab("lab", "Lab", "runs", make_lab, runs=True)
    monkeypatch.setattr(run_tabs, "RUN_TABS", (*run_tabs.RUN_TABS, lab))
    window = MainWindow(restore_layout=False)
    qtbot.addWidget(window)
    yield window, made
    window.doc.undo_stack.setClean()
    window.close()


def test_a_new_run_tab_is_made_when_first_opened(lab_window):
    window, made = lab_window
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[:4] == ["Architecture", "Training", "Compare", "Runs"] and titles[-1] == "Lab"
    assert not made and window.runs.built("lab") is None
    window.tabs.setCurrentIndex(len(titles) - 1)  # the new tab comes last
    assert len(made) == 1 and window.tabs.currentWidget() is made[0]
    assert made[0].objectName() == "labView"


def test_pause_stop_and_close_reach_the_running_view_of_the_new_kind(lab_window):
    window, made = lab_window
    view = window.runs.view("lab")
    a = window.actions
    window.runs.update_training_actions()
    assert not a["pause_training"].isEnabled()
    view.running = True
    window.runs.update_training_actions()
    assert a["pause_training"].isEnabled() and a["stop_training"].isEnabled()
    a["pause_training"].trigger()
    assert view.calls == ["pause"] and a["pause_training"].text() == "&Resume"
    a["pause_training"].trigger()
    a["stop_training"].trigger()
    assert view.calls == ["pause", "resume", "stop"]
    assert not a["stop_training"].isEnabled()
    # One model trains at a time: the new kind's guard asks the others, and closing asks it.
    assert view.run_guard("start a lab run")
    view.running = True
    window.doc.undo_stack.setClean()
    window.close()
    assert "confirm_stop: close the window" in view.calls and view.calls[-1] == "shutdown"


def test_an_error_of_the_new_kind_is_a_dialog_that_does_not_block(lab_window):
    window, _made = lab_window
    view = window.runs.view("lab")
    view.error.emit("Cannot Start Lab", "The lab needs a dataset.", "details")
    box = window.last_error_box
    assert box is not None and box.isVisible() and box.text() == "The lab needs a dataset."
    box.close()
