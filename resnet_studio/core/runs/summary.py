"""A run as the runs table and the results panel describe it: durations, best epochs,
start times (Qt-free: the CLI can print the same texts)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from resnet_studio.core.runs.store import RunInfo


def format_duration(seconds: float | None) -> str:
    """h:mm:ss (— when unknown)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def format_best(best: Any) -> str:
    """`acc 0.973 @ ep 12`, or the validation loss when there is no accuracy."""
    if not isinstance(best, dict):
        return "—"
    epoch = best.get("epoch")
    at = f" @ ep {epoch}" if epoch is not None else ""
    if isinstance(best.get("accuracy"), (int, float)):
        return f"acc {best['accuracy']:.3f}{at}"
    if isinstance(best.get("loss"), (int, float)):
        return f"loss {best['loss']:.4f}{at}"
    return "—"


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def format_started(text: Any) -> str:
    """run.json's timestamp in local time, to the minute."""
    t = parse_time(text)
    if t is None:
        return str(text) if text else "—"
    return t.astimezone().strftime("%Y-%m-%d %H:%M")


def run_seconds(run: RunInfo) -> float | None:
    """Training time: run.json's `seconds`, or the time since the start of a running run."""
    seconds = run.meta.get("seconds")
    if isinstance(seconds, (int, float)):
        return float(seconds)
    started = parse_time(run.meta.get("started"))
    if run.status == "running" and started is not None:
        return (datetime.now(started.tzinfo) - started).total_seconds()
    return None


def hyperparameters(run: RunInfo) -> dict[str, Any]:
    """The settings a table of runs compares: `optimizer`, `learning_rate`, `weight_decay`,
    `schedule` (the learning-rate schedule's name), `batch_size`, `epochs` (planned),
    `dataset`, `params`, `test_accuracy`; None where run.json does not say (or says
    something of the wrong kind)."""
    m = run.meta
    config = m.get("config") if isinstance(m.get("config"), dict) else {}

    def number(value: Any, kind: type | tuple[type, ...]) -> Any:
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    test = m.get("test") if isinstance(m.get("test"), dict) else {}
    optimizer, schedule = config.get("optimizer"), config.get("schedule")
    return {"optimizer": optimizer if isinstance(optimizer, str) else None,
            "learning_rate": number(config.get("learning_rate"), (int, float)),
            "weight_decay": number(config.get("weight_decay"), (int, float)),
            "schedule": schedule if isinstance(schedule, str) else None,
            "batch_size": number(config.get("batch_size"), int),
            "epochs": number(config.get("epochs"), int),
            "dataset": m.get("dataset") if isinstance(m.get("dataset"), str) else None,
            "params": number(m.get("params"), int),
            "test_accuracy": number(test.get("accuracy"), (int, float))}


def format_learning_rate(value: float | None) -> str:
    """0.1, 0.003, 3e-05: short, and exact for the rates (and weight decays) people type."""
    return "—" if value is None else f"{value:.3g}"
