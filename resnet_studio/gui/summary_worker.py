"""Shapes and parameter counts, computed by building the Keras model in a background thread.

The GUI never computes a shape or a count itself: after every edit it asks Keras. The
`SummaryService` (GUI thread) debounces requests with a single-shot timer, numbers each one
(its *generation*) and keeps at most one build in flight; each build is a job (gui.jobs:
`summary_job`) run in one long-lived `WorkerThread`, which owns all Keras building, and its
result comes back as the job's `finished`. A result whose generation is not the latest is
dropped, so a slow build can never overwrite a newer edit's numbers.

Job signals reach the service through `Qt.QueuedConnection` to slots of an object living in
the GUI thread (a signal connected to a plain function runs in the emitting thread, and that
deadlocked with PySide6 6.12).
"""

from __future__ import annotations

import copy
import gc
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from resnet_studio.core import editing
from resnet_studio.core.builder import ModelSummary, block_names
from resnet_studio.core.jobs import JobState
from resnet_studio.core.params import Problem
from resnet_studio.core.spec import ArchitectureSpec, SpecError
from resnet_studio.gui.jobs import Job, WorkerThread

# Long enough that typing "128" or holding a spin-box arrow builds once, short enough that
# the numbers feel immediate (a small model builds in ~50 ms).
DEBOUNCE_MS = 250

Path = editing.Path
BIG_MODEL_PARAMS = 5_000_000


@dataclass
class SummaryResult:
    """What Keras said about one spec.

    Attributes:
        generation: The request number (results of older requests are dropped).
        spec: The spec that was built.
        summary: Shapes and counts, when the model builds.
        problems: Why it does not build, each with its location (`blocks[3]…`).
        partial: When a block fails, the summary of the blocks before it (their shapes
            still help to see what went wrong).
        seconds: Time the build took.
    """

    generation: int
    spec: ArchitectureSpec
    summary: ModelSummary | None = None
    problems: list[Problem] = field(default_factory=list)
    partial: ModelSummary | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.summary is not None

    def headline(self) -> str:
        """One line for the status bar and the summary view."""
        if self.summary is not None:
            return f"{self.summary.total_params:,} parameters"
        if not self.problems:
            return "Model does not build"
        first = self.problems[0]
        path = editing.path_of(first.location)
        where = first.location
        if path is not None and editing.has_block(self.spec, path):
            name = block_names(self.spec).get(editing.location_of(path))
            where = f"{name} ({first.location})" if name else first.location
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"Model does not build: {where}: {first.message}{more}" if where else \
            f"Model does not build: {first.message}{more}"

    def block_summaries(self) -> dict[Path, Any]:
        """Block path -> BlockSummary for every block Keras built (all of them, or those
        before the failing one)."""
        summary = self.summary or self.partial
        if summary is None:
            return {}
        out = {}
        for b in summary.flat_blocks():
            path = editing.path_of(b.location)
            if path is not None:
                out[path] = b
        return out

    def block_problems(self) -> dict[Path, list[str]]:
        """Block path -> messages, for problems located in a block."""
        return problems_by_block(self.problems)


def problems_by_block(problems: list[Problem]) -> dict[Path, list[str]]:
    """Groups problems by the block they point into; the message keeps the rest of the
    location (`params.filters: expected …`)."""
    out: dict[Path, list[str]] = {}
    for p in problems:
        path = editing.path_of(p.location)
        if path is None:
            continue
        rest = p.location[len(editing.location_of(path)):].lstrip(".")
        out.setdefault(path, []).append(f"{rest}: {p.message}" if rest else p.message)
    return out


def build_summary(spec: ArchitectureSpec
                  ) -> tuple[ModelSummary | None, list[Problem], ModelSummary | None]:
    """Builds `spec` with Keras in the calling thread.

    Returns:
        (summary, problems, partial): the summary when it builds; else the problems and, if a
        block failed, the summary of the top-level blocks before it.
    """
    from resnet_studio.core.blocks.context import BlockBuildError
    from resnet_studio.core.builder import build_model

    # No keras.utils.clear_session() here: it resets Keras's global state for *every*
    # thread and clears TensorFlow's kernel cache, which would disturb a training run in
    # another thread. Our layers are named explicitly, so nothing accumulates but memory.
    try:
        summary = build_model(spec).summary
        _free_if_big(summary.total_params)
        return summary, [], None
    except SpecError as e:
        return None, list(e.problems), None
    except BlockBuildError as e:
        problems = [Problem(e.location, e.detail)]
        failed = editing.path_of(e.location)
    except Exception as e:  # a Keras failure the builder did not anticipate: still report it
        return None, [Problem("", f"{type(e).__name__}: {e}")], None
    partial = None
    if failed is not None and failed[0] > 0:
        prefix = copy.deepcopy(spec)
        prefix.blocks = prefix.blocks[:failed[0]]
        try:
            partial = build_model(prefix).summary
        except Exception:  # the prefix is only a help for the user; without it, no shapes
            partial = None
    return None, problems, partial


