"""Live training plots: the numpy buffers (history.py) and the TrainingPlots widget.

The widget tests feed synthetic runs and call refresh() (plus one grab(), which paints and so
applies pyqtgraph's auto-range) instead of waiting for the redraw timer; the one test about
the timer waits for its redraw with qtbot.waitUntil. Nothing sleeps.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from resnet_studio.core.runs.history import EMA_WEIGHT, RunHistory
from resnet_studio.core.runs.series import (
    Ema,
    GradientHistory,
    Series,
    decimate,
    smooth_ema,
)
from resnet_studio.gui.training.plot_ranges import decade_tick_strings, sticky_range
from resnet_studio.gui.training.plots import EMPTY_TEXT, TrainingPlots

# <= MIN_POINTS steps, so every curve holds exactly the data (no decimation).
N_STEPS, N_LAYERS, STEPS_PER_EPOCH = 300, 30, 100


# ---------------------------------------------------------------------- helpers
def tb_smooth(values: list[float], weight: float) -> list[float]:
    """TensorBoard's debiased EMA, written as its loop (the reference)."""
    last, count, out = 0.0, 0, []
    for v in values:
        if math.isfinite(v):
            last = last * weight + (1 - weight) * v
            count += 1
            out.append(last / (1 - weight ** count))
        else:
            out.append(out[-1] if out else math.nan)
    return out


def spiky(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A noisy signal with one high and one low spike: (x, y, argmax, argmin)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(0.0, 1.0, n)
    hi, lo = n // 3 + 7, (2 * n) // 3 + 11
    y[hi], y[lo] = 100.0, -100.0
    return np.arange(1, n + 1, dtype=np.float64), y, hi, lo


def synthetic(n_steps: int = N_STEPS, n_layers: int = N_LAYERS, seed: int = 0):
    rng = np.random.default_rng(seed)
    layers = [f"stage{i // 10}_layer{i}" for i in range(n_layers)]
    blocks = [f"stage{i // 10}_block{(i // 5) % 2}" for i in range(n_layers)]
    steps = np.arange(1, n_steps + 1)
    loss = 2.0 * np.exp(-steps / 150.0) + 0.2 * rng.random(n_steps)
    norms = (10.0 ** rng.uniform(-5, 0, (n_steps, n_layers))).astype(np.float32)
    return layers, blocks, loss, norms


def feed(w: TrainingPlots, layers, blocks, loss, norms, task: str = "classification") -> None:
    w.begin_run(layers, blocks, task=task, label="live")
    for i, value in enumerate(loss):
        step = i + 1
        w.add_batch(step, float(value), 0.1 / step, {"accuracy": 1.0 - float(value) / 3})
        w.add_grad_norms(step, norms[i])
        if step % STEPS_PER_EPOCH == 0:
            w.add_epoch(step // STEPS_PER_EPOCH, step, {"loss": float(value)},
                        {"loss": float(value) * 1.1, "accuracy": 0.5 + step / 2000})


def draw(w: TrainingPlots) -> None:
    """Redraw from the buffers, then paint once so that auto-ranged views take their range."""
    w.refresh()
    w.graphics.grab()


def data(item) -> tuple[np.ndarray, np.ndarray]:
    x, y = item.getOriginalDataset()
    return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))


@pytest.fixture
def plots(qtbot, styled_qapp):
    w = TrainingPlots()
    qtbot.addWidget(w)
    w.resize(1000, 600)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def fed(plots):
    layers, blocks, loss, norms = synthetic()
    feed(plots, layers, blocks, loss, norms)
    draw(plots)
    return plots, layers, blocks, loss, norms


# ---------------------------------------------------------------------- Series
def test_series_grows_beyond_capacity_with_exact_values():
    s = Series(capacity=4)
    for i in range(10):
        s.append(i, i * 0.5)
    s.extend(np.arange(10, 110), np.arange(10, 110) * 0.5)
    assert len(s) == 110 and s.capacity >= 110
    np.testing.assert_array_equal(s.x, np.arange(110, dtype=np.float64))
    np.testing.assert_array_equal(s.y, np.arange(110) * 0.5)
    with pytest.raises(ValueError, match="same length"):
        s.extend([1, 2], [1])
    s.truncate(50)
    assert len(s) == 50 and s.last_x() == 49
    s.clear()
    assert len(s) == 0 and s.last_x() is None


