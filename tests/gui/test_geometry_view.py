"""The Geometry tab: a lesion study and a landscape of a real (tiny) run computed in the
background and drawn, a stop that leaves no file, and the tab in the window."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_studio.cli.main import main
from resnet_studio.gui.geometry.view import GeometryView

STUDY_TIMEOUT_MS = 300_000


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """lab-sigmoid-mlp trained 1 epoch on 160 digits."""
    run_dir = tmp_path_factory.mktemp("geo-gui") / "run"
    assert main(["train", "lab-sigmoid-mlp", "--epochs", "1", "--limit", "160", "--optimizer",
                 "adam", "--lr", "0.002", "--run-dir", str(run_dir), "--json"]) == 0
    return run_dir


@pytest.mark.slow
def test_lesion_and_landscape_are_computed_in_the_background_and_drawn(qtbot, styled_qapp,
                                                                        tiny_run):
    view = GeometryView()
    qtbot.addWidget(view)
    view.set_run(tiny_run)
    assert view.run_dirs == {"run": tiny_run}
    assert view.lesion_button.isEnabled()
    with qtbot.waitSignal(view.finished, timeout=STUDY_TIMEOUT_MS) as blocker:
        assert view.start("lesion")
        assert view.running and not view.lesion_button.isEnabled()
    result = blocker.args[0]["run"]
    assert [b.block for b in result.blocks] == [f"body_{i}" for i in range(1, 19)]
    bars = [i for i in view.bars.getPlotItem().items if type(i).__name__ == "BarGraphItem"]
    assert len(bars) == 1
    np.testing.assert_allclose(bars[0].opts["height"], [b.drop for b in result.blocks])

    view.grid.setValue(5)
    view.samples.setValue(32)
    with qtbot.waitSignal(view.finished, timeout=STUDY_TIMEOUT_MS) as blocker:
        assert view.start("landscape")
    landscape = blocker.args[0]["run"]
    image = view.panels["residual"].image.image
    assert image.shape == (5, 5)
    np.testing.assert_allclose(image, np.log10(landscape.surface).T, rtol=1e-6)
    assert "|λ_min/λ_max|" in view.panels["residual"].label.text()
    assert not view.running and view.lesion_button.isEnabled()


@pytest.mark.slow
def test_stopping_a_landscape_saves_nothing(qtbot, styled_qapp, tiny_run):
    view = GeometryView()
    qtbot.addWidget(view)
    view.set_run(tiny_run)
    view.grid.setValue(41)  # long enough to be stopped while the grid is computed
    view.samples.setValue(64)
    before = set((tiny_run / "geometry").glob("*")) if (tiny_run / "geometry").exists() \
        else set()
    with qtbot.waitSignal(view.finished, timeout=STUDY_TIMEOUT_MS) as blocker:
        view.start("landscape")
        qtbot.waitUntil(lambda: view.progress.value() > 0, timeout=STUDY_TIMEOUT_MS)
        view.stop()
    assert blocker.args[0] is None
    after = set((tiny_run / "geometry").glob("*")) if (tiny_run / "geometry").exists() \
        else set()
    assert after == before
    assert "nothing was saved" in view.status.text()


def test_plain_bars_sit_under_their_own_units_when_some_are_skipped(qtbot, styled_qapp):
    from resnet_studio.core.geometry.lesion import BlockLesion, KPoint, LesionResult

    def result(residual: bool, drops: dict[str, float], skipped: list[str]) -> LesionResult:
        blocks = [BlockLesion(name, "s", 0.9 - d, 0.3, d) for name, d in drops.items()]
        return LesionResult("run", residual, {"accuracy": 0.9, "loss": 0.3}, blocks, skipped,
                            [KPoint(1, 0.8, 0.1, 2, 0.5)], 100, 2, 0,
                            units=["s_1", "s_2", "s_3"])

    view = GeometryView()
    qtbot.addWidget(view)
    view.lesions = {"residual": result(True, {"s_1": 0.1, "s_2": 0.2, "s_3": 0.3}, []),
                    "plain": result(False, {"s_1": 0.5, "s_3": 0.7}, ["s_2"])}
    view.show_lesions()
    bars = {i.opts["name"]: i.opts for i in view.bars.getPlotItem().items
            if type(i).__name__ == "BarGraphItem"}
    np.testing.assert_allclose(bars["Residual"]["x"], [-0.2, 0.8, 1.8])
    np.testing.assert_allclose(bars["Plain twin"]["x"], [0.2, 2.2])  # s_2 left empty
    assert list(bars["Plain twin"]["height"]) == [0.5, 0.7]


def test_without_opengl_the_tab_keeps_its_contours_and_says_why(qtbot, styled_qapp):
    """Offscreen (as in every test run) no OpenGL context can be made: no 3-D surface is
    created, each landscape panel says so in one line, and a landscape still draws."""
    from resnet_studio.core.geometry.landscape import LandscapeResult, LandscapeSettings
    from resnet_studio.gui.geometry.surface import known_status

    available, why = known_status()
    assert not available and "offscreen" in why
    view = GeometryView()
    qtbot.addWidget(view)
    for panel in view.panels.values():
        assert panel.surface is None
        assert panel.note.text() == f"No 3-D surface: {why}; contours only."
        assert "\n" not in panel.note.text()
    axis = np.linspace(-1, 1, 5)
    surface = 1.0 + np.add.outer(axis ** 2, axis ** 2)
    result = LandscapeResult("run", LandscapeSettings(grid=5), 32, axis, surface, 1.0, 0.5,
                             0.5, 0.3, 2.0, -0.01, True, None, None, True, "f.npz", 1.0,
                             lambda_max_error=1e-9, lambda_min_error=1e-6)
    view.landscapes = {"residual": result}
    view.show_landscapes()
    assert view.panels["residual"].image.image.shape == (5, 5)
    assert "λ_min -0.01 ± 1e-06" in view.panels["residual"].label.text()


def test_the_eigen_ratio_maps_are_small_heat_maps_on_one_scale(qtbot, styled_qapp):
    """A landscape with a |λ_min/λ_max| map (landscape --eigen-grid) shows it under its
    contour, both runs on the scale [0, the larger max]; one without a map shows none."""
    from resnet_studio.core.geometry.eigenmap import EigenMap, eigen_axis
    from resnet_studio.core.geometry.landscape import LandscapeResult, LandscapeSettings

    axis = np.linspace(-1, 1, 5)
    surface = 1.0 + np.add.outer(axis ** 2, axis ** 2)

    def result(lambda_min: np.ndarray | None) -> LandscapeResult:
        emap = None
        if lambda_min is not None:
            ones = np.ones((3, 3))
            emap = EigenMap(eigen_axis(3, 1.0), 2.0 * ones, lambda_min, 1e-12 * ones,
                            1e-9 * ones, 10 * ones.astype(int), ones.astype(bool), 16, 10)
        return LandscapeResult("run", LandscapeSettings(grid=5, eigen_grid=3 if emap else 0),
                               32, axis, surface, 1.0, 0.5, 0.5, 0.3, 2.0, -0.01, True, None,
                               None, True, "f.npz", 1.0, lambda_max_error=1e-9,
                               lambda_min_error=1e-6, eigen_map=emap)

    residual_min = -0.02 * np.arange(9.0).reshape(3, 3)  # ratios 0 .. 0.08
    view = GeometryView()
    qtbot.addWidget(view)
    view.landscapes = {"residual": result(residual_min), "plain": result(-np.full((3, 3), 0.4))}
    view.show_landscapes()
    res, plain = view.panels["residual"], view.panels["plain"]
    assert not res.eigen_plot.isHidden() and not plain.eigen_plot.isHidden()
    np.testing.assert_allclose(res.eigen_image.image, (np.abs(residual_min) / 2).T)
    assert res.eigen_image.levels == pytest.approx([0.0, 0.2])  # the plain map's max
    assert plain.eigen_image.levels == pytest.approx([0.0, 0.2])
    assert "mean 0.04, max 0.08" in res.label.text()
    view.landscapes = {"residual": result(None)}
    view.show_landscapes()
    assert res.eigen_plot.isHidden() and res.eigen_image.image is None


def test_surfaces_share_one_height_and_colour_scale():
    """Two landscapes mapped on the shared levels: the same loss gives the same height and
    colour in both; losses outside the levels are clipped to the floor and the ceiling."""
    import pyqtgraph as pg

    from resnet_studio.gui.geometry.surface import (
        SURFACE_HEIGHT,
        surface_arrays,
        surface_colors,
    )

    axis = np.linspace(-0.5, 0.5, 3)
    a = np.array([[1e-3, 1e-2, 1e-1], [1.0, 10.0, 100.0], [1e-4, 1e4, 10.0]])
    b = np.full((3, 3), 10.0)
    levels = (-3.0, 2.0)
    x, y, ha = surface_arrays(axis, a, levels)
    _, _, hb = surface_arrays(axis, b, levels)
    np.testing.assert_allclose(x, [-5, 0, 5])
    np.testing.assert_allclose(ha[0], np.array([0, 1, 2]) / 5 * SURFACE_HEIGHT)
    assert ha[2, 0] == 0.0 and ha[2, 1] == SURFACE_HEIGHT  # clipped
    assert ha[1, 1] == hb[0, 0]  # loss 10 in both: same height
    cmap = pg.colormap.get("viridis")
    ca, cb = surface_colors(ha, cmap), surface_colors(hb, cmap)
    assert ca.shape == (9, 4)  # one row per vertex, row-major
    np.testing.assert_allclose(ca[1 * 3 + 1], cb[0])
    assert not np.allclose(ca[0], ca[4])


@pytest.mark.slow
def test_study_geometry_in_the_runs_tab_opens_the_run_in_the_geometry_tab(make_window, qtbot,
                                                                          tiny_run):
    """Runs tab → right-click a finished run → Study Geometry…: the Geometry tab comes to
    the front with that run chosen and its cached landscape drawn."""
    import shutil

    from resnet_studio.core.geometry.landscape import LandscapeSettings, landscape_study
    from resnet_studio.core.runs.layout import default_runs_root

    run_dir = default_runs_root() / "20261205-000000-lab-sigmoid-mlp-geo1"
    shutil.copytree(tiny_run, run_dir)
    cached = landscape_study(run_dir, LandscapeSettings(grid=3, samples=16, hessian=False))
    window = make_window("lab-sigmoid-mlp", wait=False)
    rv = window.runs_view
    rv.refresh()
    rv.select_runs([run_dir])
    assert rv.geometry_action.isEnabled()
    assert rv.geometry_action in rv.build_context_menu().actions()
    rv.geometry_action.trigger()
    view = window.tabs.currentWidget()
    assert isinstance(view, GeometryView)
    assert view.run_dirs == {"run": run_dir}
    np.testing.assert_allclose(view.panels["residual"].image.image,
                               np.log10(cached.surface).T, rtol=1e-6)
    assert "Cached landscapes" in view.status.text()


def test_an_llvm_opengl_driver_is_refused_unless_allowed(monkeypatch):
    """Mesa's llvmpipe (and other LLVM-based drivers) crashed next to TensorFlow's LLVM: the
    3-D view refuses them unless RESNET_STUDIO_OPENGL_LLVM allows it; others pass; the
    probe's answers are read as such."""
    from resnet_studio.gui.geometry.surface import LLVM_OPENGL_ENV, llvm_conflict, parse_probe

    assert llvm_conflict("llvmpipe (LLVM 15.0.6, 256 bits)", {})
    assert llvm_conflict("AMD Radeon RX 580 (polaris10, LLVM 15.0.7, DRM 3.49)", {})
    assert not llvm_conflict("llvmpipe (LLVM 15.0.6, 256 bits)", {LLVM_OPENGL_ENV: "1"})
    assert not llvm_conflict("Mesa Intel(R) UHD Graphics 620 (KBL GT2)", {})
    assert not llvm_conflict("NVIDIA GeForce RTX 3060/PCIe/SSE2", {})
    monkeypatch.delenv(LLVM_OPENGL_ENV, raising=False)
    assert parse_probe("noise\nOK NVIDIA GeForce RTX 3060/PCIe/SSE2\n") == (True, "")
    ok, why = parse_probe("OK llvmpipe (LLVM 15.0.6, 256 bits)\n")
    assert not ok and "llvmpipe" in why and "LLVM" in why
    assert parse_probe("ERR no OpenGL context could be created") == (
        False, "no OpenGL context could be created")
    assert parse_probe("Segmentation fault") == (False, "the OpenGL check failed")
