"""TensorFlow's start-up lines kept off the user's terminal (CLI, app, bundle).

TensorFlow's C++ runtime writes straight to file descriptor 2 while it is imported and
while it looks for devices: "oneDNN custom operations are on…", "Could not find cuda
drivers on your machine…", "failed call to cuInit…", the CPU-feature notice. Most of them are
written before absl's logging is initialised, so `TF_CPP_MIN_LOG_LEVEL` does not silence
them. `quiet_tensorflow()` therefore (1) sets `TF_CPP_MIN_LOG_LEVEL=3` unless the user set
it, and (2) arranges that the first `import tensorflow` of the process, and the device
discovery right after it, run with fd 2 sent to a temporary file; when they end, fd 2 is
restored and whatever was written meanwhile goes back to stderr except TensorFlow's log
lines. Python's own messages and tracebacks (ours, or another thread's during the import)
are kept, only delayed to the end of the import.

`RESNET_STUDIO_TF_LOGS=1` in the environment (or `--verbose` on the command line) turns all
of this off: TensorFlow's logs are shown as TensorFlow writes them.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

TF_LOGS_ENV = "RESNET_STUDIO_TF_LOGS"

# An absl/TensorFlow C++ log line: "I0000 00:00:1796473285.747749    7868 port.cc:153] ..."
# (severity, date, time, thread, file:line]).
_LOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [^\s\]]+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
# Lines Python writes: kept even right after a TensorFlow line.
_PYTHON_LINE = re.compile(r"^(Traceback |  File |\S.*:\d+: \w*(Warning|Error)\b|\w*(Error|"
                          r"Exception|Warning)\b)")

_lock = threading.Lock()


def tf_logs_wanted() -> bool:
    """True when the user asked for TensorFlow's own logs (RESNET_STUDIO_TF_LOGS=1)."""
    return os.environ.get(TF_LOGS_ENV, "").strip().lower() not in ("", "0", "false", "no")


def quiet_tensorflow(verbose: bool = False) -> bool:
    """Keeps TensorFlow's C++ start-up lines off stderr, from now on in this process.

    Call before TensorFlow is imported (it is then imported quietly whenever some module
    first imports it, in any thread); calling again, or after the import, does no harm.

    Args:
        verbose: Show TensorFlow's logs instead (also when RESNET_STUDIO_TF_LOGS=1): then
            `RESNET_STUDIO_TF_LOGS=1` is set for child processes and nothing is filtered.

    Returns:
        True if TensorFlow's logs will be filtered.
    """
    if verbose:
        os.environ[TF_LOGS_ENV] = "1"
    if tf_logs_wanted():
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _lock:
        if "tensorflow" not in sys.modules and not any(
                isinstance(f, _QuietFinder) for f in sys.meta_path):
            sys.meta_path.insert(0, _QuietFinder())
    return True


def quiet_python_warnings() -> None:
    """Keeps library warnings (Keras, scikit-learn, NumPy…) and TensorFlow's Python-side
    "WARNING:tensorflow" / absl messages off stderr, for normal command-line use."""
    warnings.simplefilter("ignore")
    for name in ("tensorflow", "absl", "keras", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)


def filter_tensorflow_lines(text: str) -> str:
    """`text` without TensorFlow's C++ log lines (and their continuation lines)."""
    kept: list[str] = []
    in_log = False
    for line in text.splitlines(keepends=True):
        if _LOG_LINE.match(line) or line.startswith(_ABSL_PREAMBLE):
            in_log = True
        elif in_log and line.strip() and not _PYTHON_LINE.match(line):
            pass  # a continuation ("To enable the following instructions: AVX2 …")
        else:
            in_log = False
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def stderr_without_tensorflow_logs() -> Iterator[None]:
    """Inside: fd 2 goes to a temporary file; afterwards its text, less TensorFlow's log
    lines, is written to the real stderr. Does nothing where fd 2 cannot be duplicated (no
    console, e.g. a windowed bundle)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        _flush()
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            _flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            rest = filter_tensorflow_lines(tmp.read().decode("utf-8", "replace"))
            if rest:
                with contextlib.suppress(OSError, ValueError):
                    os.write(2, rest.encode("utf-8", "replace"))


def _flush() -> None:
    for stream in (sys.stderr, sys.__stderr__):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, wrapping its loader in `_QuietLoader`; then steps aside."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        with _lock, contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with stderr filtered; then the device discovery (where
    the CUDA lines come from), so that it too happens while filtered."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with stderr_without_tensorflow_logs():
            self._loader.exec_module(module)
            with contextlib.suppress(Exception):  # a broken driver shows up later, in words
                module.config.list_physical_devices()

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, …
        return getattr(self._loader, name)
