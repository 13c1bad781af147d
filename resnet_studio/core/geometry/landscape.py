"""Loss landscape of a trained run: filter-normalised slices, the initial-to-trained line and
the Hessian's extreme eigenvalues (Lanczos on a float64 copy of the model: hessian.py).

Li, Xu, Taylor, Studer, Goldstein. Visualizing the Loss Landscape of Neural Nets. NeurIPS
2018. arXiv:1712.09913. The loss is plotted at θ* + α·δ + β·η around the trained weights θ*,
along random Gaussian directions δ, η that are *filter-normalised*: every filter of the
direction is rescaled to the norm of the same filter of θ*, so that the scale invariance of
ReLU networks with BatchNorm does not distort the picture. Biases and normalisation
parameters (every weight of rank < 2) get 0 in the direction; a "filter" is one output unit,
the last axis of a Keras kernel (a Conv2D's (kh, kw, in, out) has `out` filters, a Dense
layer's (in, out) `out` neurons). BatchNorm uses the trained running statistics, fixed.

Goodfellow, Vinyals, Saxe. Qualitatively Characterizing Neural Network Optimization Problems.
ICLR 2015. arXiv:1412.6544: the loss on the straight line θ(t) = (1 − t)·θ₀ + t·θ* from the
initial weights θ₀ (saved at the start of every run) to the trained ones, t ∈ [−0.5, 1.5].
The BatchNorm statistics stay the trained ones along the line.

The loss is the mean cross-entropy (no weight decay) on a fixed, seeded subset of the
training split. A result is saved as geometry/landscape-<key>.npz in the run folder, <key> a
digest of the settings and the checkpoint's step, written to a temporary file and renamed;
a cancelled study writes nothing.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.geometry.eigenmap import EigenMap, eigen_axis, eigen_map
from resnet_studio.core.geometry.hessian import LossFunction, float64_loss, lanczos_extremes
from resnet_studio.core.geometry.runmodel import (
    CancelCheck,
    Progress,
    RunModel,
    atomic_save_npz,
    check_cancel,
    load_npz,
    never,
    no_progress,
    open_run,
    results_dir,
    settings_key,
    split_arrays,
)

LI_2018 = ("Li, Xu, Taylor, Studer, Goldstein. Visualizing the Loss Landscape of Neural Nets. "
           "NeurIPS 2018. arXiv:1712.09913")
GOODFELLOW_2015 = ("Goodfellow, Vinyals, Saxe. Qualitatively Characterizing Neural Network "
                   "Optimization Problems. ICLR 2015. arXiv:1412.6544")
CIRCLE_POINTS = 16
FORMAT = 2  # 2: eigenvalues by float64 Lanczos, with their resolution


@dataclass(frozen=True)
class LandscapeSettings:
    """What a landscape study computes.

    Attributes:
        grid: Points per axis of the 2-D slice (odd, so that the trained point is on it).
        span: The slices cover α, β ∈ [−span, span].
        samples: Training examples the loss is computed on.
        seed: Seeds the directions, the subset and the power iterations.
        hessian: Compute λ_max and λ_min.
        radius: Radius of the circle on which the loss rise is measured (default span / 2).
        hessian_samples: Examples for the Hessian (default min(samples, 512)).
        iterations: Lanczos steps (Hessian-vector products) at most.
        tol: Lanczos stops when both extreme Ritz residuals are below tol·|λ_max|.
        eigen_grid: Points per axis of the |λ_min/λ_max| map over the same plane (odd;
            0: no map). See eigenmap.py.
        eigen_iterations: Lanczos steps at most at each point of the map.
        eigen_samples: Examples for the map's Hessians (default min(hessian samples, 128)).
    """

    grid: int = 21
    span: float = 1.0
    samples: int = 1024
    seed: int = 0
    hessian: bool = True
    radius: float | None = None
    hessian_samples: int | None = None
    iterations: int = 200
    tol: float = 1e-5
    eigen_grid: int = 0
    eigen_iterations: int = 30
    eigen_samples: int | None = None

    def __post_init__(self) -> None:
        if self.eigen_grid != 0 and (self.eigen_grid < 3 or self.eigen_grid % 2 == 0):
            raise ValueError(f"eigen_grid must be 0 (no map) or an odd number >= 3 (the "
                             f"trained point is the centre), got {self.eigen_grid}")
        if self.grid < 3 or self.grid % 2 == 0:
            raise ValueError(f"grid must be an odd number >= 3 (the trained point is the "
                             f"centre), got {self.grid}")
        if not self.span > 0 or not self.samples >= 1:
            raise ValueError(f"span must be > 0 and samples >= 1, got {self.span}, "
                             f"{self.samples}")

    @property
    def ring(self) -> float:
        return self.span / 2 if self.radius is None else float(self.radius)

    @property
    def hessian_n(self) -> int:
        return self.hessian_samples or min(self.samples, 512)

    @property
    def eigen_n(self) -> int:
        return self.eigen_samples or min(self.hessian_n, 128)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key_dict(self) -> dict[str, Any]:
        """What the cache key digests: without a map, the settings as they were before maps
        existed (so that results cached then are still found)."""
        d = self.to_dict()
        if not self.eigen_grid:
            for name in ("eigen_grid", "eigen_iterations", "eigen_samples"):
                d.pop(name)
        return d


@dataclass
class LandscapeResult:
    """What a landscape study found (see the module docstring)."""

    run_dir: str
    settings: LandscapeSettings
    examples: int
    axis: np.ndarray  # (grid,) α and β values
    surface: np.ndarray  # (grid, grid) loss at θ* + axis[i]·δ + axis[j]·η
    center_loss: float
    center_accuracy: float
    radius: float
    radius_loss_rise: float  # mean loss on the circle of `radius`, minus the centre's
    lambda_max: float | None
    lambda_min: float | None
    eigen_converged: bool | None
    line_t: np.ndarray | None  # initial (t = 0) -> trained (t = 1)
    line_loss: np.ndarray | None
    residual: bool
    file: str
    seconds: float
    cached: bool = False
    lambda_max_error: float | None = None  # an eigenvalue lies within this of lambda_max
    lambda_min_error: float | None = None  # ... of lambda_min (see hessian.py)
    eigen_map: EigenMap | None = None  # |λ_min/λ_max| over the plane (eigenmap.py)

    @property
    def slice1d(self) -> np.ndarray:
        """The 1-D slice along δ (β = 0): the middle column of the surface."""
        return self.surface[:, self.settings.grid // 2]

    @property
    def eigen_ratio(self) -> float | None:
        if self.lambda_max is None or self.lambda_min is None or self.lambda_max == 0:
            return None
        return abs(self.lambda_min / self.lambda_max)

    @property
    def lambda_min_resolved(self) -> bool | None:
        """λ_min is distinguishable from 0: |λ_min| is larger than its resolution."""
        if self.lambda_min is None or self.lambda_min_error is None:
            return None
        return abs(self.lambda_min) > self.lambda_min_error

    @property
    def line_start(self) -> int:
        return int(np.argmin(np.abs(self.line_t))) if self.line_t is not None else 0

    @property
    def line_end(self) -> int:
        return int(np.argmin(np.abs(self.line_t - 1.0))) if self.line_t is not None else 0

    def to_json(self) -> dict[str, Any]:
        """The `resnet-studio landscape --json` object."""
        s = self.settings
        return {"run_dir": self.run_dir, "grid": s.grid, "span": s.span,
                "center_loss": self.center_loss, "radius_loss_rise": self.radius_loss_rise,
                "lambda_max": self.lambda_max, "lambda_min": self.lambda_min,
                "eigen_ratio": self.eigen_ratio, "file": self.file,
                "seconds": round(self.seconds, 3), "radius": self.radius,
                "samples": self.examples, "residual": self.residual, "cached": self.cached,
                "eigen_converged": self.eigen_converged,
                "lambda_max_error": self.lambda_max_error,
                "lambda_min_error": self.lambda_min_error,
                "lambda_min_resolved": self.lambda_min_resolved,
                "eigen_grid": s.eigen_grid,
                **(self.eigen_map.to_json() if self.eigen_map is not None else
                   {"eigen_map": None, "eigen_ratio_mean": None, "eigen_ratio_max": None})}


def filter_normalized_direction(weights: list[np.ndarray], rng: np.random.Generator
                                ) -> list[np.ndarray]:
    """A random Gaussian direction, each filter rescaled to the norm of the weights' filter
    (Li et al. 2018, eq. 1); zero for every weight of rank < 2 (biases, normalisation)."""
    out = []
    for w in weights:
        w64 = np.asarray(w, dtype=np.float64)
        if w64.ndim < 2:
            out.append(np.zeros_like(w64, dtype=np.float32))
            continue
        d = rng.standard_normal(w64.shape)
        axes = tuple(range(w64.ndim - 1))
        d_norm = np.sqrt((d * d).sum(axis=axes, keepdims=True))
        w_norm = np.sqrt((w64 * w64).sum(axis=axes, keepdims=True))
        out.append((d * (w_norm / np.where(d_norm > 0, d_norm, 1.0))).astype(np.float32))
    return out


def cache_path(run: RunModel, settings: LandscapeSettings) -> Path:
    key = settings_key({**settings.key_dict(), "step": run.step, "format": FORMAT})
    return results_dir(run.run_dir) / f"landscape-{key}.npz"


def landscape_study(run_dir: str | os.PathLike[str], settings: LandscapeSettings | None = None,
                    *, progress: Progress = no_progress, cancel: CancelCheck = never,
                    use_cache: bool = True, run: RunModel | None = None) -> LandscapeResult:
    """Computes (or reads from the run folder) the landscape of a run.

    Raises:
        GeometryError: the run cannot be studied.
        Cancelled: `cancel()` returned True; nothing was written.
    """
    import tensorflow as tf

    t0 = time.time()
    settings = settings or LandscapeSettings()
    run = run or open_run(run_dir)
    path = cache_path(run, settings)
    if use_cache and path.is_file():
        try:
            return _from_file(path)
        except (OSError, ValueError, KeyError):
            pass  # an unreadable cache is recomputed
    x, y = split_arrays(run.data, "train", settings.samples, settings.seed)
    fn = LossFunction(run.model, x, y)
    rng = np.random.default_rng(settings.seed)
    directions = (filter_normalized_direction(fn.trained, rng),
                  filter_normalized_direction(fn.trained, rng))
    if settings.eigen_grid:
        base = _cached_without_map(run, settings) if use_cache else None
        if base is not None:  # the same surface and directions: only the map is new
            return _add_map(run, base, settings, directions, x, y, path, t0, progress, cancel)
    d1, d2 = ([tf.constant(d) for d in ds] for ds in directions)
    w0 = [tf.constant(w) for w in fn.trained]

    @tf.function(reduce_retracing=True)
    def loss_at(a: Any, b: Any) -> Any:
        return fn.loss([w + a * u + b * v for w, u, v in zip(w0, d1, d2, strict=True)])

    initial = _initial_weights(run)
    g = settings.grid
    line_n = 2 * g - 1 if initial is not None else 0
    hess_total = settings.iterations if settings.hessian else 0
    total = g * g + CIRCLE_POINTS + line_n + hess_total + _map_steps(settings)
    done = 0

    def step(what: str, n: int = 1) -> None:
        nonlocal done
        done += n
        progress(min(done, total), total, what)

    axis = np.linspace(-settings.span, settings.span, g)
    axis[g // 2] = 0.0
    surface = np.empty((g, g))
    for i, a in enumerate(axis):
        for j, b in enumerate(axis):
            check_cancel(cancel)
            surface[i, j] = float(loss_at(tf.constant(a, tf.float32), tf.constant(b, tf.float32)))
            step("2-D slice")
    center = float(surface[g // 2, g // 2])
    ring = []
    for k in range(CIRCLE_POINTS):
        check_cancel(cancel)
        phi = 2 * math.pi * k / CIRCLE_POINTS
        ring.append(float(loss_at(tf.constant(settings.ring * math.cos(phi), tf.float32),
                                  tf.constant(settings.ring * math.sin(phi), tf.float32))))
        step("loss on the circle")
    line_t = line_loss = None
    if initial is not None:
        line_t = np.linspace(-0.5, 1.5, line_n)
        start = [tf.constant(w) for w in initial]

        @tf.function(reduce_retracing=True)
        def loss_on_line(t: Any) -> Any:
            return fn.loss([(1.0 - t) * a + t * b for a, b in zip(start, w0, strict=True)])

        line_loss = np.empty(line_n)
        for k, t in enumerate(line_t):
            check_cancel(cancel)
            line_loss[k] = float(loss_on_line(tf.constant(t, tf.float32)))
            step("initial -> trained line")
    lam_max = lam_min = converged = err_max = err_min = None
    if settings.hessian:
        from resnet_studio.core.training.trainer import binding_for

        check_cancel(cancel)
        hfn = float64_loss(run.model, run.trainer.spec, binding_for(run.data.info),
                           x[:settings.hessian_n], y[:settings.hessian_n])
        hi, lo = lanczos_extremes(hfn.hvp, hfn.size, steps=settings.iterations,
                                  tol=settings.tol, seed=settings.seed, cancel=cancel,
                                  on_iteration=lambda _i: step("Hessian eigenvalues"))
        lam_max, lam_min, converged = hi.value, lo.value, hi.converged and lo.converged
        err_max, err_min = hi.error, lo.error
    emap = None
    if settings.eigen_grid:
        emap = _compute_map(run, settings, directions, x, y, cancel,
                            lambda: step("|λ_min/λ_max| map"))
    logits = run.model(x[:2048], training=False)
    accuracy = float(np.mean(np.argmax(np.asarray(logits), -1) == np.asarray(y[:2048])))
    result = LandscapeResult(
        str(run.run_dir), settings, int(len(x)), axis, surface, center, accuracy,
        settings.ring, float(np.mean(ring)) - center, lam_max, lam_min, converged, line_t,
        line_loss, run.residual, str(path), time.time() - t0, lambda_max_error=err_max,
        lambda_min_error=err_min, eigen_map=emap)
    check_cancel(cancel)
    _save(path, result)
    progress(total, total, "saved")
    return result


def _map_steps(settings: LandscapeSettings) -> int:
    return settings.eigen_grid ** 2 * settings.eigen_iterations


def _compute_map(run: RunModel, settings: LandscapeSettings,
                 directions: tuple[list[np.ndarray], list[np.ndarray]], x: np.ndarray,
                 y: np.ndarray, cancel: CancelCheck, step: Any) -> EigenMap:
    """The |λ_min/λ_max| map on the first `eigen_n` examples of the subset (float64)."""
    from resnet_studio.core.training.trainer import binding_for

    check_cancel(cancel)
    n = settings.eigen_n
    hfn = float64_loss(run.model, run.trainer.spec, binding_for(run.data.info), x[:n], y[:n])
    return eigen_map(hfn, directions, eigen_axis(settings.eigen_grid, settings.span),
                     steps=settings.eigen_iterations, tol=settings.tol, seed=settings.seed,
                     cancel=cancel, on_iteration=lambda _i: step())


def _cached_without_map(run: RunModel, settings: LandscapeSettings) -> LandscapeResult | None:
    """The cached result of the same settings without a map, if any."""
    path = cache_path(run, replace(settings, eigen_grid=0))
    try:
        return _from_file(path) if path.is_file() else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _add_map(run: RunModel, base: LandscapeResult, settings: LandscapeSettings,
             directions: tuple[list[np.ndarray], list[np.ndarray]], x: np.ndarray,
             y: np.ndarray, path: Path, t0: float, progress: Progress,
             cancel: CancelCheck) -> LandscapeResult:
    """`base` (a cached study of the same plane) with the map computed and saved."""
    total, done = _map_steps(settings), 0

    def step() -> None:
        nonlocal done
        done += 1
        progress(min(done, total), total, "|λ_min/λ_max| map")

    emap = _compute_map(run, settings, directions, x, y, cancel, step)
    result = replace(base, settings=settings, file=str(path), cached=False, eigen_map=emap,
                     seconds=time.time() - t0)
    check_cancel(cancel)
    _save(path, result)
    progress(total, total, "saved")
    return result


def _initial_weights(run: RunModel) -> list[np.ndarray] | None:
    """The run's trainable weights before training, or None (runs made before they were
    saved). Loaded into the rebuilt model, read, and the trained weights put back."""
    from resnet_studio.core.runs.checkpoints import initial_weights_path

    path = initial_weights_path(run.run_dir)
    if not path.is_file():
        return None
    model = run.trainer.model
    keep = [np.asarray(v.numpy()) for v in model.weights]
    try:
        with warnings.catch_warnings():  # saved before the optimizer had any slot: expected
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(str(path))
        return [np.asarray(v.numpy()) for v in run.model.trainable_variables]
    finally:
        for v, value in zip(model.weights, keep, strict=True):
            v.assign(value)


def _save(path: Path, r: LandscapeResult) -> None:
    arrays = {"axis": r.axis, "surface": r.surface}
    if r.line_t is not None:
        arrays.update(line_t=r.line_t, line_loss=r.line_loss)
    if r.eigen_map is not None:
        arrays.update(r.eigen_map.arrays())
    meta = {k: getattr(r, k) for k in r.__dataclass_fields__
            if k not in ("axis", "surface", "line_t", "line_loss", "settings", "cached",
                         "eigen_map")}
    meta["settings"] = r.settings.to_dict()
    meta["format"] = FORMAT
    atomic_save_npz(path, arrays, meta)


def _from_file(path: Path) -> LandscapeResult:
    arrays, meta = load_npz(path)
    settings = LandscapeSettings(**meta.pop("settings"))
    meta.pop("format", None)
    emap = EigenMap.from_arrays(arrays, settings.eigen_n, settings.eigen_iterations)
    return LandscapeResult(settings=settings, axis=arrays["axis"], surface=arrays["surface"],
                           line_t=arrays.get("line_t"), line_loss=arrays.get("line_loss"),
                           cached=True, eigen_map=emap, **meta)


def load_landscape(path: str | os.PathLike[str]) -> LandscapeResult:
    """A saved landscape result."""
    return _from_file(Path(path))


def newest_landscape(run_dir: str | os.PathLike[str]) -> LandscapeResult | None:
    """The most recently saved landscape of a run (any settings) in the current format, else
    the most recent of an older one (its eigenvalues without a resolution), or None.
    Unreadable files are passed over."""
    files = sorted(results_dir(Path(run_dir)).glob("landscape-*.npz"),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    older = None
    for path in files:
        try:
            current = load_npz(path)[1].get("format") == FORMAT
            result = _from_file(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if current:
            return result
        older = older or result
    return older
