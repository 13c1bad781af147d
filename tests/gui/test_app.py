"""Application-level behaviour: start-up without TensorFlow, screenshot mode, settings,
autosave and recovery, the preset gallery, appearance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import QApplication

from resnet_studio.core.builder import build_model
from resnet_studio.core.presets import load_preset, preset_names
from resnet_studio.gui import theme
from resnet_studio.gui.autosave import find_recoverable
from resnet_studio.gui.gallery import KEY_PREFIX, PresetGallery, load_counts
from resnet_studio.gui.main_window import MainWindow
from tests.gui.conftest import wait_summary

STUDIO = [sys.executable, "-c", "import sys; from resnet_studio.cli import main; "
                                "sys.exit(main())"]


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3",
                RESNET_STUDIO_HOME=str(tmp_path / "home"))


@pytest.mark.slow
def test_the_window_appears_before_tensorflow_is_imported(tmp_path):
    """Building the whole window (and running its event loop) imports no TensorFlow/Keras:
    only the background threads do, once started."""
    script = r"""
import sys
from PySide6.QtCore import QTimer
from resnet_studio.gui.app import make_application
from resnet_studio.gui.main_window import MainWindow
app = make_application()
w = MainWindow()
w.show()
QTimer.singleShot(600, app.quit)  # past the summary debounce: nothing may build yet
app.exec()
heavy = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "keras_hub")]
assert not heavy, heavy[:5]
assert w.build_status.text() == "Waiting for TensorFlow"
w.doc.undo_stack.setClean(); w.close()
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


@pytest.mark.slow
def test_screenshot_mode_writes_a_1400x900_png_and_exits_0(tmp_path):
    out = tmp_path / "shots" / "digits.png"
    result = subprocess.run([*STUDIO, "gui", "resnet8-digits", "--screenshot", str(out)],
                            env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1400, 900)
    # Bad input: a message on stderr, exit 2, no traceback, no file.
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    for preset in ("no-such-preset", str(bad)):
        result = subprocess.run([*STUDIO, "gui", preset, "--screenshot", str(tmp_path / "x.png")],
                                env=_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr and result.stderr.startswith("resnet-studio: ")
        assert not (tmp_path / "x.png").exists()


def test_layout_and_recent_files_are_remembered(qtbot, tmp_path, styled_qapp):
    window = MainWindow(restore_layout=True)
    window.show()
    window.summary_dock.hide()
    window.settings.add_recent(tmp_path / "a.json")
    window.close()
    again = MainWindow(restore_layout=True)
    again.show()
    assert not again.summary_dock.isVisible() and again.palette_dock.isVisible()
    assert again.settings.recent_files() == [str((tmp_path / "a.json").resolve())]
    again.reset_layout()
    assert again.summary_dock.isVisible()
    again.close()
    assert Path(os.environ["RESNET_STUDIO_HOME"], "settings.ini").exists()


@pytest.mark.slow
def test_autosave_and_recovery_after_a_crash(make_window, qtbot, tmp_path):
    window = make_window("resnet20-cifar", wait=False)
    assert not window.autosaver.save_now()  # nothing unsaved: nothing written
    window.doc.set_param((1,), "filters", 20)
    assert window.autosaver.save_now()
    data = json.loads(window.autosaver.file.read_text())
    assert data["spec"] == window.doc.spec.to_dict() and data["pid"] == os.getpid()
    assert find_recoverable() == []  # this process is alive: not a crash
    # Pretend the process died: its pid now belongs to no process.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    data["pid"] = int(dead)
    crashed = window.autosaver.file.with_name(f"session-{dead}.json")
    crashed.write_text(json.dumps(data))
    found = find_recoverable()
    assert [r.file for r in found] == [crashed]
    other = make_window(wait=False)
    other.files.recover(found[0])
    assert other.doc.spec == window.doc.spec and other.isWindowModified()
    # Saving the document removes its autosave.
    window.doc.save(tmp_path / "saved.json")
    assert not window.autosaver.file.exists()


def test_gallery_lists_every_preset_with_keras_counts(make_window, qtbot):
    window = make_window()
    gallery = PresetGallery(window.service, window, current="gpt-char")
    assert sorted(gallery.items) == preset_names()
    assert gallery.selected_name() == "gpt-char"
    with qtbot.waitSignal(window.service.counted, timeout=120_000) as blocker:
        pass
    key, total, _error = blocker.args
    name = key[len(KEY_PREFIX):]
    assert total == build_model(load_preset(name)).summary.total_params
    assert gallery.items[name].data(Qt.ItemDataRole.UserRole + 1) == total
    assert load_counts()[name] == total  # cached for the next time
    gallery.search.setText("transformer")
    visible = [n for n, it in gallery.items.items() if not it.isHidden()]
    assert "transformer-mnist1d" in visible and "resnet50" not in visible
    gallery.reject()
    assert window.service.queued_counts == 0
    # Opening a preset from the gallery replaces the document (nothing was edited).
    assert window.open_preset(name)
    assert window.doc.spec == load_preset(name) and window.doc.path is None
    wait_summary(qtbot, window)


def test_dark_appearance_derives_card_colours_from_the_palette(styled_qapp):
    app = QApplication.instance()
    light_fill = theme.card_fill("Convolutional", app.palette())
    theme.apply_appearance(app, "dark")
    try:
        assert theme.is_dark(app.palette())
        dark_fill = theme.card_fill("Convolutional", app.palette())
        assert dark_fill.lightness() < 100 < light_fill.lightness()
        text = app.palette().color(QPalette.ColorRole.Text)
        assert abs(text.lightness() - dark_fill.lightness()) > 120  # readable
    finally:
        theme.apply_appearance(app, "light")


def test_pyside_keeps_its_references_to_none():
    """PySide6 6.12.0 returns None from void methods without a reference to it: on CPython
    < 3.12 each call (QPainter.setPen, QLabel.setText…) lowers None's count until Python
    aborts with "deallocating None" — within seconds of live plotting. pyproject.toml
    excludes it; this fails if an upgrade brings the bug back."""
    import sys

    from PySide6.QtCore import QPointF

    point = QPointF()
    before = sys.getrefcount(None)
    for _ in range(1000):
        point.setX(1.0)
    assert sys.getrefcount(None) >= before - 10
