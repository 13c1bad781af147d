"""Child processes in tests: killing a real training process at a chosen moment (the
kill-and-resume tests), serving an export in a Python without our code."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


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


def serve_text_in_bare_tensorflow(saved_model: Path, *texts: list[str]) -> np.ndarray:
    """What a text SavedModel's ``serve(*texts)`` returns in a fresh Python that imports only
    TensorFlow and tensorflow-text, as a user serving the export would (the child asserts that
    neither resnet_studio nor keras_hub was loaded)."""
    args = ", ".join(f"tf.constant({t!r})" for t in texts)
    code = (
        "import json, sys\n"
        "import tensorflow as tf\n"
        "import tensorflow_text  # registers the WordPiece ops\n"
        f"m = tf.saved_model.load({str(saved_model)!r})\n"
        f"print(json.dumps(m.serve({args}).numpy().tolist()))\n"
        "bad = [k for k in sys.modules if k.startswith(('resnet_studio', 'keras_hub'))]\n"
        "assert not bad, bad\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=saved_model.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    return np.array(json.loads(done.stdout.strip().splitlines()[-1]))