def test_series_view_is_bounded_and_keeps_spikes():
    x, y, hi, lo = spiky(200_001)
    s = Series()
    s.extend(x, y)
    vx, vy = s.view(-math.inf, math.inf, 1000)
    assert 0 < vx.size <= 1000
    assert vy.max() == 100.0 and vy.min() == -100.0
    assert x[hi] in vx and x[lo] in vx
    assert vx[0] == x[0] and vx[-1] == x[-1]  # a live curve ends at its latest value
    assert np.all(np.diff(vx) >= 0)  # still in x order, so a line through them is right


def test_series_view_excludes_points_outside_the_range():
    x, y, hi, _lo = spiky(50_000)
    s = Series()
    s.extend(x, y)
    a, b = x[hi] - 5000, x[hi] + 5000
    vx, vy = s.view(a, b, 300)
    assert vx.size <= 300
    assert vx.min() >= a and vx.max() <= b
    assert vy.max() == 100.0
    assert -100.0 not in vy  # the low spike is outside the range
    # Few points in range: returned as they are; neighbours adds one on each side.
    vx, vy = s.view(10, 20, 300)
    np.testing.assert_array_equal(vx, np.arange(10, 21))
    vx, _ = s.view(10, 20, 300, neighbours=True)
    np.testing.assert_array_equal(vx, np.arange(9, 22))
    assert s.view(30, 20, 300)[0].size == 0


def test_series_view_nan_does_not_hide_spikes():
    x, y, hi, _lo = spiky(10_000)
    y[::7] = np.nan
    y[hi] = 100.0
    s = Series()
    s.extend(x, y)
    _, vy = s.view(-math.inf, math.inf, 100)
    assert np.nanmax(vy) == 100.0
    dx, dy = decimate(x, y, 100)
    assert dx.size <= 100 and np.nanmax(dy) == 100.0


# ---------------------------------------------------------------------- GradientHistory
def test_gradient_history_bounded_columns_hold_log_means():
    rng = np.random.default_rng(1)
    norms = (10.0 ** rng.uniform(-6, 1, (100, 5))).astype(np.float32)
    steps = np.arange(1, 101) * 3  # gradients every third step
    g = GradientHistory(5, max_columns=8)
    for step, vec in zip(steps, norms, strict=True):
        g.append(int(step), vec)
    m = g.matrix
    assert len(g) == 100 and m.shape[0] == 5 and m.shape[1] <= 8 and m.dtype == np.float32
    assert np.all(np.diff(g.steps) > 0)
    # 100 steps in <= 8 columns: stride 16 (8 * 8 < 100 <= 8 * 16), groups of 16 in order.
    assert g.stride == 16 and g.n_columns == 7
    logs = np.log10(norms.astype(np.float64))
    for c in range(g.n_columns):
        group = slice(16 * c, min(100, 16 * (c + 1)))
        np.testing.assert_allclose(m[:, c], logs[group].mean(axis=0), rtol=1e-5, atol=1e-5)
        assert g.steps[c] == steps[group][0]
        assert g.column_info(c) == (steps[group][0], steps[group][-1], len(steps[group]))
    np.testing.assert_array_equal(g.latest, norms[-1])
    # Derived line: the geometric mean at the middle of each column's steps.
    xs, ys = g.series(2)
    np.testing.assert_allclose(ys, 10.0 ** m[2].astype(np.float64))
    np.testing.assert_allclose(xs, (g.steps + g.last_steps) / 2)


