"""`resnet-studio runs`: the runs in the run store, one line each (folder, status, name,
epochs, test accuracy), or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from resnet_studio.cli.common import emit_json
from resnet_studio.core.exitcodes import EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("runs", help="list the runs in the run store")
    p.add_argument("--root", help="runs root (default: user data folder)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_runs)


def cmd_runs(args: argparse.Namespace) -> int:
    from resnet_studio.core.runs import RunScanner, default_runs_root

    root = Path(args.root) if args.root else default_runs_root()
    scanner = RunScanner(root)
    runs = scanner.scan(reuse=False)
    if args.json:
        emit_json({"root": str(root), "runs": [r.to_dict() for r in runs],
                   "broken": [{"run_dir": str(d), "error": why} for d, why in scanner.broken]})
        return EXIT_OK
    for d, why in scanner.broken:  # named, after the readable runs would scroll them away
        print(f"resnet-studio: broken run {d.name}: {why}", file=sys.stderr)
    if not runs:
        print(f"no runs in {root}")
        return EXIT_OK
    for r in runs:
        d = r.to_dict()
        acc = (d.get("test") or {}).get("accuracy")
        print(f"{r.id:<44} {d['status']:<11} {_clip(r.name, 40):<40} "
              f"epochs {d['epochs_completed']:<4} "
              f"{'' if acc is None else f'test acc {acc:.4f}'}".rstrip())
    return EXIT_OK


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
