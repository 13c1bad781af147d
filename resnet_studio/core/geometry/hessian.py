"""The loss as a pure function of the weights, its Hessian-vector products, and the Hessian's
extreme eigenvalues by power iteration.

The model is evaluated with `model.stateless_call(weights, statistics, x, training=False)`:
weights are tensors handed in, never assigned to the model's variables, so nothing a study
computes can change the run's model. BatchNorm runs in inference mode with the trained
running statistics (Li et al. 2018 keep them fixed as well).

Hessian-vector products are double backpropagation (Pearlmutter 1994): Hv = ∇(∇L · v), a
gradient tape around a gradient tape; Hv costs about two gradients and the Hessian itself is
never formed. The largest-magnitude eigenvalue comes from power iteration on H; the other end
of the spectrum from power iteration on the shifted matrix H − λ·I, whose dominant eigenvalue
is then λ_min − λ_max (Li et al. 2018, section 7).
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
        self._hvp_fn: Any = None

    def loss(self, weights: list[Any]) -> Any:
        """The mean loss (a scalar tensor) at `weights` (traceable)."""
        import keras
        import tensorflow as tf

        total = tf.constant(0.0, tf.float32)
        for xc, yc in self.chunks:
            logits, _ = self.model.stateless_call(weights, self.statistics, xc, training=False)
            ce = keras.losses.sparse_categorical_crossentropy(
                yc, tf.cast(logits, tf.float32), from_logits=True)
            total += tf.reduce_sum(ce)
        return total / float(self.count)

    # -- flat vectors <-> weight lists
    def flatten(self, tensors: list[Any]) -> np.ndarray:
        return np.concatenate([np.asarray(t, dtype=np.float64).reshape(-1) for t in tensors])

    def unflatten(self, flat: Any) -> list[Any]:
        import tensorflow as tf

        parts = tf.split(flat, self.sizes)
        return [tf.reshape(p, s) for p, s in zip(parts, self.shapes, strict=True)]

    def hvp(self, v: np.ndarray) -> np.ndarray:
        """H·v at the trained weights, H the Hessian of the loss (float64 in, float64 out)."""
        import tensorflow as tf

        if self._hvp_fn is None:
            w0 = [tf.constant(w) for w in self.trained]

            @tf.function(reduce_retracing=True)
            def hvp_fn(v_flat: Any) -> Any:
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
        out = self._hvp_fn(tf.constant(v.astype(np.float32)))
        return np.asarray(out, dtype=np.float64)


@dataclass
class Eigen:
    """An eigenvalue estimate: value, iterations used, whether the tolerance was met."""

    value: float
    iterations: int
    converged: bool


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