def test_gradient_history_extend_equals_appends():
    rng = np.random.default_rng(2)
    norms = (10.0 ** rng.uniform(-4, 0, (1000, 4))).astype(np.float32)
    norms[17, 2] = np.nan
    steps = np.arange(1, 1001)
    one = GradientHistory(4, max_columns=16)
    for step, vec in zip(steps, norms, strict=True):
        one.append(int(step), vec)
    bulk = GradientHistory(4, max_columns=16)
    for chunk in np.array_split(np.arange(1000), [1, 5, 40, 333, 334, 900]):
        bulk.extend(steps[chunk], norms[chunk])
    assert (one.stride, one.n_columns, len(one)) == (bulk.stride, bulk.n_columns, len(bulk))
    np.testing.assert_array_equal(one.steps, bulk.steps)
    np.testing.assert_array_equal(one.counts, bulk.counts)
    np.testing.assert_allclose(one.matrix, bulk.matrix, rtol=1e-6)
    assert one._sums.shape == (16, 4)  # memory does not grow with the run


def test_gradient_history_non_finite_norms_are_nan():
    g = GradientHistory(4, max_columns=8)
    bad = np.array([np.nan, np.inf, 0.0, 1e-3], dtype=np.float32)
    g.append(1, bad)
    m = g.matrix
    assert np.isnan(m[:3, 0]).all() and m[3, 0] == pytest.approx(-3.0)
    np.testing.assert_array_equal(g.latest, bad)  # raw, NaN and all
    # In a merged column only the finite members count.
    g = GradientHistory(1, max_columns=2)
    for step, v in enumerate([1e-2, np.nan, 1e-4, 1e-4], start=1):
        g.append(step, np.array([v], dtype=np.float32))
    assert g.stride == 2
    np.testing.assert_allclose(g.matrix[0], [-2.0, -4.0], rtol=1e-6)


def test_gradient_history_truncate_and_checks():
    g = GradientHistory(2, max_columns=64)
    for step in range(1, 21):
        g.append(step, np.full(2, step, dtype=np.float32))
    g.truncate(15)
    assert len(g) == 14 and g.last_step == 14
    g.append(15, np.full(2, 100.0, dtype=np.float32))
    assert g.matrix[0, -1] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="norms of shape"):
        g.append(16, np.ones(3))
    with pytest.raises(ValueError, match="even max_columns"):
        GradientHistory(2, max_columns=7)


# ---------------------------------------------------------------------- smoothing
@pytest.mark.parametrize("weight", [0.0, 0.6, 0.95, 0.999])
def test_smooth_ema_matches_tensorboard(weight):
    rng = np.random.default_rng(3)
    y = rng.random(3000) * 5
    y[[5, 6, 2000]] = [np.nan, np.inf, np.nan]
    expected = tb_smooth(list(y), weight)
    np.testing.assert_allclose(smooth_ema(y, weight), expected, rtol=1e-10)
    ema = Ema(weight)
    np.testing.assert_allclose([ema.update(v) for v in y], expected, rtol=1e-10)


def test_smooth_ema_edge_cases():
    assert np.isnan(smooth_ema([np.nan, 1.0], 0.5)[0])
    assert smooth_ema([], 0.5).size == 0
    with pytest.raises(ValueError, match="weight"):
        smooth_ema([1.0], 1.0)


@pytest.mark.slow
def test_history_module_is_qt_free():
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import resnet_studio.core.runs.series as h\n"
        "h.GradientHistory(3).append(1, [1.0, 2.0, 3.0])\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_decade_tick_strings():
    assert decade_tick_strings([-3.0, -2.0 + math.log10(2), 0.0, 1.0, 2.0]) == \
        ["10⁻³", "", "1", "10", "10²"]
    assert decade_tick_strings([math.log10(2), math.log10(5)]) == ["2", "5"]


# ---------------------------------------------------------------------- TrainingPlots
def test_empty_state_until_a_run_begins(plots):
    assert not plots.has_run
    assert plots._empty.text() == EMPTY_TEXT
    plots.begin_run(["a"], ["b"])
    assert plots.has_run
    with pytest.raises(ValueError, match="one block name per layer"):
        plots.begin_run(["a", "b"], ["x"])
    with pytest.raises(ValueError, match="task"):
        plots.begin_run([], [], task="regression")


