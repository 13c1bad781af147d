"""`predictions` and `histograms`: what a trained run gets wrong, and how its layers'
weights and activations evolved (core/training/predictions.py, core/runs/histograms.py)."""

from __future__ import annotations

import argparse
from typing import Any

from resnet_studio.cli.common import UsageError, emit_json
from resnet_studio.core.exitcodes import EXIT_OK


def register(sub: Any) -> None:
    """Adds the `predictions` and `histograms` subcommands."""
    p = _run_command(sub, "predictions", cmd_predictions,
                     "a run's test predictions, misclassified examples first",
                     "Runs the run's last checkpoint over its test split and lists the examples "
                     "with their true and predicted labels and the model's confidence: the "
                     "misclassified ones first (most confident first), then the correct ones in "
                     "test order. Cached in the run folder.")
    p.add_argument("--limit", type=int, default=20, help="examples listed (default 20)")
    p.add_argument("--misclassified", action="store_true",
                   help="list only misclassified examples")
    p.add_argument("--force", action="store_true", help="recompute even if cached")
    _run_command(sub, "histograms", cmd_histograms,
                 "a run's per-layer weight and activation histograms by epoch",
                 "The histograms recorded in the run at each epoch end: per layer with weights, "
                 "the kernel's values and the layer's outputs on a fixed probe batch of "
                 "validation examples. Prints each layer's range at the last epoch; --json "
                 "gives every histogram.")


def _run_command(sub: Any, name: str, handler: Any, summary: str, description: str) -> Any:
    """A subcommand taking RUN_DIR and --json."""
    p = sub.add_parser(name, help=summary, description=description)
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    p.set_defaults(handler=handler)
    return p


def _run_dir(path: str) -> Any:
    from resnet_studio.core.runs import read_run

    try:
        return read_run(path)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None


def cmd_predictions(args: argparse.Namespace) -> int:
    from resnet_studio.core.runs import checkpoint_complete
    from resnet_studio.core.training.predictions import (
        DEFAULT_SAMPLES,
        NotClassification,
        run_predictions,
    )

    if args.limit < 0:
        raise UsageError(f"--limit must be 0 or more, got {args.limit}")
    info = _run_dir(args.run_dir)
    if not checkpoint_complete(info.dir):
        raise UsageError(f"{info.dir}: no checkpoint (the run ended before its first epoch "
                         "completed): nothing to predict with")
    try:
        p = run_predictions(info.dir, max(args.limit, DEFAULT_SAMPLES), use_cache=not args.force)
    except NotClassification as e:
        raise UsageError(str(e)) from None
    rows = p.rows(args.limit, misclassified_only=args.misclassified)
    if args.json:
        emit_json({"run_dir": str(info.dir), "examples": p.examples,
                   "misclassified": p.misclassified, "accuracy": p.accuracy,
                   "checkpoint": p.checkpoint, "notes": p.notes, "predictions": rows})
        return EXIT_OK
    for note in p.notes:
        print(f"note: {note}")
    print(f"{p.misclassified} of {p.examples} test examples misclassified "
          f"(accuracy {p.accuracy:.4f})")
    for row in rows:
        mark = "ok   " if row["correct"] else "WRONG"
        text = f"  {row['text'][:60]!r}" if "text" in row else ""
        print(f"{mark} #{row['index']:<6} true {row['true_name']:<12} predicted "
              f"{row['predicted_name']:<12} confidence {row['confidence']:.3f}{text}")
    return EXIT_OK


def cmd_histograms(args: argparse.Namespace) -> int:
    from resnet_studio.core.runs.histograms import read_histograms

    info = _run_dir(args.run_dir)
    records = read_histograms(info.dir)
    if args.json:
        emit_json({"run_dir": str(info.dir), "epochs": [r.to_dict() for r in records]})
        return EXIT_OK
    if not records:
        print(f"{info.dir}: no histograms (the run completed no epoch, or predates them)")
        return EXIT_OK
    last = records[-1]
    print(f"{len(records)} epochs recorded; epoch {last.epoch} (step {last.step}), "
          f"activations on {last.probe} probe examples:")
    for lh in last.layers:
        w = lh.weights
        line = f"  {lh.layer:<28} {lh.weight:<10} [{w.edges[0]:+.3f}, {w.edges[-1]:+.3f}]"
        if lh.activations is not None:
            a = lh.activations
            line += f"   activations [{a.edges[0]:+.3f}, {a.edges[-1]:+.3f}]"
        print(line)
    return EXIT_OK
