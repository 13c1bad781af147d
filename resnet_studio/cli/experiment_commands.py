"""`experiment` and `experiments`: several arms from one shared start, over seeds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from resnet_studio.cli.common import UsageError, add_max_params_flag, emit_json, obeys_max_params
from resnet_studio.core.exitcodes import EXIT_OK

# --tiny: every arm shrunk to a smoke test (one unit per stage or Transformer stage).
TINY: dict[str, Any] = {"seeds": 1, "epochs": 1, "limit": 64, "architecture": {"repeat": 1}}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "experiment", help="run an experiment: arms from one shared start, over seeds",
        description="Trains every arm of an experiment (a built-in name, see `resnet-studio "
                    "experiments`, or a JSON file) for each seed, from the same initial "
                    "weights wherever arms share a layer and with the same batch order. "
                    "Each arm × seed is an ordinary run, grouped in one experiment folder. "
                    "One progress line per run goes to stderr; the closing table gives, per "
                    "arm, mean ± sd over seeds of the final training loss (mean of the last "
                    "epoch), validation and test accuracy and the gradient ratio.",
        epilog='Exit 0 when every run ended (a diverged arm is a result: its status says '
               '"failed"), 2 for bad input, 130 when interrupted: continue with --resume DIR. '
               'With --json the last stdout line is {"experiment", "dir", "arms": [{"name", '
               '"runs", "params", "seconds", "final_train_loss": {"mean", "sd"}, '
               '"val_accuracy", "test_accuracy", "gradient_ratio"}]}.')
    p.add_argument("experiment", nargs="?", help="built-in experiment name or file "
                                                 "(not with --resume)")
    p.add_argument("--seeds", type=int, help="number of seeds (default: the experiment's)")
    p.add_argument("--epochs", type=int, help="epochs of every arm (default: the arms' own)")
    p.add_argument("--dataset", help="dataset of every arm (default: the experiment's)")
    p.add_argument("--limit", type=int, help="use at most N examples per split (smoke tests)")
    p.add_argument("--tiny", action="store_true",
                   help="a smoke test of the whole experiment in a minute or two: one seed, one "
                        "epoch, 64 examples, one unit per stage (--seeds, --epochs, --limit "
                        "still win)")
    p.add_argument("--resume", metavar="DIR", help="continue an interrupted experiment folder: "
                                                   "finished runs are kept, the others resume")
    p.add_argument("--runs-root", help="folder in which the experiment folder is created "
                                       "(default: the runs root)")
    p.add_argument("--data-dir", help="TFDS data folder (default $TFDS_DATA_DIR)")
    add_max_params_flag(p)
    p.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    p.set_defaults(handler=cmd_experiment)

    p = sub.add_parser("experiments", help="list the built-in experiments")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_experiments)


def cmd_experiments(args: argparse.Namespace) -> int:
    from resnet_studio.core.experiments.schema import experiment_names, load_experiment

    items = []
    for name in experiment_names():
        e = load_experiment(name)
        items.append({"name": e.name, "title": e.title, "preset": e.preset,
                      "dataset": e.dataset, "seeds": e.seeds,
                      "arms": [a.name for a in e.arms], "claim": e.claim,
                      "citation": e.citation})
    if args.json:
        emit_json({"experiments": items})
        return EXIT_OK
    for it in items:
        print(f"{it['name']:<18} {it['title']}")
        print(f"{'':<18} arms: {', '.join(it['arms'])} ({it['preset']} on {it['dataset']}, "
              f"{it['seeds']} seeds)")
    return EXIT_OK


def _check_positive(args: argparse.Namespace) -> None:
    for flag in ("seeds", "epochs", "limit"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise UsageError(f"--{flag} must be at least 1, got {v}")


@obeys_max_params
def cmd_experiment(args: argparse.Namespace) -> int:
    from resnet_studio.core.experiments.runner import (
        Settings,
        resume_experiment,
        start_experiment,
    )
    from resnet_studio.core.experiments.schema import load_experiment
    from resnet_studio.core.experiments.summary import format_table

    _check_positive(args)
    progress = _Progress()
    if args.resume:
        if args.experiment or args.seeds or args.epochs or args.dataset or args.limit or \
                args.tiny:
            raise UsageError("--resume continues an experiment with its own settings: drop "
                             "EXPERIMENT, --seeds, --epochs, --dataset, --limit and --tiny")
        run = resume_experiment(args.resume, progress=progress)
    elif not args.experiment:
        raise UsageError("experiment: name one (resnet-studio experiments lists them), or "
                         "pass --resume DIR")
    else:
        experiment = load_experiment(args.experiment)
        tiny = TINY if args.tiny else {}
        settings = Settings(seeds=args.seeds or tiny.get("seeds"),
                            epochs=args.epochs or tiny.get("epochs"), dataset=args.dataset,
                            limit=args.limit or tiny.get("limit"), data_dir=args.data_dir,
                            architecture=dict(tiny.get("architecture", {})))
        from resnet_studio.core.runs import default_runs_root

        root = Path(args.runs_root) if args.runs_root else default_runs_root()
        run = start_experiment(experiment, root, settings=settings, progress=progress)
    progress.total = len(run.seeds) * len(run.experiment.arms)
    print(f"experiment folder: {run.folder}", file=sys.stderr, flush=True)
    arms = run.run()
    if not args.json:
        print(format_table(arms))
        print(f"experiment folder: {run.folder}")
    else:
        emit_json(run.to_json(arms))
    return EXIT_OK


class _Progress:
    """One stderr line per finished (or already finished) arm × seed."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0

    def __call__(self, arm: str, seed: int, summary: dict[str, Any], skipped: bool) -> None:
        self.done += 1
        loss = summary.get("final_train_loss")
        acc = summary.get("val_accuracy")
        parts = [f"[{self.done}/{self.total}] {arm} seed {seed}: {summary['status']}"]
        if loss is not None:
            parts.append(f"train loss {loss:.4f}")
        if acc is not None:
            parts.append(f"val acc {acc:.3f}")
        if skipped:
            parts.append("(kept from before)")
        elif summary.get("seconds") is not None:
            parts.append(f"({summary['seconds']:.0f} s)")
        if summary.get("error"):
            parts.append(f"— {summary['error']}")
        print("  ".join(parts), file=sys.stderr, flush=True)