def test_add_methods_only_append_and_the_timer_redraws(plots, qtbot):
    layers, blocks, loss, norms = synthetic(50, 4)
    feed(plots, layers, blocks, loss, norms)
    assert plots.redraw_count == 0  # nothing drawn yet: only the buffers grew
    assert len(plots.loss_history) == 50 and len(plots.gradients) == 50
    assert data(plots.loss_raw)[0].size == 0
    qtbot.waitUntil(lambda: plots.redraw_count >= 1, timeout=5000)
    np.testing.assert_array_equal(data(plots.loss_raw)[1], loss)
    before = plots.redraw_count
    plots.refresh()
    assert plots.redraw_count == before + 1


def test_fed_plots_show_the_buffers(fed):
    w, layers, blocks, loss, norms = fed
    x, y = data(w.loss_raw)
    np.testing.assert_array_equal(x, np.arange(1, N_STEPS + 1))
    np.testing.assert_array_equal(y, loss)
    np.testing.assert_allclose(data(w.loss_smooth)[1], tb_smooth(list(loss), EMA_WEIGHT))
    np.testing.assert_array_equal(data(w.val_loss_curve)[0], [100, 200, 300])
    np.testing.assert_allclose(data(w.lr_curve)[1], 0.1 / np.arange(1, N_STEPS + 1))
    np.testing.assert_allclose(data(w.metric_train)[1], 1.0 - loss / 3)
    np.testing.assert_allclose(data(w.val_metric_curve)[1], 0.5 + np.arange(1, 4) / 20)
    # Heatmap: rows = layers (input first, drawn at the top), columns = steps.
    assert w.heatmap.image.shape == (N_LAYERS, N_STEPS)
    np.testing.assert_array_equal(w.heatmap.image, w.gradients.matrix)
    np.testing.assert_allclose(w.heatmap.image[:, 0], np.log10(norms[0]), rtol=1e-5)
    assert w.heatmap_plot.vb.yInverted()
    lo, hi = w.colorbar.levels()
    assert lo <= np.nanmin(w.gradients.matrix) and hi >= np.nanmax(w.gradients.matrix)
    # Bars: one per layer, tops at log10 of the latest norms.
    assert len(w.bars.opts["x"]) == N_LAYERS
    np.testing.assert_allclose(w.bars.opts["y1"], np.log10(norms[-1].astype(np.float64)))
    # Picked layers: the first and the last by default.
    assert w.picked_layers == [0, N_LAYERS - 1]
    for i, item in zip(w.picked_layers, w._picked_items, strict=True):
        np.testing.assert_allclose(data(item)[1], norms[:, i], rtol=1e-5)
    ticks = w.heatmap_plot.getAxis("left")._tickLevels[0]
    assert ticks and {name for _, name in ticks} <= set(blocks)


def test_heatmap_and_bar_hover_name_the_layer(fed):
    w, layers, blocks, _loss, norms = fed
    seen: list[str] = []
    w.layer_hovered.connect(seen.append)
    scene = w.heatmap_plot.vb.mapViewToScene(QPointF(123.0, 7.5))
    text = w.hover_text_at(scene)
    lines = text.split("\n")
    assert lines[0] == layers[7] and lines[1] == f"block {blocks[7]}"
    assert lines[2] == "step 123"
    value = 10.0 ** float(w.gradients.matrix[7, 122])
    assert value == pytest.approx(float(norms[122, 7]), rel=1e-5)
    assert lines[3] == f"gradient norm {value:.1e}"
    w._on_mouse_moved(scene)
    assert seen == [text] and w.tip.isVisible()
    assert w.layer_at(scene) == 7
    middle = (float(w.bars.opts["y0"][5]) + float(w.bars.opts["y1"][5])) / 2
    bar = w.bars_plot.vb.mapViewToScene(QPointF(5.1, middle))
    text = w.hover_text_at(bar)
    assert text.split("\n")[0] == layers[5]
    assert text.split("\n")[2] == f"step {len(norms)}"  # the step the bars show
    assert text.endswith(f"{float(norms[-1, 5]):.1e}")
    w._on_mouse_moved(QPointF(-50, -50))
    assert seen[-1] == "" and not w.tip.isVisible()


