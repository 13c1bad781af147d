"""Bounded plot history (benchmarks/bench_gui.py): a Series with max_points keeps at most that
many points, as the min/max envelope of its older part, whatever the length of the run."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_studio.core.runs.series import GradientHistory, Series


def spiky(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(0.0, 1.0, n)
    y[n // 7], y[n // 3] = 50.0, -50.0
    return np.arange(1, n + 1, dtype=np.float64), y


def test_bounded_series_keeps_extremes_order_and_the_latest_point():
    x, y = spiky(10_000)
    s = Series(16, max_points=256)
    for a, b in zip(x, y, strict=True):
        s.append(a, b)
    assert len(s) <= 256 and s.capacity == 256 and s.nbytes == 256 * 16
    assert s.compactions > 0
    assert np.all(np.diff(s.x) > 0)  # still increasing: views and truncate rely on it
    assert s.x[-1] == x[-1] and s.y[-1] == y[-1]  # a live curve ends at its latest value
    assert s.y.max() == 50.0 and s.y.min() == -50.0  # spikes survive every compaction
    # Every kept point is a real (step, value) pair of the input.
    np.testing.assert_array_equal(y[s.x.astype(int) - 1], s.y)


def test_bounded_series_extend_equals_appends_and_handles_nan():
    x, y = spiky(5_000, seed=1)
    y[100:104] = np.nan  # a whole group of NaN stays NaN; NaN never hides a spike
    y[2000] = np.nan
    one = Series(max_points=64)
    for a, b in zip(x, y, strict=True):
        one.append(a, b)
    many = Series(max_points=64)
    for start in (0, 1, 37, 500, 4999):
        end = {0: 1, 1: 37, 37: 500, 500: 4999, 4999: 5000}[start]
        many.extend(x[start:end], y[start:end])
    np.testing.assert_array_equal(one.x, many.x)
    np.testing.assert_array_equal(one.y, many.y)
    assert one.compactions == many.compactions
    assert np.nanmax(one.y) == 50.0 and np.nanmin(one.y) == -50.0


def test_unbounded_series_keeps_every_point_and_checks_its_bound():
    x, y = spiky(3_000)
    s = Series(8)
    s.extend(x, y)
    np.testing.assert_array_equal(s.y, y)
    with pytest.raises(ValueError, match="max_points"):
        Series(max_points=4)


def test_history_memory_is_the_same_at_200k_and_1m_steps():
    sizes = {}
    for steps in (200_000, 1_000_000):
        s = Series(max_points=2**14)
        g = GradientHistory(20, max_columns=256)
        for start in range(0, steps, 100_000):
            xs = np.arange(start + 1, start + 100_001, dtype=np.float64)
            s.extend(xs, np.sin(xs))
            g.extend(xs.astype(np.int64), np.ones((xs.size, 20), np.float32))
        sizes[steps] = s.nbytes + g.nbytes
        assert len(s) <= 2**14 and g.n_columns <= 256
    assert sizes[200_000] == sizes[1_000_000]
