"""Colours and appearance: Fusion with the platform's palette, family colours derived from it.

Nothing here hard-codes a light or dark background: card fills are the palette's base colour
tinted towards the family hue, so the same code reads well in both schemes. The user can
override the system scheme (View → Appearance); `RESNET_STUDIO_APPEARANCE` does the same for
scripts (screenshots).
"""

from __future__ import annotations

import os

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

APPEARANCES = ("system", "light", "dark")
APPEARANCE_ENV = "RESNET_STUDIO_APPEARANCE"

# Family hues, chosen to stay distinguishable for the common colour-vision deficiencies
# (blue / teal / violet / slate / amber / pink differ in lightness as well as hue).
FAMILY_COLORS = {
    "Convolutional": "#3B82F6",
    "Recurrent": "#0D9488",
    "Transformer": "#8B5CF6",
    "Layers": "#64748B",
    "Heads": "#D97706",
    "Containers": "#DB2777",
}
SHORTCUT_COLOR = "#EA580C"  # residual arcs: one accent that no family uses
ERROR_COLOR = "#DC2626"
OK_COLOR = "#16A34A"

_system_palette: QPalette | None = None
_PALETTE_EVENTS = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)


def is_palette_change(event: QEvent) -> bool:
    """The palette of a widget or of the application changed (e.g. a light/dark switch)."""
    return event.type() in _PALETTE_EVENTS


class FollowsPalette:
    """Mixin, listed before the Qt widget base, for widgets whose colours are computed from
    the palette: after Qt has handled a palette change, the widget's `_apply_palette()`
    recomputes them (every user of the mixin defines it)."""

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)  # type: ignore[misc]
        if is_palette_change(event):
            self._apply_palette()  # type: ignore[attr-defined]


def family_color(family: str) -> QColor:
    return QColor(FAMILY_COLORS.get(family, "#64748B"))


def is_dark(palette: QPalette | None = None) -> bool:
    pal = palette or QGuiApplication.palette()
    return pal.color(QPalette.ColorRole.Window).lightness() < 128


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """a blended towards b by t (0 = a, 1 = b)."""
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t,
                           a.greenF() + (b.greenF() - a.greenF()) * t,
                           a.blueF() + (b.blueF() - a.blueF()) * t,
                           a.alphaF() + (b.alphaF() - a.alphaF()) * t)


def accent(color: str | QColor, palette: QPalette | None = None) -> QColor:
    """A hue adjusted for contrast with the background (lighter on dark themes)."""
    c = QColor(color)
    return c.lighter(135) if is_dark(palette) else c


def card_fill(family: str, palette: QPalette) -> QColor:
    base = palette.color(QPalette.ColorRole.Base)
    return mix(base, family_color(family), 0.20 if is_dark(palette) else 0.09)


def dim_text(palette: QPalette) -> QColor:
    return mix(palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base),
               0.42)


def error_color(palette: QPalette | None = None) -> QColor:
    return accent(ERROR_COLOR, palette)


def monospace_font(point_size: float | None = None) -> QFont:
    font = QFont("DejaVu Sans Mono")
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setFixedPitch(True)
    if point_size:
        font.setPointSizeF(point_size)
    return font


# The fixed light and dark schemes: each role's colour, then the disabled text colour.
_SCHEMES: dict[str, tuple[dict[str, str], str]] = {
    "light": ({
        "Window": "#EFF1F4", "WindowText": "#1F2937", "Base": "#FFFFFF",
        "AlternateBase": "#F5F6F8", "ToolTipBase": "#FFFFFF", "ToolTipText": "#1F2937",
        "Text": "#111827", "Button": "#F3F4F6", "ButtonText": "#1F2937",
        "BrightText": "#FFFFFF", "Highlight": "#2563EB", "HighlightedText": "#FFFFFF",
        "Link": "#2563EB", "PlaceholderText": "#8A93A3", "Light": "#FFFFFF",
        "Midlight": "#E5E7EB", "Mid": "#C4C9D2", "Dark": "#9CA3AF", "Shadow": "#6B7280",
    }, "#9CA3AF"),
    "dark": ({
        "Window": "#25272C", "WindowText": "#E5E7EB", "Base": "#1B1D21",
        "AlternateBase": "#23262B", "ToolTipBase": "#2F3237", "ToolTipText": "#E5E7EB",
        "Text": "#E8EAED", "Button": "#2F3237", "ButtonText": "#E5E7EB",
        "BrightText": "#FFFFFF", "Highlight": "#3B82F6", "HighlightedText": "#FFFFFF",
        "Link": "#60A5FA", "PlaceholderText": "#7B8190", "Light": "#45484F",
        "Midlight": "#363940", "Mid": "#4B4F57", "Dark": "#16181B", "Shadow": "#0B0C0E",
    }, "#6B7280"),
}


def _scheme_palette(scheme: str) -> QPalette:
    """The palette of a fixed scheme ("light" or "dark")."""
    colors, disabled = _SCHEMES[scheme]
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    for name, c in colors.items():
        p.setColor(getattr(role, name), QColor(c))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(group.Disabled, r, QColor(disabled))
    return p


def setup_style(app: QApplication) -> None:
    """Fusion style with the platform's palette (remembered for 'system')."""
    global _system_palette
    app.setStyle("Fusion")
    _system_palette = QPalette(app.palette())


def apply_appearance(app: QApplication, appearance: str) -> None:
    """'system' follows the platform (and its light/dark changes); 'light'/'dark' force one."""
    appearance = os.environ.get(APPEARANCE_ENV, appearance)
    if appearance not in APPEARANCES:
        appearance = "system"
    hints = app.styleHints()
    if appearance == "light":
        app.setPalette(_scheme_palette("light"))
    elif appearance == "dark":
        app.setPalette(_scheme_palette("dark"))
    else:
        scheme = hints.colorScheme()
        if scheme == Qt.ColorScheme.Dark and not is_dark(_system_palette):
            # The platform says dark but gave Fusion no dark palette (common on Linux).
            app.setPalette(_scheme_palette("dark"))
        else:
            app.setPalette(_system_palette or app.style().standardPalette())
