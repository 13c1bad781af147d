"""Nothing lost on a crash: a real editor process, killed with SIGKILL after an edit was
autosaved, leaves the edit for the next session to recover.

tests/gui/test_app.py::test_autosave_and_recovery_after_a_crash checks the same contract by
faking a dead pid; this test crashes a real process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from resnet_studio.gui.autosave import autosave_dir, find_recoverable
from resnet_studio.gui.main_window import MainWindow

# The editor alone: no start_backend(), so the child never imports TensorFlow (fast).
EDITOR = r"""
from resnet_studio.gui.app import make_application
from resnet_studio.gui.main_window import MainWindow
app = make_application()
window = MainWindow(restore_layout=False)
window.show()
window.autosaver._timer.setInterval(100)  # 30 s in real use: the test waits for a real tick
window.doc.set_param((1,), "filters", 20)  # resnet8-digits' stage1: 16 -> 20
print("edited", flush=True)
app.exec()
"""


@pytest.mark.slow
def test_an_edit_survives_sigkill_and_the_next_session_recovers_it(qtbot, styled_qapp):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")  # RESNET_STUDIO_HOME: this test's
    child = subprocess.Popen([sys.executable, "-c", EDITOR], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    autosave = autosave_dir() / f"session-{child.pid}.json"
    deadline = time.monotonic() + 120
    try:
        while not autosave.exists():  # written by the child's autosave timer, atomically
            assert child.poll() is None, child.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "no autosave within 2 minutes"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(30)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    found = find_recoverable()
    assert [r.file for r in found] == [autosave]
    assert found[0].spec.blocks[1].params["filters"] == 20

    # The next session offers it; accepting restores the edit as an unsaved document. (No
    # backend: recovery needs no TensorFlow.)
    window = MainWindow(restore_layout=False)
    qtbot.addWidget(window)
    window.show()
    assert window.doc.spec.blocks[1].params["filters"] == 16

    def accept() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        next(b for b in box.buttons() if b.text() == "Restore").click()

    QTimer.singleShot(0, accept)
    window.offer_recovery()
    assert window.doc.spec.blocks[1].params["filters"] == 20
    assert window.isWindowModified()
    assert not autosave.exists() and find_recoverable() == []  # offered once, then gone
    window.doc.undo_stack.setClean()  # no "save changes?" question on closing
    window.close()
