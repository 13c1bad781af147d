"""The buffers behind the live training plots: growable series, bounded gradient history, EMA.

Qt-free on purpose (numpy only): the GUI thread appends here at the rate training events
arrive, and the plots read decimated views at their own redraw rate, so a redraw costs about
the same at step 100 and at step 200 000, and the gradient heatmap's memory is bounded
however long the run.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

# Largest exponent of w**-k the vectorised EMA lets build up inside one chunk: e**300 ~ 1e130
# leaves float64 room for losses up to ~1e170 before the running sum could overflow.
_EMA_MAX_EXPONENT = 300.0


def _minmax_indices(y: np.ndarray, buckets: int, has_nan: bool) -> np.ndarray:
    """Indices (into y, increasing) of the min and max of each of <= `buckets` buckets of
    consecutive points. NaN never wins a bucket unless the whole bucket is NaN."""
    n = y.size
    size = -(-n // buckets)  # ceil: every bucket but the last holds `size` points
    full = n // size
    if has_nan:
        low_src = np.where(np.isnan(y), np.inf, y)
        high_src = np.where(np.isnan(y), -np.inf, y)
    else:
        low_src = high_src = y
    parts = []
    for start, rows, width in ((0, full, size), (full * size, int(n > full * size),
                                                 n - full * size)):
        if not rows:
            continue
        block_lo = low_src[start: start + rows * width].reshape(rows, width)
        block_hi = high_src[start: start + rows * width].reshape(rows, width)
        offsets = start + np.arange(rows, dtype=np.intp) * width
        i_min = offsets + block_lo.argmin(axis=1)
        i_max = offsets + block_hi.argmax(axis=1)
        parts.append(np.stack([np.minimum(i_min, i_max), np.maximum(i_min, i_max)],
                              axis=1).ravel())
    return np.concatenate(parts)


def _decimated_indices(y: np.ndarray, max_points: int, has_nan: bool) -> np.ndarray:
    """At most max_points indices: the first and the last point (so a live curve ends at the
    latest value) and the min and max of each bucket in between."""
    inner = _minmax_indices(y, max(1, (max_points - 2) // 2), has_nan)
    if max_points < 4:
        return inner
    return np.concatenate([[0], inner, [y.size - 1]]).astype(np.intp)


def decimate(x: ArrayLike, y: ArrayLike, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) reduced to at most `max_points` by min/max per bucket (see Series.view)."""
    if max_points < 2:
        raise ValueError(f"Expected max_points >= 2, received: max_points={max_points}")
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if y.size <= max_points:
        return x, y
    idx = _decimated_indices(y, max_points, bool(np.isnan(y).any()))
    return x[idx], y[idx]


