"""Colours and appearance: Fusion with the platform's palette, family colours derived from it.

Nothing here hard-codes a light or dark background: card fills are the palette's base colour
tinted towards the family hue, so the same code reads well in both schemes. The user can
override the system scheme (View → Appearance); `RESNET_STUDIO_APPEARANCE` does the same for
scripts (screenshots).
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
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


def _light_palette() -> QPalette:
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colors = {
        role.Window: "#EFF1F4", role.WindowText: "#1F2937", role.Base: "#FFFFFF",
        role.AlternateBase: "#F5F6F8", role.ToolTipBase: "#FFFFFF", role.ToolTipText: "#1F2937",
        role.Text: "#111827", role.Button: "#F3F4F6", role.ButtonText: "#1F2937",
        role.BrightText: "#FFFFFF", role.Highlight: "#2563EB", role.HighlightedText: "#FFFFFF",
        role.Link: "#2563EB", role.PlaceholderText: "#8A93A3", role.Light: "#FFFFFF",
        role.Midlight: "#E5E7EB", role.Mid: "#C4C9D2", role.Dark: "#9CA3AF",
        role.Shadow: "#6B7280",
    }
    for r, c in colors.items():
        p.setColor(r, QColor(c))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(group.Disabled, r, QColor("#9CA3AF"))
    return p


def _dark_palette() -> QPalette:
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colors = {
        role.Window: "#25272C", role.WindowText: "#E5E7EB", role.Base: "#1B1D21",
        role.AlternateBase: "#23262B", role.ToolTipBase: "#2F3237", role.ToolTipText: "#E5E7EB",
        role.Text: "#E8EAED", role.Button: "#2F3237", role.ButtonText: "#E5E7EB",
        role.BrightText: "#FFFFFF", role.Highlight: "#3B82F6", role.HighlightedText: "#FFFFFF",
        role.Link: "#60A5FA", role.PlaceholderText: "#7B8190", role.Light: "#45484F",
        role.Midlight: "#363940", role.Mid: "#4B4F57", role.Dark: "#16181B",
        role.Shadow: "#0B0C0E",
    }
    for r, c in colors.items():
        p.setColor(r, QColor(c))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(group.Disabled, r, QColor("#6B7280"))
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
        app.setPalette(_light_palette())
    elif appearance == "dark":
        app.setPalette(_dark_palette())
    else:
        scheme = hints.colorScheme()
        if scheme == Qt.ColorScheme.Dark and not is_dark(_system_palette):
            # The platform says dark but gave Fusion no dark palette (common on Linux).
            app.setPalette(_dark_palette())
        else:
            app.setPalette(_system_palette or app.style().standardPalette())
