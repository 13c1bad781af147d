"""A banner for gradient alerts (vanishing, exploding, growing) above a run's plots.

The log already has a line for each alert, but a student watching the curves does not read
the log. The banner names the kind, the blocks and layers concerned and carries the
Trainer's message (which says what to try); it stays until the next run starts, because the
condition it reports does not go away by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from resnet_studio.gui import icons, theme

MAX_LAYERS_NAMED = 4  # an exploding alert can list hundreds of layers: name a few
TITLES = {"vanishing": "Vanishing gradients", "exploding": "Exploding gradients",
          "growing": "Growing gradients"}


@dataclass
class AlertInfo:
    """One alert as the banner shows it (from an `Alert` event or a run.json record)."""

    kind: str
    message: str
    step: int = 0
    layers: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)

    @classmethod
    def from_any(cls, alert: Any) -> AlertInfo:
        """From an events.Alert or a dict as stored in run.json's `alerts`."""
        if isinstance(alert, dict):
            get = alert.get
        else:
            def get(key: str, default: Any = None) -> Any:
                return getattr(alert, key, default)
        return cls(str(get("kind", "alert")), str(get("message", "")), int(get("step", 0) or 0),
                   list(get("layers", []) or []), list(get("blocks", []) or []))


def _names(items: list[str]) -> str:
    shown = ", ".join(escape(n) for n in items[:MAX_LAYERS_NAMED])
    more = len(items) - MAX_LAYERS_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def alert_html(alert: AlertInfo) -> str:
    """Title, where (blocks, layers, step) and the message, as rich text."""
    where = []
    if alert.blocks:
        where.append(f"block{'s' if len(alert.blocks) > 1 else ''} {_names(alert.blocks)}")
    if alert.layers:
        where.append(f"layer{'s' if len(alert.layers) > 1 else ''} {_names(alert.layers)}")
    if alert.step:
        where.append(f"step {alert.step}")
    title = TITLES.get(alert.kind, alert.kind.capitalize())
    head = f"<b>{escape(title)}</b>" + (f" — {' · '.join(where)}" if where else "")
    message = alert.message
    if message.lower().startswith(f"{title.lower()}:"):  # the title already says it
        message = message[len(title) + 1:].strip()
        message = message[:1].upper() + message[1:]
    return f"{head}<br>{escape(message)}"


class AlertBanner(theme.FollowsPalette, QFrame):
    """The alerts of the run in view; hidden while there are none, unless a quiet text is
    set (the Compare tab says "no gradient alert" for a run beside one that has some).

    Attributes:
        alerts: The alerts shown, in arrival order (one per kind).
        label: The rich-text label holding them.
        quiet_text: Shown, in a calm style, while there is no alert ("" hides the banner).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alertBanner")
        # Styled through this property, not the object name: owners rename their banners,
        # and the child labels (QFrames too) must not inherit the border.
        self.setProperty("alertBanner", True)
        self.alerts: list[AlertInfo] = []
        self.quiet_text = ""
        self.icon = QLabel(self)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label = QLabel(self)
        self.label.setObjectName("alertText")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        row.addWidget(self.icon)
        row.addWidget(self.label, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addLayout(row)
        self._apply_palette()
        self.hide()

    def text(self) -> str:
        """The banner's text without markup (tests, accessibility)."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.label.text())
        return doc.toPlainText()

    def add_alert(self, alert: Any) -> None:
        """Shows an alert (an events.Alert or a run.json record); one per kind."""
        info = AlertInfo.from_any(alert)
        self.alerts = [a for a in self.alerts if a.kind != info.kind] + [info]
        self._update()

    def set_alerts(self, alerts: list[Any]) -> None:
        """Replaces the alerts (a run reopened from disk: run.json's `alerts`)."""
        self.alerts = []
        for a in alerts:
            info = AlertInfo.from_any(a)
            self.alerts = [x for x in self.alerts if x.kind != info.kind] + [info]
        self._update()

    def clear(self) -> None:
        """No alerts and no quiet text: hidden (a new run starts)."""
        self.alerts = []
        self.quiet_text = ""
        self._update()

    def set_quiet_text(self, text: str) -> None:
        self.quiet_text = text
        self._update()

    @property
    def alerting(self) -> bool:
        return bool(self.alerts)

    def _update(self) -> None:
        if self.alerts:
            self.label.setText("<br><br>".join(alert_html(a) for a in self.alerts))
        else:
            self.label.setText(escape(self.quiet_text))
        self.setVisible(bool(self.alerts or self.quiet_text))
        self._apply_palette()

    def _apply_palette(self) -> None:
        # The application's palette, not this frame's: the style sheet below changes the
        # frame's own palette, and reading it back would feed the colours into themselves.
        pal = QGuiApplication.palette()
        base = pal.color(QPalette.ColorRole.Base)
        if self.alerts:
            warn = theme.accent(theme.FAMILY_COLORS["Heads"], pal)
            fill = theme.mix(base, warn, 0.28 if theme.is_dark(pal) else 0.14)
            icon = "warning"
        else:  # quiet: a thin green outline, no fill competing with a real alert beside it
            warn = theme.mix(theme.accent(theme.OK_COLOR, pal), base, 0.35)
            fill = base
            icon = "ok"
        sheet = (f"QFrame[alertBanner=\"true\"] {{ background: {fill.name()}; "
                 f"border: 1px solid {warn.name()}; border-radius: 4px; }}")
        if sheet != self.styleSheet():
            self.setStyleSheet(sheet)
        self.icon.setPixmap(icons.pixmap(icon, 18, warn))
