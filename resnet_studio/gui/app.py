"""Application start-up: `resnet-studio gui [PRESET] [--screenshot FILE]`.

The window is shown first; TensorFlow is imported afterwards in a background thread (see
tf_loader), so the editor appears in about a second. Screenshot mode renders the window at
1400×900 once the first Keras summary (or build error) is in, writes a PNG and exits.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from resnet_studio import __version__
from resnet_studio.core.exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from resnet_studio.core.presets import load_preset, preset_names
from resnet_studio.core.spec import ArchitectureSpec, SpecError
from resnet_studio.core.tf_quiet import quiet_tensorflow
from resnet_studio.gui import icons, theme
from resnet_studio.gui.main_window import APP_NAME, MainWindow, format_problems
from resnet_studio.gui.settings import APPLICATION, ORGANIZATION, Settings
from resnet_studio.gui.summary_worker import SummaryResult

SCREENSHOT_SIZE = (1400, 900)
# Nice value of every thread but the GUI thread (TensorFlow's thread pools, the training
# thread, its data pipeline): on a 2-core CPU training keeps both cores busy, and at equal
# priority the GUI thread waited for a core, freezing the window for 50-200 ms at a time
# (benchmarks/bench_gui.py). Raising other threads' nice value needs no privilege; the
# threads they start inherit it. Linux only (elsewhere threads have no nice value of their
# own); training is slower only while the GUI thread actually needs the CPU.
BACKGROUND_NICENESS = 10
# TensorFlow's import plus a ResNet-152 build on a slow CI machine stay well under this.
SCREENSHOT_TIMEOUT_MS = 300_000
# The TensorFlow import starts once the window has painted itself: importing holds the GIL
# for seconds, and started at once it delayed the first paint by ~0.5 s on 2 cores
# (benchmarks/bench_startup.py). Without a paint (a minimised window) it starts after this.
BACKEND_START_FALLBACK_MS = 1000


def make_application() -> QApplication:
    """The QApplication, created once, with Fusion and the user's appearance."""
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "resnet-studio"])
        app.setApplicationName(APPLICATION)
        app.setApplicationDisplayName(APP_NAME)
        app.setOrganizationName(ORGANIZATION)
        app.setApplicationVersion(__version__)
        # The .desktop file's id (packaging/): on Wayland the window's app id, which is how the
        # desktop finds the launcher's name and icon.
        app.setDesktopFileName(icons.APP_ID)
        theme.setup_style(app)
        theme.apply_appearance(app, Settings().appearance())
        app.setWindowIcon(icons.app_icon())
    return app


def resolve_preset(preset: str | None) -> tuple[ArchitectureSpec | None, Path | None]:
    """(spec, file) for a preset name or file; (None, None) for the default.

    Raises:
        SpecError: unknown name, unreadable or invalid file.
    """
    if not preset:
        return None, None
    spec = load_preset(preset)
    path = None if preset in preset_names() else Path(preset).resolve()
    return spec, path


class _Screenshot(QObject):
    """Grabs the window once the first summary is in, then quits with an exit code."""

    def __init__(self, app: QApplication, window: MainWindow, out: Path) -> None:
        super().__init__(window)
        self.app, self.window, self.out = app, window, out
        self.code = EXIT_FAILED
        self._done = False
        window.summary_ready.connect(self._on_summary)
        QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, self, self._on_timeout)

    @Slot(object)
    def _on_summary(self, _result: SummaryResult) -> None:
        # One more turn of the event loop so every view has painted the result.
        QTimer.singleShot(50, self, self._grab)

    @Slot()
    def _grab(self) -> None:
        if self._done:
            return
        self._done = True
        # Show the top of the architecture (its title and input), whatever was selected.
        self.window.scroll.verticalScrollBar().setValue(0)
        self.app.processEvents()
        pixmap = self.window.grab()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if pixmap.save(str(self.out), "PNG"):
            self.code = EXIT_OK
            print(f"wrote {self.out} ({pixmap.width()}×{pixmap.height()})")
        else:
            print(f"resnet-studio: could not write the screenshot {self.out}", file=sys.stderr)
        self._finish()

    @Slot()
    def _on_timeout(self) -> None:
        if self._done:
            return
        self._done = True
        print("resnet-studio: no summary within the screenshot time limit", file=sys.stderr)
        self._finish()

    def _finish(self) -> None:
        self.window.doc.undo_stack.setClean()
        self.window.close()
        self.app.exit(self.code)


def _pick_screenshot_selection(window: MainWindow) -> None:
    """Selects the first residual block, so the inspector shows a real form."""
    from resnet_studio.core import editing

    for path in editing.all_paths(window.doc.spec):
        if editing.shortcut_of(window.doc.spec, path) is not None:
            window.doc.set_selection([path])
            return


