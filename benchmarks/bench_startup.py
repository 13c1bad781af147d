"""Start-up: from process start to the main window on screen, and to the first training step.

Each measurement starts a fresh process running the real entry point, `resnet-studio gui
PRESET` (`resnet_studio.cli:main`, as the console script calls it), with Qt offscreen. The
parent takes a monotonic timestamp just before it spawns the process; a small driver in the
child, run before the entry point, prints the same clock's time at each milestone:

  window     the main window's first paint has been done (the window is on screen)
  backend    TensorFlow is imported (the status bar says so; training can start)
  summary    the first Keras build of the open architecture is shown
  first_step the first training step's BatchEnd reached the GUI, after Train was pressed as
             soon as the backend was ready (train runs; window runs quit at `summary`)

The driver adds no work before the window: it wraps `MainWindow.show` to install an event
filter, then calls `resnet_studio.cli.main(["gui", PRESET])`. Those imports are the ones the
entry point makes anyway, in a different order. Cold start (first run after files were
read, bytecode compiled into a private PYTHONPYCACHEPREFIX folder, as pip does at install
time) and warm starts differ: the first run is reported separately, the target applies to
the median of the other runs.

Targets (issue: performance): window <= 1.5 s after process start; first training step of
resnet8-digits <= 10 s.

Usage:
  python benchmarks/bench_startup.py [--runs N] [--train-runs N] [--json] [--quiet]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, LoadSampler, machine_info, machine_line, report, table  # noqa: E402

WINDOW_S, FIRST_STEP_S = 1.5, 10.0
PRESET = "resnet8-digits"
TIMEOUT_S = 300

# Runs in the child before the entry point. Prints "@milestone <monotonic>" lines on stdout.
DRIVER = r"""
import sys, time
mode = sys.argv[1]
preset = sys.argv[2]

def mark(name):
    print(f"@{name} {time.monotonic():.6f}", flush=True)

from resnet_studio.gui import main_window as _mw

_show = _mw.MainWindow.show

def show(self):
    from PySide6.QtCore import QEvent, QObject, QTimer

    class Probe(QObject):
        painted = False

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and not self.painted:
                self.painted = True
                QTimer.singleShot(0, self, after_paint)  # after this paint cycle
            return False

    window = self

    def after_paint():
        mark("window")

    def on_backend(_info):
        mark("backend")
        if mode == "train":
            # The Training tab's view exists by now (made before the import started); asking
            # for it before the first paint would make it there and delay the window.
            window.training_view.panel.set_value("epochs", 1)
            window.training_view.run_finished.connect(lambda _f: quit_soon())
            window.start_training()
            window.training_view.session.event.connect(on_event)

    def on_summary(_result):
        if not getattr(window, "_bench_summary", False):
            window._bench_summary = True
            mark("summary")
            if mode == "window":
                quit_soon()

    def on_event(event):
        from resnet_studio.core.training.events import BatchEnd

        if isinstance(event, BatchEnd) and event.step == 1:
            mark("first_step")
            window.training_view.stop()

    def quit_soon():
        window.doc.undo_stack.setClean()
        window.close()

    probe = Probe(self)
    self.installEventFilter(probe)
    self.tf_loader.ready.connect(on_backend)
    self.summary_ready.connect(on_summary)
    _show(self)

