"""Range and tick maths of the training plots, Qt-free so it is testable on its own.

Auto-range follows round numbers, not the data's exact extent (see `gui.training.plots`):
`nice_ceiling` gives the right end of a followed x range, `quantized_range` widens a y extent
to multiples of a round step and `sticky_range` keeps a shown range while the data still
fills a good part of it. `data_extent` combines them for a set of drawn curves.
"""

from __future__ import annotations

import math

import numpy as np

MAX_EXP = 700.0  # exp() argument cap for perplexity: float64 overflows just above 709


def format_norm(value: float) -> str:
    """A gradient norm as hover text shows it: 3.2e-04; non-finite values spelled out."""
    return f"{value:.1e}" if math.isfinite(value) else str(value)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def decade_tick_strings(values: list[float], scale: float = 1.0,
                        spacing: float = 1.0) -> list[str]:
    """Tick labels of a log axis: 1, 10, 10², 10⁻³ at decades, none between them.

    pyqtgraph's own ("%0.1g") mixes 0.001 with 10⁻⁵ on one axis. When no decade is in view,
    every tick is labelled with two significant digits instead.
    """
    del spacing
    decades = [abs(v - round(v)) < 1e-9 for v in values]
    if not any(decades):
        return [f"{10.0 ** v * scale:.2g}" for v in values]
    out = []
    for v, is_decade in zip(values, decades, strict=True):
        k = round(v)
        if not is_decade:
            out.append("")
        elif k in (0, 1):
            out.append("1" if k == 0 else "10")
        else:
            out.append("10" + str(k).translate(_SUPERSCRIPT))
    return out


_NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten that is >=
    value (at most 25 % more): the right end of a followed x range."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    scale = 10.0 ** math.floor(math.log10(value))
    for m in _NICE:
        if m * scale >= value * (1 - 1e-12):
            return m * scale
    return 10.0 * scale


def _nice_step(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= value (> 0)."""
    scale = 10.0 ** math.floor(math.log10(value))
    for m in (1.0, 2.0, 2.5, 5.0):
        if m * scale >= value * (1 - 1e-12):
            return m * scale
    return 10.0 * scale


def quantized_range(lo: float, hi: float) -> tuple[float, float] | None:
    """[lo, hi] widened outward to multiples of a round step of about a quarter of its span,
    so that it changes only when the data crosses such a multiple (or changes scale)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return None
    span = hi - lo if hi > lo else (abs(hi) or 1.0)
    step = _nice_step(span / 4)
    a, b = math.floor(lo / step) * step, math.ceil(hi / step) * step
    return (a, b) if b > a else (a, a + step)


# A shown y range is kept while the data fills at least this share of it.
MIN_FILL = 0.35


def sticky_range(shown: tuple[float, float] | None, wanted: tuple[float, float] | None
                 ) -> tuple[float, float] | None:
    """The y range to show: `shown` while it holds `wanted` and `wanted` fills at least
    MIN_FILL of it; else both together, unless `wanted` would fill too little of that (the
    data's scale changed), then `wanted`. A range that only follows the data would change
    whenever an extreme crossed a quantum of `quantized_range`, and a falling learning rate
    or a noisy running accuracy does that several times a second early in a run."""
    if wanted is None or shown is None:
        return wanted
    (a, b), (c, d) = shown, wanted
    if a <= c and d <= b and d - c >= MIN_FILL * (b - a):
        return shown
    lo, hi = min(a, c), max(b, d)
    return (lo, hi) if d - c >= MIN_FILL * (hi - lo) else wanted


def data_extent(arrays: list[tuple[np.ndarray, np.ndarray]], log_y: bool,
                from_zero: bool = False
                ) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """(x range to the nice ceiling of the last x, quantized y range) of drawn data; with
    from_zero the y range starts at 0 (or ends there, for negative data)."""
    xs = [x for x, _ in arrays if len(x)]
    if not xs:
        return None, None
    first = min(float(np.min(x)) for x in xs)
    last = max(float(np.max(x)) for x in xs)
    ys = []
    for _, y in arrays:
        y = np.asarray(y, dtype=np.float64)
        if log_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.log10(y)
        y = y[np.isfinite(y)]
        if y.size:
            ys.append((float(y.min()), float(y.max())))
    if from_zero and ys:
        ys.append((0.0, 0.0))
    if not ys:
        y_range = None
    elif log_y:  # whole decades, as the bars: noisy norms gain or lose one rarely
        lo, hi = math.floor(min(a for a, _ in ys)), math.ceil(max(b for _, b in ys))
        y_range = (float(lo), float(max(hi, lo + 1)))
    else:
        y_range = quantized_range(min(a for a, _ in ys), max(b for _, b in ys))
    return (first, max(first + 1.0, nice_ceiling(last))), y_range


def clipped_exp(y: np.ndarray) -> np.ndarray:
    """exp(y) with the argument capped at MAX_EXP (a perplexity from a diverged loss)."""
    return np.exp(np.minimum(y, MAX_EXP))


def heat_levels(matrix: np.ndarray) -> tuple[float, float]:
    """Colour levels for log10 norms: the data range rounded out to half decades, so the
    colours stay put while the range moves a little during a run."""
    lo, hi = float(np.fmin.reduce(matrix, axis=None)), float(np.fmax.reduce(matrix, axis=None))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return -1.0, 0.0
    lo, hi = math.floor(lo * 2) / 2, math.ceil(hi * 2) / 2
    return (lo, hi) if hi > lo else (lo, lo + 0.5)