def lower_background_priority(gui_thread: int) -> int:
    """Raises every thread of this process but `gui_thread` (a native thread id) to
    BACKGROUND_NICENESS. Returns how many threads were changed (0 off Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return 0
    changed = 0
    for tid in tids:
        if tid == gui_thread:
            continue
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < BACKGROUND_NICENESS:
                os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICENESS)
                changed += 1
        except OSError:  # the thread has ended, or the OS says no: keep going
            continue
    return changed


def freeze_heap(_run_dir: str = "") -> None:
    """Moves every object the garbage collector tracks to its permanent generation
    (gc.freeze). A full collection walks every tracked object while holding the GIL, in
    whichever thread triggers it: with TensorFlow, Keras and a model loaded (~500,000 objects)
    that froze the window for 100-220 ms every few seconds, even with the GUI thread idle
    (benchmarks/bench_gui.py). Frozen objects are not walked any more; what a run creates
    still is. Called when a run starts (its model is built); thaw_heap() when it ends."""
    gc.freeze()


def thaw_heap() -> None:
    """Gives the frozen objects back to the collector (gc.unfreeze), so that a finished run's
    model, in reference cycles, can be freed by a later collection."""
    gc.unfreeze()


def keep_gui_responsive(window: MainWindow) -> None:
    """Lowers the background threads' priority whenever new ones have appeared: once
    TensorFlow is imported (its thread pools) and whenever a run starts (its thread and data
    pipeline); keeps full garbage collections short while a run trains (freeze_heap). Call
    from the GUI thread."""
    gui_thread = threading.get_native_id()
    window.tf_loader.ready.connect(lambda _info: lower_background_priority(gui_thread))
    window.run_started.connect(lambda _run_dir: lower_background_priority(gui_thread))
    window.run_started.connect(freeze_heap)
    window.run_finished.connect(thaw_heap)


class _AfterFirstPaint(QObject):
    """Calls `callback` once, in the event-loop turn after the window's first paint (or after
    `fallback_ms` if it never paints)."""

    def __init__(self, window: MainWindow, callback: object, fallback_ms: int) -> None:
        super().__init__(window)
        self._callback = callback
        self._done = False
        window.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self, self._fire)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self._done:
            QTimer.singleShot(0, self, self._fire)  # after this paint has been flushed
        return False

    @Slot()
    def _fire(self) -> None:
        if not self._done:
            self._done = True
            self.parent().removeEventFilter(self)
            self._callback()


def _quit_on_ctrl_c(app: QApplication) -> None:
    """Ctrl+C in the terminal closes the windows (asking to save) instead of being ignored
    until the next Qt event: Python only handles signals when it runs, so a timer lets it."""
    signal.signal(signal.SIGINT, lambda *_: app.closeAllWindows())
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)


def run_app(preset: str | None = None, screenshot: str | None = None) -> int:
    """Runs the editor; returns the process exit code.

    Args:
        preset: A shipped preset name or a preset file; None opens the default preset.
        screenshot: Render the window to this PNG file and exit instead of running.
    """
    # TensorFlow's C++ start-up lines off the terminal (the import runs in gui/tf_loader.py's
    # thread); RESNET_STUDIO_TF_LOGS=1 or `resnet-studio gui --verbose` shows them.
    quiet_tensorflow()
    app = make_application()
    try:
        spec, path = resolve_preset(preset)
        error = None
    except SpecError as e:
        spec, path, error = None, None, e
    if screenshot:
        if error is not None:
            print(f"resnet-studio: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        window = MainWindow(spec, str(path) if path else None, restore_layout=False)
        window.resize(*SCREENSHOT_SIZE)
        _pick_screenshot_selection(window)
        shooter = _Screenshot(app, window, Path(screenshot))
        window.show()
        window.start_backend()
        app.exec()
        return shooter.code
    window = MainWindow(spec, str(path) if path else None)
    if path is not None:
        window.settings.add_recent(path)
    keep_gui_responsive(window)
    _AfterFirstPaint(window, window.start_backend, BACKEND_START_FALLBACK_MS)
    window.show()
    _quit_on_ctrl_c(app)
    if error is not None:
        QTimer.singleShot(0, lambda: window.show_error(
            "Cannot Open Preset", f"Could not open “{preset}”; the default preset is open "
            "instead.", format_problems(error), str(error)))
    else:  # recovery first (a modal question), then the first-run tour, once ever
        QTimer.singleShot(0, lambda: (window.offer_recovery(), window.tour.offer()))
    return app.exec()
