"""A job function (core.jobs) that runs its work in a child process.

Why. A job thread shares the interpreter with the GUI thread. Work that spends long stretches
in Python holding the GIL — building a Keras model, tracing a `tf.function` — freezes the
window for that long (the Geometry tab measured stalls of up to 0.2 s while a study traced
its functions). A child process has its own interpreter: the GUI thread then only waits on
a pipe.

`process_job(fn)` returns a job function for `gui.jobs.Job` (or `core.jobs.run_job`):
called as `job(*args, state)` in the job's thread, it starts a process with the *spawn*
context (a fresh interpreter: no fork of a process that holds Qt and TensorFlow threads),
calls `fn(*args, child_state)` there and relays, through one pipe, every
`child_state.progress(...)` and `child_state.partial(...)` to the caller's `state`, then
returns `fn`'s result. `fn` and its arguments, partial results and the result must pickle
(`fn` a module-level function).

Stopping is not cooperative here: `state.cancel()` is noticed within `POLL_S`, the child is
killed (SIGKILL) and `JobCancelled` raised. Whatever the child was writing is left as it
was: `fn` must write its results atomically (temporary file, then rename), and the
`cleanup(pid)` callback given to `process_job` removes that child's temporary files.

An exception in the child is raised again in the caller, as the same type when it pickles
(so `describe_error` words it as it would in-process), chained to a `ChildTraceback`
carrying the child's traceback text.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import traceback
from collections.abc import Callable
from typing import Any

from resnet_studio.core.jobs import JobCancelled, JobState, describe_error

POLL_S = 0.05  # how often the job's thread looks at the cancel flag between messages
# The nice value the GUI gives its background work (gui/app.py BACKGROUND_NICENESS, for
# training threads): on 2 cores a child at the GUI's priority keeps both busy and the GUI
# thread waits for a core. Linux/Unix only; elsewhere the child keeps its priority.
BACKGROUND_NICENESS = 10


class ChildTraceback(Exception):
    """The traceback of an exception raised in the child process (as text)."""


class ChildDied(RuntimeError):
    """The child process ended without a result (killed, out of memory, a crash)."""


class _ChildState(JobState):
    """The state `fn` sees in the child: reports go down the pipe. A stop kills the child,
    so `cancelled` stays False there."""

    def __init__(self, conn: Any) -> None:
        super().__init__(on_partial=lambda v: conn.send(("partial", v)),
                         on_progress=lambda f, t: conn.send(("progress", (f, t))))


def _child_main(conn: Any, fn: Callable[..., Any], args: tuple[Any, ...],
                niceness: int) -> None:
    """Runs in the child: fn(*args, state), then sends ("done", result) or ("error", ...)."""
    if niceness:
        lower_priority(niceness)
    try:
        result = fn(*args, _ChildState(conn))
        conn.send(("done", result))
    except BaseException as e:  # noqa: BLE001 - every error goes back to the caller
        text = traceback.format_exc()
        try:
            payload: Any = pickle.dumps(e)
            pickle.loads(payload)  # some exceptions pickle but do not unpickle
        except Exception:  # noqa: BLE001 - then the message alone travels
            payload = None
        conn.send(("error", (payload, describe_error(e), text)))
    finally:
        conn.close()


def lower_priority(niceness: int) -> None:
    """Adds `niceness` to the nice value of every thread of this process. On Linux the nice
    value is per thread and os.nice() changes the calling thread's only: the threads that
    unpickling the job already started (OpenBLAS's pool, started by importing numpy, which
    busy-waits between calls) would keep the GUI's priority. Threads started later inherit
    it from the thread that starts them."""
    try:
        target = min(19, os.getpriority(os.PRIO_PROCESS, 0) + niceness)
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except (AttributeError, OSError):  # no /proc (not Linux): the process as a whole
        tids = [0]
        target = niceness
    for tid in tids:
        try:
            if tid == 0:
                os.nice(target)
            else:
                os.setpriority(os.PRIO_PROCESS, tid, target)
        except (AttributeError, OSError):  # a thread that ended, or no priorities here
            continue


def process_job(fn: Callable[..., Any], *, cleanup: Callable[[int], None] | None = None,
                name: str = "resnet-studio-job", niceness: int = 0) -> Callable[..., Any]:
    """A job function running `fn` in a child process (module docstring).

    Args:
        fn: A module-level job function `fn(*args, state)`.
        cleanup: Called with the child's pid after the child was killed (a stop): removes
            what it may have left half-written.
        name: The child process's name.
        niceness: Added to the child's nice value (BACKGROUND_NICENESS for work started
            from the GUI).
    """

    def job(*args_and_state: Any) -> Any:
        *args, state = args_and_state
        return run_in_process(fn, tuple(args), state, cleanup=cleanup, name=name,
                              niceness=niceness)

    return job


def run_in_process(fn: Callable[..., Any], args: tuple[Any, ...], state: JobState, *,
                   cleanup: Callable[[int], None] | None = None,
                   name: str = "resnet-studio-job", niceness: int = 0) -> Any:
    """Calls `fn(*args, child_state)` in a spawned process, relaying its reports to `state`;
    returns its result. Raises JobCancelled after a stop (the child killed), the child's
    exception if it raised one, ChildDied if it ended without a word."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_main, args=(send, fn, args, niceness), name=name, daemon=True)
    child.start()
    send.close()  # the child holds the only writing end: EOF when it is gone
    killed = False
    try:
        while True:
            if state.cancelled:
                child.kill()
                killed = True
                raise JobCancelled
            if not receive.poll(POLL_S):
                continue
            try:
                kind, value = receive.recv()
            except EOFError:
                child.join()
                raise ChildDied(f"the {name} process ended without a result (exit code "
                                f"{child.exitcode})") from None
            if kind == "progress":
                state.progress(*value)
            elif kind == "partial":
                state.partial(value)
            elif kind == "done":
                return value
            else:
                _raise_child_error(*value)
    finally:
        if child.is_alive() and not killed:
            child.kill()
            killed = True
        child.join()
        receive.close()
        if killed and cleanup is not None and child.pid is not None:
            cleanup(child.pid)


def _raise_child_error(payload: bytes | None, message: str, text: str) -> None:
    error: BaseException = pickle.loads(payload) if payload is not None else RuntimeError(message)
    raise error from ChildTraceback(text)
