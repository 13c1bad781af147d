"""Is the network there? A few short socket connects, answered within seconds.

Offline first: TensorFlow Datasets and keras-hub left to themselves retry a download for
minutes when there is no network, so the dataset sources (`data/tfds.py`) and the pretrained
backbone block (`blocks/pretrained.py`) ask here first and tell the user at once what to do.
"""

from __future__ import annotations

import socket
import threading
import time

# One deadline for all network probes together: the whole offline failure must take < 10 s
# including TensorFlow Datasets' own import.
PROBE_TIMEOUT_S = 3.0
# Probed when the caller knows no host of its own: TFDS's storage for many datasets.
FALLBACK_HOST = "storage.googleapis.com"


def network_available(hosts: list[str], timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Returns True if a TCP connection to port 443 of any host succeeds before `timeout`.

    Probes run in parallel daemon threads because name resolution ignores socket timeouts
    and can itself hang for many seconds on a disconnected machine.
    """
    reachable = threading.Event()
    candidates = hosts or [FALLBACK_HOST]
    finished = threading.Semaphore(0)

    def probe(host: str) -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                reachable.set()
        except OSError:
            pass
        finally:
            finished.release()

    for host in candidates:
        threading.Thread(target=probe, args=(host,), daemon=True).start()
    deadline = time.monotonic() + timeout
    # Return as soon as one host answers or every probe has failed (often instantly: no DNS).
    for _ in candidates:
        if reachable.is_set() or not finished.acquire(
            timeout=max(0.0, deadline - time.monotonic())
        ):
            break
    return reachable.is_set()