def test_picking_layers(fed):
    w, layers, _blocks, _loss, norms = fed
    w.set_picked_layers([3, 10, 3])
    w.refresh()
    assert w.picked_layers == [3, 10] and len(w._picked_items) == 2
    np.testing.assert_allclose(data(w._picked_items[1])[1], norms[:, 10], rtol=1e-5)
    assert [label.text for _, label in w.picked_legend.items] == [layers[3], layers[10]]
    w.toggle_layer(3)  # what a click on row or bar 3 does
    assert w.picked_layers == [10]
    with pytest.raises(ValueError, match="layer indices"):
        w.set_picked_layers([N_LAYERS])


def test_zoomed_view_draws_the_visible_range_decimated(plots):
    n = 100_000
    x, y, hi, _lo = spiky(n)
    records = [{"kind": "batch", "step": int(s), "loss": float(v), "lr": 0.1}
               for s, v in zip(x, y, strict=True)]
    plots.load_run(records, [], [], np.zeros(0, np.int64), np.zeros((0, 0), np.float32))
    draw(plots)
    budget = 2 * int(plots.loss_plot.vb.width()) + 2
    dx, dy = data(plots.loss_raw)
    assert dx.size <= max(budget, 402) and dy.max() == 100.0 and dy.min() == -100.0
    plots.loss_plot.setXRange(x[hi] - 1000, x[hi] + 1000, padding=0)
    draw(plots)
    dx, dy = data(plots.loss_raw)
    lo_x, hi_x = plots.loss_plot.vb.viewRange()[0]
    assert dx.size <= max(budget, 402) and dy.max() == 100.0
    assert lo_x - 1 <= dx.min() and dx.max() <= hi_x + 1  # plus one neighbour per side
    plots.loss_plot.enableAutoRange()
    draw(plots)
    assert data(plots.loss_raw)[0].max() == n


def records_and_grads(loss, norms):
    """metrics.jsonl records and gradient rows of a run killed at step 250 and resumed from
    its step-200 checkpoint up to step 300 (steps 201-250 appear twice)."""
    events = list(range(1, 251)) + list(range(201, 301))
    records, steps, rows = [], [], []
    for n, step in enumerate(events):
        value = float(loss[step - 1]) + (0.5 if n >= 250 else 0.0)
        records.append({"kind": "batch", "step": step, "epoch": 1, "batch": step,
                        "loss": value, "lr": 0.01, "train_accuracy": 0.5})
        steps.append(step)
        rows.append(norms[step - 1] * (2.0 if n >= 250 else 1.0))
        if step % STEPS_PER_EPOCH == 0:
            records.append({"kind": "epoch", "epoch": step // STEPS_PER_EPOCH, "step": step,
                            "lr": 0.01, "train_loss": value, "val_loss": value + 0.1,
                            "val_accuracy": 0.6})
    return records, np.array(steps, np.int64), np.array(rows, np.float32)


def test_load_run_reproduces_the_live_feed(plots, qtbot):
    layers, blocks, loss, norms = synthetic(300, 6)
    records, steps, grads = records_and_grads(loss, norms)
    live = TrainingPlots()
    qtbot.addWidget(live)
    live.begin_run(layers, blocks)
    grad_rows = iter(zip(steps, grads, strict=True))
    for r in records:
        if r["kind"] == "batch":
            live.add_batch(r["step"], r["loss"], r["lr"], {"accuracy": r["train_accuracy"]})
            live.add_grad_norms(*next(grad_rows))
        else:
            live.add_epoch(r["epoch"], r["step"], {"loss": r["train_loss"]},
                           {"loss": r["val_loss"], "accuracy": r["val_accuracy"]})
    plots.load_run(records, layers, blocks, steps, grads, label="disk")
    for name in ("loss_history", "accuracy_history", "lr_history", "val_loss_history",
                 "val_accuracy_history"):
        a, b = getattr(live, name), getattr(plots, name)
        np.testing.assert_array_equal(a.x, b.x, err_msg=name)
        np.testing.assert_array_equal(a.y, b.y, err_msg=name)
    np.testing.assert_array_equal(plots.loss_history.x, np.arange(1, 301))
    np.testing.assert_array_equal(plots.val_loss_history.x, [100, 200, 300])
    np.testing.assert_allclose(live.smooth_loss_history.y, plots.smooth_loss_history.y,
                               rtol=1e-10)
    np.testing.assert_array_equal(live.gradients.steps, plots.gradients.steps)
    np.testing.assert_array_equal(live.gradients.steps, np.arange(1, 301))
    np.testing.assert_allclose(live.gradients.matrix, plots.gradients.matrix)
    np.testing.assert_array_equal(live.gradients.latest, plots.gradients.latest)
    # Live training can continue a run loaded from disk (the resume path).
    plots.add_batch(301, 0.5, 0.01, {})
    live.add_batch(301, 0.5, 0.01, {})
    assert plots.smooth_loss_history.y[-1] == pytest.approx(live.smooth_loss_history.y[-1])


