"""The loss as a pure function of the weights, its Hessian-vector products, and the Hessian's
extreme eigenvalues (Lanczos in float64; power iteration kept for comparison).

The model is evaluated with `model.stateless_call(weights, statistics, x, training=False)`:
weights are tensors handed in, never assigned to the model's variables, so nothing a study
computes can change the run's model. BatchNorm runs in inference mode with the trained
running statistics (Li et al. 2018 keep them fixed as well).

Hessian-vector products are double backpropagation (Pearlmutter 1994): Hv = ∇(∇L · v), a
gradient tape around a gradient tape; Hv costs about two gradients and the Hessian itself is
never formed. The largest-magnitude eigenvalue comes from power iteration on H; the other end
of the spectrum from power iteration on the shifted matrix H − λ·I, whose dominant eigenvalue
is then λ_min − λ_max.

Why Lanczos in float64. Power iteration on H − λ_max·I converges at a rate set by λ_max, so
an eigenvalue near 0 is found only to about tol·λ_max; and a float32 Hessian-vector product
carries rounding noise of about 1e-7 to 1e-6·‖H‖, so *no* method resolves eigenvalues below
that on a float32 model. `float64_loss` rebuilds the run's model under the float64 dtype
policy (the trained float32 weights copied in exactly) and `lanczos_extremes` runs the
Lanczos iteration with full reorthogonalisation on its products (Golub, Van Loan, Matrix
Computations, 4th ed., sections 10.1–10.3). What it reports can be trusted as follows:

- a Ritz value θ with residual r = ‖Hy − θy‖ (y its unit Ritz vector) has an eigenvalue of H
  within r of it (the Bauer–Fike / Krylov–Weinstein bound for symmetric H);
- the smallest Ritz value is never below λ_min (Cauchy interlacing): θ_min < 0 proves
  negative curvature of at least |θ_min| even when θ_min has not converged to λ_min;
- the operator's own rounding is measured as its asymmetry |q_{j−1}·Hq_j − β_{j−1}| between
  consecutive Lanczos vectors, and no eigenvalue is claimed finer than that.

`Eigen.error` = max(residual, asymmetry): the resolution of the value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_studio.core.geometry.runmodel import CancelCheck, check_cancel, never

LOSS_CHUNK = 512  # examples per forward pass: bounds activation memory of large inputs


class LossFunction:
    """L(w) = mean cross-entropy of `model` on a fixed (x, y), as a function of the trainable
    weights w (a list of tensors in `model.trainable_variables` order).

    Args:
        model: A built keras.Model returning logits.
        x: Inputs of the fixed subset.
        y: Integer targets.
    """

    def __init__(self, model: Any, x: np.ndarray, y: np.ndarray) -> None:
        import tensorflow as tf

        self.model = model
        self.variables = list(model.trainable_variables)
        self.shapes = [tuple(v.shape) for v in self.variables]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.size = int(sum(self.sizes))
        self.statistics = [tf.convert_to_tensor(v.value) for v in model.non_trainable_variables]
        self.count = int(np.asarray(y).size)  # targets (tokens for a language model)
        self.chunks = [(tf.constant(x[i:i + LOSS_CHUNK]), tf.constant(y[i:i + LOSS_CHUNK]))
                       for i in range(0, len(x), LOSS_CHUNK)]
        self.trained = [np.asarray(v.numpy()) for v in self.variables]
        # float32 for the run's model, float64 for `float64_loss`'s rebuild
        self.dtype = tf.as_dtype(self.variables[0].dtype) if self.variables else tf.float32
        self._hvp_fn: Any = None
        self._trained_hvp: Callable[[np.ndarray], np.ndarray] | None = None

    def loss(self, weights: list[Any]) -> Any:
        """The mean loss (a scalar tensor) at `weights` (traceable)."""
        import keras
        import tensorflow as tf

        total = tf.constant(0.0, self.dtype)
        for xc, yc in self.chunks:
            logits, _ = self.model.stateless_call(weights, self.statistics, xc, training=False)
            ce = keras.losses.sparse_categorical_crossentropy(
                yc, tf.cast(logits, self.dtype), from_logits=True)
            total += tf.reduce_sum(ce)
        return total / tf.cast(self.count, self.dtype)

    # -- flat vectors <-> weight lists
    def flatten(self, tensors: list[Any]) -> np.ndarray:
        return np.concatenate([np.asarray(t, dtype=np.float64).reshape(-1) for t in tensors])

    def unflatten(self, flat: Any) -> list[Any]:
        import tensorflow as tf

        parts = tf.split(flat, self.sizes)
        return [tf.reshape(p, s) for p, s in zip(parts, self.shapes, strict=True)]

    def hvp(self, v: np.ndarray) -> np.ndarray:
        """H·v at the trained weights, H the Hessian of the loss (float64 in, float64 out;
        computed in the model's dtype)."""
        if self._trained_hvp is None:
            self._trained_hvp = self.hvp_at(None)
        return self._trained_hvp(v)

    def hvp_at(self, point: list[np.ndarray] | None) -> Callable[[np.ndarray], np.ndarray]:
        """v -> H(point)·v, the Hessian at `point` (weights in `trainable_variables` order;
        None: the trained weights). One traced function serves every point."""
        import tensorflow as tf

        if self._hvp_fn is None:

            @tf.function(reduce_retracing=True)
            def hvp_fn(w0: list[Any], v_flat: Any) -> Any:
                vs = self.unflatten(v_flat)
                with tf.GradientTape() as outer:
                    outer.watch(w0)
                    with tf.GradientTape() as inner:
                        inner.watch(w0)
                        loss = self.loss(w0)
                    grads = inner.gradient(loss, w0,
                                           unconnected_gradients=tf.UnconnectedGradients.ZERO)
                    gv = tf.add_n([tf.reduce_sum(g * vi) for g, vi in zip(grads, vs,
                                                                          strict=True)])
                hv = outer.gradient(gv, w0, unconnected_gradients=tf.UnconnectedGradients.ZERO)
                return tf.concat([tf.reshape(h, [-1]) for h in hv], axis=0)

            self._hvp_fn = hvp_fn
        np_dtype = self.dtype.as_numpy_dtype
        weights = self.trained if point is None else point
        if [tuple(np.shape(w)) for w in weights] != self.shapes:
            raise ValueError("the point's weights do not have the model's shapes")
        w0 = [tf.constant(np.asarray(w, dtype=np_dtype)) for w in weights]
        fn = self._hvp_fn

        def matvec(v: np.ndarray) -> np.ndarray:
            out = fn(w0, tf.constant(np.asarray(v).astype(np_dtype)))
            return np.asarray(out, dtype=np.float64)

        return matvec


def float64_loss(model: Any, spec: Any, binding: Any, x: np.ndarray, y: np.ndarray
                 ) -> LossFunction:
    """The loss of `model` (built from `spec` bound by `binding`) on (x, y), evaluated by a
    float64 copy of it: the architecture rebuilt under the float64 dtype policy, every
    weight and BatchNorm statistic copied in by layer name (float32 -> float64 is exact).
    The global dtype policy is restored afterwards."""
    import keras

    from resnet_studio.core.builder import build_model
    from resnet_studio.core.geometry.runmodel import copy_weights

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    try:
        twin = build_model(spec, binding).model
    finally:
        keras.config.set_dtype_policy(previous)
    copy_weights(model, twin)
    return LossFunction(twin, x, y)


@dataclass
class Eigen:
    """An eigenvalue estimate.

    Attributes:
        value: The estimate.
        iterations: Matrix-vector products used.
        converged: Whether the tolerance was met.
        error: Resolution: an eigenvalue of the matrix lies within this of `value` (Lanczos:
            max(Ritz residual, the operator's measured asymmetry); None for power iteration).
    """

    value: float
    iterations: int
    converged: bool
    error: float | None = None


def power_iteration(matvec: Callable[[np.ndarray], np.ndarray], n: int, *, shift: float = 0.0,
                    iterations: int = 100, tol: float = 1e-4, seed: int = 0,
                    cancel: CancelCheck = never,
                    on_iteration: Callable[[int], None] | None = None) -> Eigen:
    """The eigenvalue of largest magnitude of (A − shift·I), plus `shift`.

    Stops when the Rayleigh quotient changes by less than `tol` relative between two
    iterations and the residual ‖Av − λv‖ is below √tol·|λ|, or after `iterations`.
    """
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(n)
    v /= np.linalg.norm(v)
    lam = 0.0
    for i in range(1, iterations + 1):
        check_cancel(cancel)
        w = matvec(v) - shift * v
        new = float(v @ w)
        norm = float(np.linalg.norm(w))
        if on_iteration is not None:
            on_iteration(i)
        if norm == 0.0:
            return Eigen(shift, i, True)
        residual = float(np.linalg.norm(w - new * v))
        v = w / norm
        if i > 1 and abs(new - lam) <= tol * abs(new) and residual <= np.sqrt(tol) * abs(new):
            return Eigen(new + shift, i, True)
        lam = new
    return Eigen(lam + shift, iterations, False)


def extreme_eigenvalues(matvec: Callable[[np.ndarray], np.ndarray], n: int, *,
                        iterations: int = 100, tol: float = 1e-4, seed: int = 0,
                        cancel: CancelCheck = never,
                        on_iteration: Callable[[int], None] | None = None
                        ) -> tuple[Eigen, Eigen]:
    """(λ_max, λ_min) of the symmetric matrix behind `matvec`.

    Power iteration finds the eigenvalue of largest magnitude, one end of the spectrum; power
    iteration on A shifted by it finds the other end.
    """
    first = power_iteration(matvec, n, iterations=iterations, tol=tol, seed=seed,
                            cancel=cancel, on_iteration=on_iteration)
    second = power_iteration(matvec, n, shift=first.value, iterations=iterations, tol=tol,
                             seed=seed + 1, cancel=cancel, on_iteration=on_iteration)
    if first.value >= second.value:
        return first, second
    return second, first


def lanczos_extremes(matvec: Callable[[np.ndarray], np.ndarray], n: int, *, steps: int = 100,
                     tol: float = 1e-6, seed: int = 0, cancel: CancelCheck = never,
                     on_iteration: Callable[[int], None] | None = None
                     ) -> tuple[Eigen, Eigen]:
    """(λ_max, λ_min) of the symmetric matrix behind `matvec` by the Lanczos iteration with
    full reorthogonalisation (float64), stopped when the residuals of both extreme Ritz
    pairs are below `tol`·max|θ|, when the Krylov space is exhausted, or after `steps`
    products. Memory: `steps` + 1 vectors of length n.

    Each Eigen's `error` bounds the distance to an eigenvalue (see the module docstring);
    λ_min's value is, in addition, an upper bound on the true λ_min (interlacing).
    """
    steps = max(2, min(steps, n))
    rng = np.random.default_rng(seed)
    basis = np.empty((steps + 1, n))
    q = rng.standard_normal(n)
    basis[0] = q / np.linalg.norm(q)
    alphas: list[float] = []
    betas: list[float] = []
    asymmetry = 0.0
    hi = lo = Eigen(0.0, 0, False)
    for j in range(steps):
        check_cancel(cancel)
        w = np.array(matvec(basis[j]), dtype=np.float64)  # a writable copy
        if on_iteration is not None:
            on_iteration(j + 1)
        if j > 0:  # q_{j-1}·Hq_j should be β_{j-1} exactly: the difference is rounding
            asymmetry = max(asymmetry, abs(float(basis[j - 1] @ w) - betas[-1]))
        alpha = float(basis[j] @ w)
        alphas.append(alpha)
        w -= alpha * basis[j]
        if j > 0:
            w -= betas[-1] * basis[j - 1]
        for _ in range(2):  # full reorthogonalisation, twice is enough (Kahan, Parlett)
            w -= basis[:j + 1].T @ (basis[:j + 1] @ w)
        beta = float(np.linalg.norm(w))
        theta, vecs = _tridiagonal_eigen(alphas, betas)
        scale = max(abs(theta[0]), abs(theta[-1]), 1e-300)
        exhausted = beta <= 1e-12 * scale  # an invariant subspace: the Ritz values are exact
        res_hi, res_lo = (0.0, 0.0) if exhausted else (beta * abs(vecs[-1, -1]),
                                                       beta * abs(vecs[-1, 0]))
        done = exhausted or max(res_hi, res_lo) <= tol * scale
        hi = Eigen(float(theta[-1]), j + 1, bool(done), float(max(res_hi, asymmetry)))
        lo = Eigen(float(theta[0]), j + 1, bool(done), float(max(res_lo, asymmetry)))
        if done or j + 1 == steps:
            break
        betas.append(beta)
        basis[j + 1] = w / beta
    return hi, lo


def _tridiagonal_eigen(alphas: list[float], betas: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of the Lanczos tridiagonal matrix."""
    k = len(alphas)
    t = np.diag(np.asarray(alphas))
    if k > 1:
        off = np.asarray(betas[:k - 1])
        t += np.diag(off, 1) + np.diag(off, -1)
    return np.linalg.eigh(t)
