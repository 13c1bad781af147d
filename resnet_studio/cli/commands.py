"""Subcommands. Each `cmd_*` takes the parsed args and returns an exit code."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from resnet_studio.cli.common import add_max_params_flag, emit_json, obeys_max_params
from resnet_studio.core.exitcodes import EXIT_BAD_INPUT, EXIT_OK


def register_all(sub: Any) -> None:
    """Adds every subcommand to the parser's subparsers."""
    p = sub.add_parser("gui", help="open the desktop app (the default)")
    p.add_argument("preset", nargs="?", help="preset name or file to open")
    p.add_argument("--screenshot", metavar="FILE",
                   help="render the main window once the summary is ready, save a PNG, exit")
    p.set_defaults(handler=cmd_gui)

    p = sub.add_parser("presets", help="list the shipped presets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_presets)

    p = sub.add_parser("summary", help="build a preset with Keras and show shapes and parameters")
    p.add_argument("preset", help="preset name or file")
    p.add_argument("--dataset", help="bind the input and head to this dataset first")
    p.add_argument("--no-residual", action="store_true", help="summarize the plain twin")
    add_max_params_flag(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_summary)

    p = sub.add_parser("validate", help="check a preset file (exit 0 valid, 2 with problems)")
    p.add_argument("file", help="preset file or name")
    add_max_params_flag(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_validate)

    from resnet_studio.cli import train_commands

    train_commands.register(sub)
    from resnet_studio.cli import export_commands, runs_commands

    export_commands.register(sub)
    runs_commands.register(sub)
    from resnet_studio.cli import compress_commands

    compress_commands.register(sub)

    from resnet_studio.cli import geometry_commands

    geometry_commands.register(sub)

    from resnet_studio.cli import experiment_commands

    experiment_commands.register(sub)

    from resnet_studio.cli import insight_commands

    insight_commands.register(sub)


def cmd_gui(args: argparse.Namespace) -> int:
    from resnet_studio.gui.app import run_app

    return run_app(args.preset, screenshot=args.screenshot)


def cmd_presets(args: argparse.Namespace) -> int:
    from resnet_studio.core.presets import list_presets

    presets = list_presets()
    if args.json:
        emit_json({"presets": [vars(p) for p in presets]})
        return EXIT_OK
    width = max(len(p.name) for p in presets)
    for p in presets:
        print(f"{p.name:<{width}}  {p.title}  [{p.dataset or '-'}]")
    return EXIT_OK


def _load_bound(preset: str, dataset: str | None, no_residual: bool = False):
    """(spec, bound) for a preset: `bound` is `core.binding.bind_spec` of the spec on the
    dataset's facts (as training will bind it: the facts the editor reads too), or None
    without a dataset."""
    from resnet_studio.core.binding import bind_spec, facts_for_editor
    from resnet_studio.core.builder import plain_twin
    from resnet_studio.core.presets import load_preset

    spec = load_preset(preset)
    if no_residual:
        spec = plain_twin(spec)
    if not dataset:
        return spec, None
    return spec, bind_spec(spec, facts_for_editor(spec, dataset))


@obeys_max_params
def cmd_summary(args: argparse.Namespace) -> int:
    from resnet_studio.cli.train_commands import naming_the_input
    from resnet_studio.core.builder import summarize

    spec, bound = _load_bound(args.preset, args.dataset, args.no_residual)
    # Shapes and counts need no weights: nothing is allocated (builder.summarize).
    with naming_the_input(args.preset + (f" on {args.dataset}" if args.dataset else "")):
        summary = summarize(spec, bound.binding if bound else None)
    differences = bound.differences if bound else []
    if args.json:
        out = summary.to_dict()
        if args.dataset:
            out["differences"] = [{**vars(d), "text": difference_text(d, args.dataset)}
                                  for d in differences]
        emit_json(out)
        return EXIT_OK
    print(format_summary(summary))
    if args.dataset:
        print(format_differences(differences, args.dataset))
    return EXIT_OK


def _plain(field: str, value: Any) -> str:
    """A value as the summary says it: shapes as 32×32×3, counts with separators."""
    if field == "shape" and isinstance(value, (tuple, list)):
        return "×".join(str(d) for d in value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def difference_text(d: Any, dataset: str) -> str:
    """One `core.binding.Difference` in plain words, e.g. `input: 32×32×3 in the preset →
    8×8×1 from digits` or `head (blocks[6]) classes: 1,000 in the preset → 10 from digits`."""
    where = "input" if d.location == "input" else f"{d.block} ({d.location})"
    what = "" if d.field == "shape" else f" {d.field}"
    user, data = _plain(d.field, d.user), _plain(d.field, d.dataset)
    if d.applied:
        return f"{where}{what}: {user} in the preset → {data} from {dataset}"
    return (f"{where}{what}: {user} in the preset, {data} in {dataset}: kept, so the model "
            f"will not fit the data")


def format_differences(differences: list[Any], dataset: str) -> str:
    """The lines under a bound summary: where training on `dataset` changes the preset."""
    if not differences:
        return f"bound to {dataset}: the preset's input and head already match it"
    lines = [f"bound to {dataset}: training uses the dataset's values where they differ"]
    lines += [f"  {difference_text(d, dataset)}" for d in differences]
    return "\n".join(lines)


def format_summary(summary: Any) -> str:
    """A fixed-width table of blocks (indented children) and the totals."""
    rows = [("block", "type", "output shape", "params")]

    def add(blocks: list[Any], depth: int) -> None:
        for b in blocks:
            shape = "(" + ", ".join("?" if d is None else str(d) for d in b.output_shape) + ")"
            rows.append(("  " * depth + b.name, b.type, shape, f"{b.params:,}"))
            add(b.children, depth + 1)

    add(summary.blocks, 0)
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{summary.name}"]
    for i, r in enumerate(rows):
        lines.append(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  "
                     f"{r[3]:>{widths[3]}}")
        if i == 0:
            lines.append("-" * (sum(widths) + 6))
    lines.append("-" * (sum(widths) + 6))
    lines.append(f"total params:         {summary.total_params:,}")
    lines.append(f"trainable params:     {summary.trainable_params:,}")
    lines.append(f"non-trainable params: {summary.non_trainable_params:,}")
    lines.append(f"BatchNorm statistics: {summary.statistics:,} (moving mean/variance; "
                 "state, not parameters)")
    return "\n".join(lines)


@obeys_max_params
def cmd_validate(args: argparse.Namespace) -> int:
    """Validates structure and params, then builds with Keras (symbolically: no weights are
    allocated) to catch shape errors and models above the size limit."""
    from resnet_studio.core.blocks.context import BlockBuildError
    from resnet_studio.core.builder import summarize
    from resnet_studio.core.params import Problem
    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.spec import SpecError

    try:
        spec = load_preset(args.file)
    except SpecError as e:
        return _invalid(args, e.source or args.file, [str(p) for p in e.problems])
    try:
        summary = summarize(spec)
    except SpecError as e:
        return _invalid(args, args.file, [str(p) for p in e.problems])
    except BlockBuildError as e:
        return _invalid(args, args.file, [str(Problem(e.location, f"{e.block}: {e.detail}"))])
    if args.json:
        emit_json({"file": args.file, "valid": True, "total_params": summary.total_params})
    else:
        print(f"{args.file}: valid ({summary.total_params:,} parameters)")
    return EXIT_OK


def _invalid(args: argparse.Namespace, source: str, problems: list[str]) -> int:
    print(f"{source}: invalid", file=sys.stderr)
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    if args.json:
        emit_json({"file": args.file, "valid": False, "problems": problems})
    return EXIT_BAD_INPUT