class Series:
    """A growable (x, y) float64 buffer with a decimated view for drawing.

    Appends are amortised O(1): the arrays are preallocated and double when full, as in
    pyqtgraph's scrollingPlots example. `x` must not decrease (it is a step); `view` and
    `truncate` rely on it to find ranges by binary search.

    With `max_points`, memory is bounded: when the buffer holds `max_points` and another
    point arrives, every group of 4 consecutive points (all but the last 1-4) is reduced to
    its minimum and its maximum, in their order, which halves the buffer. The older part of
    a long run is thus kept as its min/max envelope at a resolution that halves at each
    compaction: spikes stay visible at any zoom, recent steps stay exact, and the buffers
    never exceed 16 * max_points bytes. Compaction depends only on how many points were
    added, so `extend` leaves the same state as the same points appended one by one.

    Args:
        capacity: Initial number of points the buffer holds before it first grows.
        max_points: Most points kept (>= 8), or None to keep every point.

    Example:
        >>> s = Series()
        >>> s.extend([1, 2, 3], [0.5, 0.4, 0.45])
        >>> xs, ys = s.view(2, 3, max_points=100)
    """

    def __init__(self, capacity: int = 1024, max_points: int | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"Expected capacity >= 1, received: capacity={capacity}")
        if max_points is not None and max_points < 8:
            raise ValueError(f"Expected max_points >= 8 or None, received: "
                             f"max_points={max_points}")
        self.max_points = max_points
        self.compactions = 0  # times the buffer was halved
        if max_points is not None:
            capacity = min(capacity, max_points)
        self._initial = int(capacity)
        self._x = np.empty(self._initial, dtype=np.float64)
        self._y = np.empty(self._initial, dtype=np.float64)
        self._n = 0
        # Decimation must not let NaN win the per-bucket argmin/argmax; most series never hold
        # a NaN, so remember whether one arrived instead of scanning the data at every redraw.
        self._has_nan = False

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"Series(len={self._n}, capacity={self.capacity})"

    @property
    def capacity(self) -> int:
        return int(self._x.size)

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers (the allocated capacity, not just the filled part)."""
        return int(self._x.nbytes + self._y.nbytes)

    @property
    def x(self) -> np.ndarray:
        """The filled part of x (a read-only view: copy it to keep it past the next append)."""
        v = self._x[: self._n]
        v.flags.writeable = False
        return v

    @property
    def y(self) -> np.ndarray:
        """The filled part of y (a read-only view)."""
        v = self._y[: self._n]
        v.flags.writeable = False
        return v

    def last_x(self) -> float | None:
        return float(self._x[self._n - 1]) if self._n else None

    def _reserve(self, total: int) -> None:
        if total <= self._x.size:
            return
        size = max(total, 2 * self._x.size)
        if self.max_points is not None:
            size = min(size, self.max_points)
        for name in ("_x", "_y"):
            old = getattr(self, name)
            new = np.empty(size, dtype=np.float64)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    def _compact(self) -> None:
        """Halves the buffer: min and max of each group of 4 points (see the class doc)."""
        n = self._n
        m = ((n - 1) // 4) * 4  # the latest point (and up to 3 before it) stay as they are
        if m == 0:
            return
        ys = self._y[:m].reshape(-1, 4)
        if self._has_nan:  # NaN never wins a group unless the whole group is NaN
            i_min = np.where(np.isnan(ys), np.inf, ys).argmin(axis=1)
            i_max = np.where(np.isnan(ys), -np.inf, ys).argmax(axis=1)
        else:
            i_min, i_max = ys.argmin(axis=1), ys.argmax(axis=1)
        # A flat group (min = max) keeps its first and last points.
        i_max = np.where(i_min == i_max, np.where(i_min == 3, 0, 3), i_max)
        offsets = np.arange(0, m, 4, dtype=np.intp)
        idx = np.stack([offsets + np.minimum(i_min, i_max),
                        offsets + np.maximum(i_min, i_max)], axis=1).ravel()
        half, tail = m // 2, n - m
        for arr in (self._x, self._y):
            kept, rest = arr[idx], arr[m:n].copy()
            arr[:half] = kept
            arr[half: half + tail] = rest
        self._n = half + tail
        self.compactions += 1

    def _make_room(self) -> None:
        if self.max_points is not None and self._n >= self.max_points:
            self._compact()
        elif self._n == self._x.size:
            self._reserve(self._n + 1)

    def append(self, x: float, y: float) -> None:
        if self._n == self._x.size:
            self._make_room()
        self._x[self._n] = x
        self._y[self._n] = y
        self._n += 1
        if y != y:  # NaN without a numpy call: this runs once per batch
            self._has_nan = True

    def extend(self, xs: ArrayLike, ys: ArrayLike) -> None:
        xs = np.asarray(xs, dtype=np.float64).ravel()
        ys = np.asarray(ys, dtype=np.float64).ravel()
        if xs.shape != ys.shape:
            raise ValueError(f"Expected xs and ys of the same length, received: "
                             f"len(xs)={xs.size}, len(ys)={ys.size}")
        if xs.size and np.isnan(ys).any():
            self._has_nan = True
        pos, k = 0, xs.size
        while pos < k:  # in pieces that fit, compacting in between as `append` would
            if self.max_points is not None and self._n >= self.max_points:
                self._compact()
            take = k - pos if self.max_points is None else min(k - pos,
                                                                self.max_points - self._n)
            self._reserve(self._n + take)
            self._x[self._n: self._n + take] = xs[pos: pos + take]
            self._y[self._n: self._n + take] = ys[pos: pos + take]
            self._n += take
            pos += take

    def truncate(self, x: float) -> None:
        """Drops the points with x >= `x` (a resumed run rewinds to its checkpoint's step)."""
        self._n = int(np.searchsorted(self._x[: self._n], x, side="left"))

    def clear(self) -> None:
        """Empties the series and gives back the memory of a long run."""
        self._x = np.empty(self._initial, dtype=np.float64)
        self._y = np.empty(self._initial, dtype=np.float64)
        self._n = 0
        self._has_nan = False
        self.compactions = 0

    def view(self, x_min: float, x_max: float, max_points: int, *,
             neighbours: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The points with x_min <= x <= x_max, decimated to at most `max_points`.

        Decimation keeps the first and the last point and the minimum and the maximum of
        each bucket of consecutive points in between (in their original order), so a single
        spike stays visible at any zoom level — a strided subsample would drop it — and a
        live curve still ends at its latest value. Cost is O(points in range), all in numpy.

        Args:
            x_min: Left end of the visible range.
            x_max: Right end of the visible range.
            max_points: Upper bound on the points returned (>= 2), e.g. twice the plot's
                width in pixels.
            neighbours: Also include the nearest point outside each end, so a line drawn
                from the result reaches the edges of the view (then up to max_points + 2).

        Returns:
            (x, y) copies, safe to hand to a plot item.
        """
        if max_points < 2:
            raise ValueError(f"Expected max_points >= 2, received: max_points={max_points}")
        xs, ys = self._x[: self._n], self._y[: self._n]
        lo = int(np.searchsorted(xs, x_min, side="left"))
        hi = int(np.searchsorted(xs, x_max, side="right"))
        if hi <= lo:
            lo = hi = min(lo, hi)
        extra_lo = extra_hi = np.empty(0, dtype=np.intp)
        if neighbours:
            if lo > 0:
                extra_lo = np.array([lo - 1], dtype=np.intp)
            if hi < self._n:
                extra_hi = np.array([hi], dtype=np.intp)
        count = hi - lo
        if count <= max_points:
            idx = np.arange(lo, hi, dtype=np.intp)
        else:
            idx = lo + _decimated_indices(ys[lo:hi], max_points, self._has_nan)
        if neighbours:
            idx = np.concatenate([extra_lo, idx, extra_hi])
        return xs[idx], ys[idx]


class GradientHistory:
    """Per-step gradient-norm vectors, kept in at most `max_columns` columns.

    While there is room every appended step is a column. When the columns are full, adjacent
    pairs merge and the stride doubles, so each column then stands for `stride` consecutive
    appended steps (the last one possibly still filling). A column keeps the step of its
    first member and the *mean of log10(norm)* of its members — the log of the geometric
    mean — because the heatmap's colour scale is log10: averaging logs keeps a layer that
    sits at 1e-6 distinguishable from one at 1e-4, where averaging raw norms would let any
    large value swamp the column. (A max would keep single spikes brighter but also makes
    long runs look noisier than they are; the latest raw vector stays available in `latest`.)
    Non-finite norms and zeros (log10 = -inf) are left out of a column's mean; a cell with
    no finite member is NaN (drawn transparent).

    Because the column layout depends only on how many steps were appended, `extend` gives
    exactly the same state as the same steps appended one by one.

    Memory is O(n_layers * max_columns) whatever the length of the run.

    Args:
        n_layers: Length of each norm vector (layers with weights, in depth order).
        max_columns: Most columns kept; even, so pairs merge cleanly.

    Example:
        >>> g = GradientHistory(3, max_columns=4)
        >>> for step in range(1, 11):
        ...     g.append(step, np.array([1e-3, 1e-2, 1e-1], np.float32))
        >>> g.matrix.shape, g.stride
        ((3, 3), 4)
    """

    def __init__(self, n_layers: int, max_columns: int = 2048) -> None:
        if n_layers < 0:
            raise ValueError(f"Expected n_layers >= 0, received: n_layers={n_layers}")
        if max_columns < 2 or max_columns % 2:
            raise ValueError("Expected an even max_columns >= 2, received: "
                             f"max_columns={max_columns}")
        self.n_layers = int(n_layers)
        self.max_columns = int(max_columns)
        # Stored column by column (columns x layers) so that appending a step touches one
        # contiguous row; `matrix` transposes to layers x columns.
        self._sums = np.zeros((self.max_columns, self.n_layers), dtype=np.float64)
        self._counts = np.zeros((self.max_columns, self.n_layers), dtype=np.int64)
        self._first = np.zeros(self.max_columns, dtype=np.int64)
        self._last = np.zeros(self.max_columns, dtype=np.int64)
        self._filled = np.zeros(self.max_columns, dtype=np.int64)
        self._ncols = 0
        self._n = 0
        self._stride = 1
        self._latest: np.ndarray | None = None
        self._matrix: np.ndarray | None = None
        self.version = 0  # bumped on every change; the plots redraw the heatmap when it moves

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return (f"GradientHistory(n_layers={self.n_layers}, steps={self._n}, "
                f"columns={self._ncols}, stride={self._stride})")

    @property
    def stride(self) -> int:
        """Appended steps per (full) column."""
        return self._stride

    @property
    def n_columns(self) -> int:
        return self._ncols

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers (fixed by n_layers and max_columns) and the cached
        matrix."""
        arrays = (self._sums, self._counts, self._first, self._last, self._filled)
        cached = 0 if self._matrix is None else self._matrix.nbytes
        latest = 0 if self._latest is None else self._latest.nbytes
        return int(sum(a.nbytes for a in arrays) + cached + latest)

    @property
    def steps(self) -> np.ndarray:
        """The first step of each column (int64, increasing)."""
        return self._first[: self._ncols].copy()

    @property
    def last_steps(self) -> np.ndarray:
        """The last step of each column."""
        return self._last[: self._ncols].copy()

    @property
    def counts(self) -> np.ndarray:
        """How many appended steps each column stands for."""
        return self._filled[: self._ncols].copy()

    @property
    def latest(self) -> np.ndarray | None:
        """The last appended norm vector, raw (float32, not averaged), or None."""
        return None if self._latest is None else self._latest.copy()

    @property
    def last_step(self) -> int | None:
        return int(self._last[self._ncols - 1]) if self._ncols else None

    @property
    def matrix(self) -> np.ndarray:
        """log10 norms, layers x columns (float32; NaN where a cell has no finite value).

        Cached until the next change, so the plots may read it at every redraw.
        """
        if self._matrix is None:
            with np.errstate(invalid="ignore", divide="ignore"):
                m = self._sums[: self._ncols] / self._counts[: self._ncols]
            self._matrix = np.ascontiguousarray(m.T, dtype=np.float32)
            self._matrix.flags.writeable = False
        return self._matrix

    def series(self, layer_index: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps, norms) of one layer for a line plot, derived from the columns.

        Derived rather than kept at full resolution so that any layer can be picked at any
        time with its whole history and memory stays bounded; at <= max_columns points the
        line still has about one point per pixel. Each point is a column's geometric-mean
        norm at the middle of the steps it covers (the exact step and norm while the
        stride is 1).
        """
        if not 0 <= layer_index < self.n_layers:
            raise IndexError(f"Expected 0 <= layer_index < {self.n_layers}, received: "
                             f"layer_index={layer_index}")
        x = (self._first[: self._ncols] + self._last[: self._ncols]) / 2.0
        return x, np.power(10.0, self.matrix[layer_index].astype(np.float64))

    def column_info(self, column: int) -> tuple[int, int, int]:
        """(first step, last step, steps averaged) of one column (for hover text)."""
        return (int(self._first[column]), int(self._last[column]),
                int(self._filled[column]))

    def append(self, step: int, norms: ArrayLike) -> None:
        """Adds the norm vector of one step (steps should increase; see `truncate`).

        The same result as `extend` with one step, in a few O(n_layers) numpy calls: this
        runs for every GradNorms event.
        """
        vec = np.asarray(norms, dtype=np.float32).ravel()
        if vec.shape != (self.n_layers,):
            raise ValueError(f"Expected norms of shape ({self.n_layers},), received: "
                             f"norms.shape={np.shape(norms)}")
        c = self._ncols - 1
        if c < 0 or self._filled[c] >= self._stride:
            if self._ncols == self.max_columns:
                self._merge_pairs()  # every column is full: pairs merge, leaving room
            c = self._ncols
            self._sums[c] = 0.0
            self._counts[c] = 0
            self._filled[c] = 0
            self._first[c] = step
            self._ncols += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            logs = np.log10(vec.astype(np.float64))
        valid = np.isfinite(logs)
        self._sums[c] += np.where(valid, logs, 0.0)
        self._counts[c] += valid
        self._filled[c] += 1
        self._last[c] = step
        self._n += 1
        self._latest = vec.copy()
        self._changed()

    def extend(self, steps: ArrayLike, norms: ArrayLike) -> None:
        """Adds many steps at once, vectorised (loading a finished run): steps (S,), norms
        (S, n_layers)."""
        steps = np.asarray(steps, dtype=np.int64).ravel()
        norms = np.asarray(norms, dtype=np.float32)
        if norms.ndim != 2 or norms.shape != (steps.size, self.n_layers):
            raise ValueError(f"Expected norms of shape ({steps.size}, {self.n_layers}), "
                             f"received: norms.shape={norms.shape}")
        k = steps.size
        if k == 0:
            return
        total = self._n + k
        while -(-total // self._stride) > self.max_columns:
            self._merge_pairs()
        with np.errstate(invalid="ignore", divide="ignore"):
            logs = np.log10(norms.astype(np.float64))
        valid = np.isfinite(logs)
        values = np.where(valid, logs, 0.0)
        cols = (self._n + np.arange(k, dtype=np.int64)) // self._stride
        starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
        group_cols = cols[starts]
        ends = np.r_[starts[1:], k]
        new = group_cols >= self._ncols
        if new.any():
            fresh = group_cols[new]
            self._sums[fresh] = 0.0
            self._counts[fresh] = 0
            self._filled[fresh] = 0
            self._first[fresh] = steps[starts[new]]
        self._sums[group_cols] += np.add.reduceat(values, starts, axis=0)
        self._counts[group_cols] += np.add.reduceat(valid.astype(np.int64), starts, axis=0)
        self._filled[group_cols] += ends - starts
        self._last[group_cols] = steps[ends - 1]
        self._ncols = int(group_cols[-1]) + 1
        self._n = total
        self._latest = norms[-1].copy()
        self._changed()

    def _merge_pairs(self) -> None:
        """Columns 2j and 2j+1 become column j; the stride doubles."""
        n = self._ncols
        pairs = n // 2
        half = -(-n // 2)
        for arr in (self._sums, self._counts):
            merged = arr[0: 2 * pairs: 2] + arr[1: 2 * pairs: 2]
            if n % 2:
                merged = np.concatenate([merged, arr[n - 1: n]], axis=0)
            arr[:half] = merged
        filled = self._filled[0: 2 * pairs: 2] + self._filled[1: 2 * pairs: 2]
        last = self._last[1: 2 * pairs: 2]
        if n % 2:
            filled = np.r_[filled, self._filled[n - 1]]
            last = np.r_[last, self._last[n - 1]]
        self._first[:half] = self._first[0: n: 2]
        self._filled[:half] = filled
        self._last[:half] = last
        self._ncols = half
        self._stride *= 2

    def truncate(self, step: int) -> None:
        """Drops the columns that start at or after `step` (a resumed run rewinds).

        A column that started before `step` is kept whole: its mean may include a few
        rewound steps (exact while the stride is 1).
        """
        keep = int(np.searchsorted(self._first[: self._ncols], step, side="left"))
        if keep == self._ncols:
            return
        self._ncols = keep
        self._n = int(self._filled[:keep].sum())
        self._changed()

    def clear(self) -> None:
        self._ncols = self._n = 0
        self._stride = 1
        self._latest = None
        self._changed()

    def _changed(self) -> None:
        self._matrix = None
        self.version += 1


class Ema:
    """TensorBoard's debiased exponential moving average, one value at a time.

    The live plots update it once per batch (O(1)); `smooth_ema` computes the same curve for
    a whole array. Non-finite values are skipped (the previous smoothed value repeats).

    Args:
        weight: Smoothing in [0, 1): 0 is no smoothing; the window is about 1/(1-weight).
    """

    def __init__(self, weight: float) -> None:
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"Expected 0 <= weight < 1, received: weight={weight}")
        self.weight = float(weight)
        self._last = 0.0
        self._count = 0
        self.value = math.nan

    def update(self, y: float) -> float:
        if math.isfinite(y):
            w = self.weight
            self._last = self._last * w + (1.0 - w) * y
            self._count += 1
            self.value = self._last / (1.0 - w ** self._count)
        return self.value

    def resume(self, value: float, count: int) -> None:
        """Continues from a smoothed `value` reached after `count` finite inputs."""
        self._count = int(count)
        self.value = float(value) if count else math.nan
        self._last = self.value * (1.0 - self.weight ** self._count) if count else 0.0


def smooth_ema(y: ArrayLike, weight: float) -> np.ndarray:
    """TensorBoard-style debiased EMA of a whole array, O(n) and vectorised.

    s_n = w * s_(n-1) + (1 - w) * y_n, reported as s_n / (1 - w**count). The recurrence is
    solved in closed form chunk by chunk (a cumulative sum of y_k * w**-k), the chunk length
    chosen so that w**-k cannot overflow. Non-finite inputs are skipped: their output repeats
    the previous smoothed value (NaN before the first finite input), as `Ema` does.

    Args:
        y: Values in order.
        weight: Smoothing in [0, 1).

    Returns:
        float64 array the shape of y.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"Expected 0 <= weight < 1, received: weight={weight}")
    y = np.asarray(y, dtype=np.float64).ravel()
    finite = np.isfinite(y)
    v = y[finite]
    n = v.size
    if n == 0:
        return np.full(y.shape, np.nan)
    if weight == 0.0:
        s = v.copy()
    else:
        s = np.empty(n, dtype=np.float64)
        chunk = max(1, int(_EMA_MAX_EXPONENT / -math.log(weight)))
        carry = 0.0
        for start in range(0, n, chunk):
            seg = v[start: start + chunk]
            powers = weight ** np.arange(seg.size, dtype=np.float64)  # w**j
            out = powers * (weight * carry + (1.0 - weight) * np.cumsum(seg / powers))
            s[start: start + seg.size] = out
            carry = float(out[-1])
        s /= 1.0 - weight ** np.arange(1, n + 1, dtype=np.float64)
    rank = np.cumsum(finite) - 1  # position in s of the last finite input so far
    return np.where(rank >= 0, s[np.maximum(rank, 0)], np.nan)


def block_runs(blocks: list[str]) -> list[tuple[int, int, str]]:
    """(first layer, one past the last layer, block name) of each run of equal block names
    (layers in depth order): how the gradient views group and label their rows."""
    runs: list[tuple[int, int, str]] = []
    for i, name in enumerate(blocks):
        if runs and runs[-1][2] == name:
            runs[-1] = (runs[-1][0], i + 1, name)
        else:
            runs.append((i, i + 1, name))
    return runs
