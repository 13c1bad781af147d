"""Numbers of an experiment, read back from its run folders: per run, then per arm over seeds.

Everything is read from disk, so a resumed experiment summarises the arms it did not re-run
exactly like those it just trained.

`final_train_loss` is the mean training loss over the last completed epoch (the epoch
record), not the loss of the last batch: one batch of 128 examples is too noisy a number to
rank depths by. A run that ended before completing an epoch falls back to its last batch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

STATS = ("final_train_loss", "val_accuracy", "test_accuracy", "gradient_ratio")


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """One run's numbers (None where the run did not get that far)."""
    from resnet_studio.core.runs import read_metrics, read_run
    from resnet_studio.core.training.compare import gradient_ratio

    d = Path(run_dir)
    info = read_run(d)
    meta = info.meta
    epochs = [r for r in read_metrics(d) if r.get("kind") == "epoch"]
    last = epochs[-1] if epochs else {}
    loss = last.get("train_loss", meta.get("final_train_loss"))
    test = meta.get("test") or {}
    try:
        ratio = gradient_ratio(d)
    except (OSError, ValueError, KeyError):
        ratio = None
    return {"run_dir": str(d), "status": info.status,
            "final_train_loss": _finite(loss), "val_accuracy": _finite(last.get("val_accuracy")),
            "test_accuracy": _finite(test.get("accuracy")), "gradient_ratio": _finite(ratio),
            "params": meta.get("params"), "seconds": meta.get("seconds"),
            "epochs_completed": meta.get("epochs_completed", len(epochs)),
            "error": meta.get("error")}


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def mean_sd(values: list[float | None]) -> dict[str, Any]:
    """{"mean", "sd", "n"} over the values that exist; sd is the sample standard deviation
    (n - 1), 0 for a single value; mean and sd None when there is none."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"mean": None, "sd": None, "n": 0}
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return {"mean": m, "sd": sd, "n": len(xs)}


def arm_summary(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """An arm's entry of the --json line: its runs and mean ± sd over seeds.

    `seconds` is the mean wall time of one run; `statuses` lists each run's status (a failed
    run — e.g. a diverged one in the clipping experiment — is a result, not a crash).
    """
    params = next((r["params"] for r in runs if r.get("params") is not None), None)
    seconds = [r["seconds"] for r in runs if r.get("seconds") is not None]
    out: dict[str, Any] = {"name": name, "runs": [r["run_dir"] for r in runs],
                           "statuses": [r["status"] for r in runs], "params": params,
                           "seconds": round(sum(seconds) / len(seconds), 3) if seconds else None}
    for key in STATS:
        out[key] = mean_sd([r.get(key) for r in runs])
    return out


def format_table(arms: list[dict[str, Any]]) -> str:
    """A plain-text table of arm summaries (the CLI's closing table)."""

    def pm(s: dict[str, Any], fmt: str) -> str:
        if s.get("mean") is None:
            return "—"
        return f"{s['mean']:{fmt}} ± {s['sd']:{fmt}}"

    rows = [("arm", "train loss", "val acc", "test acc", "grad ratio", "params", "s/run")]
    for a in arms:
        rows.append((a["name"], pm(a["final_train_loss"], ".3f"),
                     pm(a["val_accuracy"], ".3f"), pm(a["test_accuracy"], ".3f"),
                     pm(a["gradient_ratio"], ".2e"),
                     f"{a['params']:,}" if a.get("params") is not None else "—",
                     f"{a['seconds']:.0f}" if a.get("seconds") is not None else "—"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                     for r in rows)