def test_log_loss_switch_is_remembered_and_leaves_out_what_a_log_cannot_show(qtbot, fed):
    w = fed[0]
    assert not w.loss_log and not w.log_loss_box.isChecked()  # linear until asked
    w.history.add_batch(len(w.loss_history) + 1, 0.0, 0.01, {})  # a loss of exactly 0
    w.history.add_batch(len(w.loss_history) + 1, -0.5, 0.01, {})  # a custom loss below 0
    w.log_loss_box.setChecked(True)  # as a click does
    assert w.loss_log
    assert w.loss_plot.getAxis("left").logMode
    w.refresh()
    x, y = data(w.loss_raw)
    assert np.isnan(y[-2:]).all() and np.isfinite(y[:-2]).all()  # left out, not -inf
    lo, hi = w._bounds[id(w.loss_plot)].y_range
    positive = w.loss_history.y[w.loss_history.y > 0]
    assert lo <= np.log10(positive.min()) and hi >= np.log10(positive.max())  # decades
    assert float(lo).is_integer() and float(hi).is_integer()
    # Remembered: a new Training tab starts on log, and switching back is remembered too.
    again = TrainingPlots()
    qtbot.addWidget(again)
    assert again.loss_log and again.loss_plot.getAxis("left").logMode
    again.set_loss_log(False)
    assert not again.log_loss_box.isChecked()
    third = TrainingPlots()
    qtbot.addWidget(third)
    assert not third.loss_log


def test_accuracy_says_it_is_a_running_mean_over_the_epoch(plots):
    layers, blocks, loss, norms = synthetic(50, 3)
    feed(plots, layers, blocks, loss, norms)
    labels = [label.text for _, label in plots.metric_legend.items]
    assert "train (running mean over the epoch)" in labels
    assert "running mean" in plots.metric_plot.toolTip()


def test_language_model_shows_perplexity(plots):
    layers, blocks, loss, norms = synthetic(200, 3)
    feed(plots, layers, blocks, loss, norms, task="language_model")
    draw(plots)
    assert "Perplexity" in plots.metric_plot.titleLabel.text
    np.testing.assert_allclose(data(plots.metric_raw)[1], np.exp(loss))
    np.testing.assert_allclose(data(plots.metric_train)[1],
                               np.exp(tb_smooth(list(loss), EMA_WEIGHT)))
    np.testing.assert_allclose(data(plots.val_metric_curve)[1], np.exp(loss[[99, 199]] * 1.1))
    plots.begin_run(layers, blocks)
    assert plots.metric_plot.titleLabel.text == "Accuracy"


def test_records_with_what_is_not_a_number_load_without_it():
    h = RunHistory.from_records([
        {"kind": "batch", "step": 1, "loss": 1.0, "lr": 0.1},
        {"kind": "batch", "step": 2, "loss": None, "lr": 0.1, "train_accuracy": 0.5},
        {"kind": "epoch", "step": 2, "val_loss": 0.9},
        {"kind": "note", "step": 3, "loss": 5.0},
        {"kind": "batch", "loss": 7.0},
    ])
    np.testing.assert_array_equal(h.loss.x, [1.0])
    np.testing.assert_array_equal(h.accuracy.y, [0.5])
    np.testing.assert_array_equal(h.val_loss.y, [0.9])
    assert h.val_accuracy.x.size == 0


