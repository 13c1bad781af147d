"""Compression benchmark: what pruning and integer quantization do to resnet8-digits.

Everything goes through the real command line in subprocesses, with a fresh temporary runs
folder:

1. `train resnet8-digits --json` with the preset's defaults (and, unless --no-twin, its plain
   twin `--no-residual`, same seed and settings);
2. `prune RUN --sparsity 0.5,0.8,0.9 --schedule gradual --fine-tune-epochs 5 --json` on each
   (global magnitude pruning of single weights, the sparsity rising along Zhu & Gupta's
   cubic over the first half of the fine-tuning); on the residual run also `--structured`
   (whole filters) and `--blocks 1,2` (whole residual branches), 3 epochs each;
3. `export RUN --format tflite [--quantize int8|float16|dynamic] [--per-tensor] --json` of
   the dense residual run: file size (plain and gzipped), test accuracy by the TFLite
   interpreter, latency (one example, one thread, median of 200); float32 and int8 of the
   80 %-pruned residual run too (pruning and quantization together);
4. the Compress panel's branch-removal curve (core/compress/views.py) of each dense run.

Targets (issue: compression lab):
  80 % unstructured sparsity, fine-tuned:  test accuracy >= dense - 1 point
  int8 TFLite (`--quantize int8`: per-channel weight scales, TFLite's default):  file <= 30 %
      of the float32 TFLite file, test accuracy >= Keras - 1 point (per-tensor beside it)

Usage:
  python benchmarks/bench_compression.py [--no-twin] [--json] [--quiet] [--keep DIR]

Exit 0 when every target is met, 1 when one is missed (or a command fails). With --json the
last stdout line is one JSON object {"machine", "dense", "curves", "tflite", "removal",
"targets", "passed"}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, LoadSampler, machine_info, machine_line, table  # noqa: E402

# The console script's call under this interpreter (see bench_accuracy.py).
CLI = [sys.executable, "-c", "import sys; from resnet_studio.cli import main; sys.exit(main())"]
PRESET = "resnet8-digits"
SPARSITIES = "0.5,0.8,0.9"
FINE_TUNE_EPOCHS = 5
STRUCTURED_EPOCHS = 3
MAX_DROP = 0.01  # one point of test accuracy
MAX_INT8_SIZE = 0.30


def studio(args: list[str], runs: Path, quiet: bool) -> dict[str, Any]:
    """Runs one `resnet-studio ... --json` command; returns its last stdout line."""
    env = dict(os.environ, RESNET_STUDIO_HOME=str(runs.parent), TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.monotonic()
    proc = subprocess.run([*CLI, *args, "--json"], env=env, capture_output=True, text=True,
                          cwd=REPO)
    seconds = time.monotonic() - t0
    if not quiet:
        print(f"  resnet-studio {' '.join(args)}  ({seconds:.0f} s)", file=sys.stderr)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"resnet-studio {' '.join(args)} exited {proc.returncode}: "
                           f"{proc.stderr.strip()[-1500:]}")
    out = json.loads(lines[-1])
    out["wall_seconds"] = round(seconds, 1)
    return out


def removal_curve(run_dir: Path, quiet: bool) -> dict[str, Any]:
    """core/compress/views.py's branch-removal curve (the Compress panel's Branches tab),
    computed in a subprocess like the commands above."""
    code = ("import json, sys; from resnet_studio.core.jobs import JobState; "
            "from resnet_studio.core.compress.views import removal_curve; "
            "print(json.dumps(removal_curve(sys.argv[1], JobState())))")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, str(run_dir)], env=env,
                          capture_output=True, text=True, cwd=REPO)
    if not quiet:
        print(f"  removal curve of {run_dir.name}  ({time.monotonic() - t0:.0f} s)",
              file=sys.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"removal curve of {run_dir}: {proc.stderr.strip()[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-twin", action="store_true", help="skip the plain twin's curve")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--keep", metavar="DIR",
                    help="write the runs and exports to DIR (kept) instead of a temporary "
                         "folder, e.g. to open them in the app's Compress panel")
    args = ap.parse_args(argv)
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-compression-") as scratch, \
            LoadSampler() as load:
        tmp = args.keep or scratch
        runs = Path(tmp) / "runs"
        dense = {"residual": studio(["train", PRESET, "--run-dir", str(runs / "residual")],
                                    runs, args.quiet)}
        if not args.no_twin:
            dense["plain"] = studio(["train", PRESET, "--no-residual", "--run-dir",
                                     str(runs / "plain")], runs, args.quiet)
        if "plain" in dense:  # linked as a comparison: the Compress panel overlays them
            from resnet_studio.core.runs.pairs import pair_meta
            from resnet_studio.core.runs.store import update_meta

            update_meta(runs / "residual", **pair_meta("residual", runs / "plain"))
            update_meta(runs / "plain", **pair_meta("plain", runs / "residual"))
        curves = {}
        for role in dense:
            curves[role] = studio(["prune", str(runs / role), "--sparsity", SPARSITIES,
                                   "--schedule", "gradual",
                                   "--fine-tune-epochs", str(FINE_TUNE_EPOCHS)], runs,
                                  args.quiet)
        curves["residual-filters"] = studio(
            ["prune", str(runs / "residual"), "--sparsity", "0.25,0.5", "--structured",
             "--fine-tune-epochs", str(STRUCTURED_EPOCHS)], runs, args.quiet)
        curves["residual-branches"] = studio(
            ["prune", str(runs / "residual"), "--blocks", "1,2",
             "--fine-tune-epochs", str(STRUCTURED_EPOCHS)], runs, args.quiet)
        tflite = {}
        for mode in ("none", "dynamic", "float16", "int8", "int8-per-tensor"):
            q = {"none": [], "int8-per-tensor": ["--quantize", "int8", "--per-tensor"]}.get(
                mode, ["--quantize", mode])
            tflite[mode] = studio(["export", str(runs / "residual"), "--format", "tflite",
                                   "--out", str(Path(tmp) / f"model-{mode}.tflite"), *q],
                                  runs, args.quiet)
        # Pruning and quantization together: the 80 %-pruned residual run, float32 and int8.
        pruned80 = next(r["run_dir"] for r in curves["residual"]["results"]
                        if r["sparsity"] == 0.8)
        for mode in ("none", "int8"):
            q = [] if mode == "none" else ["--quantize", mode]
            tflite[f"pruned80-{mode}"] = studio(
                ["export", pruned80, "--format", "tflite",
                 "--out", str(Path(tmp) / f"pruned80-{mode}.tflite"), *q], runs, args.quiet)
        removal = {role: removal_curve(runs / role, args.quiet) for role in dense}
    targets = check(curves, tflite)
    result = {"machine": machine, "load_during": load.summary(), "dense": dense,
              "curves": curves, "tflite": tflite, "removal": removal, "targets": targets,
              "passed": all(t["passed"] for t in targets)}
    report(result)
    if args.json:
        print(json.dumps(result))
    return 0 if result["passed"] else 1


def check(curves: dict[str, Any], tflite: dict[str, Any]) -> list[dict[str, Any]]:
    res = curves["residual"]
    dense = res["dense"]["accuracy"]
    at80 = next(r for r in res["results"] if r["sparsity"] == 0.8)
    int8 = tflite["int8"]  # what `--quantize int8` gives: per-channel weight scales
    ratio = int8["size_bytes"] / int8["float32_size_bytes"]
    return [
        {"target": "80 % unstructured, fine-tuned: accuracy >= dense - 1 point",
         "value": f"{at80['accuracy']:.4f} vs dense {dense:.4f}",
         "passed": at80["accuracy"] >= dense - MAX_DROP},
        {"target": "int8 TFLite file <= 30 % of float32",
         "value": f"{int8['size_bytes']:,} / {int8['float32_size_bytes']:,} B = {ratio:.1%}",
         "passed": ratio <= MAX_INT8_SIZE},
        {"target": "int8 TFLite accuracy >= Keras model - 1 point",
         "value": f"{int8['accuracy']:.4f} vs {int8['reference_accuracy']:.4f}",
         "passed": int8["accuracy"] >= int8["reference_accuracy"] - MAX_DROP},
        {"target": "80 %-pruned float32 TFLite, gzipped, smaller than the dense one's",
         "value": f"{at80['compressed_size_bytes']:,} vs "
                  f"{res['dense']['compressed_size_bytes']:,} B "
                  f"({at80['compressed_size_bytes'] / res['dense']['compressed_size_bytes']:.1%})",
         "passed": at80["compressed_size_bytes"] < res["dense"]["compressed_size_bytes"]},
    ]


def _kb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1000:,.1f}"


def report(r: dict[str, Any]) -> None:
    print(machine_line(r["machine"], r["load_during"]))
    rows = []
    for role, curve in r["curves"].items():
        d = curve["dense"]
        rows.append([role, "0 (dense)", "-", f"{d['accuracy']:.4f}", "-",
                     _kb(d.get("size_bytes")), _kb(d.get("compressed_size_bytes")),
                     _kb(d.get("checkpoint_compressed_size_bytes"))])
        for x in curve["results"]:
            what = f"{x['sparsity']:g}" + (" filters" if x["structured"] else "")
            if x.get("blocks"):
                what = f"-{len(x['blocks'])} branches ({', '.join(x['blocks'])})"
            rows.append([role, what,
                         f"{x['accuracy_before_fine_tune']:.4f}", f"{x['accuracy']:.4f}",
                         f"{x['measured_sparsity']:.4f}", _kb(x.get("size_bytes")),
                         _kb(x.get("compressed_size_bytes")),
                         _kb(x.get("checkpoint_compressed_size_bytes"))])
    print(f"\nPruning (global magnitude, gradual over {FINE_TUNE_EPOCHS} fine-tuning epochs; "
          f"filters and branches: one-shot, {STRUCTURED_EPOCHS} epochs; test split; sizes in "
          "kB: float32 TFLite plain and gzipped, checkpoint gzipped)")
    print(table(["run", "sparsity", "acc before fine-tuning", "acc fine-tuned",
                 "measured sparsity", "tflite kB", "tflite gz kB", "ckpt gz kB"], rows))
    rows = []
    for mode, t in r["tflite"].items():
        b = t["size_breakdown"]
        rows.append([mode if mode != "none" else "float32", f"{t['size_bytes']:,}",
                     f"{t['compressed_size_bytes']:,}",
                     f"{t['size_bytes'] / t['float32_size_bytes']:.1%}", f"{t['accuracy']:.4f}",
                     f"{t['reference_accuracy']:.4f}", f"{t['latency_ms']:.3f}",
                     f"{t['latency_p90_ms']:.3f}",
                     f"{b['buffers']:,} / {b['quantization']:,} / {b['structure']:,}"])
    print("\nTFLite (resnet8-digits residual; accuracy by the interpreter on the test split; "
          "latency: one example, one thread; bytes: buffers / quantization parameters / "
          "structure)")
    print(table(["model", "bytes", "gzip bytes", "of float32", "accuracy", "Keras accuracy",
                 "median ms", "p90 ms", "breakdown"], rows))
    rows = []
    for role, c in r["removal"].items():
        for p in c["points"]:
            rows.append([role, str(p["k"]), ", ".join(p["removed"]) or "-",
                         f"{p['accuracy']:.4f}"])
        if c["skipped"]:
            rows.append([role, "-", f"cannot remove: {', '.join(c['skipped'])}", "-"])
    print("\nBranch removal at test time (least damaging first by the validation split's "
          "lesion drop; no retraining; test accuracy)")
    print(table(["run", "units removed", "which", "accuracy"], rows))
    print("\nTargets")
    print(table(["target", "measured", "met"],
                [[t["target"], t["value"], "yes" if t["passed"] else "NO"]
                 for t in r["targets"]]))

if __name__ == "__main__":
    sys.exit(main())
