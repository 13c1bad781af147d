"""Cost of the per-layer weight and activation histograms recorded at every epoch end.

Trains `resnet8-digits` with the real Trainer (`Trainer.run()`, the path the CLI and the GUI
take) and times `HistogramCallback.on_epoch_end` in place: the histograms of every layer's
kernel, one forward pass of the probe batch through the model that taps each layer's output,
the run record appended with fsync, and the TensorBoard event. The first epoch also builds
that model, traces its predict function and reads the probe batch; it is reported on its own.

Result: the callback's median time over epochs 2..N, the median epoch time (from
metrics.jsonl: training, validation, the callbacks), and `overhead_pct`, the callback's
share of an epoch. Target: a median <= 100 ms per epoch for resnet8-digits (19 layers). Its
epochs are tiny (41 steps, ~0.5 s), so that is ~5-15 % of one; on a dataset of real size the
same ~20-70 ms vanish in epochs of minutes.

Usage:
  python benchmarks/bench_histograms.py [--epochs N] [--preset NAME] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info, machine_line, table  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
TARGET_MS = 100.0


def measure(preset: str, epochs: int) -> dict[str, float]:
    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.runs import read_metrics
    from resnet_studio.core.runs.histograms import read_histograms
    from resnet_studio.core.training import histograms
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig

    times: list[float] = []
    original = histograms.HistogramCallback.on_epoch_end

    def timed(self, epoch, logs=None):  # noqa: ANN001 - Keras's signature
        t0 = time.perf_counter()
        original(self, epoch, logs)
        times.append(time.perf_counter() - t0)

    histograms.HistogramCallback.on_epoch_end = timed
    try:
        spec = load_preset(preset)
        cfg = TrainingConfig.from_sources(spec.training, {"epochs": epochs})
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = Path(tmp) / "run"
            result = Trainer(spec, spec.dataset or "digits", cfg, run_dir=run_dir,
                             preset=preset).run()
            if result.status != "completed":
                raise SystemExit(f"the run did not complete: {result.error}")
            seconds = [r["seconds"] for r in read_metrics(run_dir) if r.get("kind") == "epoch"]
            layers = len(read_histograms(run_dir)[-1].layers)
    finally:
        histograms.HistogramCallback.on_epoch_end = original
    later = times[1:] or times
    epoch_s = statistics.median(seconds[1:] or seconds)
    callback_ms = statistics.median(later) * 1000
    return {"layers": layers, "epochs": epochs, "first_epoch_ms": times[0] * 1000,
            "callback_ms": callback_ms, "epoch_ms": epoch_s * 1000,
            "overhead_pct": 100 * callback_ms / (epoch_s * 1000 - callback_ms)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--preset", default="resnet8-digits")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    machine = machine_info()
    r = measure(args.preset, args.epochs)
    ok = r["callback_ms"] <= TARGET_MS
    if args.json:
        print(json.dumps({"preset": args.preset, **r, "target_ms": TARGET_MS, "ok": ok,
                          "machine": machine}))
    else:
        print(machine_line(machine))
        print(table(("preset", "layers", "1st epoch ms", "per epoch ms", "epoch ms",
                     "overhead", "target"),
                    [(args.preset, str(r["layers"]), f"{r['first_epoch_ms']:.0f}",
                      f"{r['callback_ms']:.1f}", f"{r['epoch_ms']:.0f}",
                      f"{r['overhead_pct']:.1f} %", f"<= {TARGET_MS:.0f} ms")]))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
