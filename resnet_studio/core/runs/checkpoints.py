"""Checkpoints of a run: everything needed to continue training exactly where it stopped.

checkpoints/<name>/ holds model.weights.h5, optimizer.npz, random.npz (the seed generators
of dropout and drop-path layers) and state.json (epoch, step, batch in epoch); `<name>` is a
symlink to a `ckpt-STEP-*` folder, swapped atomically (save_checkpoint): a crash leaves the
old checkpoint or the new one named, whole.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.runs import diskio, layout
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
    """Weights + optimizer variables + random-generator states + training position.

    Written into `checkpoints/.partial-*`, fsync'd, renamed to `checkpoints/ckpt-STEP-*`, and
    then `checkpoints/last`, a symlink, is pointed at it by one atomic rename: at every
    instant `last` names a complete checkpoint (before, it was two renames of directories,
    and a kill between them left none named; issue 17). Then older checkpoints and leftovers
    of killed writes are removed. The free space is checked first (diskio.ensure_space).

    Raises:
        StoreWriteError: no space, or the folder is not writable; the previous checkpoint is
            kept.
    """
    ckpt_root = Path(run_dir) / layout.CHECKPOINTS
    link = ckpt_root / name
    with diskio.guarded(ckpt_root):
        ckpt_root.mkdir(parents=True, exist_ok=True)
        diskio.ensure_space(ckpt_root, _checkpoint_bytes(model), "the checkpoint")
        tmp = ckpt_root / f"{layout.PARTIAL_PREFIX}{secrets.token_hex(4)}"
        tmp.mkdir()
    try:
        with diskio.guarded(ckpt_root):
            model.save_weights(str(tmp / "model.weights.h5"))
            opt = model.optimizer
            arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(opt.variables)}
            np.savez(tmp / "optimizer.npz", **arrays)
            rng = _random_state_variables(model)
            np.savez(tmp / "random.npz", **{f"v{i:05d}": np.asarray(v.numpy())
                                            for i, v in enumerate(rng)})
            for f in ("model.weights.h5", "optimizer.npz", "random.npz"):
                diskio.fsync_file(tmp / f)
            write_json(tmp / "state.json", {**state, "optimizer_variables": len(arrays),
                                              "random_variables": [v.path for v in rng],
                                              "saved": now()})
            final = ckpt_root / f"{layout.CHECKPOINT_PREFIX}{int(state.get('step', 0)):09d}-" \
                                f"{secrets.token_hex(2)}"
            os.rename(tmp, final)
            diskio.fsync_dir(ckpt_root)
            _fault_point("checkpoint-swap")
            _point(link, final.name)
            diskio.fsync_dir(ckpt_root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    clean_checkpoints(run_dir)
    return link


def _point(link: Path, target: str) -> None:
    """Makes `link` a symlink to `target` with one atomic rename. A `last` that is still a
    real folder (written by an earlier version) is first renamed aside: the one moment
    without `last`, once per run, covered by `layout.checkpoint_dir`'s leftover search."""
    new = link.with_name(f".{link.name}-link-{secrets.token_hex(4)}")
    os.symlink(target, new)
    try:
        if link.is_dir() and not link.is_symlink():
            os.rename(link, link.with_name(f"{layout.CHECKPOINT_PREFIX}legacy-"
                                           f"{secrets.token_hex(2)}"))
        os.replace(new, link)
    except BaseException:
        new.unlink(missing_ok=True)
        raise


def clean_checkpoints(run_dir: str | os.PathLike[str]) -> None:
    """Removes what `last` does not name: older checkpoints, `.partial-*` folders of killed
    writes, leftovers of the earlier two-rename scheme. Only the run's owner calls this."""
    ckpt_root = Path(run_dir) / layout.CHECKPOINTS
    try:
        entries = list(os.scandir(ckpt_root))
    except OSError:
        return
    # Whatever a named link (last, or another name) points to stays.
    keep = {layout.checkpoint_dir(run_dir).resolve()}
    keep |= {Path(e.path).resolve() for e in entries
             if e.is_symlink() and not e.name.startswith(".")}
    for e in entries:
        p = Path(e.path)
        if e.name == layout.LAST_CHECKPOINT or p.resolve() in keep:
            continue
        if e.name.startswith((layout.CHECKPOINT_PREFIX, layout.PARTIAL_PREFIX, ".last-")):
            if e.is_symlink():
                p.unlink(missing_ok=True)
            elif e.is_dir():
                shutil.rmtree(p, ignore_errors=True)


def _checkpoint_bytes(model: Any) -> int:
    """About what a checkpoint of `model` takes: weights and optimizer state as float32
    arrays, plus HDF5 and npz overhead."""
    n = sum(int(np.prod(v.shape)) for v in model.weights)
    opt = getattr(model, "optimizer", None)
    if opt is not None and opt.built:
        n += sum(int(np.prod(v.shape)) for v in opt.variables)
    else:
        n *= 3  # Adam's two moments, not built yet
    return int(4 * n * 1.1) + 64 * 1024


_faults: dict[str, int] = {}


def _fault_point(point: str) -> None:
    """Test hook: `RESNET_STUDIO_FAULT=kill-at-POINT:N` SIGKILLs this process the N-th time
    it reaches `point` (tests/core/test_run_faults.py kills between a checkpoint's write
    and its swap). Unset, it costs one dictionary lookup."""
    spec = os.environ.get("RESNET_STUDIO_FAULT", "")
    if not spec.startswith(f"kill-at-{point}:"):
        return
    _faults[point] = _faults.get(point, 0) + 1
    if str(_faults[point]) == spec.rsplit(":", 1)[1]:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


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
    tmp = final.parent / f".initial-{secrets.token_hex(4)}.weights.h5"
    try:
        with diskio.guarded(final):
            final.parent.mkdir(parents=True, exist_ok=True)
            diskio.ensure_space(final.parent, _checkpoint_bytes(model) // 3, "the weights")
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
