"""Shapes and parameter counts, computed by Keras in a background thread, for the spec bound
to the dataset chosen in the training panel (what training will build).

The GUI never computes a shape or a count itself: after every edit it asks Keras. The
`SummaryService` (GUI thread) coalesces requests (a zero-delay single-shot timer: every
request made while handling one event becomes one build; requests arriving while a build
runs become the next one), numbers each one (its *generation*) and keeps at most one build
in flight; each build is a job (gui.jobs: `summary_job`) run in one long-lived
`WorkerThread`, which owns all Keras building, and its result comes back as the job's
`finished`. A result whose generation is not the latest is dropped, so a slow build can
never overwrite a newer edit's numbers.

Binding. The service asks `dataset_source()` (the window: the training panel's dataset and
settings) at each build; the worker reads the dataset's metadata (`core.binding.
facts_for_editor`, cached per dataset and input) and summarizes the spec bound exactly as
training binds it (`core.binding.bind_spec`, used by the builder): the numbers shown are the
trained model's, and each place where the user's value differs from the dataset's comes
back as a `Difference` for the canvas and inspector to show.

Speed. Summaries go through one `core.incremental.IncrementalSummarizer` per service, which
declares no weights and rebuilds only the blocks an edit changed and those whose input shape
changed (benchmarks/bench_editor.py: ResNet-152 edits).

Job signals reach the service through `Qt.QueuedConnection` to slots of an object living in
the GUI thread (a signal connected to a plain function runs in the emitting thread, and that
deadlocked with PySide6 6.12).
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from resnet_studio.core import editing
from resnet_studio.core.binding import Difference
from resnet_studio.core.builder import ModelSummary, block_names
from resnet_studio.core.jobs import JobState
from resnet_studio.core.params import Problem
from resnet_studio.core.spec import ArchitectureSpec, SpecError
from resnet_studio.gui.jobs import Job, WorkerThread

if TYPE_CHECKING:
    from resnet_studio.core.incremental import IncrementalSummarizer

# Requests made while handling one event (an edit, then the training panel following it)
# become one build; a burst of edits while a build runs becomes one more build. Incremental
# summaries take tens of milliseconds, so no longer delay is needed to feel immediate.
DEBOUNCE_MS = 0

Path = editing.Path
# Names of the layers `core.blocks.residual.make_shortcut` creates for a projection.
PROJECTION_SUFFIXES = ("proj_conv", "_proj")


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
        dataset: The dataset the spec was bound to ("" for none).
        differences: Where the spec's values differ from the dataset's (core.binding).
        dataset_error: Why the dataset's facts could not be read (the spec is then
            summarized unbound).
        cpu_seconds: CPU time the worker thread spent on it (`seconds` is wall time, which
            grows with the machine's load).
    """

    generation: int
    spec: ArchitectureSpec
    summary: ModelSummary | None = None
    problems: list[Problem] = field(default_factory=list)
    partial: ModelSummary | None = None
    seconds: float = 0.0
    dataset: str = ""
    differences: list[Difference] = field(default_factory=list)
    dataset_error: str = ""
    cpu_seconds: float = 0.0

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

    def block_differences(self) -> dict[Path | None, list[Difference]]:
        """Block path (None for the input) -> where it differs from the dataset."""
        out: dict[Path | None, list[Difference]] = {}
        for d in self.differences:
            out.setdefault(editing.path_of(d.location), []).append(d)
        return out

    def has_projection(self, path: Path) -> bool | None:
        """Whether Keras built a projection shortcut (W_s) in the block at `path`: a
        `proj_conv` / `proj` layer among its own layers. None when the block was not built."""
        summary = self.block_summaries().get(tuple(path))
        if summary is None:
            return None
        return any(layer.endswith(PROJECTION_SUFFIXES) for layer in summary.layers)

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


