"""The Training, Compare and Runs tabs are made after the window appears (start-up time,
benchmarks/bench_startup.py): before that nothing of theirs is imported, a tab opened early
is made on the spot, and what the window learnt meanwhile reaches the views it makes."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

import pytest

from resnet_studio.gui.app import keep_gui_responsive
from resnet_studio.gui.main_window import MainWindow
from resnet_studio.gui.tf_loader import BackendInfo

# A window made in a fresh interpreter: which modules are loaded once it has painted.
WINDOW_IMPORTS = r"""
import json, sys
from resnet_studio.gui.app import make_application
from resnet_studio.gui.main_window import MainWindow
app = make_application()
window = MainWindow(restore_layout=False)
window.show()
app.processEvents()
loaded = sorted(m for m in ("pyqtgraph", "tensorflow", "keras",
                            "resnet_studio.gui.training.view",
                            "resnet_studio.gui.training.compare_view",
                            "resnet_studio.gui.training.runs_view") if m in sys.modules)
window.doc.undo_stack.setClean()
window.close()
print(json.dumps(loaded))
"""


@pytest.mark.slow
def test_a_shown_window_has_not_imported_the_plot_tabs_nor_tensorflow(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RESNET_STUDIO_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", WINDOW_IMPORTS], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def tab_titles(window: MainWindow) -> list[str]:
    return [window.tabs.tabText(i) for i in range(window.tabs.count())]


def test_a_tab_opened_before_its_view_exists_gets_it_in_place(qtbot, styled_qapp):
    window = MainWindow(restore_layout=False)
    qtbot.addWidget(window)
    window.show()
    titles = tab_titles(window)
    assert titles == ["Architecture", "Training", "Compare", "Runs", "Experiments", "Geometry",
                      "Insight"]
    assert window.runs.built("training") is None and window.runs.built("runs") is None

    window.tabs.setCurrentIndex(3)  # Ctrl+4 or a click, before start_backend made it
    runs = window.runs.built("runs")
    assert runs is not None and window.tabs.currentWidget() is runs
    assert window.tabs.currentIndex() == 3 and tab_titles(window) == titles
    assert not window.palette_dock.isVisible()  # the Runs workspace, as for a made view

    window.tabs.setCurrentIndex(0)
    assert window.runs.built("training") is None  # still nothing asked for it
    view = window.training_view  # code that needs it makes it, without switching tabs
    assert window.tabs.currentIndex() == 0 and window.tabs.indexOf(view) == 1
    assert window.palette_dock.isVisible()
    window.doc.undo_stack.setClean()


def test_views_made_late_get_the_devices_and_compare_state_found_before(qtbot, styled_qapp):
    window = MainWindow(restore_layout=False)
    qtbot.addWidget(window)
    window.status.on_backend_ready(BackendInfo("2.21.0", "3.15.1", "Fake GPU", 2,
                                         ("CPU:0", "GPU:0", "GPU:1")))
    assert window.runs.built("training") is None
    assert window.training_view.panel.devices() == ["CPU:0", "GPU:0", "GPU:1"]
    assert not window.training_view.panel.loader.held  # TensorFlow was there: previews load
    ok, _tip = window.runs.compare_enabled
    assert ok  # resnet8-digits has shortcuts: its plain twin differs
    assert window.compare_view.empty_button.isEnabled() == ok
    window.doc.undo_stack.setClean()


def test_start_backend_makes_the_training_view_then_imports_tensorflow(qtbot, styled_qapp):
    window = MainWindow(restore_layout=False)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.tf_loader.ready, timeout=180_000):
        window.start_backend()
        assert window.tf_loader.state == "idle"  # the view first, in this turn
        assert window.runs.built("training") is not None
    assert window.tabs.widget(1).objectName() == "trainingView"
    assert gc.isenabled()
    # Compare and Runs wait to be opened: made before the import, they delayed it.
    assert window.runs.built("compare") is None and window.runs.built("runs") is None
    window.tabs.setCurrentIndex(2)
    assert window.tabs.currentWidget() is window.runs.built("compare") is not None
    window.tabs.setCurrentIndex(0)
    window.doc.undo_stack.setClean()


def test_dataset_previews_wait_for_the_tensorflow_import(qtbot, styled_qapp):
    """A preview imports scikit-learn and SciPy: made during the TensorFlow import it delayed
    the first training step by about a second. The view asks for it at once; it loads when
    the import has ended."""
    window = MainWindow(restore_layout=False)
    qtbot.addWidget(window)
    panel = window.training_view.panel
    assert panel.loader.held and not panel.loader.busy
    assert panel.preview is not None and panel.preview.info is None  # asked, not loaded
    with qtbot.waitSignal(panel.loader.loaded, timeout=120_000) as blocker:
        window.status.on_backend_ready(BackendInfo("2.21.0", "3.15.1", "CPU", 0, ("CPU:0",)))
    assert not panel.loader.held
    assert blocker.args[0].name == "digits" and blocker.args[0].info.num_classes == 10
    window.doc.undo_stack.setClean()


def test_a_run_freezes_the_heap_until_it_ends(qtbot, styled_qapp):
    """Full garbage collections walk every object holding the GIL (100-220 ms with TensorFlow
    loaded): while a run trains, the objects that existed when it started are frozen out of
    their way, and given back when it ends so that its model can be freed."""
    window = MainWindow(restore_layout=False)
    qtbot.addWidget(window)
    keep_gui_responsive(window)
    gc.unfreeze()
    try:
        window.run_started.emit("/runs/x")  # as _on_run_started / _on_compare_run_started
        assert gc.get_freeze_count() > 1000
        window.runs.on_run_finished(None)
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
    window.doc.undo_stack.setClean()


IMPORT_WITHOUT_COLLECTIONS = r"""
import gc, json
from resnet_studio.core.jobs import JobState
from resnet_studio.gui.tf_loader import import_backend
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info))
import_backend(JobState())
print(json.dumps({"collections": len(collections), "enabled": gc.isenabled(),
                  "frozen": gc.get_freeze_count()}))
"""


@pytest.mark.slow
def test_tensorflow_is_imported_without_garbage_collections(tmp_path):
    """Full collections during the import froze the window (40-220 ms each, six of them);
    the imported objects then leave the collector's way for good (gc.freeze)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", IMPORT_WITHOUT_COLLECTIONS],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["collections"] == 0 and result["enabled"]
    assert result["frozen"] > 100_000
