"""Compression subcommands: `prune` (magnitude pruning + fine-tuning, one run per sparsity).

Quantized TFLite export is `export --format tflite --quantize int8|float16|dynamic`
(export_commands.py), measured by core/compress/quantize.py.
"""

from __future__ import annotations

import argparse
from typing import Any

from resnet_studio.cli.common import RunFailed, UsageError, emit_json
from resnet_studio.core.exitcodes import EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "prune", help="prune a trained run to one or more sparsities and fine-tune each",
        description="Magnitude pruning of a trained run: the smallest weights (or, with "
                    "--structured, the filters of smallest L1 norm) are set to zero, then the "
                    "model is fine-tuned with its masks held, as a new run whose run.json "
                    "names the dense run as its `parent`. The test accuracy of the dense "
                    "model, of each pruned model before fine-tuning and after it are reported.",
        epilog='With --json the last stdout line is {"parent": RUN_DIR, "dense": {"accuracy": '
               'A}, "results": [{"sparsity": S, "structured": B, "accuracy": A, "run_dir": '
               '…, "accuracy_before_fine_tune": A0, "measured_sparsity": S1, …}]}. Exit 0 when '
               'every fine-tuning completed, 1 when one failed, 2 for bad input. See '
               'docs/compression.md.')
    p.add_argument("run_dir", help="the trained run to prune (it is not modified)")
    p.add_argument("--sparsity",
                   help="comma-separated fractions of weights to remove, e.g. 0.5,0.8,0.9")
    p.add_argument("--blocks", metavar="K[,K...]",
                   help="residual networks: remove K whole residual branches (those whose "
                        "deletion hurts the validation accuracy least, by the lesion study), "
                        "for each K given, e.g. 1,2")
    p.add_argument("--structured", action="store_true",
                   help="remove whole filters/units (ranked by L1 norm), not single weights")
    p.add_argument("--scope", choices=("global", "layer"), default="global",
                   help="global: one magnitude ranking over all layers (default); layer: "
                        "every layer pruned to the same fraction")
    p.add_argument("--schedule", choices=("oneshot", "gradual"), default="oneshot",
                   help="oneshot: prune, then fine-tune (default); gradual: sparsity rises "
                        "during fine-tuning along Zhu & Gupta's cubic schedule")
    p.add_argument("--fine-tune-epochs", type=int, default=5, dest="fine_tune_epochs",
                   help="epochs of fine-tuning per sparsity (default 5; 0: measure the "
                        "pruned model without saving a run)")
    p.add_argument("--lr", type=float, dest="learning_rate",
                   help="fine-tuning peak learning rate (default: the parent's × 0.5)")
    p.add_argument("--strategy", choices=("default", "mirrored"), default="default",
                   help="where to fine-tune: default (one device) or mirrored (every local "
                        "GPU, or --devices); the masks hold on every replica")
    p.add_argument("--devices", default="",
                   help='with --strategy mirrored: devices such as "GPU:0,GPU:1" or '
                        '"CPU:0,CPU:1"')
    p.add_argument("--runs-root", help="folder for the pruned runs (default: beside the parent)")
    p.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    p.set_defaults(handler=cmd_prune)


def parse_sparsities(text: str) -> list[float]:
    """`0.5,0.8,0.9` -> [0.5, 0.8, 0.9]; a UsageError naming the bad entry otherwise."""
    out = []
    for item in text.split(","):
        item = item.strip()
        try:
            value = float(item)
        except ValueError:
            raise UsageError(f"--sparsity: {item!r} is not a number (expected fractions such "
                             "as 0.5,0.8,0.9)") from None
        if not 0.0 <= value < 1.0:
            raise UsageError(f"--sparsity: {value} is outside [0, 1) (0.9 removes 90 % of "
                             "the weights)")
        out.append(value)
    return out


