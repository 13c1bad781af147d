"""Checkpoints of a run: everything needed to continue training exactly where it stopped.

checkpoints/<name>/ holds model.weights.h5, optimizer.npz, random.npz (the seed generators
of dropout and drop-path layers) and state.json (epoch, step, batch in epoch). A checkpoint
is written into a temporary folder and renamed into place: a crash leaves the old one or the
new one, whole.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.runs import layout
from resnet_studio.core.runs.jsonfile import now, write_json


def _random_state_variables(model: Any) -> list[Any]:
    """Variables of the model's layers that are not weights: the states of the seed
    generators of dropout and drop-path layers. `save_weights` leaves them out, yet a resumed
    run must continue their random streams to drop what the uninterrupted run would have."""
    weights = {id(w) for w in model.weights}
    seen: set[int] = set()
    out = []
    for layer in model.layers:
        for v in layer.variables:
            if id(v) not in weights and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out


def save_checkpoint(run_dir: Path, model: Any, state: dict[str, Any],
                    name: str = layout.LAST_CHECKPOINT) -> Path:
    """Weights + optimizer variables + random-generator states + training position,
    replaced atomically."""
    ckpt_root = layout.checkpoint_dir(run_dir, name).parent
    tmp = ckpt_root / f".{name}-{secrets.token_hex(4)}"
    tmp.mkdir(parents=True)
    try:
        model.save_weights(str(tmp / "model.weights.h5"))
        opt = model.optimizer
        arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(opt.variables)}
        np.savez(tmp / "optimizer.npz", **arrays)
        rng = _random_state_variables(model)
        np.savez(tmp / "random.npz", **{f"v{i:05d}": np.asarray(v.numpy())
                                        for i, v in enumerate(rng)})
        write_json(tmp / "state.json", {**state, "optimizer_variables": len(arrays),
                                          "random_variables": [v.path for v in rng],
                                          "saved": now()})
        final = ckpt_root / name
        old = ckpt_root / f".{name}-old"
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_checkpoint(ckpt: Path, model: Any) -> dict[str, Any]:
    """Restores weights and optimizer state saved by `save_checkpoint`; returns its state."""
    ckpt = Path(ckpt)
    opt = model.optimizer
    if not opt.built:  # built first, so the weights file's optimizer slots have a home
        opt.build(model.trainable_variables)
    model.load_weights(str(ckpt / "model.weights.h5"))
    with np.load(ckpt / "optimizer.npz") as data:
        values = [data[f"v{i:05d}"] for i in range(len(data.files))]
    if len(values) != len(opt.variables):
        raise ValueError(f"{ckpt}: optimizer state has {len(values)} variables, the optimizer "
                         f"{len(opt.variables)}; was the training configuration changed?")
    for var, value in zip(opt.variables, values, strict=True):
        var.assign(value)
    state = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
    rng = _random_state_variables(model)
    if (ckpt / "random.npz").exists():  # absent from checkpoints of earlier versions
        with np.load(ckpt / "random.npz") as data:
            values = [data[f"v{i:05d}"] for i in range(len(data.files))]
        # Matched by position and shape: their paths carry process-wide name counters.
        if [v.shape for v in values] == [tuple(var.shape) for var in rng]:
            for var, value in zip(rng, values, strict=True):
                var.assign(value)
    return state


INITIAL_WEIGHTS = "initial.weights.h5"  # in checkpoints/: the weights before the first step


def initial_weights_path(run_dir: str | os.PathLike[str]) -> Path:
    """checkpoints/initial.weights.h5 (it may not exist: runs made before it was saved)."""
    return Path(run_dir) / layout.CHECKPOINTS / INITIAL_WEIGHTS


def save_initial_weights(run_dir: Path, model: Any) -> Path:
    """Saves the model's weights before training as checkpoints/initial.weights.h5 (written to
    a temporary file, then renamed). The loss landscape draws the line from these weights to
    the trained ones (Goodfellow et al. 2015); they cost one copy of the weights."""
    final = initial_weights_path(run_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".initial-{secrets.token_hex(4)}.weights.h5"
    try:
        model.save_weights(str(tmp))
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def checkpoint_step(run_dir: str | os.PathLike[str], name: str = layout.LAST_CHECKPOINT
                    ) -> int:
    """The training step a checkpoint was saved at (0 when unknown or unreadable)."""
    try:
        state = json.loads((layout.checkpoint_dir(run_dir, name) / "state.json")
                           .read_text("utf-8"))
        return int(state.get("step", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0
