"""GUI test fixtures: windows that close cleanly, and waiting for Keras results by signal.

Settings and autosaves go to $RESNET_STUDIO_HOME, which tests/conftest.py points at a fresh
folder for every test. Nothing here sleeps: tests wait on signals (qtbot.waitSignal) or on
conditions checked while the event loop runs (qtbot.waitUntil).
"""

from __future__ import annotations

import pytest

from resnet_studio.core.spec import ArchitectureSpec
from resnet_studio.gui import theme
from resnet_studio.gui.app import resolve_preset
from resnet_studio.gui.main_window import MainWindow
from resnet_studio.gui.summary_worker import SummaryResult

# The first window imports TensorFlow (several seconds on 2 cores); builds take < 2 s.
BACKEND_TIMEOUT_MS = 180_000
BUILD_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def styled_qapp(qapp):
    theme.setup_style(qapp)
    theme.apply_appearance(qapp, "light")
    return qapp


def wait_summary(qtbot, window: MainWindow, timeout: int = BUILD_TIMEOUT_MS) -> SummaryResult:
    """The Keras result for the window's *current* spec (waits for it if needed)."""
    latest = window.service.latest
    if latest is not None and latest.spec == window.doc.spec and not window.service.busy:
        return latest
    with qtbot.waitSignal(window.summary_ready, timeout=timeout,
                          check_params_cb=lambda r: r.spec == window.doc.spec) as blocker:
        pass
    return blocker.args[0]


@pytest.fixture
def make_window(qtbot, styled_qapp):
    """Factory: make_window(preset or spec) -> a shown MainWindow with its first summary."""
    windows: list[MainWindow] = []

    def make(preset: str | ArchitectureSpec = "resnet8-digits", wait: bool = True) -> MainWindow:
        if isinstance(preset, ArchitectureSpec):
            spec, path = preset, None
        else:
            spec, path = resolve_preset(preset)
        window = MainWindow(spec, str(path) if path else None, restore_layout=False)
        windows.append(window)
        window.resize(1400, 900)
        window.show()
        if wait:
            with qtbot.waitSignal(window.summary_ready, timeout=BACKEND_TIMEOUT_MS):
                window.start_backend()
        else:
            window.start_backend()
        return window

    yield make
    for window in windows:
        window.doc.undo_stack.setClean()  # no "save changes?" question at teardown
        window.close()  # stops the worker threads and waits for them
        assert not window.service._thread.isRunning()
        window.deleteLater()
