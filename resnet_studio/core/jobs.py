"""Long work as a plain function that reports through a `JobState` (no Qt here).

A *job* is a function `fn(*args, state)`: it does the heavy work in whatever thread calls
it, and talks to its caller only through the `JobState` it is given: `state.progress()` for
"how far", `state.partial()` to stream intermediate results (training events), and
`state.cancelled` / `state.check()` to notice that the caller wants it to stop. Stopping is
always cooperative: nobody kills a thread; the job returns (or raises `JobCancelled`) at the
next point where stopping is safe.

Work that has its own stop/pause switches (the Trainer, a Comparison) hands them to the state
with `state.bind(...)`: a stop or pause requested before the job got that far (while the data
was loading) is applied at once, later ones go straight through.

The GUI runs jobs with `gui.jobs.Job` (one QThread per job, results delivered to the GUI
thread); the CLI can call `run_job(fn, *args)` to run the same function in its own thread.
The pattern follows Orange3's `concurrent.py` (a task function taking a TaskState).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class JobCancelled(Exception):
    """The job ended early because a stop was requested (`JobState.check()` raises it).

    Raised with a message, it tells the user why there is no result ("Stopped before training
    started."); the GUI shows that message as the job's failure, without a traceback."""


class JobState:
    """What a running job sees of its caller; thread-safe.

    Args:
        on_partial: Called (in the job's thread) with each partial result.
        on_progress: Called (in the job's thread) with (fraction in [0, 1] or nan, text).
    """

    def __init__(self, on_partial: Callable[[Any], None] | None = None,
                 on_progress: Callable[[float, str], None] | None = None) -> None:
        self._on_partial = on_partial
        self._on_progress = on_progress
        self._lock = threading.Lock()
        self._cancelled = False
        self._paused = False
        self._stop_fn: Callable[[], None] | None = None
        self._pause_fn: Callable[[], None] | None = None
        self._resume_fn: Callable[[], None] | None = None

    # -- reporting (the job's thread)
    def partial(self, value: Any) -> None:
        """Streams an intermediate result (e.g. a training event) to the caller."""
        if self._on_partial is not None:
            self._on_partial(value)

    def progress(self, fraction: float, text: str = "") -> None:
        """Says how far the job is (fraction of the work done, nan if unknown)."""
        if self._on_progress is not None:
            self._on_progress(fraction, text)

    @property
    def cancelled(self) -> bool:
        """A stop was requested: the job should return at its next safe point."""
        return self._cancelled

    @property
    def paused(self) -> bool:
        return self._paused

    def check(self) -> None:
        """Raises JobCancelled once a stop was requested."""
        if self._cancelled:
            raise JobCancelled

    def bind(self, stop: Callable[[], None] | None = None,
             pause: Callable[[], None] | None = None,
             resume: Callable[[], None] | None = None) -> None:
        """Forwards stop, pause and resume to the object doing the work from now on; a stop
        or pause requested before this call is applied now."""
        with self._lock:
            self._stop_fn, self._pause_fn, self._resume_fn = stop, pause, resume
            if self._cancelled and stop is not None:
                stop()
            elif self._paused and pause is not None:
                pause()

    # -- control (any thread, usually the caller's)
    def cancel(self) -> None:
        """Requests a cooperative stop."""
        with self._lock:
            self._cancelled = True
            if self._stop_fn is not None:
                self._stop_fn()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            if self._pause_fn is not None:
                self._pause_fn()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            if self._resume_fn is not None:
                self._resume_fn()


def describe_error(e: BaseException) -> str:
    """One readable line for an exception (the messages of our own errors already are)."""
    from resnet_studio.core.blocks.context import BlockBuildError
    from resnet_studio.core.data import DatasetError
    from resnet_studio.core.data.op_errors import explain, is_op_error
    from resnet_studio.core.spec import SpecError

    if isinstance(e, (DatasetError, SpecError, BlockBuildError, FileNotFoundError,
                      FileExistsError, ValueError)):
        return str(e)
    if is_op_error(e):  # never TensorFlow's node names and op tags
        return explain(e)
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else 'no message'}"


def run_job(fn: Callable[..., Any], *args: Any, state: JobState | None = None) -> Any:
    """Runs a job function in the calling thread (CLI use); returns its result."""
    return fn(*args, state if state is not None else JobState())
