"""The loss landscape as a 3-D surface (pyqtgraph.opengl), where OpenGL is available.

Li et al. 2018 show their landscapes as surfaces: the height and the colour are the loss.
Here both are log10 of the loss on the scale the view shares between the residual run and
its plain twin (`levels`), so the two surfaces side by side compare directly: the same
height and the same colour mean the same loss.

A 3-D view needs an OpenGL context. `when_opengl_known()` asks a child process, once per
session, to make one (PyOpenGL imported, a context created and made current on an offscreen
surface, the renderer's name read); where that fails —
the offscreen Qt platform of the tests, a remote session without GL, PyOpenGL missing, or
RESNET_STUDIO_NO_OPENGL set — the Geometry tab keeps its 2-D contours and says so in one
line.

It also refuses an OpenGL driver built on LLVM (Mesa's llvmpipe software renderer; AMD's
radeonsi names LLVM in its renderer string too): in a process that has imported TensorFlow,
which carries its own LLVM, drawing the first line with llvmpipe crashed the process
(segmentation fault in glDrawArrays, Mesa 22.3 under Xvfb, TensorFlow 2.21), and the app
always imports TensorFlow. RESNET_STUDIO_OPENGL_LLVM=1 allows such a driver in a process
that never imports TensorFlow (docs/make_geometry_screenshot.py: its studies run in a child
process).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

SURFACE_HEIGHT = 6.0  # the height of the shared log-loss range, in axis units (span = 10)
NO_OPENGL_ENV = "RESNET_STUDIO_NO_OPENGL"
LLVM_OPENGL_ENV = "RESNET_STUDIO_OPENGL_LLVM"


def llvm_conflict(renderer: str, environ: Any = os.environ) -> bool:
    """Whether an OpenGL renderer is one that crashes next to TensorFlow (module doc)."""
    return "llvm" in renderer.lower() and not environ.get(LLVM_OPENGL_ENV)


# Run by `python -c` in a child process: the probe must not create an OpenGL context in the
# app's own process (with llvmpipe, even an unused context made the app abort at exit once
# TensorFlow was loaded). Prints "OK <renderer>" or "ERR <why>".
PROBE = """
import sys
from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext
app = QGuiApplication(sys.argv[:1])
context = QOpenGLContext()
if not context.create():
    print("ERR no OpenGL context could be created"); sys.exit(0)
surface = QOffscreenSurface(); surface.setFormat(context.format()); surface.create()
if not context.makeCurrent(surface):
    print("ERR the OpenGL context could not be made current"); sys.exit(0)
try:
    from OpenGL import GL
    import pyqtgraph.opengl
except Exception as e:
    print(f"ERR PyOpenGL unavailable ({type(e).__name__})"); sys.exit(0)
raw = GL.glGetString(GL.GL_RENDERER) or b""
print("OK " + (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)))
"""
PROBE_TIMEOUT_MS = 60_000
_status: tuple[bool, str] | None = None
_waiting: list[Callable[[bool, str], None]] = []
_probe: Any = None  # the running QProcess


def known_status() -> tuple[bool, str] | None:
    """What can be said without a probe: (False, why) off, offscreen or probed already;
    None when only the probe can tell."""
    if _status is not None:
        return _status
    if os.environ.get(NO_OPENGL_ENV):
        return False, f"turned off ({NO_OPENGL_ENV})"
    from PySide6.QtGui import QGuiApplication

    platform = QGuiApplication.platformName()
    if platform in ("offscreen", "minimal"):
        return False, f"no OpenGL on the {platform} display"
    return None


def parse_probe(output: str) -> tuple[bool, str]:
    """The probe's verdict from its output (see PROBE)."""
    line = next((ln for ln in output.splitlines() if ln.startswith(("OK", "ERR"))), "")
    if line.startswith("OK"):
        renderer = line[2:].strip()
        if llvm_conflict(renderer):
            return False, (f"the OpenGL driver ({renderer.split(' (')[0]}) uses LLVM, which "
                           "crashes alongside TensorFlow's")
        return True, ""
    return False, line[3:].strip() or "the OpenGL check failed"


