"""The redraw pacer every live view uses: a dirty flag and a single-shot timer.

Training events arrive at up to hundreds per second; drawing for each would stall the GUI.
So a view only marks itself dirty when data arrives (`mark()`), and the pacer calls its
redraw at most once per interval, and only while the view is visible: a hidden tab costs
nothing, and showing it catches up at once (`shown()`, from the view's showEvent). The timer
is single-shot and started by the first change after a redraw, so an idle view has no
wake-ups at all.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget


class RedrawPacer(QObject):
    """Paces the redraws of `view`.

    Args:
        view: The widget drawn (its visibility gates the redraws; it owns the pacer).
        interval_ms: Shortest time between two paced redraws.
        on_due: Called when a redraw is due and the view is visible; it should call `drawn()`
            (or leave `dirty` set to be called again).
        pending: Other work that counts as due although the flag is clear (a view that
            draws some parts at a slower rate); None: only the flag.
    """

    def __init__(self, view: QWidget, interval_ms: int, on_due: Callable[[], None], *,
                 pending: Callable[[], bool] | None = None) -> None:
        super().__init__(view)
        self._view = view
        self._on_due = on_due
        self._pending = pending
        self.dirty = False
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._on_timer)

    def mark(self) -> None:
        """New data: a redraw is due within the interval."""
        self.dirty = True
        if not self.timer.isActive():
            self.timer.start()

    def drawn(self) -> None:
        """The view has just redrawn (paced or not)."""
        self.dirty = False

    def stop(self) -> None:
        """The view redraws now by itself (refresh): no paced redraw is pending."""
        self.timer.stop()

    def shown(self) -> None:
        """The view became visible: catch up with what arrived while hidden."""
        if self.dirty or (self._pending is not None and self._pending()):
            self.timer.start()

    def _on_timer(self) -> None:
        if not self._view.isVisible():
            return  # shown() starts the timer again
        if self.dirty or (self._pending is not None and self._pending()):
            self._on_due()