def parse_blocks(text: str) -> list[int]:
    """`1,2` -> [1, 2]; a UsageError naming the bad entry otherwise."""
    out = []
    for item in text.split(","):
        try:
            value = int(item.strip())
        except ValueError:
            raise UsageError(f"--blocks: {item.strip()!r} is not a whole number") from None
        if value < 1:
            raise UsageError(f"--blocks: {value}: remove at least one branch")
        out.append(value)
    return out


def cmd_prune(args: argparse.Namespace) -> int:
    from resnet_studio.cli.train_commands import ProgressPrinter, _read_checkpointed_run_or_usage

    if not args.sparsity and not args.blocks:
        raise UsageError("prune: give --sparsity S[,S...] and/or --blocks K[,K...]")
    sparsities = parse_sparsities(args.sparsity) if args.sparsity else []
    blocks = parse_blocks(args.blocks) if args.blocks else []
    if args.fine_tune_epochs < 0:
        raise UsageError(f"--fine-tune-epochs must be >= 0, received: {args.fine_tune_epochs}")
    if args.schedule == "gradual" and args.fine_tune_epochs == 0:
        raise UsageError("--schedule gradual prunes during fine-tuning: give "
                         "--fine-tune-epochs 1 or more")
    if args.devices:
        from resnet_studio.core.training_config import parse_devices

        try:
            parse_devices(args.devices)
        except ValueError as e:
            raise UsageError(f"--devices: {e}") from None
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise UsageError(f"--lr must be > 0, received: {args.learning_rate}")
    info = _read_checkpointed_run_or_usage(args.run_dir)
    from resnet_studio.core.compress.prune import ParentModel, prune_blocks, prune_run
    from resnet_studio.core.sparsity.masks import PruningError

    parent = ParentModel(info.dir)
    dense = parent.dense_accuracy
    results: list[dict[str, Any]] = []
    for s in sparsities:
        try:
            outcome = prune_run(parent, s, structured=args.structured, scope=args.scope,
                                schedule=args.schedule, fine_tune_epochs=args.fine_tune_epochs,
                                learning_rate=args.learning_rate, runs_root=args.runs_root,
                                observer=ProgressPrinter(prefix=f"sparsity {s:g}: "),
                                strategy=args.strategy, devices=args.devices)
        except PruningError as e:
            raise UsageError(str(e)) from None
        row = outcome.to_dict()
        row.pop("layers")
        results.append(row)
        if not args.json:
            print(_row_text(row))
    for k in blocks:
        try:
            outcome = prune_blocks(parent, k, fine_tune_epochs=args.fine_tune_epochs,
                                   learning_rate=args.learning_rate, runs_root=args.runs_root,
                                   observer=ProgressPrinter(prefix=f"{k} blocks: "))
        except PruningError as e:
            raise UsageError(str(e)) from None
        row = outcome.to_dict()
        row["lesion_drop"] = row.pop("layers")
        results.append(row)
        if not args.json:
            print(_row_text(row))
    out = {"parent": str(info.dir), "dense": {"accuracy": dense, **parent.sizes},
           "results": results}
    failed = [r for r in results if r["status"] == "failed"]
    if failed:
        raise RunFailed("fine-tuning failed at sparsity " + ", ".join(
            f"{r['sparsity']:g} ({r['error']})" for r in failed), out)
    if args.json:
        emit_json(out)
    else:
        print(f"dense test accuracy: {dense:.4f}")
    return EXIT_OK


def _row_text(row: dict[str, Any]) -> str:
    kind = "filters" if row["structured"] else "weights"
    if row.get("blocks"):
        kind = f"branches {'+'.join(row['blocks'])} removed"
    acc = row["accuracy"]
    return (f"sparsity {row['sparsity']:g} ({kind}, measured {row['measured_sparsity']:.4f}): "
            f"test accuracy {row['accuracy_before_fine_tune']:.4f} pruned -> "
            f"{'-' if acc is None else f'{acc:.4f}'} fine-tuned"
            + (f"  run folder: {row['run_dir']}" if row["run_dir"] else ""))
