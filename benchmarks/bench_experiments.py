"""The degradation experiment: `resnet-studio experiment degradation --json`, timed.

Runs the built-in `degradation` experiment (plain and residual CIFAR-style nets at depths 8,
20 and 56 on MNIST-1D, 3 seeds, 8 epochs; see docs/experiments.md) exactly as a user would,
in a subprocess, and checks the issue's targets:

- the deepest plain net's final training loss (mean over seeds) >= 1.5 × the shallowest
  plain net's (the degradation problem shows);
- the deepest residual net's <= 1.1 × the shallowest residual net's (residual nets do not
  degrade);
- the whole experiment in <= 20 minutes on 2 cores.

The wall time depends on what else the machine runs: the CPU time of the experiment and the
load average during it are printed too (CPU seconds / 2 is the wall time on 2 idle cores).

Usage:
  python benchmarks/bench_experiments.py [--seeds N] [--epochs N] [--json]
  python benchmarks/bench_experiments.py --from-json FILE   # check a saved --json line
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LoadSampler, machine_info, machine_line, table  # noqa: E402

TARGET_S = 20 * 60.0
PLAIN_RATIO_MIN = 1.5
RESIDUAL_RATIO_MAX = 1.1


def depth_of(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


def check(result: dict[str, Any]) -> dict[str, Any]:
    """The two ratios of the issue from the experiment's --json object."""
    loss = {a["name"]: a["final_train_loss"]["mean"] for a in result["arms"]}
    out: dict[str, Any] = {}
    for kind in ("plain", "residual"):
        arms = sorted((n for n in loss if n.startswith(kind + "-")), key=depth_of)
        shallow, deep = arms[0], arms[-1]
        out[kind] = {"shallowest": shallow, "deepest": deep,
                     "ratio": loss[deep] / loss[shallow]}
    out["plain_ok"] = out["plain"]["ratio"] >= PLAIN_RATIO_MIN
    out["residual_ok"] = out["residual"]["ratio"] <= RESIDUAL_RATIO_MAX
    return out


def run_experiment(args: argparse.Namespace, root: str) -> tuple[dict[str, Any], float, float,
                                                                  dict[str, Any]]:
    cmd = [sys.executable, "-c", "import sys; from resnet_studio.cli import main; "
           "sys.exit(main())", "experiment", "degradation", "--runs-root", root, "--json"]
    if args.seeds:
        cmd += ["--seeds", str(args.seeds)]
    if args.epochs:
        cmd += ["--epochs", str(args.epochs)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with LoadSampler() as load:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=None, text=True,
                              check=False)
        wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"experiment failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall, cpu, load.summary()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, help="seeds (default: the experiment's 3)")
    parser.add_argument("--epochs", type=int, help="epochs (default: the experiment's 8)")
    parser.add_argument("--from-json", help="check a saved `experiment degradation --json` "
                                            "line instead of running it (no timing)")
    parser.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    args = parser.parse_args(argv)
    machine = machine_info()
    wall = cpu = None
    load: dict[str, Any] = {}
    if args.from_json:
        text = Path(args.from_json).read_text(encoding="utf-8")
        result = json.loads(text.strip().splitlines()[-1])
    else:
        with tempfile.TemporaryDirectory(prefix="bench-experiments-") as tmp:
            result, wall, cpu, load = run_experiment(args, tmp)
    ratios = check(result)
    time_ok = wall is None or wall <= TARGET_S
    ok = ratios["plain_ok"] and ratios["residual_ok"] and time_ok
    if args.json:
        print(json.dumps({"benchmark": "experiments", "experiment": "degradation",
                          "machine": machine, "load_during": load, "wall_s": wall,
                          "cpu_s": cpu, "target_s": TARGET_S, **ratios, "ok": ok,
                          "arms": result["arms"]}))
        return 0 if ok else 1

    def pm(s: dict[str, Any], fmt: str) -> str:
        return "—" if s["mean"] is None else f"{s['mean']:{fmt}} ± {s['sd']:{fmt}}"

    rows = [[a["name"], pm(a["final_train_loss"], ".3f"), pm(a["val_accuracy"], ".3f"),
             pm(a["test_accuracy"], ".3f"), pm(a["gradient_ratio"], ".2f"),
             f"{a['params']:,}", f"{a['seconds']:.0f}"] for a in result["arms"]]
    print(f"degradation ({len(result['seeds'])} seeds, mean ± sd): final training loss = mean "
          "of the last epoch")
    print(table(["arm", "train loss", "val acc", "test acc", "grad ratio", "params", "s/run"],
                rows))
    p, r = ratios["plain"], ratios["residual"]
    print(f"plain:    {p['deepest']} / {p['shallowest']} = {p['ratio']:.2f} "
          f"(target >= {PLAIN_RATIO_MIN}) {'OK' if ratios['plain_ok'] else 'MISSED'}")
    print(f"residual: {r['deepest']} / {r['shallowest']} = {r['ratio']:.2f} "
          f"(target <= {RESIDUAL_RATIO_MAX}) {'OK' if ratios['residual_ok'] else 'MISSED'}")
    if wall is not None:
        print(f"wall {wall:.0f} s (target <= {TARGET_S:.0f} s) "
              f"{'OK' if time_ok else 'MISSED'}; CPU {cpu:.0f} s")
        print(machine_line(machine, load))
    print("OK" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
