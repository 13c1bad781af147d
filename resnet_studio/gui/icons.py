"""SVG icons from resources/icons, tinted at load time.

Icons are drawn with `currentColor`; it is replaced by the palette's text colour (action
icons, so they follow light/dark) or by a family colour (palette and cards). The files are
read through importlib.resources, so they are found in an installed package and in the
PyInstaller bundle too. The application icon is the exception: full colour, never tinted, and
made of the PNG renderings in resources/icons/hicolor (packaging/render_icons.py).
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from resnet_studio.gui import theme

SIZES = (16, 20, 24, 32, 48)
# The desktop id: the .desktop file's and the AppStream component's name (packaging/), the
# icon's name in the hicolor theme, and QGuiApplication.desktopFileName (Wayland app id).
APP_ID = "io.github.resnetstudio.ResNetStudio"
# Sizes of the committed PNG renderings of app.svg (resources/icons/hicolor/NxN/apps/).
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


@cache
def svg_text(name: str) -> str:
    return (resources.files("resnet_studio").joinpath(f"resources/icons/{name}.svg")
            .read_text(encoding="utf-8"))


def _renderer(name: str, color: QColor) -> QSvgRenderer:
    return _renderer_for(name, color.name(QColor.NameFormat.HexRgb))


@lru_cache(maxsize=256)
def _renderer_for(name: str, rgb: str) -> QSvgRenderer:
    # SVG colours are #RRGGBB (no alpha); cards repaint often, so parsed icons are kept.
    data = svg_text(name).replace("currentColor", rgb)
    return QSvgRenderer(QByteArray(data.encode("utf-8")))


def pixmap(name: str, size: int, color: QColor | str | None = None, dpr: float = 1.0) -> QPixmap:
    """The icon rendered at `size` logical pixels."""
    c = QColor(color) if color is not None else _text_color()
    renderer = _renderer(name, c)
    pm = QPixmap(int(size * dpr), int(size * dpr))
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size * dpr, size * dpr))
    painter.end()
    pm.setDevicePixelRatio(dpr)
    return pm


def paint(painter: QPainter, name: str, rect: QRectF, color: QColor | str) -> None:
    """Draws the icon into `rect` (vector, sharp at any zoom)."""
    _renderer(name, QColor(color)).render(painter, QRectF(rect))


def _text_color() -> QColor:
    return QGuiApplication.palette().color(QPalette.ColorRole.WindowText)


_cache: dict[tuple[str, str], QIcon] = {}


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """A QIcon with pixmaps at the usual sizes (and a greyed one for disabled actions).

    `icon("app")` is app_icon(): the application icon is full colour, never tinted.
    """
    if name == "app":
        return app_icon()
    c = QColor(color) if color is not None else _text_color()
    key = (name, c.name(QColor.NameFormat.HexArgb))
    if key not in _cache:
        ic = QIcon()
        disabled = theme.mix(c, QGuiApplication.palette().color(QPalette.ColorRole.Window), 0.6)
        for s in SIZES:
            ic.addPixmap(pixmap(name, s, c), QIcon.Mode.Normal)
            ic.addPixmap(pixmap(name, s, disabled), QIcon.Mode.Disabled)
        _cache[key] = ic
    return _cache[key]


@cache
def app_icon() -> QIcon:
    """The application and window icon: the PNG renderings of app.svg at APP_ICON_SIZES, so
    task bars, switchers and docks get a pixel-exact image at the sizes they ask for most
    (Qt scales the nearest one for any other size). Only PNGs: adding the SVG as well would
    switch Qt to its SVG icon engine, which hides the PNG sizes (availableSizes() is empty)."""
    base = resources.files("resnet_studio").joinpath("resources/icons/hicolor")
    ic = QIcon()
    for s in APP_ICON_SIZES:
        pm = QPixmap()
        try:
            data = base.joinpath(f"{s}x{s}/apps/{APP_ID}.png").read_bytes()
        except OSError:
            continue
        if pm.loadFromData(data, "PNG"):
            ic.addPixmap(pm)
    if ic.isNull():  # PNGs missing (a broken install): still show the vector icon
        ic.addPixmap(pixmap("app", 64, "#000000"))  # colour unused: none is currentColor
    return ic


def family_icon(family: str) -> QIcon:
    return icon(f"family-{family.lower()}", theme.accent(theme.family_color(family)))


def clear_cache() -> None:
    """Forget tinted icons (after the palette changed)."""
    _cache.clear()