def _free_if_big(params: int) -> None:
    """Collects the dropped model now when it was big: Keras models hold reference cycles,
    and a few ResNet-152 builds (240 MB of weights each) would otherwise wait for the cyclic
    garbage collector. Small models are not worth the ~0.1 s a collection takes."""
    if params >= BIG_MODEL_PARAMS:
        gc.collect()


@dataclass
class CountResult:
    """A parameter count for the preset gallery (`SummaryService.count`)."""

    key: str
    total: int | None
    error: str


def summary_job(kind: str, key: Any, spec: ArchitectureSpec, state: JobState
                ) -> SummaryResult | CountResult:
    """One Keras build of the editor (a job function, core.jobs): a summary for generation
    `key` when kind is "summary", else a count for the gallery item `key`."""
    del state
    start = time.perf_counter()
    try:
        summary, problems, partial = build_summary(spec)
    except BaseException as e:  # reported as the build's problem, like any failed build
        summary, problems, partial = None, [Problem("", f"{type(e).__name__}: {e}")], None
    if kind == "summary":
        return SummaryResult(key, spec, summary, problems, partial, time.perf_counter() - start)
    error = str(problems[0]) if problems else ""
    return CountResult(key, summary.total_params if summary else None, error)


class SummaryService(QObject):
    """Debounced, latest-wins Keras builds for the editor (lives in the GUI thread).

    Signals:
        building(int): a build for this generation started.
        finished(object): the SummaryResult of the latest request.
        dropped(int): a result arrived for an outdated generation and was discarded.
        counted(str, object, str): `count()` result: key, total params or None, error.
    """

    building = Signal(int)
    finished = Signal(object)
    dropped = Signal(int)
    counted = Signal(str, object, str)

    def __init__(self, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.generation = 0
        self.latest: SummaryResult | None = None
        self._pending: ArchitectureSpec | None = None
        self._counts: deque[tuple[str, ArchitectureSpec]] = deque()
        self._busy = False
        self._backend_ready = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._dispatch)
        self._builds = WorkerThread("keras-summary", self)
        self._thread = self._builds.thread

    # ------------------------------------------------------------------ API
    @property
    def busy(self) -> bool:
        """A build is running or waiting for the debounce timer or for TensorFlow."""
        return self._busy or self._pending is not None

    def set_backend_ready(self) -> None:
        """TensorFlow has been imported (tf_loader): builds may start."""
        self._backend_ready = True
        self._dispatch()

    def request(self, spec: ArchitectureSpec) -> int:
        """Asks for a summary of `spec` after the debounce delay; returns its generation."""
        self.generation += 1
        self._pending = spec
        self._timer.start()
        return self.generation

    def flush(self) -> None:
        """Starts a pending request now instead of after the debounce delay."""
        self._timer.stop()
        self._dispatch()

    def count(self, key: str, spec: ArchitectureSpec) -> None:
        """Queues a parameter count (the preset gallery); runs when no summary is waiting."""
        self._counts.append((key, spec))
        self._dispatch()

    @property
    def queued_counts(self) -> int:
        return len(self._counts)

    def cancel_counts(self) -> None:
        """Drops queued counts (one already running still reports)."""
        self._counts.clear()

    def shutdown(self) -> None:
        """Stops the worker thread, waiting for a build in progress to finish."""
        self._timer.stop()
        self._pending = None
        self._counts.clear()
        self._builds.shutdown()

    # ------------------------------------------------------------------ internals
    @Slot()
    def _dispatch(self) -> None:
        if self._busy or not self._backend_ready or self._timer.isActive():
            return
        if self._pending is not None:
            spec, self._pending = self._pending, None
            self._busy = True
            self.building.emit(self.generation)
            self._submit("summary", self.generation, spec)
        elif self._counts:
            key, spec = self._counts.popleft()
            self._busy = True
            self._submit("count", key, spec)

    def _submit(self, kind: str, key: Any, spec: ArchitectureSpec) -> None:
        job = Job(summary_job, kind, key, spec, thread=self._builds, parent=self)
        job.finished.connect(self._on_built)
        job.start()

    @Slot(object)
    def _on_built(self, result: object) -> None:
        job = self.sender()
        if isinstance(job, Job):
            job.deleteLater()
        self._busy = False
        if isinstance(result, CountResult):
            self.counted.emit(result.key, result.total, result.error)
        elif isinstance(result, SummaryResult):
            if result.generation == self.generation:
                self.latest = result
                self.finished.emit(result)
            else:
                self.dropped.emit(result.generation)
        self._dispatch()