def when_opengl_known(callback: Callable[[bool, str], None]) -> None:
    """Calls callback(available, why) now if the answer is known, else once the probe (a
    child process, started once per session, never blocking) has answered."""
    global _probe
    status = known_status()
    if status is not None:
        callback(*status)
        return
    _waiting.append(callback)
    if _probe is not None:
        return
    import sys

    from PySide6.QtCore import QProcess, QTimer

    _probe = QProcess()
    _probe.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)

    def finish() -> None:
        global _status, _probe
        if _status is not None:
            return
        output = bytes(_probe.readAll().data()).decode("utf-8", "replace")
        _status = parse_probe(output)
        _probe.deleteLater()
        _probe = None
        for waiting in _waiting:
            waiting(*_status)
        _waiting.clear()

    _probe.finished.connect(lambda *_: finish())
    _probe.errorOccurred.connect(lambda *_: finish())
    QTimer.singleShot(PROBE_TIMEOUT_MS, lambda: _probe is not None and _probe.kill())
    _probe.start(sys.executable, ["-c", PROBE])


def surface_arrays(axis: np.ndarray, surface: np.ndarray, levels: tuple[float, float]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, heights) of a landscape on the shared scale: x and y the α and β axes scaled to
    ±5 units, heights log10 loss mapped from `levels` to [0, SURFACE_HEIGHT] (values outside
    are clipped, so both surfaces have the same floor and ceiling)."""
    lo, hi = levels
    span = float(np.max(np.abs(axis))) or 1.0
    xy = np.asarray(axis, dtype=np.float64) * (5.0 / span)
    z = np.log10(np.maximum(np.asarray(surface, dtype=np.float64), 1e-12))
    heights = np.clip((z - lo) / max(hi - lo, 1e-12), 0.0, 1.0) * SURFACE_HEIGHT
    return xy, xy.copy(), heights


def surface_colors(heights: np.ndarray, colormap: Any) -> np.ndarray:
    """RGBA per vertex in [0, 1], one row per vertex in the surface's row-major order (what
    the mesh indexes; a (rows, cols, 4) array is not flattened by pyqtgraph 0.14):
    `colormap` at the height's fraction of SURFACE_HEIGHT."""
    frac = (heights / SURFACE_HEIGHT).reshape(-1)
    return np.asarray(colormap.map(frac, mode="float"), dtype=np.float32).reshape(-1, 4)


class SurfacePanel(QWidget):
    """One run's landscape as a 3-D surface (create only once `when_opengl_known()` said yes)."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg
        import pyqtgraph.opengl as gl

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(title)
        self.view = gl.GLViewWidget()
        self.view.setCameraPosition(distance=15, elevation=30, azimuth=-60)
        grid = gl.GLGridItem()
        grid.setSize(10, 10)
        grid.setSpacing(1, 1)
        self.view.addItem(grid)
        self.item: Any = None
        self.marker: Any = None
        self.colormap = pg.colormap.get("viridis")
        lay.addWidget(self.title)
        lay.addWidget(self.view, 1)

    def clear(self) -> None:
        """Removes the surface and its marker."""
        for item in (self.item, self.marker):
            if item is not None:
                self.view.removeItem(item)
        self.item = self.marker = None

    def show_result(self, result: Any, levels: tuple[float, float]) -> None:
        """Draws `result`'s surface on the shared log-loss scale `levels`."""
        import pyqtgraph.opengl as gl

        x, y, heights = surface_arrays(result.axis, result.surface, levels)
        colors = surface_colors(heights, self.colormap)
        if self.item is None:
            self.item = gl.GLSurfacePlotItem(x=x, y=y, z=heights, colors=colors,
                                             shader=None, drawEdges=True,
                                             edgeColor=(1, 1, 1, 0.25), smooth=False)
            self.view.addItem(self.item)
        else:
            self.item.setData(x=x, y=y, z=heights, colors=colors)
        centre = heights[len(x) // 2, len(y) // 2]
        pos = np.array([[0.0, 0.0, centre + 0.05]])
        if self.marker is None:
            self.marker = gl.GLScatterPlotItem(pos=pos, size=12, color=(1, 0.2, 0.2, 1))
            self.view.addItem(self.marker)
        else:
            self.marker.setData(pos=pos)
