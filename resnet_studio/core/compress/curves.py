"""Sparsity/accuracy curves of a run from its pruned children, and pruning as a job.

A pruned run's run.json names its dense run in `parent` (prune.py), so a run's curve is read
from the run store: no extra file. Where the run is one of a plain-twin comparison (run.json
`compare`), the partner's curve comes along, for the GUI's Compress panel to overlay.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _same(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except OSError:  # pragma: no cover - realpath does not raise on Linux
        return str(a) == str(b)


def _accuracy(meta: dict[str, Any]) -> float | None:
    test = meta.get("test") or {}
    value = test.get("accuracy") if isinstance(test, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def sparsity_curve(run_dir: str | os.PathLike[str], runs: list[Any]) -> dict[str, Any]:
    """The dense accuracy of `run_dir` and one point per completed pruned child.

    Args:
        run_dir: The dense (parent) run.
        runs: The run store's runs (`core.runs.list_runs`), children among them.

    Returns:
        {"run_dir", "dense": accuracy or None, "points": [{"sparsity", "accuracy",
        "structured", "blocks", "run_dir", "size_bytes", "compressed_size_bytes"}]}
        (sizes: the pruned model's float32 TFLite file as recorded by prune.py, None for
        runs pruned before sizes were recorded), and "dense_sizes" (the parent's, as its
        children recorded it; None without any). with points sorted by sparsity (the measured
        share of zero kernel weights where recorded, else the requested one).
    """
    dense = next((_accuracy(r.meta) for r in runs if _same(r.dir, run_dir)), None)
    points = []
    for r in runs:
        parent, pruning = r.meta.get("parent"), r.meta.get("pruning")
        if not parent or not isinstance(pruning, dict) or not _same(parent, run_dir):
            continue
        acc = _accuracy(r.meta)
        if r.status != "completed" or acc is None:
            continue
        measured = (r.meta.get("sparsity") or {}).get("sparsity")
        blocks = list(pruning.get("blocks") or [])
        sizes = r.meta.get("sizes") or {}
        points.append({"sparsity": float(measured if measured is not None
                                         else pruning.get("sparsity", 0.0)),
                       "accuracy": acc, "structured": bool(pruning.get("structured")),
                       "blocks": blocks, "run_dir": str(r.dir),
                       "size_bytes": sizes.get("size_bytes"),
                       "compressed_size_bytes": sizes.get("compressed_size_bytes")})
    points.sort(key=lambda p: (p["sparsity"], p["run_dir"]))
    dense_sizes = next((r.meta["parent_sizes"] for r in runs
                        if isinstance(r.meta.get("parent_sizes"), dict)
                        and r.meta.get("parent") and _same(r.meta["parent"], run_dir)), None)
    return {"run_dir": str(run_dir), "dense": dense, "dense_sizes": dense_sizes,
            "points": points}


def curves_for(run: Any, runs: list[Any]) -> dict[str, dict[str, Any]]:
    """{"residual": curve, "plain": curve} for one run of a comparison (partner found), else
    {"run": curve}."""
    from resnet_studio.core.runs.pairs import pair_dirs, partner_exists

    pair = pair_dirs(run)
    if pair and all(partner_exists(d) for d in pair.values()):
        return {role: sparsity_curve(d, runs) for role, d in pair.items()}
    return {"run": sparsity_curve(run.dir, runs)}


def prune_job(run_dir: str, sparsities: list[float], structured: bool, fine_tune_epochs: int,
              state: Any) -> list[dict[str, Any]]:
    """Job function (core/jobs.py): prunes `run_dir` to each sparsity in turn, fine-tuning
    each as a new run. A stop ends the current fine-tuning (its run is kept, `stopped`) and
    skips the rest. Returns the outcomes' dicts."""
    from resnet_studio.core.compress.prune import ParentModel, prune_run

    state.progress(float("nan"), "Loading the run…")
    parent = ParentModel(Path(run_dir))
    out: list[dict[str, Any]] = []
    for i, s in enumerate(sparsities):
        if state.cancelled:
            break
        state.progress(i / len(sparsities), f"Pruning to {s:.0%} and fine-tuning…")
        outcome = prune_run(parent, s, structured=structured,
                            fine_tune_epochs=fine_tune_epochs,
                            started=lambda trainer: state.bind(stop=trainer.request_stop))
        out.append(outcome.to_dict())
        state.partial(outcome.to_dict())
    state.progress(1.0, "Done")
    return out
