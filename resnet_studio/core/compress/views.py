"""The Compress panel's two computed views, as job functions (core/jobs.py).

- **Branch removal** (`branch_removal_job`): the residual units are ranked by the damage of
  deleting each alone (the lesion study of Veit et al. 2016, arXiv:1605.06431, on the
  validation split, as `prune --blocks` ranks them), then deleted cumulatively, least
  damaging first, and the test accuracy measured after each deletion, with no retraining.
  A residual unit's branch goes and its shortcut stays; a plain unit is replaced by the
  identity where its output has its input's shape (the others cannot be removed at all:
  the plain network has no other path). Run on a residual run and its plain twin, this is
  the issue's point in one plot: residual networks can lose blocks that plain networks
  cannot. Pruned runs made with `prune --blocks` (fine-tuned) come along as extra points.
- **Quantization** (`quantization_job`): the run exported to TFLite as float32, dynamic-range,
  float16 and full-integer int8 (quantize.py), each measured by the interpreter: file size
  (plain and gzipped), test accuracy against the Keras model's, latency. The run's model,
  checkpoint and data are loaded once for the four (`quantize.LoadedRun`), and the Keras
  accuracy evaluated once.

Both check for a stop between two measurements (an export or a model evaluation is not
interrupted midway) and stream each finished piece with `state.partial`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from resnet_studio.core.jobs import JobCancelled

QUANT_MODES: tuple[tuple[str, str | None], ...] = (
    ("float32", None), ("dynamic", "dynamic"), ("float16", "float16"), ("int8", "int8"))


def _rank_split(data: Any) -> str:
    return "validation" if data.info.sizes.get("validation", 0) > 0 else "train"


def removal_curve(run_dir: str | os.PathLike[str], state: Any) -> dict[str, Any]:
    """Test accuracy with the k least damaging removable units deleted, k = 0 … all.

    Returns:
        {"run_dir", "residual", "rank_split", "ranked": [{"unit", "drop"}] (single-unit
        accuracy drop on the ranking split, least first), "skipped": units that cannot be
        removed, "points": [{"k", "removed": [units], "accuracy"}] (test split)}.
    """
    from resnet_studio.core.geometry.lesion import lesion_model
    from resnet_studio.core.geometry.runmodel import open_run, split_arrays

    run = open_run(run_dir)
    lm = lesion_model(run)
    split = _rank_split(run.data)
    xr, yr = split_arrays(run.data, split)
    xt, yt = split_arrays(run.data, "test")
    units = lm.removable
    total = 2 + 2 * len(units)
    done = 0

    def evaluate(removed: list[str], x: Any, y: Any) -> float:
        nonlocal done
        if state.cancelled:
            raise JobCancelled("Stopped.")
        lm.set_removed(removed)
        done += 1
        state.progress(done / total, f"{Path(run_dir).name}: {len(removed)} unit(s) removed")
        return float(lm.evaluate(x, y)[1])

    base_rank = evaluate([], xr, yr)
    drops = {u: base_rank - evaluate([u], xr, yr) for u in units}
    ranked = sorted(units, key=lambda u: (drops[u], u))
    points = [{"k": k, "removed": ranked[:k], "accuracy": evaluate(ranked[:k], xt, yt)}
              for k in range(len(ranked) + 1)]
    lm.set_removed(())
    return {"run_dir": str(run_dir), "residual": bool(run.residual), "rank_split": split,
            "ranked": [{"unit": u, "drop": drops[u]} for u in ranked],
            "skipped": list(lm.skipped), "points": points}


def _fine_tuned_points(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """`prune --blocks` children of a run: (branches removed, fine-tuned test accuracy)."""
    from resnet_studio.core.compress.curves import sparsity_curve
    from resnet_studio.core.runs import list_runs

    curve = sparsity_curve(run_dir, list_runs(Path(run_dir).parent))
    return [{"k": len(p["blocks"]), "removed": p["blocks"], "accuracy": p["accuracy"],
             "run_dir": p["run_dir"]} for p in curve["points"] if p["blocks"]]


def branch_removal_job(runs: dict[str, str], state: Any) -> dict[str, dict[str, Any]]:
    """Job: `removal_curve` of each run of {role: run folder} ("run", or "residual" and
    "plain"), plus its fine-tuned `prune --blocks` children under "fine_tuned"."""
    out: dict[str, dict[str, Any]] = {}
    for role, run_dir in runs.items():
        curve = removal_curve(run_dir, state)
        curve["fine_tuned"] = _fine_tuned_points(run_dir)
        out[role] = curve
        state.partial({role: curve})
    return out


def quantization_job(run_dir: str, state: Any) -> list[dict[str, Any]]:
    """Job: the run exported as float32, dynamic, float16 and int8 TFLite, each measured
    (`export_tflite_run`); rows streamed as they finish. A mode the model cannot be
    converted to gets a row {"mode", "error"}. A stop ends it between exports, returning the
    rows measured so far."""
    from resnet_studio.core.compress.quantize import (
        LoadedRun,
        QuantizationError,
        export_tflite_run,
    )
    from resnet_studio.core.export import ExportError
    from resnet_studio.core.runs import read_run

    info = read_run(run_dir)
    loaded = LoadedRun(info)  # the model, its checkpoint and the data: loaded once
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="quantize-") as tmp:
        for i, (label, mode) in enumerate(QUANT_MODES):
            if state.cancelled:
                break
            state.progress(i / len(QUANT_MODES), f"Exporting and measuring {label}…")
            try:
                r = export_tflite_run(info, Path(tmp) / f"{label}.tflite", mode,
                                      loaded=loaded)
            except (ExportError, QuantizationError) as e:
                # One mode this model cannot take (int8 of a token model, an op TFLite
                # lacks): say so in its row and measure the others.
                row = {"mode": label, "error": str(e)}
                rows.append(row)
                state.partial(row)
                continue
            row = {"mode": label, "size_bytes": r["size_bytes"],
                   "compressed_size_bytes": r["compressed_size_bytes"],
                   "float32_size_bytes": r["float32_size_bytes"],
                   "accuracy": r["accuracy"], "reference_accuracy": r["reference_accuracy"],
                   "latency_ms": r["latency_ms"], "latency_p90_ms": r["latency_p90_ms"]}
            rows.append(row)
            state.partial(row)
    state.progress(1.0, "Done" if len(rows) == len(QUANT_MODES) else "Stopped")
    return rows
