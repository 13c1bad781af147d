"""Killing a real training process at a chosen moment (the kill-and-resume tests)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable


def sigkill_when(child: subprocess.Popen, ready: Callable[[], bool], what: str,
                 timeout: float = 300.0) -> None:
    """Polls `ready()` every 10 ms and SIGKILLs `child` the moment it is true.

    Fails with the child's stderr if it exits first, or naming `what` after `timeout` seconds.
    The child is always reaped and its stderr pipe closed.
    """
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(60)
        child.stderr.close()
