"""Renders the application icon, resources/icons/app.svg, into every file the desktop needs.

    .venv/bin/python packaging/render_icons.py

Writes (all committed, so a build needs no rendering step):
- resources/icons/hicolor/NxN/apps/APP_ID.png for N in SIZES, and
  resources/icons/hicolor/scalable/apps/APP_ID.svg (a copy of app.svg): the freedesktop
  icon-theme layout, so installing on Linux is one copy into ~/.local/share/icons/; the window
  icon is built from the same files (resnet_studio.gui.icons.app_icon);
- resources/icons/app.ico (Windows: 16-256 px) and resources/icons/app.icns (macOS: 16-512 px, 1x and 2x),
  used by packaging/resnet-studio.spec. These two need Pillow (installed with tensorboard).

Rendering uses Qt's SVG renderer, the one the app itself draws icons with.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from resnet_studio.gui.icons import APP_ICON_SIZES as SIZES  # noqa: E402
from resnet_studio.gui.icons import APP_ID  # noqa: E402

ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # 256 is the largest size an .ico holds
ICONS = ROOT / "resources" / "icons"
SOURCE = ICONS / "app.svg"
HICOLOR = ICONS / "hicolor"


def render_png(size: int, out: Path) -> None:
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: cannot read {SOURCE}")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"render_icons: cannot write {out}")


def main() -> int:
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    pngs: dict[int, Path] = {}
    for size in SIZES:
        pngs[size] = HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        render_png(size, pngs[size])
        print(f"wrote {pngs[size].relative_to(ROOT)}")
    scalable = HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes(SOURCE.read_bytes())
    print(f"wrote {scalable.relative_to(ROOT)}")

    try:
        from PIL import Image
    except ImportError:
        print("render_icons: Pillow is not installed; app.ico and app.icns not written",
              file=sys.stderr)
        return 1
    # Each size from its own rendering (sharper than Pillow's downscaling of the largest).
    ico_images = [Image.open(pngs[s]) for s in ICO_SIZES]
    ico_images[-1].save(ICONS / "app.ico", format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                        append_images=ico_images[:-1])
    print(f"wrote {(ICONS / 'app.ico').relative_to(ROOT)}")
    with tempfile.TemporaryDirectory() as tmp:  # 512@2x for Retina: rendered, not upscaled
        render_png(1024, Path(tmp) / "1024.png")
        Image.open(Path(tmp) / "1024.png").save(
            ICONS / "app.icns", format="ICNS", append_images=[Image.open(pngs[s]) for s in SIZES])
    print(f"wrote {(ICONS / 'app.icns').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
