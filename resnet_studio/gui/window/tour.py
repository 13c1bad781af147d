"""A first-run tour: five short steps over the palette, canvas, inspector, training and runs.

Shown once, on the first interactive start (`run_app` calls `offer`), never in tests,
offscreen screenshot runs or with `RESNET_STUDIO_NO_TOUR=1`. Finishing it, or closing it,
dismisses it for good (`Settings.tour_done`); Help › Take the Tour shows it again. Each step
outlines the part it explains and puts a small card beside it; the card does not block the
window (the user may try what it describes and come back with Next).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from resnet_studio.gui import theme

if TYPE_CHECKING:
    from resnet_studio.gui.main_window import MainWindow

NO_TOUR_ENV = "RESNET_STUDIO_NO_TOUR"
CARD_WIDTH = 320


@dataclass(frozen=True)
class Step:
    """One stop of the tour: what to show (a widget of the window) and what to say."""

    title: str
    text: str
    target: Callable[[MainWindow], QWidget]
    tab: int | None = None  # the main tab to bring forward first (None: Architecture)


STEPS = (
    Step("Blocks", "Every block type, grouped by family. Drag one onto the canvas, or "
         "double-click it to add it after the selected block. Residual container wraps "
         "blocks in y = F(x) + x.", lambda w: w.palette_dock),
    Step("Canvas", "Your network, from input to output, with each block's output shape and "
         "parameters computed by Keras. Click a block to select it; click a shortcut's arc "
         "to switch it off and on.", lambda w: w.scroll),
    Step("Inspector", "The selected block's parameters (or, with nothing selected, the "
         "model's input and dataset). Values out of range turn red and are not applied.",
         lambda w: w.inspector_dock),
    Step("Training", "Pick a dataset, check the settings (they come from the open "
         "architecture) and press Start, or F5 from anywhere. Loss, accuracy and every "
         "layer's gradient update live beside it.", lambda w: w.training_view.panel, tab=1),
    Step("Runs", "Every run is kept: compare them, resume a stopped one, export a model. "
         "Help › Take the Tour shows this tour again.", lambda w: w.runs_view, tab=3),
)


def wanted() -> bool:
    """Whether a first-run tour may appear at all on this start (not offscreen, not off)."""
    return (os.environ.get(NO_TOUR_ENV, "") in ("", "0")
            and QGuiApplication.platformName() != "offscreen")


class _Outline(QWidget):
    """A coloured frame drawn over the window around the part being explained."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)

    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(theme.accent(theme.SHORTCUT_COLOR, self.palette()))
        p.setPen(QPen(color, 3))
        p.drawRoundedRect(self.rect().adjusted(2, 2, -2, -2), 6, 6)


class Tour(QObject):
    """The tour over a main window. `start()` shows step 1; `step` is the current index."""

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.win = win
        self.step = -1
        self.outline = _Outline(win)
        self.outline.hide()
        self.card = QFrame(win)
        self.card.setObjectName("tourCard")
        self.card.setFrameShape(QFrame.Shape.StyledPanel)
        self.card.setAutoFillBackground(True)
        self.card.setFixedWidth(CARD_WIDTH)
        accent = theme.accent(theme.SHORTCUT_COLOR, win.palette()).name()
        self.card.setStyleSheet(f"#tourCard {{ background: palette(base); border: 2px solid "
                                f"{accent}; border-radius: 6px; }}")
        self.title = QLabel(self.card)
        self.text = QLabel(self.card)
        self.text.setWordWrap(True)
        self.counter = QLabel(self.card)
        self.counter.setEnabled(False)
        self.back = QPushButton("Back", self.card)
        self.next = QPushButton("Next", self.card)
        self.next.setDefault(True)
        self.skip = QPushButton("Skip Tour", self.card)
        self.skip.setToolTip("Close the tour; Help › Take the Tour shows it again")
        self.back.clicked.connect(lambda: self.show_step(self.step - 1))
        self.next.clicked.connect(self._next)
        self.skip.clicked.connect(self.finish)
        buttons = QHBoxLayout()
        buttons.addWidget(self.counter)
        buttons.addStretch(1)
        for b in (self.skip, self.back, self.next):
            buttons.addWidget(b)
        lay = QVBoxLayout(self.card)
        lay.addWidget(self.title)
        lay.addWidget(self.text)
        lay.addLayout(buttons)
        self.card.hide()
        win.installEventFilter(self)

    @property
    def active(self) -> bool:
        return self.step >= 0

    def offer(self) -> bool:
        """Starts the tour on a first interactive start; True when it was started."""
        if self.win.settings.tour_done() or not wanted():
            return False
        self.start()
        return True

    def start(self) -> None:
        self.show_step(0)

    def show_step(self, index: int) -> None:
        if not 0 <= index < len(STEPS):
            return
        self.step = index
        step = STEPS[index]
        self.win.tabs.setCurrentIndex(step.tab or 0)
        target = step.target(self.win)
        if not target.isVisible() and hasattr(target, "toggleViewAction"):
            self.win.panes.show_dock(target)  # a closed dock comes back for its step
        self.title.setText(f"<b>{step.title}</b>")
        self.text.setText(step.text)
        self.counter.setText(f"{index + 1} of {len(STEPS)}")
        self.back.setEnabled(index > 0)
        self.next.setText("Done" if index == len(STEPS) - 1 else "Next")
        self._place()
        # A tab change relayouts the window (the docks leave the training tabs) only once
        # the event loop runs: place again then, around the part's final geometry.
        QTimer.singleShot(0, self, self._place)
        self.outline.show()
        self.outline.raise_()
        self.card.show()
        self.card.raise_()
        self.next.setFocus()

    def _next(self) -> None:
        if self.step >= len(STEPS) - 1:
            self.finish()
        else:
            self.show_step(self.step + 1)

    def finish(self) -> None:
        """Ends the tour (Done, Skip or Escape): it does not come back by itself."""
        self.step = -1
        self.card.hide()
        self.outline.hide()
        self.win.tabs.setCurrentIndex(0)
        self.win.settings.set_tour_done(True)

    def target_rect(self) -> QRect:
        """The current step's part, in window coordinates."""
        target = STEPS[self.step].target(self.win)
        top_left = target.mapTo(self.win, QPoint(0, 0))
        return QRect(top_left, target.size())

    def _place(self) -> None:
        """Outline around the target; the card beside it, inside the window."""
        if not self.active:
            return
        rect = self.target_rect()
        self.outline.setGeometry(rect.adjusted(-3, -3, 3, 3))
        self.card.adjustSize()
        size = self.card.sizeHint()
        room = self.win.rect()
        if rect.right() + 12 + size.width() <= room.right():
            x = rect.right() + 12
        elif rect.left() - 12 - size.width() >= 0:
            x = rect.left() - 12 - size.width()
        else:  # a wide target (the tabs): inside it, near its top right
            x = rect.right() - size.width() - 24
        y = min(max(rect.top() + 24, 0), room.bottom() - size.height() - 8)
        self.card.setGeometry(QRect(QPoint(max(8, x), max(8, y)), size))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.win and self.active:
            if event.type() == QEvent.Type.Resize:
                self._place()
            elif event.type() == QEvent.Type.KeyPress and \
                    event.key() == Qt.Key.Key_Escape:  # type: ignore[attr-defined]
                self.finish()
                return True
        return False
