"""Argument parsing, dispatch and the one place where errors become exit codes."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from resnet_studio import __version__
from resnet_studio.cli.common import RunFailed, UsageError, emit_json
from resnet_studio.core.exitcodes import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from resnet_studio.core.tf_quiet import TF_LOGS_ENV, quiet_python_warnings, quiet_tensorflow


class CliParser(argparse.ArgumentParser):
    """argparse exits 2 on bad flags already; keep its message, drop nothing else."""


def _bad_input_types() -> tuple[type[BaseException], ...]:
    """Error classes that mean 'the user's input is wrong' (exit 2)."""
    from resnet_studio.core.blocks.context import BlockBuildError
    from resnet_studio.core.runs.diskio import StoreWriteError
    from resnet_studio.core.runs.lock import RunInUse
    from resnet_studio.core.runs.resume import NotResumable
    from resnet_studio.core.spec import SpecError
    from resnet_studio.core.training.distribute import DistributionError
    from resnet_studio.core.training.memory import MemoryGuardError

    # StoreWriteError here is a runs root or --run-dir that cannot be written, found before
    # training (during training it ends the run `failed` instead).
    types: list[type[BaseException]] = [UsageError, SpecError, BlockBuildError,
                                        DistributionError, RunInUse, NotResumable,
                                        StoreWriteError, MemoryGuardError]
    try:
        from resnet_studio.core.data import DatasetError

        types.append(DatasetError)
    except ImportError:  # pragma: no cover - present once the data package exists
        pass
    return tuple(types)


def build_parser() -> argparse.ArgumentParser:
    from resnet_studio.cli import commands

    parser = CliParser(prog="resnet-studio",
                       description="Build, train and understand residual networks.",
                       epilog="Without a COMMAND, opens the app: `resnet-studio --screenshot "
                              "FILE` is `resnet-studio gui --screenshot FILE`.")
    parser.add_argument("--version", action="version", version=f"resnet-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.register_all(sub)
    for command in sub.choices.values():
        command.add_argument("--verbose", action="store_true",
                             help="show TensorFlow's own log lines and library warnings "
                                  f"(also: {TF_LOGS_ENV}=1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `resnet-studio` console script. Returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or _gui_option(parser, argv[0]):
        argv = ["gui", *argv]  # `resnet-studio` alone (or with gui options) opens the app
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: --help/--version (0) or bad flags (2)
        return int(e.code or 0)
    handler: Callable[[argparse.Namespace], int] = args.handler
    # TensorFlow's C++ start-up lines and library warnings are noise to a user; --verbose
    # (or RESNET_STUDIO_TF_LOGS=1) shows them. Before any command imports TensorFlow.
    if quiet_tensorflow(verbose=bool(getattr(args, "verbose", False))):
        quiet_python_warnings()
    as_json = bool(getattr(args, "json", False))
    try:
        return handler(args)
    except _bad_input_types() as e:
        _report(str(e), as_json, "bad_input")
        return EXIT_BAD_INPUT
    except RunFailed as e:
        print(f"resnet-studio: {e}", file=sys.stderr)
        if as_json:
            emit_json(e.result or {"status": "failed", "error": str(e)})
        return e.exit_code
    except BrokenPipeError:  # `resnet-studio presets | head`: the reader left, not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK
    except KeyboardInterrupt:
        print("resnet-studio: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # an internal error: say so plainly, keep the trace for bug reports
        from resnet_studio.core.data.op_errors import explain, is_decode_error, is_op_error

        if is_op_error(e) and not os.environ.get("RESNET_STUDIO_DEBUG"):  # in our words
            _report(explain(e), as_json, "bad_input" if is_decode_error(e) else "failed")
            return EXIT_BAD_INPUT if is_decode_error(e) else EXIT_FAILED
        if os.environ.get("RESNET_STUDIO_DEBUG"):
            traceback.print_exc()
        _report(f"internal error: {type(e).__name__}: {e} (set RESNET_STUDIO_DEBUG=1 for the "
                "traceback)", as_json, "internal")
        return EXIT_FAILED


def _gui_option(parser: argparse.ArgumentParser, arg: str) -> bool:
    """Whether `arg` is an option of `gui` (e.g. --screenshot) and not a top-level one."""
    if not arg.startswith("--"):
        return False
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    gui = sub.choices["gui"]
    name = arg.split("=", 1)[0]
    top = {o for a in parser._actions for o in a.option_strings}
    return name not in top and any(name in a.option_strings for a in gui._actions)


def _report(message: str, as_json: bool, kind: str) -> None:
    print(f"resnet-studio: {message}", file=sys.stderr)
    if as_json:
        emit_json({"error": message, "kind": kind})


if __name__ == "__main__":  # pragma: no cover
    # `python -m resnet_studio.cli.main` runs this file as a second module, `__main__`, beside
    # the `resnet_studio.cli.main` the commands import: its UsageError would not be theirs and
    # bad input would read as an internal error. Run the package's copy instead (or use
    # `python -m resnet_studio`, which has no such double).
    from resnet_studio.cli import main as package_main

    sys.exit(package_main())
