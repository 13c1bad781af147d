"""What every subcommand shares: its errors, its JSON output, the --max-params flag.

Apart from main.py (parsing and dispatch) so that the command modules need not import the
module that imports them.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from resnet_studio.core.exitcodes import EXIT_FAILED

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad input found by a command; printed without traceback, exit 2."""


class RunFailed(Exception):
    """A run ended as failed; exit 1, or `exit_code` (2 when the run failed on the user's
    data: a damaged file). `result` is printed as JSON with --json."""

    def __init__(self, message: str, result: dict[str, Any] | None = None,
                 exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.result = result
        self.exit_code = exit_code


def emit_json(obj: dict[str, Any]) -> None:
    """Prints the one JSON object that is the last stdout line."""
    from resnet_studio.core.jsonio import to_jsonable

    sys.stdout.write(json.dumps(obj, default=to_jsonable) + "\n")
    sys.stdout.flush()


def add_max_params_flag(p: argparse.ArgumentParser) -> None:
    """`--max-params N`: the model size limit (`summary`, `validate`, `train`, `compare`)."""
    p.add_argument("--max-params", dest="max_params", metavar="N",
                   help="refuse models with more than N parameters, before allocating them "
                        "(e.g. 5e9; default $RESNET_STUDIO_MAX_PARAMS, else 2e9)")


def obeys_max_params(handler: Handler) -> Handler:
    """Decorator: during the command, `--max-params` is the limit of every build.

    Through the environment variable the builder reads, so builds deep inside the core (the
    Trainer's, a comparison's two) obey it without every API growing a parameter; restored
    afterwards, so in-process callers (tests, the GUI) keep their own setting.
    """

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from resnet_studio.core.builder import MAX_PARAMS_ENV, parse_max_params

        value = getattr(args, "max_params", None)
        if value is None:
            return handler(args)
        previous = os.environ.get(MAX_PARAMS_ENV)
        os.environ[MAX_PARAMS_ENV] = str(parse_max_params(value, "--max-params"))
        try:
            return handler(args)
        finally:
            if previous is None:
                os.environ.pop(MAX_PARAMS_ENV, None)
            else:
                os.environ[MAX_PARAMS_ENV] = previous

    return run
