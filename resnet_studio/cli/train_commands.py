"""Training subcommands: train, compare, evaluate, datasets (export, runs: own modules)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from resnet_studio.cli.common import (
    RunFailed,
    UsageError,
    add_max_params_flag,
    emit_json,
    obeys_max_params,
)
from resnet_studio.core.exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK


def add_training_flags(p: argparse.ArgumentParser, *, preset_optional: bool = False) -> None:
    """Flags shared by `train` and `compare` (they override the preset's training section).

    Args:
        preset_optional: `train --resume RUN_DIR` takes the architecture from the run.
    """
    from resnet_studio.core.training_config import (  # no TensorFlow
        AUGMENTATIONS,
        OPTIMIZERS,
        SCHEDULES,
        WEIGHT_DECAY_MODES,
        WEIGHT_DECAY_TARGETS,
    )

    if preset_optional:
        p.add_argument("preset", nargs="?", help="preset name or file (not with --resume)")
    else:
        p.add_argument("preset", help="preset name or file")
    p.add_argument("--dataset", help="dataset name (default: the preset's)")
    p.add_argument("--epochs", type=int, help="passes over the training set")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--optimizer", help=" | ".join(OPTIMIZERS))
    p.add_argument("--lr", type=float, dest="learning_rate", help="(peak) learning rate")
    p.add_argument("--schedule", help=" | ".join(SCHEDULES))
    p.add_argument("--weight-decay", type=float, dest="weight_decay", help="λ (0 = off)")
    p.add_argument("--weight-decay-mode", dest="weight_decay_mode", choices=WEIGHT_DECAY_MODES,
                   help="l2: λ/2·‖w‖² in the loss, λ·w added to the gradient before momentum "
                        "(He et al., PyTorch SGD); decoupled: w ← w − lr·λ·w after each step "
                        "(AdamW)")
    p.add_argument("--weight-decay-on", dest="weight_decay_on", choices=WEIGHT_DECAY_TARGETS,
                   help="weights: kernels and embeddings only (no biases, no normalization "
                        "γ/β); all: every parameter")
    p.add_argument("--augment", type=_names, help="comma-separated: " + ", ".join(
        AUGMENTATIONS) + ' ("" = none)')
    p.add_argument("--validation-fraction", type=float, dest="validation_fraction",
                   help="share of the training data held out for validation (0 = none: train "
                        "on all of it, as the papers' final models did)")
    p.add_argument("--image-size", type=int, dest="image_size",
                   help="side of the training image for tfds:/folder: data (0 = the preset's "
                        "input with a crop augmentation, else the dataset's)")
    p.add_argument("--seed", type=int, help="seed for weights, batch order and augmentation")
    p.add_argument("--grad-norm-every", type=int, dest="grad_norm_every",
                   help="record per-layer gradient norms every k steps (default 1)")
    p.add_argument("--precision", help="float32 | mixed_float16 | mixed_bfloat16 (GPU)")
    p.add_argument("--strategy", help="default (one device) | mirrored (local GPUs, or "
                                      "--devices) | multi-worker (machines listed in "
                                      "TF_CONFIG; see docs/distributed.md)")
    p.add_argument("--devices", help='mirrored: devices to use, e.g. "GPU:0,GPU:1" (default: '
                                     'every GPU); "CPU:0,CPU:1" splits the CPU (testing)')
    p.add_argument("--sync-batch-norm", action=argparse.BooleanOptionalAction,
                   dest="sync_batch_norm", help="with several replicas, batch normalization "
                   "uses the global batch's statistics (default: on)")
    p.add_argument("--runs-root", help="folder holding run folders (default: user data folder, "
                                       "or $RESNET_STUDIO_HOME/runs)")
    p.add_argument("--data-dir", help="TFDS data folder (default $TFDS_DATA_DIR)")
    p.add_argument("--limit", type=int, help="use at most N examples per split (smoke tests)")
    add_max_params_flag(p)
    p.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    p.epilog = ((p.epilog + " ") if p.epilog else "") + \
        "Unset settings come from the preset's training section, then the defaults."


OVERRIDES = ("epochs", "batch_size", "optimizer", "learning_rate", "schedule", "weight_decay",
             "weight_decay_mode", "weight_decay_on", "augment", "image_size",
             "validation_fraction",
             "seed", "grad_norm_every", "precision", "strategy", "devices", "sync_batch_norm")


def _names(text: str) -> list[str]:
    """'scale_crop,flip' -> ['scale_crop', 'flip'] (checked with the training settings)."""
    return [t.strip() for t in text.split(",") if t.strip()]


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="train a preset on a dataset",
                       epilog="Exit 0 when the run completes or is stopped, 1 when it failed, "
                              "2 for bad input (a preset, a flag, the data; also a damaged "
                              "image met during the run, which is then marked failed).")
    add_training_flags(p, preset_optional=True)
    p.add_argument("--no-residual", action="store_true", help="train the plain twin")
    p.add_argument("--run-dir", help="folder for this run (default: a new one under the root)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a stopped or interrupted run from its last checkpoint, exactly "
                        "where it was (weights, optimizer state, learning-rate schedule, batch "
                        "order); --epochs N extends it")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser(
        "compare", help="train a preset and its plain twin (shortcuts removed) side by side",
        description="Trains the architecture and its plain twin (every shortcut removed) under "
                    "identical conditions: same seed, settings and batch order, and the same "
                    "initial weights wherever the two share a layer. Progress goes to stderr "
                    "(lines prefixed 'residual:' / 'plain:'); the summary compares the final "
                    "training loss, the test accuracy and the gradient ratio (mean over steps "
                    "of the first weighted block's gradient norm ÷ the last one's before the "
                    "head: near 1 the first layers learn, 1e-10 they do not).",
        epilog="Exit 0 when both runs complete, 1 when one failed, 2 for bad input (unknown "
               "preset or dataset, an architecture without shortcuts, or a damaged image met "
               "during a run). With --json the "
               'last stdout line is {"residual": {...}, "plain": {...}}.')
    add_training_flags(p)
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser("evaluate", help="evaluate a run's last checkpoint on its test split")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("datasets", help="list the datasets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_datasets)


def resolve_config(spec: Any, args: argparse.Namespace) -> Any:
    from resnet_studio.core.training_config import TrainingConfig

    overrides = {k: getattr(args, k, None) for k in OVERRIDES}
    try:
        return TrainingConfig.from_sources(spec.training, overrides)
    except ValueError as e:
        raise UsageError(flag_message(str(e))) from None


def flag_message(text: str) -> str:
    """A config error worded with the CLI's flags (`training.learning_rate` -> `--lr`)."""
    text = text.replace("training.learning_rate", "--lr")
    return text.replace("training.", "--").replace("_", "-")


class ProgressPrinter:
    """CLI observer: a one-line progress bar on a terminal, epoch lines otherwise.

    Throttled at the source (at most 5 redraws a second) so printing never slows training.
    """

    def __init__(self, stream: Any = None, quiet: bool = False, prefix: str = "") -> None:
        self.stream = stream or sys.stderr
        self.prefix = prefix  # `compare` tells its two runs apart: "residual: ", "plain: "
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.quiet = quiet
        self._last = 0.0
        self.epochs = 0
        self.steps_per_epoch = 0

    def __call__(self, event: Any) -> None:
        from resnet_studio.core.training import events as ev

        if self.quiet:
            return
        if isinstance(event, ev.Started):
            self.epochs, self.steps_per_epoch = event.epochs, event.steps_per_epoch
            self._print(f"run folder: {event.run_dir}\n")
        elif isinstance(event, ev.BatchEnd) and self.tty:
            now = time.monotonic()
            if now - self._last < 0.2:
                return
            self._last = now
            spe = max(1, self.steps_per_epoch)
            done = event.epoch * spe + event.batch
            total = self.epochs * spe
            frac = min(1.0, done / total) if total > 0 else 0.0
            eta = event.elapsed / max(frac, 1e-9) * (1 - frac) if frac > 0 else 0
            bar = "#" * int(frac * 24)
            self._print(f"\repoch {event.epoch + 1}/{self.epochs} [{bar:<24}] "
                        f"loss {event.loss:.4f}  {event.samples_per_second:,.0f}/s  "
                        f"ETA {_fmt_seconds(eta)}   ")
        elif isinstance(event, ev.EpochEnd):
            val = "  ".join(f"val_{k} {v:.4f}" for k, v in event.val.items())
            train = "  ".join(f"{k} {v:.4f}" for k, v in event.train.items())
            self._print(("\r" if self.tty else "") + f"epoch {event.epoch}/{self.epochs}  "
                        f"{train}  {val}  ({event.seconds:.1f}s)" + " " * 10 + "\n")
        elif isinstance(event, ev.Log) and event.level != "info":
            self._print(f"{event.level}: {event.message}\n")

    def _print(self, text: str) -> None:
        if self.prefix:
            text = "\r" + self.prefix + text[1:] if text.startswith("\r") else \
                self.prefix + text
        self.stream.write(text)
        self.stream.flush()


def _fmt_seconds(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"


def _runs_root(args: argparse.Namespace) -> Path:
    from resnet_studio.core.runs import default_runs_root

    return Path(args.runs_root) if getattr(args, "runs_root", None) else default_runs_root()


@obeys_max_params
def cmd_train(args: argparse.Namespace) -> int:
    from resnet_studio.core.builder import plain_twin
    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.runs import is_run_dir, new_run_dir

    resume = bool(args.resume)
    if resume:
        spec, dataset, cfg, run_dir, preset, limit, data_dir = _resume_target(args)
    elif not args.preset:
        raise UsageError("train: name a preset (resnet-studio presets lists them), or pass "
                         "--resume RUN_DIR")
    else:
        spec = load_preset(args.preset)
        if args.no_residual:
            spec = plain_twin(spec)
        cfg = resolve_config(spec, args)
        dataset = args.dataset or spec.dataset
        if not dataset:
            raise UsageError(f"{args.preset}: no dataset in the preset; pass --dataset NAME")
        preset = spec.name
        run_dir = Path(args.run_dir) if args.run_dir else new_run_dir(_runs_root(args), preset)
        if is_run_dir(run_dir):
            raise UsageError(f"{run_dir} already holds a run; choose another --run-dir or use "
                             "--resume")
        limit, data_dir = args.limit, args.data_dir
    result = _train(spec, dataset, cfg, run_dir, args, preset=preset, limit=limit,
                    data_dir=data_dir, resume=resume)
    return _report_result(result, args)


def _resume_target(args: argparse.Namespace) -> tuple[Any, ...]:
    """(spec, dataset, config, run dir, preset, limit, data dir) of a run to resume, or a
    UsageError saying why it cannot be resumed."""
    from resnet_studio.core.runs import NotResumable, RunInUse, resume_target
    from resnet_studio.core.spec import SpecError

    if args.preset or args.dataset or args.no_residual or args.run_dir or \
            args.limit is not None:
        raise UsageError("--resume continues a run with its own architecture, data and "
                         "folder: drop PRESET, --dataset, --limit, --no-residual and --run-dir")
    overrides = {k: getattr(args, k, None) for k in OVERRIDES}
    try:
        target = resume_target(args.resume, overrides)
    except SpecError:  # exit 2 with the file and field, like a bad preset
        raise
    except (NotResumable, RunInUse) as e:  # RunInUse: another trainer owns the run
        raise UsageError(str(e)) from None
    except ValueError as e:  # an override out of range: named as the flag
        raise UsageError(flag_message(str(e))) from None
    return (target.spec, target.dataset, target.config, target.run_dir, target.preset,
            target.limit, target.data_dir)


@obeys_max_params
def cmd_compare(args: argparse.Namespace) -> int:
    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.training.compare import ROLES, CompareError, Comparison

    spec = load_preset(args.preset)
    cfg = resolve_config(spec, args)
    dataset = args.dataset or spec.dataset
    if not dataset:
        raise UsageError(f"{args.preset}: no dataset in the preset; pass --dataset NAME")
    printers = {role: ProgressPrinter(prefix=f"{role}: ") for role in ROLES}
    try:
        comparison = Comparison(spec, dataset, cfg, runs_root=_runs_root(args),
                                data_dir=args.data_dir, limit=args.limit,
                                observer=lambda role, event: printers[role](event))
    except CompareError as e:
        raise UsageError(str(e)) from None
    results = comparison.run()
    if not args.json:
        print(compare_table(results))
    failed = [r for r in ROLES if results[r]["status"] == "failed"]
    if failed:
        from resnet_studio.core.training.trainer import failed_on_bad_data

        errors = "; ".join(f"{r}: {results[r]['error']}" for r in failed)
        bad = any(failed_on_bad_data(results[r].get("failure")) for r in failed)
        raise RunFailed(f"{' and '.join(failed)} run failed: {errors}", results,
                        EXIT_BAD_INPUT if bad else EXIT_FAILED)
    if args.json:
        emit_json(results)
    return EXIT_OK


def compare_table(results: dict[str, dict[str, Any]]) -> str:
    """The human summary of a comparison: both runs side by side, and the ratio of ratios."""
    res, plain = results["residual"], results["plain"]

    def fixed(v: Any) -> str:
        return "-" if v is None else f"{v:.4f}"

    def sci(v: Any) -> str:
        return "-" if v is None else f"{v:.2e}"

    def test_value(r: dict[str, Any]) -> Any:
        return (r.get("test") or {}).get("accuracy")

    rows = [("", "residual", "plain"),
            ("status", res["status"], plain["status"]),
            ("final train loss", fixed(res["final_train_loss"]),
             fixed(plain["final_train_loss"])),
            ("test accuracy", fixed(test_value(res)), fixed(test_value(plain))),
            ("gradient ratio", sci(res["gradient_ratio"]), sci(plain["gradient_ratio"])),
            ("alerts", ", ".join(res.get("alerts") or []) or "-",
             ", ".join(plain.get("alerts") or []) or "-")]
    lines = [f"{a:<18}{b:>14}{c:>14}" for a, b, c in rows]
    rr, rp = res["gradient_ratio"], plain["gradient_ratio"]
    if rr is not None and rp:
        lines.append(f"ratio of gradient ratios (residual ÷ plain): {rr / rp:.2e}")
    lines.append("gradient ratio: first weighted block's gradient norm ÷ the last one's before "
                 "the head, mean over steps")
    lines += [f"residual run: {res['run_dir']}", f"plain run:    {plain['run_dir']}"]
    return "\n".join(lines)


def _read_run_or_usage(run_dir: str) -> Any:
    from resnet_studio.core.runs import read_run

    try:
        return read_run(run_dir)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None


def _read_checkpointed_run_or_usage(run_dir: str) -> Any:
    """A run with a checkpoint to evaluate or export; checked before TensorFlow is loaded."""
    from resnet_studio.core.runs import checkpoint_complete

    info = _read_run_or_usage(run_dir)
    if not checkpoint_complete(info.dir):
        raise UsageError(f"{info.dir}: no checkpoint (the run ended before its first epoch "
                         "completed): nothing to evaluate or export")
    return info


def _train(spec: Any, dataset: str, cfg: Any, run_dir: Path, args: argparse.Namespace, *,
           preset: str | None, limit: int | None, data_dir: str | None, resume: bool = False,
           initial_weights: Any = None) -> Any:
    from resnet_studio.core.training.trainer import Trainer

    trainer = Trainer(spec, dataset, cfg, run_dir=run_dir,
                      observer=ProgressPrinter(quiet=False), data_dir=data_dir, limit=limit,
                      initial_weights=initial_weights, resume=resume, preset=preset)
    with naming_the_input(f"{getattr(args, 'preset', None) or preset} on {dataset}"):
        return trainer.run()


@contextlib.contextmanager
def naming_the_input(source: str) -> Iterator[None]:
    """Architecture errors found while preparing (too large, or a block that cannot take the
    dataset's input) say which preset and dataset they are about, like file errors do."""
    from resnet_studio.core.blocks.context import BlockBuildError
    from resnet_studio.core.params import Problem
    from resnet_studio.core.spec import SpecError

    try:
        yield
    except BlockBuildError as e:
        raise SpecError([Problem(e.location, f"{e.block}: {e.detail}")], source) from None
    except SpecError as e:
        if e.source:
            raise
        raise SpecError(e.problems, source) from None


def _report_result(result: Any, args: argparse.Namespace) -> int:
    data = result.to_dict()
    if result.status == "failed":
        raise RunFailed(f"run failed: {result.error} (run folder: {result.run_dir})", data,
                        EXIT_BAD_INPUT if result.bad_input else EXIT_FAILED)
    if args.json:
        emit_json(data)
    else:
        test = result.test or {}
        tail = "  ".join(f"{k} {v:.4f}" for k, v in test.items() if isinstance(v, float))
        print(f"{result.status}: {result.epochs_completed} epochs, {result.steps} steps in "
              f"{result.seconds:.1f}s  {('test: ' + tail) if tail else ''}")
        role = result.distribution or {}
        if role.get("chief", True):
            print(f"run folder: {result.run_dir}")
        else:  # its temporary folder is gone: the chief keeps the run
            print(f"{role.get('task_type')} {role.get('task_id')}: the chief worker writes the "
                  "run folder")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from resnet_studio.core.training.restore import evaluate_run

    info = _read_checkpointed_run_or_usage(args.run_dir)
    notes: list[str] = []
    test = evaluate_run(info, notes)
    for note in notes:
        print(f"resnet-studio: warning: {note}", file=sys.stderr)
    if args.json:
        emit_json({"run_dir": str(info.dir), "test": test, "warnings": notes})
    else:
        for k, v in test.items():
            if k != "confusion_matrix":
                print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    return EXIT_OK


def cmd_datasets(args: argparse.Namespace) -> int:
    from resnet_studio.core.data import dataset_names, list_datasets

    infos = list_datasets()
    if args.json:
        emit_json({"datasets": [i.to_dict() for i in infos], "names": dataset_names()})
        return EXIT_OK
    for i in infos:
        shape = "×".join(map(str, i.input_shape))
        what = f"{i.num_classes} classes" if i.num_classes else f"vocab {i.vocab_size}"
        print(f"{i.name:<20} {i.task:<15} {shape:<10} {what:<11} {i.sizes.get('train', 0):>6} "
              f"train  {i.description}")
    print("also: tfds:NAME[/CONFIG], folder:PATH, npz:PATH")
    return EXIT_OK