_mw.MainWindow.show = show
from resnet_studio.cli import main
sys.exit(main(["gui", preset]))
"""


def run_once(mode: str, preset: str, home: Path, pycache: Path) -> dict[str, Any]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3",
               RESNET_STUDIO_HOME=str(home), PYTHONPYCACHEPREFIX=str(pycache))
    # An installed app has its bytecode compiled (pip does it); a source tree run with
    # PYTHONDONTWRITEBYTECODE compiles every module at every start (~0.2 s here). The
    # bytecode goes to a private folder: the first run compiles, later runs reuse it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", DRIVER, mode, preset], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    total = time.monotonic() - t0
    marks = {}
    for line in proc.stdout.splitlines():
        if line.startswith("@"):
            name, value = line[1:].split()
            marks[name] = round(float(value) - t0, 3)
    if "window" not in marks:
        raise RuntimeError(f"no window (exit {proc.returncode}): {proc.stderr[-2000:]}")
    if mode == "train" and "first_step" not in marks:
        raise RuntimeError(f"no first step (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return {**marks, "process_s": round(total, 2), "exit_code": proc.returncode}


def import_profile() -> list[tuple[str, float]]:
    """The slowest imports on the way to the window (`python -X importtime`, cumulative
    seconds, nested ones included in their parents), to say where start-up goes."""
    code = "import resnet_studio.cli.main, resnet_studio.gui.app"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((parts[2].strip(), int(parts[1]) / 1e6))
    return sorted(rows, key=lambda r: r[1], reverse=True)[:10]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="window start-ups (default 7)")
    parser.add_argument("--train-runs", type=int, default=3,
                        help="start-ups to the first training step (default 3)")
    parser.add_argument("--preset", default=PRESET, help=f"default {PRESET}")
    parser.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        if not args.quiet:
            print(f"[startup] {msg}", file=sys.stderr, flush=True)

    machine = machine_info()
    windows, trains = [], []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp, LoadSampler() as load:
        for i in range(args.runs):
            windows.append(run_once("window", args.preset, Path(tmp) / f"w{i}",
                                    Path(tmp) / "pycache"))
            log(f"window run {i + 1}/{args.runs}: {windows[-1]['window']:.2f} s")
        for i in range(args.train_runs):
            trains.append(run_once("train", args.preset, Path(tmp) / f"t{i}",
                                   Path(tmp) / "pycache"))
            log(f"train run {i + 1}/{args.train_runs}: window {trains[-1]['window']:.2f} s, "
                f"first step {trains[-1]['first_step']:.2f} s")
        imports = import_profile()

    def med(runs: list[dict[str, Any]], key: str) -> float | None:
        xs = [r[key] for r in runs if key in r]
        return round(statistics.median(xs), 3) if xs else None

    window_runs = windows + trains
    window_s = med(window_runs[1:] or window_runs, "window")
    first_step_s = med(trains, "first_step")
    failures = []
    if window_s is not None and window_s > WINDOW_S:
        failures.append(f"window {window_s:.2f} s > {WINDOW_S} s")
    if first_step_s is not None and first_step_s > FIRST_STEP_S:
        failures.append(f"first step {first_step_s:.2f} s > {FIRST_STEP_S} s")
    result = {"benchmark": "startup", "machine": machine, "load_during": load.summary(),
              "preset": args.preset, "window_s": window_s,
              "window_s_max": max((r["window"] for r in window_runs[1:]), default=None),
              "window_s_first_run": window_runs[0]["window"] if window_runs else None,
              "backend_s": med(window_runs, "backend"), "summary_s": med(window_runs, "summary"),
              "first_step_s": first_step_s,
              "first_step_s_max": max((r["first_step"] for r in trains), default=None),
              "runs": {"window": windows, "train": trains},
              "slowest_imports_s": imports,
              "targets": {"window_s": WINDOW_S, "first_step_s": FIRST_STEP_S},
              "passed": not failures, "failures": failures}
    return report(result, args.json, format_report)


def format_report(r: dict[str, Any]) -> str:
    def s(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f} s"

    rows = [("window on screen", s(r["window_s"]), f"<= {WINDOW_S} s",
             f"median of {len(r['runs']['window']) + len(r['runs']['train']) - 1} warm runs; "
             f"max {s(r['window_s_max'])}; first (cold) run {s(r['window_s_first_run'])}"),
            ("TensorFlow imported", s(r["backend_s"]), "-", "background thread; status bar"),
            ("first Keras summary", s(r["summary_s"]), "-", "model summary shown"),
            (f"first training step ({r['preset']})", s(r["first_step_s"]),
             f"<= {FIRST_STEP_S:.0f} s",
             f"Train pressed when TensorFlow was ready; max {s(r['first_step_s_max'])}")]
    imports = ", ".join(f"{name} {sec:.2f} s" for name, sec in r["slowest_imports_s"][:5])
    return "\n".join([table(("milestone (from process start)", "time", "target", "notes"), rows),
                      "", f"slowest imports before the window: {imports}",
                      machine_line(r["machine"], r["load_during"]),
                      "result: " + ("pass" if r["passed"] else "FAIL: " + "; ".join(r["failures"]))])


if __name__ == "__main__":
    sys.exit(main())
