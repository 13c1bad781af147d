"""Accuracy benchmark of the training engine: shipped presets against published targets.

Each case is one `resnet-studio train PRESET --dataset NAME --json` run, launched through the
real command line in a subprocess (a fresh temporary run folder each), with the preset's own
training defaults. The wall-clock time is measured around the subprocess, so it is what a user
waits for (Python and TensorFlow start-up, data preparation, training, the test evaluation);
the run's own `seconds` (training loop + evaluation, as recorded in run.json) is reported too.
Time limits are checked against the wall-clock time.

Targets (issue: training engine), against the MNIST-1D paper (Greydanus 2020,
arXiv:2011.14439: CNN 94%, GRU 91%, MLP 68%, human 96%):

  resnet1d-mnist1d      on mnist1d  >= 98% test accuracy, < 5 min on a 2-core CPU
  residual-gru-mnist1d  on mnist1d  >= 91% (the paper's GRU)
  resnet8-digits        on digits   >= 97%, < 1 min
  bert-tiny             on stdlib-docs >= 60% (the majority class is 21%)

Usage:
  python benchmarks/bench_accuracy.py [--only NAME] [--json] [--quiet]

Exit code 0 when every case meets its targets, 1 when one misses (or its run fails).
With --json the last stdout line is one JSON object: {"machine": ..., "cases": [...],
"passed": bool}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, machine_info  # noqa: E402

# The `resnet-studio` console script is `resnet_studio.cli:main` (pyproject.toml); this is the
# same call under the running interpreter, so the benchmark works from any virtualenv without
# relying on the script being on PATH (`-m resnet_studio.cli.main` would import main twice).
CLI = [sys.executable, "-c", "import sys; from resnet_studio.cli import main; sys.exit(main())"]


@dataclass(frozen=True)
class Case:
    name: str
    preset: str
    dataset: str
    min_accuracy: float
    max_seconds: float | None
    reference: str


CASES = (
    Case("resnet1d-mnist1d", "resnet1d-mnist1d", "mnist1d", 0.98, 300.0,
         "MNIST-1D paper: CNN 94%, human 96%"),
    Case("residual-gru-mnist1d", "residual-gru-mnist1d", "mnist1d", 0.91, None,
         "MNIST-1D paper: GRU 91%"),
    Case("resnet8-digits", "resnet8-digits", "digits", 0.97, 60.0,
         "sklearn digits (8x8, 1,797 images)"),
    # Text classification from scratch on the built-in stdlib-docs set (8 areas). The
    # majority class (concurrency) is 21% of the test split: "well above" it is >= 60%.
    Case("bert-tiny", "bert-tiny", "stdlib-docs", 0.60, None,
         "majority class 21%; BERT-Tiny size (Turc et al. 2019)"),
)


def run_case(case: Case, quiet: bool = False) -> dict[str, Any]:
    """Trains one preset through the CLI and checks the result against the case's targets."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory(prefix=f"bench-{case.name}-") as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [*CLI, "train", case.preset, "--dataset", case.dataset, "--json",
               "--run-dir", str(run_dir)]
        print(f"[bench] {case.name}: resnet-studio train {case.preset} --dataset "
              f"{case.dataset} --json", file=sys.stderr, flush=True)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE if quiet else None, text=True)
        wall = time.perf_counter() - start
    result = _last_json_line(proc.stdout)
    test = result.get("test") or {}
    accuracy = test.get("accuracy")
    failures = []
    if proc.returncode != 0 or result.get("status") != "completed":
        failures.append(f"run {result.get('status') or 'failed'} (exit {proc.returncode})"
                        + (f": {result.get('error')}" if result.get("error") else ""))
        if quiet and proc.stderr:
            sys.stderr.write(proc.stderr[-4000:])
    if not isinstance(accuracy, (int, float)):
        failures.append("no test accuracy")
    elif accuracy < case.min_accuracy:
        failures.append(f"accuracy {accuracy:.4f} < {case.min_accuracy}")
    if case.max_seconds is not None and wall > case.max_seconds:
        failures.append(f"wall-clock {wall:.0f}s > {case.max_seconds:.0f}s")
    return {"name": case.name, "preset": case.preset, "dataset": case.dataset,
            "status": result.get("status"), "exit_code": proc.returncode,
            "accuracy": accuracy, "target_accuracy": case.min_accuracy,
            "wall_seconds": round(wall, 1), "run_seconds": result.get("seconds"),
            "limit_seconds": case.max_seconds, "params": result.get("params"),
            "epochs": result.get("epochs_completed"), "device": result.get("device"),
            "reference": case.reference, "passed": not failures, "failures": failures}


def _last_json_line(stdout: str) -> dict[str, Any]:
    lines = [ln for ln in (stdout or "").splitlines() if ln.strip()]
    if not lines:
        return {}
    try:
        obj = json.loads(lines[-1])
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def format_table(machine: dict[str, Any], cases: list[dict[str, Any]]) -> str:
    head = ("case", "accuracy", "target", "wall s", "run s", "limit s", "params", "result")
    rows = [head]
    for c in cases:
        acc = c["accuracy"]
        rows.append((
            c["name"],
            f"{acc:.2%}" if isinstance(acc, (int, float)) else "-",
            f">= {c['target_accuracy']:.0%}",
            f"{c['wall_seconds']:.1f}",
            f"{c['run_seconds']:.1f}" if isinstance(c["run_seconds"], (int, float)) else "-",
            f"{c['limit_seconds']:.0f}" if c["limit_seconds"] is not None else "-",
            f"{c['params']:,}" if isinstance(c["params"], int) else "-",
            "pass" if c["passed"] else "FAIL: " + "; ".join(c["failures"]),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True))
             + "  " + r[-1] for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    m = machine
    lines.append("")
    lines.append(f"machine: {m['cpu_model']} ({m['cpus_usable']} of {m['cpu_count']} CPUs "
                 f"usable, load average at start {m['load_average']}); TensorFlow "
                 f"{m['tensorflow']}, Keras {m['keras']}, Python {m['python']}; device "
                 f"{', '.join(sorted({c['device'] or '?' for c in cases}))}")
    lines.append("wall s: around the CLI subprocess (start-up included), checked against "
                 "limit s; run s: the run's own seconds")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="NAME", choices=[c.name for c in CASES],
                        help="run one case: " + ", ".join(c.name for c in CASES))
    parser.add_argument("--json", action="store_true",
                        help="last stdout line: one JSON object with the machine and cases")
    parser.add_argument("--quiet", action="store_true",
                        help="hide the runs' progress output (shown on stderr otherwise)")
    args = parser.parse_args(argv)
    machine = machine_info()
    cases = [run_case(c, quiet=args.quiet) for c in CASES if args.only in (None, c.name)]
    passed = all(c["passed"] for c in cases)
    if args.json:
        print(json.dumps({"benchmark": "accuracy", "machine": machine, "cases": cases,
                          "passed": passed}), flush=True)
    else:
        print(format_table(machine, cases), flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