def build_summary(spec: ArchitectureSpec, binding: Any = None,
                  summarizer: IncrementalSummarizer | None = None
                  ) -> tuple[ModelSummary | None, list[Problem], ModelSummary | None]:
    """Summarizes `spec` bound to `binding` with Keras in the calling thread (no weights).

    Returns:
        (summary, problems, partial): the summary when it builds; else the problems and, if a
        block failed, the summary of the top-level blocks before it.
    """
    from resnet_studio.core.blocks.context import BlockBuildError
    from resnet_studio.core.incremental import IncrementalSummarizer

    summarizer = summarizer or IncrementalSummarizer()
    # No keras.utils.clear_session() here: it resets Keras's global state for *every*
    # thread and clears TensorFlow's kernel cache, which would disturb a training run in
    # another thread. Nothing is allocated, and the summarizer's cache is bounded.
    try:
        return summarizer.summarize(spec, binding), [], None
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
            partial = summarizer.summarize(prefix, binding)
        except Exception:  # the prefix is only a help for the user; without it, no shapes
            partial = None
    return None, problems, partial


class EditorBuilds:
    """What the editor's Keras worker keeps between builds: the incremental summarizer and
    the dataset facts read so far (both used from the worker thread only)."""

    def __init__(self) -> None:
        from resnet_studio.core.incremental import IncrementalSummarizer

        self.summarizer = IncrementalSummarizer()
        self._facts: dict[tuple, Any] = {}

    def facts(self, spec: ArchitectureSpec, dataset: str, config: Any) -> Any:
        """The dataset facts training would bind `spec` to (metadata only, cached; so is a
        dataset that cannot be read, which is not asked again at every edit)."""
        from resnet_studio.core.binding import facts_for_editor

        key = (dataset, repr(spec.input), repr(sorted((spec.training or {}).items())),
               repr(config))
        if key not in self._facts:
            try:
                self._facts[key] = facts_for_editor(spec, dataset, config)
            except Exception as e:  # DatasetError and the like: reported by bound()
                self._facts[key] = e
        found = self._facts[key]
        if isinstance(found, Exception):
            raise found
        return found

    def bound(self, spec: ArchitectureSpec, source: tuple[str, Any] | None
              ) -> tuple[Any, list[Difference], str]:
        """(binding, differences, error) for `spec` on the chosen dataset."""
        from resnet_studio.core.binding import bind_spec

        dataset, config = source if source else ("", None)
        if not dataset:
            return None, [], ""
        try:
            facts = self.facts(spec, dataset, config)
        except Exception as e:  # DatasetError and the like: summarize unbound, say why
            return None, [], f"{dataset}: {e}"
        return facts, bind_spec(spec, facts).differences, ""


@dataclass
class CountResult:
    """A parameter count for the preset gallery (`SummaryService.count`)."""

    key: str
    total: int | None
    error: str


def summary_job(kind: str, key: Any, spec: ArchitectureSpec, builds: EditorBuilds,
                source: tuple[str, Any] | None, state: JobState
                ) -> SummaryResult | CountResult:
    """One Keras build of the editor (a job function, core.jobs): a summary for generation
    `key` when kind is "summary" (bound to the dataset of `source`: (name, settings)), else
    a count for the gallery item `key` (unbound: the preset as published)."""
    del state
    start, cpu = time.perf_counter(), time.thread_time()
    binding, differences, dataset_error = (builds.bound(spec, source) if kind == "summary"
                                           else (None, [], ""))
    try:
        summary, problems, partial = build_summary(spec, binding, builds.summarizer)
    except BaseException as e:  # reported as the build's problem, like any failed build
        summary, problems, partial = None, [Problem("", f"{type(e).__name__}: {e}")], None
    if kind == "summary":
        dataset = source[0] if source and binding is not None else ""
        return SummaryResult(key, spec, summary, problems, partial, time.perf_counter() - start,
                             dataset, differences, dataset_error, time.thread_time() - cpu)
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
        self._editor_builds = EditorBuilds()
        # The dataset (and training settings) to bind to: set by the window, read at each
        # build; None or ("", None) summarizes the spec as written.
        self.dataset_source: Callable[[], tuple[str, Any] | None] | None = None
        self._last_spec: ArchitectureSpec | None = None

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
        self._last_spec = spec
        self._timer.start()
        return self.generation

    def rebind(self) -> None:
        """The chosen dataset changed: summarizes the last spec again, bound to it."""
        if self._last_spec is not None:
            self.request(self._last_spec)

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
        source = None
        if kind == "summary" and self.dataset_source is not None:
            source = self.dataset_source()
        job = Job(summary_job, kind, key, spec, self._editor_builds, source,
                  thread=self._builds, parent=self)
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
