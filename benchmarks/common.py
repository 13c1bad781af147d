"""Helpers shared by the performance benchmarks (bench_overhead, bench_gui, bench_startup).

Not a benchmark itself (`make bench` runs `bench_*.py` only). Each script records the
machine it ran on and the load around it, prints a table, or with `--json` one JSON line as
the last stdout line, and exits 1 when a target is missed.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info() -> dict[str, Any]:
    """CPU model and count, load, library versions: what the numbers were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    versions = {}
    for dist in ("tensorflow", "keras", "PySide6-Essentials", "pyqtgraph", "resnet-studio"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {"cpu_model": model or platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "cpus_usable": usable,
            "load_average": load_average(), "python": platform.python_version(),
            "platform": platform.platform(), "tensorflow": versions["tensorflow"],
            "keras": versions["keras"], "pyside6": versions["PySide6-Essentials"],
            "pyqtgraph": versions["pyqtgraph"], "resnet_studio": versions["resnet-studio"],
            "git_commit": git_commit(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def git_commit() -> str | None:
    try:  # read-only
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


class LoadSampler:
    """Samples the 1-minute load average every `period` seconds in a daemon thread, so a
    result can say how busy the machine was while it was measured (not just before)."""

    def __init__(self, period: float = 5.0) -> None:
        self.period = period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        load = load_average()
        if load:
            self.samples.append(load[0])

    def _run(self) -> None:
        self._sample()
        while not self._stop.wait(self.period):
            self._sample()

    def summary(self) -> dict[str, Any]:
        s = self.samples
        return {"load1_min": min(s) if s else None, "load1_max": max(s) if s else None,
                "load1_mean": round(statistics.fmean(s), 2) if s else None,
                "load_samples": len(s)}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation (numpy's default)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: columns padded to their widest cell, a rule under the head."""
    cells = [list(head), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    lines.insert(1, "-" * max(len(x) for x in lines))
    return "\n".join(lines)


def machine_line(m: dict[str, Any], during: dict[str, Any] | None = None) -> str:
    """One line naming the machine and the load (at start and, if sampled, during)."""
    text = (f"machine: {m['cpu_model']} ({m['cpus_usable']} of {m['cpu_count']} CPUs usable); "
            f"load average at start {m['load_average']}")
    if during and during.get("load_samples"):
        text += (f", 1-min load during the run {during['load1_min']}–{during['load1_max']} "
                 f"(mean {during['load1_mean']})")
    return (text + f"; TensorFlow {m['tensorflow']}, Keras {m['keras']}, PySide6 "
            f"{m['pyside6']}, pyqtgraph {m['pyqtgraph']}, Python {m['python']}")


def report(result: dict[str, Any], as_json: bool, format_report: Callable[[dict], str]) -> int:
    """Prints the result (one JSON line with ``--json``, else its table) and returns the exit
    code: 0 when ``result["passed"]``, 1 when a target was missed."""
    print(json.dumps(result) if as_json else format_report(result), flush=True)
    return 0 if result["passed"] else 1