# ------------------------------------------------------------------ axis ranges
def test_sticky_range_keeps_grows_and_refits():
    assert sticky_range(None, (0.0, 2.0)) == (0.0, 2.0)
    assert sticky_range((0.0, 2.0), None) is None  # no data: nothing to show
    assert sticky_range((0.0, 2.0), (0.5, 1.5)) == (0.0, 2.0)  # inside, fills half: kept
    assert sticky_range((0.0, 2.0), (0.0, 2.5)) == (0.0, 2.5)  # data left it: grows
    assert sticky_range((0.0, 2.0), (-0.5, 1.0)) == (-0.5, 2.0)
    assert sticky_range((0.0, 2.0), (1.0, 1.5)) == (1.0, 1.5)  # fills a quarter: refit
    assert sticky_range((0.0, 10.0), (20.0, 21.0)) == (20.0, 21.0)  # new scale: refit


def _y_ranges_while_training(w: TrainingPlots, plot, steps: int, lr, norms) -> list:
    """The y ranges `plot` showed over a run redrawn every 5 steps, as the timer would."""
    n = norms.shape[1]
    w.begin_run([f"l{i}" for i in range(n)], ["b"] * n, label="live")
    shown = []
    for step in range(1, steps + 1):
        w.add_batch(step, 2.0 / step, float(lr(step)), {"accuracy": 0.5})
        w.add_grad_norms(step, norms[step - 1])
        if step % 5 == 0:
            w._redraw()
            y = w._bounds[id(plot)].y_range
            if not shown or shown[-1] != y:
                shown.append(y)
    return shown


def test_a_falling_learning_rate_keeps_its_axis(plots):
    """A schedule that falls all run long is shown from zero: its axis stays put (a range
    that followed the data's extent changed scale several times, each a repaint of the
    axis in the GUI thread)."""
    norms = np.full((300, 4), 0.1, dtype=np.float32)
    shown = _y_ranges_while_training(plots, plots.lr_plot, 300,
                                     lambda s: 0.1 * (1 - s / 400), norms)
    assert len(shown) == 1, shown
    lo, hi = shown[0]
    assert lo == 0.0 and 0.1 <= hi <= 0.15


def test_bars_axis_holds_noisy_norms_and_bars_start_at_its_bottom(plots):
    rng = np.random.default_rng(0)
    norms = (10.0 ** rng.uniform(-5, 0, (300, 30))).astype(np.float32)
    shown = _y_ranges_while_training(plots, plots.bars_plot, 300, lambda s: 0.1, norms)
    assert len(shown) == 1, shown  # the smallest norm crosses decades; the axis does not
    lo, hi = shown[0]
    tops = np.log10(norms[-1].astype(np.float64))
    assert lo <= tops.min() and tops.max() <= hi and hi - lo <= 7
    np.testing.assert_array_equal(plots.bars.opts["y0"], np.full(30, lo))
    np.testing.assert_allclose(plots.bars.opts["y1"], tops)


def test_smoothed_curves_get_a_point_per_pixel_noisy_ones_two(plots):
    """Noisy per-batch values keep a min and a max per pixel (spikes survive); smoothed
    curves look the same with one point per pixel and cost half as much to paint."""
    layers, blocks, loss, norms = synthetic(n_steps=5000, n_layers=4)
    feed(plots, layers, blocks, loss, norms)
    draw(plots)
    width = int(plots.loss_plot.vb.width())
    assert width > 300  # wide enough that the budget is the width, not MIN_POINTS
    raw, smooth = len(data(plots.loss_raw)[0]), len(data(plots.loss_smooth)[0])
    assert 1.8 * width <= raw <= 2.2 * width + 4
    assert 0.9 * width <= smooth <= 1.1 * width + 4
    x, y = data(plots.loss_raw)
    assert y.max() == pytest.approx(loss.max()) and y.min() == pytest.approx(loss.min())
