"""A shared start for several runs: the same initial weights wherever layers agree, and one
place to stop, pause and resume whichever run is training.

Arms of an experiment differ on purpose (a shortcut removed, more units, another
optimizer); everything else must be equal, or the comparison measures luck. Every run is
trained with the same seed, so its batch order is the same (the data pipelines depend only
on the seed and the epoch); and every layer an arm shares with an earlier arm, by name and
shapes, starts from the earlier arm's initial weights (`SharedStart`). Layers only one arm
has (a projection shortcut, the extra units of a deeper net, a ReZero gain) keep that arm's
own seeded initialisation and join the pool for the arms after it.

One exception is deliberate: a batch norm whose γ an arm initialises to zero
(`zero_init_residual`, Goyal et al. 2017) keeps its zeros; loading the other arms' ones
would undo the very thing the arm tests. Nor do those zeros join the pool: an arm without
the option (the plain twin, whose unit output a zero γ would silence for good) keeps its own
γ = 1. Batch-norm weights are constants at initialisation anyway (γ = 1, β = 0, mean 0,
variance 1), so no randomness is lost either way.

The plain-twin comparison (compare.py) is the two-arm case of an experiment
(core/experiments): the residual network, then its twin from the residual's start.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

Weights = dict[str, list[np.ndarray]]


def _keeps_own_start(layer: Any) -> bool:
    """True for a layer whose initial values are the arm's point (a zero-initialised γ)."""
    init = getattr(layer, "gamma_initializer", None)
    return type(init).__name__ == "Zeros" and "BatchNormalization" in type(layer).__name__


class SharedStart:
    """The pool of initial weights shared by the arms of one seed.

    Args:
        weights: Layer name -> initial weights (copies), e.g. read back from `load`.
    """

    def __init__(self, weights: Weights | None = None) -> None:
        self.weights: Weights = {k: [np.array(a, copy=True) for a in v]
                                 for k, v in (weights or {}).items()}

    def load_into(self, model: Any) -> list[str]:
        """Sets every layer of `model` found in the pool with equal shapes; returns their
        names (layers keeping their own start, see module docstring, are left alone)."""
        loaded = []
        for layer in model.layers:
            w = self.weights.get(layer.name)
            if w is None or _keeps_own_start(layer):
                continue
            if [a.shape for a in w] == [tuple(v.shape) for v in layer.weights]:
                layer.set_weights(w)
                loaded.append(layer.name)
        return loaded

    def add_from(self, model: Any) -> list[str]:
        """Adds `model`'s layers the pool does not hold yet (call before it trains), but
        not a zero-started γ (module docstring)."""
        added = []
        for layer in model.layers:
            if layer.weights and layer.name not in self.weights \
                    and not _keeps_own_start(layer):
                self.weights[layer.name] = [np.array(a, copy=True) for a in layer.get_weights()]
                added.append(layer.name)
        return added

    def share(self, model: Any) -> None:
        """`load_into` then `add_from`: what each arm does once its model is built."""
        self.load_into(model)
        self.add_from(model)

    # -- on disk, so an interrupted experiment resumes with the same start
    def save(self, path: str | Path) -> None:
        path = Path(path)
        arrays = {f"{name}/{i}": a for name, ws in self.weights.items()
                  for i, a in enumerate(ws)}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> SharedStart:
        path = Path(path)
        if not path.exists():
            return cls()
        weights: Weights = {}
        with np.load(path) as data:
            keys = sorted(data.files, key=lambda k: (k.rsplit("/", 1)[0],
                                                     int(k.rsplit("/", 1)[1])))
            for key in keys:
                name = key.rsplit("/", 1)[0]
                weights.setdefault(name, []).append(np.array(data[key]))
        return cls(weights)


class RunSequence:
    """Several trainers run one after the other; `request_stop()`, `pause()` and
    `resume()` may be called from any thread and act on the one training now.

    A stop ends the current run and skips those not yet started.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Any = None
        self._stop = False
        self._paused = False

    def request_stop(self) -> None:
        with self._lock:
            self._stop = True
            if self._current is not None:
                self._current.request_stop()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            if self._current is not None:
                self._current.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            if self._current is not None:
                self._current.resume()

    @property
    def stopped(self) -> bool:
        with self._lock:
            return self._stop

    def _attach(self, trainer: Any) -> bool:
        """Makes `trainer` the one control calls act on; False when already stopped."""
        with self._lock:
            if self._stop:
                return False
            self._current = trainer
            if self._paused:
                trainer.pause()
            return True

    def _detach(self) -> None:
        with self._lock:
            self._current = None
