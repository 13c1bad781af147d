"""Reproduces docs/geometry.md's multi-seed ResNet-56 table (section 3, recipe C):
`python docs/reproduce_geometry.py [--seeds 5] [--runs-root DIR] [--recipe JSON] [--json]`.

For each seed, as a user would from the command line: `resnet-studio compare RECIPE --dataset
digits --seed S` (the residual network and its plain twin from one start), then on both runs
`lesion RUN --draws 5` and `landscape RUN --grid 11 --samples 256 --hessian-samples 128
--iterations 100`. Prints one markdown row per seed, then the mean ± sd over seeds and how
many seeds show each of the issue's three comparisons. About 7 minutes a seed on 2 idle
cores (training 3, studies 4). Studies already cached in a run folder are read back, so a
second call with the same --runs-root only reprints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROLES = ("residual", "plain")


def cli(*args: str) -> dict[str, Any]:
    """Runs `resnet-studio ARGS --json` in a fresh process; its last stdout line, parsed."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-m", "resnet_studio.cli.main", *args, "--json"],
                         env=env, capture_output=True, text=True, check=False)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise SystemExit(f"resnet-studio {' '.join(args)} failed ({out.returncode}):\n"
                         f"{out.stderr[-2000:]}")
    return json.loads(lines[-1])


def pair(recipe: str, seed: int, root: Path) -> dict[str, str]:
    """The run folders of seed `seed`'s comparison, trained now unless already there."""
    marker = root / f"seed{seed}.json"
    if marker.is_file():
        return json.loads(marker.read_text())
    result = cli("compare", recipe, "--dataset", "digits", "--seed", str(seed),
                 "--runs-root", str(root))
    dirs = {role: result[role]["run_dir"] for role in ROLES}
    marker.write_text(json.dumps(dirs))
    return dirs


def study(run_dir: str) -> dict[str, Any]:
    """One run's lesion and landscape numbers (the landscape is cached in the run folder)."""
    lesion = cli("lesion", run_dir, "--draws", "5")
    land = cli("landscape", run_dir, "--grid", "11", "--samples", "256",
               "--hessian-samples", "128", "--iterations", "100")
    return {"accuracy": lesion["baseline"]["accuracy"], "mean_drop": lesion["mean_drop"],
            "center_loss": land["center_loss"], "rise": land["radius_loss_rise"],
            "lambda_max": land["lambda_max"], "lambda_min": land["lambda_min"],
            "ratio": land["eigen_ratio"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--runs-root", default="geometry-runs")
    parser.add_argument("--recipe", default=str(HERE / "geometry-resnet56-digits-c.json"))
    parser.add_argument("--json", action="store_true", help="last line: the rows as JSON")
    args = parser.parse_args(argv)
    root = Path(args.runs_root)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    print(HEADER)
    for seed in range(args.seeds):
        dirs = pair(args.recipe, seed, root)
        rows.append({"seed": seed, **{role: study(dirs[role]) for role in ROLES}})
        print(row_text(rows[-1]), flush=True)
    print(summary_text(rows))
    if args.json:
        print(json.dumps(rows))
    return 0


HEADER = ("| seed | test accuracy (residual / plain) | mean drop, one unit | loss rise at r = 0.5 "
          "| λ_max | λ_min | \\|λ_min/λ_max\\| |\n|---|---|---|---|---|---|---|")


def row_text(r: dict[str, Any]) -> str:
    a, b = r["residual"], r["plain"]
    return (f"| {r['seed']} | {a['accuracy']:.3f} / {b['accuracy']:.3f} "
            f"| {a['mean_drop']:.4f} / {b['mean_drop']:.3f} | {a['rise']:.3f} / {b['rise']:.2f} "
            f"| {a['lambda_max']:.3g} / {b['lambda_max']:.3g} "
            f"| {a['lambda_min']:.3g} / {b['lambda_min']:.3g} "
            f"| {a['ratio']:.4f} / {b['ratio']:.4f} |")


def summary_text(rows: list[dict[str, Any]]) -> str:
    def mean_sd(role: str, key: str) -> str:
        values = [r[role][key] for r in rows]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.4g} ± {sd:.2g}"

    holds = {
        "lesion: residual's mean drop ≤ 1/5 of the plain twin's":
            sum(r["residual"]["mean_drop"] <= r["plain"]["mean_drop"] / 5 for r in rows),
        "loss rise at r = 0.5: residual below plain":
            sum(r["residual"]["rise"] < r["plain"]["rise"] for r in rows),
        "|λ_min/λ_max| at θ*: residual below plain":
            sum(r["residual"]["ratio"] < r["plain"]["ratio"] for r in rows),
    }
    lines = [f"{key}: residual {mean_sd('residual', key)}, plain {mean_sd('plain', key)}"
             for key in ("accuracy", "mean_drop", "rise", "ratio")]
    lines += [f"{claim}: {n} of {len(rows)} seeds" for claim, n in holds.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
