"""The loss landscape as a 3-D surface (pyqtgraph.opengl), where OpenGL is available.

Li et al. 2018 show their landscapes as surfaces: the height and the colour are the loss.
Here both are log10 of the loss on the scale the view shares between the residual run and
its plain twin (`levels`), so the two surfaces side by side compare directly: the same
height and the same colour mean the same loss.

A 3-D view needs an OpenGL context. `opengl_status()` tries to make one once (PyOpenGL
imported, a context created and made current on an offscreen surface); where that fails —
the offscreen Qt platform of the tests, a remote session without GL, PyOpenGL missing, or
RESNET_STUDIO_NO_OPENGL set — the Geometry tab keeps its 2-D contours and says so in one
line.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

SURFACE_HEIGHT = 6.0  # the height of the shared log-loss range, in axis units (span = 10)
NO_OPENGL_ENV = "RESNET_STUDIO_NO_OPENGL"


@cache
def opengl_status() -> tuple[bool, str]:
    """(True, "") where a 3-D surface can be drawn, else (False, why) in a few words."""
    if os.environ.get(NO_OPENGL_ENV):
        return False, f"turned off ({NO_OPENGL_ENV})"
    from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext

    platform = QGuiApplication.platformName()
    if platform in ("offscreen", "minimal"):
        return False, f"no OpenGL on the {platform} display"
    try:
        import OpenGL.GL  # noqa: F401 - PyOpenGL, which pyqtgraph.opengl needs
        import pyqtgraph.opengl  # noqa: F401
    except Exception as e:  # noqa: BLE001 - ImportError, or a GL library that fails to load
        return False, f"PyOpenGL unavailable ({type(e).__name__})"
    context = QOpenGLContext()
    if not context.create():
        return False, "no OpenGL context could be created"
    surface = QOffscreenSurface()
    surface.setFormat(context.format())
    surface.create()
    try:
        if not context.makeCurrent(surface):
            return False, "the OpenGL context could not be made current"
        context.doneCurrent()
    finally:
        surface.destroy()
    return True, ""


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
    """One run's landscape as a 3-D surface (create only where `opengl_status()` is True)."""

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
