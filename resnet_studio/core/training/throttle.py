"""Fewer `BatchEnd` events for observers that cannot use one per step.

A small model trains thousands of steps a second; the GUI redraws ten times a second, and
every event it receives crosses threads as a queued signal and lands in the run history. So an
observer can ask the Trainer (`Trainer(..., batch_throttle=BatchThrottle(...))`) to emit
`BatchEnd` at most every `min_interval_s` seconds and every `every` batches. Nothing is lost
that the views need:

- the first batch is always emitted (the curves start at once);
- a batch held back is kept as *pending* and emitted before the next event of another kind
  (an epoch end, a log line, an alert, the end of the run), so every epoch's last batch and
  the run's final values always arrive, in order;
- the run folder still records every batch (the Trainer writes records before it emits).

Gradient-norm events are not throttled here (`grad_norm_every` already spaces them) and do
not flush a pending batch, so they cannot defeat the throttle.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any


class BatchThrottle:
    """Decides which `BatchEnd` events reach the observer.

    Args:
        min_interval_s: Emit at most one `BatchEnd` per this many seconds (0: no limit).
        every: Emit at most one in this many batches (1: no limit).
        clock: Seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, min_interval_s: float = 0.0, every: int = 1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if min_interval_s < 0 or every < 1:
            raise ValueError(f"BatchThrottle: min_interval_s must be >= 0 and every >= 1, "
                             f"received {min_interval_s} and {every}")
        self.min_interval_s = float(min_interval_s)
        self.every = int(every)
        self.clock = clock
        self._last_time = -math.inf
        self._since = 0  # batches offered since the last one emitted
        self._pending: Any = None
        self.emitted = 0  # BatchEnd events let through so far

    def offer(self, event: Any) -> Any:
        """Returns `event` if it is to be emitted now, else keeps it pending and returns None."""
        self._since += 1
        now = self.clock()
        if self.emitted == 0 or (self._since >= self.every and
                                 now - self._last_time >= self.min_interval_s):
            self._pending = None
            self._since = 0
            self._last_time = now
            self.emitted += 1
            return event
        self._pending = event  # replaces an older pending one: that one is skipped
        return None

    def flush(self) -> Any:
        """The batch held back since the last emitted one (then emitted), or None."""
        event, self._pending = self._pending, None
        if event is not None:
            self._since = 0
            self._last_time = self.clock()
            self.emitted += 1
        return event
