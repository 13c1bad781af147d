"""Renders the Geometry tab on a stored residual/plain pair: `python
docs/make_geometry_screenshot.py RUN_DIR OUT.png` (RUN_DIR: either run of a comparison).

Runs the lesion study of both runs, then the landscape with the tab's settings (grid 11,
span 1, 256 examples: read from the runs' cache when `resnet-studio landscape RUN --grid 11
--samples 256 --hessian-samples 128 --iterations 100` was run before), and grabs the view at
1400×900. Several minutes for ResNet-56 on 2 cores (the studies run in a child process).

With a display (DISPLAY set, e.g. Xvfb with GLX: Mesa's software OpenGL is enough) the tab
draws the 3-D surfaces under the contours; without one it runs offscreen, where no OpenGL
context can be made, and the picture has the contours and the one-line note instead.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Mesa's llvmpipe is allowed here: this process never imports TensorFlow (the studies
    # run in a child process), so its LLVM cannot clash with TensorFlow's (surface.py).
    os.environ.setdefault("RESNET_STUDIO_OPENGL_LLVM", "1")
    from PySide6.QtCore import QEventLoop

    from resnet_studio.gui import theme
    from resnet_studio.gui.app import SCREENSHOT_SIZE, make_application
    from resnet_studio.gui.geometry.view import GeometryView

    app = make_application()
    theme.apply_appearance(app, "light")
    view = GeometryView()
    view.resize(*SCREENSHOT_SIZE)
    view.show()
    view.set_run(argv[0])
    for kind in ("lesion", "landscape"):
        loop = QEventLoop()
        view.finished.connect(loop.quit)
        if not view.start(kind):
            print(f"cannot start the {kind} study of {argv[0]}", file=sys.stderr)
            return 1
        loop.exec()
        view.finished.disconnect(loop.quit)
    app.processEvents()
    if "tensorflow" in sys.modules:
        print("TensorFlow was imported in the GUI process: llvmpipe is not safe here",
              file=sys.stderr)
        return 1
    ok = view.grab().save(argv[1])
    print(argv[1] if ok else f"could not write {argv[1]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
