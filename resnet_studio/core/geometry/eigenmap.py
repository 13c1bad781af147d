"""|λ_min/λ_max| of the Hessian mapped over the landscape's 2-D plane.

Li, Xu, Taylor, Studer, Goldstein. Visualizing the Loss Landscape of Neural Nets. NeurIPS
2018, arXiv:1712.09913, section 6 (figure 7 of the arXiv version): convexity is not judged
from the minimum alone; the ratio |λ_min/λ_max| of the Hessian's extreme eigenvalues is
mapped over the same filter-normalised plane θ* + α·δ + β·η as the loss surface. Near 0:
locally (near-)convex; large: significant negative curvature. They find ResNet-56
near-convex around its minimizer and the no-shortcut network with large non-convex regions.

Here the plane is sampled on a coarse `k × k` grid (odd, so θ* is its centre) over the same
[−span, span]² and the same directions δ, η as the loss surface. At every point the float64
copy of the model gives Hessian-vector products at θ* + α·δ + β·η (BatchNorm statistics
fixed at their trained values, as for the surface) and Lanczos (hessian.py) gives λ_max and
λ_min with their resolution. The budget per point is small (`steps` products on `samples`
examples): the map is a picture of the plane, the value at θ* alone is computed with the
study's full settings. Each ratio carries a resolution, propagated from the eigenvalues':
|λ_min/λ_max| lies within `error` of the value when both eigenvalues lie within theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_studio.core.geometry.hessian import LossFunction, lanczos_extremes
from resnet_studio.core.geometry.runmodel import CancelCheck, check_cancel, never

ARRAYS = ("axis", "lambda_max", "lambda_min", "lambda_max_error", "lambda_min_error", "steps",
          "converged")


@dataclass
class EigenMap:
    """The Hessian's extreme eigenvalues on a k × k grid of the landscape's plane.

    Index [i, j] is the point θ* + axis[i]·δ + axis[j]·η (the surface's convention).

    Attributes:
        axis: (k,) α and β values.
        lambda_max, lambda_min: (k, k) Lanczos extreme Ritz values.
        lambda_max_error, lambda_min_error: (k, k) their resolutions (hessian.Eigen.error).
        steps: (k, k) Hessian-vector products used.
        converged: (k, k) both Ritz residuals below the tolerance.
        samples: Training examples the Hessians are computed on.
        iterations: Lanczos steps allowed per point.
    """

    axis: np.ndarray
    lambda_max: np.ndarray
    lambda_min: np.ndarray
    lambda_max_error: np.ndarray
    lambda_min_error: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    samples: int
    iterations: int

    @property
    def ratio(self) -> np.ndarray:
        """|λ_min/λ_max| at every point (nan where λ_max is 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.lambda_max != 0, np.abs(self.lambda_min / self.lambda_max),
                            np.nan)

    @property
    def ratio_error(self) -> np.ndarray:
        """The ratio's resolution: the largest change of |λ_min/λ_max| when λ_max and λ_min
        move by their errors (inf where λ_max is not resolved from 0)."""
        r = self.ratio
        denominator = np.abs(self.lambda_max) - self.lambda_max_error
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator > 0,
                            (self.lambda_min_error + r * self.lambda_max_error) / denominator,
                            np.inf)

    @property
    def ratio_mean(self) -> float:
        return float(np.nanmean(self.ratio))

    @property
    def ratio_max(self) -> float:
        return float(np.nanmax(self.ratio))

    @property
    def negative_points(self) -> int:
        """Points with resolved negative curvature (λ_min < −its resolution)."""
        return int(np.sum(self.lambda_min < -self.lambda_min_error))

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to save (keys prefixed `eigen_`)."""
        return {f"eigen_{name}": np.asarray(getattr(self, name)) for name in ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], samples: int, iterations: int
                    ) -> EigenMap | None:
        """The map saved by `arrays()`, or None if there is none."""
        if "eigen_axis" not in arrays:
            return None
        return cls(**{name: np.asarray(arrays[f"eigen_{name}"]) for name in ARRAYS},
                   samples=int(samples), iterations=int(iterations))

    def to_json(self) -> dict[str, Any]:
        """The map's keys of the `landscape --json` line."""
        def grid(a: np.ndarray) -> list[list[float | None]]:
            return [[None if not np.isfinite(v) else float(v) for v in row] for row in a]

        return {"eigen_axis": [float(a) for a in self.axis], "eigen_map": grid(self.ratio),
                "eigen_map_error": grid(self.ratio_error),
                "eigen_map_lambda_max": grid(self.lambda_max),
                "eigen_map_lambda_min": grid(self.lambda_min),
                "eigen_ratio_mean": self.ratio_mean, "eigen_ratio_max": self.ratio_max,
                "eigen_map_negative_points": self.negative_points,
                "eigen_map_converged_points": int(np.sum(self.converged)),
                "eigen_map_samples": self.samples, "eigen_map_iterations": self.iterations}


def eigen_axis(points: int, span: float) -> np.ndarray:
    """The map's α (and β) values: `points` (odd) over [−span, span], 0 exactly in the middle."""
    axis = np.linspace(-span, span, points)
    axis[points // 2] = 0.0
    return axis


def eigen_map(fn: LossFunction, directions: tuple[list[np.ndarray], list[np.ndarray]],
              axis: np.ndarray, *, steps: int, tol: float, seed: int,
              cancel: CancelCheck = never,
              on_iteration: Callable[[int], None] | None = None) -> EigenMap:
    """Lanczos (hessian.lanczos_extremes) at θ* + a·δ + b·η for every a, b in `axis`.

    Args:
        fn: The loss whose Hessian is taken (a float64 copy: hessian.float64_loss); its
            trained weights are θ*.
        directions: (δ, η) in `fn`'s trainable-variable order.
        axis: The grid's α and β values.
        steps: Lanczos steps at most per point.
        tol: Lanczos's tolerance (relative to max|θ|).
        seed: The start vector's seed (the same at every point).
        cancel: Checked before every Hessian-vector product.
        on_iteration: Called after every product.
    """
    d1, d2 = ([np.asarray(d, np.float64) for d in ds] for ds in directions)
    k = len(axis)
    shape = (k, k)
    out = {name: np.zeros(shape) for name in ARRAYS[1:5]}
    used = np.zeros(shape, dtype=np.int64)
    converged = np.zeros(shape, dtype=bool)
    for i, a in enumerate(axis):
        for j, b in enumerate(axis):
            check_cancel(cancel)
            point = [w + a * u + b * v for w, u, v in zip(fn.trained, d1, d2, strict=True)]
            hi, lo = lanczos_extremes(fn.hvp_at(point), fn.size, steps=steps, tol=tol,
                                      seed=seed, cancel=cancel, on_iteration=on_iteration)
            out["lambda_max"][i, j], out["lambda_min"][i, j] = hi.value, lo.value
            out["lambda_max_error"][i, j] = hi.error
            out["lambda_min_error"][i, j] = lo.error
            used[i, j], converged[i, j] = hi.iterations, hi.converged and lo.converged
            if on_iteration is not None:  # a point that converged early: its unused steps
                for _ in range(steps - hi.iterations):
                    on_iteration(0)
    return EigenMap(axis=np.asarray(axis, np.float64), steps=used, converged=converged,
                    samples=int(np.asarray(fn.count)), iterations=steps, **out)
