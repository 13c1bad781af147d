"""Monitoring overhead: the Studio's monitored training step against plain `keras.Model.fit`.

For each case the same architecture, built by `core.builder.build_model` from a shipped
preset, trains in one process on the same `tf.data` pipeline in two arms:

  plain      the functional model from `build_model`, compiled as the Trainer compiles
             (same optimizer and schedule, loss, metrics): `fit(train, validation_data=val,
             steps_per_epoch=...)`, with no callback of ours but a clock.
  monitored  the real Trainer path, `Trainer.run()`: `MonitoredModel` (per-layer gradient
             norms every step), `_StudioCallback` (metrics record, events, non-finite checks,
             gradient alerts, pause/stop), the RunWriter (metrics.jsonl, gradients/norms.bin,
             TensorBoard summaries, flushed by its background thread) and an observer that
             hands each event to a consumer thread which appends it to the live plots' numpy
             buffers (`core.runs.series`), as the GUI thread does.

Data: random arrays shaped like the preset's own dataset (ResNet-20: 32x32x3 images, 10
classes; Transformers: sequences or tokens), written to an .npz and loaded through the
Studio's data registry and pipelines. Both arms iterate the Trainer's own training stream.

Interleaving. The machine is shared and its load moves by tens of percent within seconds,
so the arms alternate step by step instead of running one after the other: each arm's `fit`
runs in its own thread (each thread owns its model, as Keras wants) and a baton lets exactly
one of them train at a time, handing over after every `--steps-per-turn` steps (default 1).
A step's time is the wall-clock time between consecutive `on_train_batch_begin` calls of
its arm: the step and all of its batch-end callbacks (the hand-over happens outside it).
Left out: the first `WARMUP_TURNS` turns of each arm (tracing), the first `SKIP` steps of
each epoch (iterator start) and each epoch's last step (it runs into validation and, for
the monitored arm, the checkpoint: per-epoch costs). The clock overrides no batch-*end*
hook, so plain `fit` keeps Keras's asynchronous batch-end dispatch.

The RunWriter's periodic flush (metrics.jsonl, norms.bin, run.json, TensorBoard) normally
runs in a background thread every `core.runs.writer.FLUSH_SECONDS`; here that thread is idled and
the same flush runs at a monitored hand-over whenever `FLUSH_SECONDS` have passed, timed on
its own, and its process CPU time is spread over the monitored steps (`flush ms/step`), so
it is charged to the monitored arm and never leaks into plain steps. CPU time, not
wall-clock time: most of a flush's wall-clock time is waiting for run.json's fsync, which
in the background thread overlaps with training and takes no CPU from it.

Result: each measured monitored step time (+ flush ms/step) divided by the mean of the two
plain steps around it; the case's `ratio` is the median of these. Cross-checks: the ratio
of the arms' 10th-percentile step times (`fast ratio`: the steps least disturbed by other
processes) and the median ratio of process CPU time per step (all threads: training,
consumer, tf.data).

Target (issue: performance): ratio <= 1.05 for every case.

Usage:
  python benchmarks/bench_overhead.py [--only CASE] [--turns N] [--json] [--quiet]
  (gpt-char is slow on a CPU: it runs only when asked for with --only gpt-char or --all)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LoadSampler, machine_info, machine_line, percentile, table  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
TARGET_RATIO = 1.05
SKIP = 2  # first steps of each epoch left out: iterator start, shuffle buffer fill
WARMUP_TURNS = 2  # per arm: tracing, first allocations


@dataclass(frozen=True)
class Case:
    name: str
    preset: str
    data: str
    batch_size: int
    turns: int  # measured turns per arm (default)
    steps_per_epoch: int
    default: bool = True


CASES = (
    Case("resnet20-cifar", "resnet20-cifar", "32x32x3 images, 10 classes", 128, 150, 50),
    Case("transformer-mnist1d", "transformer-mnist1d", "40x1 sequences, 10 classes", 64, 400,
         100),
    Case("gpt-char", "gpt-char", "128 tokens, vocabulary 128", 64, 60, 30, default=False),
)


def synthetic_npz(folder: Path, spec: Any, n_train: int, batch: int) -> str:
    """Random data shaped like the preset's input, as an npz dataset: a training split of
    exactly n_train examples, validation and test splits of one batch each. Images are
    uint8 pixels in 10 classes, sequences float32 in 10 classes, tokens a language-model set
    (targets = inputs shifted by one) over the preset's vocabulary."""
    import numpy as np

    rng = np.random.default_rng(0)
    shape, kind = tuple(spec.input.shape), spec.input.kind

    def split(n: int) -> tuple[Any, Any]:
        if kind == "image":
            return (rng.integers(0, 256, size=(n, *shape), dtype=np.uint8),
                    rng.integers(0, 10, size=n).astype(np.int64))
        if kind == "tokens":
            t = rng.integers(0, spec.input.vocab_size, size=(n, shape[0] + 1), dtype=np.int32)
            return t[:, :-1], t[:, 1:]
        return (rng.normal(size=(n, *shape)).astype(np.float32),
                rng.integers(0, 10, size=n).astype(np.int64))

    x, y = split(n_train)
    xv, yv = split(batch)
    xt, yt = split(batch)
    path = folder / "synthetic.npz"
    np.savez(path, x_train=x, y_train=y, x_val=xv, y_val=yv, x_test=xt, y_test=yt)
    return f"npz:{path}"


class GuiLikeObserver:
    """What the GUI does with training events, without Qt: the training thread only puts
    each event on a queue (the GUI worker emits a queued signal); a consumer thread appends
    them to the live plots' numpy buffers, as TrainingPlots.add_batch / add_grad_norms do."""

    def __init__(self) -> None:
        from resnet_studio.core.runs.series import Ema, GradientHistory, Series

        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.loss, self.smooth, self.lr = Series(), Series(), Series()
        self.ema = Ema(0.95)
        self._history = GradientHistory
        self.grads = GradientHistory(0)
        self.events = 0
        self._thread = threading.Thread(target=self._consume, name="gui-like", daemon=True)
        self._thread.start()

    def __call__(self, event: Any) -> None:
        self._queue.put(event)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _consume(self) -> None:
        from resnet_studio.core.training.events import BatchEnd, GradNorms, Started

        while (event := self._queue.get()) is not None:
            self.events += 1
            if isinstance(event, BatchEnd):
                self.loss.append(event.step, event.loss)
                self.smooth.append(event.step, self.ema.update(event.loss))
                self.lr.append(event.step, event.lr)
            elif isinstance(event, GradNorms):
                self.grads.append(event.step, event.norms)
            elif isinstance(event, Started):
                self.grads = self._history(len(event.layers))


class Baton:
    """Two arms take turns: exactly one of them trains at any time."""

    def __init__(self, first: str) -> None:
        self._cond = threading.Condition()
        self.holder = first
        self.error: BaseException | None = None

    def wait(self, name: str) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self.holder == name or self.error is not None)
            if self.error is not None:
                raise RuntimeError("the other arm failed") from self.error

    def give(self, name: str) -> None:
        with self._cond:
            self.holder = name
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self.error = error
            self._cond.notify_all()


def turn_clock(name: str, other: str, baton: Baton, steps_per_turn: int, turns: int,
               between: Callable[[int], None] | None, stop: Callable[[Any], None]) -> Any:
    """A Keras callback that times steps and hands the baton over every `steps_per_turn`
    steps, calling `between(turns done)` (untimed) first; after `turns` turns it calls `stop(model)`
    and keeps the baton (the arm's thread passes it on once its `fit` has returned)."""
    import keras

    class TurnClock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.turns: list[tuple[list[float], list[float]]] = []  # (wall, cpu) per step
            self.finished = False
            self._t0: tuple[float, float] | None = None
            self._skip = 0
            self._in_turn = 0
            self._wall: list[float] = []
            self._cpu: list[float] = []

        def on_train_begin(self, logs: Any = None) -> None:
            baton.wait(name)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t0 = None  # the previous epoch's last step ran into validation
            self._skip = SKIP

        def _close_step(self) -> None:
            if self._t0 is not None:
                self._wall.append(time.perf_counter() - self._t0[0])
                self._cpu.append(time.process_time() - self._t0[1])
            self._t0 = None

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if self.finished:
                return
            if self._in_turn == steps_per_turn:
                self._close_step()
                self.turns.append((self._wall, self._cpu))
                if between is not None:
                    between(len(self.turns))
                self._wall, self._cpu, self._in_turn = [], [], 0
                if len(self.turns) == turns:
                    self.finished = True
                    stop(self.model)
                    return
                baton.give(other)
                baton.wait(name)
            else:
                self._close_step()
            self._in_turn += 1
            if self._skip:
                self._skip -= 1
            else:
                self._t0 = (time.perf_counter(), time.process_time())

    return TurnClock()


class PeriodicFlush:
    """The RunWriter's background flush, run at hand-overs instead (see the module doc)."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.trainer: Any = None  # its `writer` exists while `run()` trains
        self.count = 0
        self.wall = 0.0
        self.cpu = 0.0
        self._last = time.perf_counter()

    def __call__(self, turns_done: int) -> None:
        if turns_done == WARMUP_TURNS:  # the first flush traces its TensorBoard function
            self.trainer.writer.flush(sync=False)
            self._last = time.perf_counter()
            return
        if turns_done < WARMUP_TURNS or time.perf_counter() - self._last < self.period:
            return
        t, c = time.perf_counter(), time.process_time()
        self.trainer.writer.flush(sync=False)
        self.wall += time.perf_counter() - t
        self.cpu += time.process_time() - c
        self.count += 1
        self._last = time.perf_counter()


def run_case(case: Case, turns: int, steps_per_turn: int, quiet: bool) -> dict[str, Any]:
    import keras

    from resnet_studio.core.builder import build_model
    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.runs import writer as run_writer
    from resnet_studio.core.training.optim import make_loss, make_optimizer
    from resnet_studio.core.training.trainer import Trainer, binding_for
    from resnet_studio.core.training_config import TrainingConfig

    def log(msg: str) -> None:
        if not quiet:
            print(f"[overhead] {case.name}: {msg}", file=sys.stderr, flush=True)

    k, e = steps_per_turn, case.steps_per_epoch
    turns = turns or case.turns
    total_turns = WARMUP_TURNS + turns
    epochs = math.ceil((total_turns * k + 1) / e) + 1  # every turn, plus the untimed batch
    spec = load_preset(case.preset)
    baton = Baton("monitored")
    clocks: dict[str, Any] = {}
    errors: list[BaseException] = []
    done = {"plain": False, "monitored": False}
    prepared = threading.Event()
    shared: dict[str, Any] = {}
    t_start = time.perf_counter()

    def finish(arm: str, other: str) -> None:
        done[arm] = True
        if not done[other]:
            baton.give(other)

    with tempfile.TemporaryDirectory(prefix=f"bench-overhead-{case.name}-") as tmp:
        root = Path(tmp)
        dataset = synthetic_npz(root, spec, e * case.batch_size, case.batch_size)
        cfg = TrainingConfig.from_sources(spec.training, {"epochs": epochs,
                                                          "batch_size": case.batch_size})
        observer = GuiLikeObserver()
        flusher = PeriodicFlush(run_writer.FLUSH_SECONDS)

        def monitored() -> None:
            try:
                trainer: Any = None

                class ClockedTrainer(Trainer):
                    def _callbacks(self, callback: Any) -> list[Any]:
                        return [*super()._callbacks(callback), clocks["monitored"]]

                trainer = ClockedTrainer(spec, dataset, cfg, run_dir=root / "run",
                                         observer=observer, preset=case.preset)
                flusher.trainer = trainer
                clocks["monitored"] = turn_clock(
                    "monitored", "plain", baton, k, total_turns, between=flusher,
                    stop=lambda _model: trainer.request_stop())
                trainer.prepare()
                shared["trainer"] = trainer
                prepared.set()
                result = trainer.run()
                if result.status != "stopped":
                    raise RuntimeError(f"monitored run {result.status}: {result.error}")
                shared["result"] = result
                finish("monitored", "plain")
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
                prepared.set()
                baton.fail(exc)

        def plain() -> None:
            try:
                prepared.wait()
                trainer = shared.get("trainer")
                if trainer is None:
                    return
                info = trainer.data.info
                keras.utils.set_random_seed(cfg.seed)
                model = build_model(spec, binding_for(info)).model
                model.compile(optimizer=make_optimizer(cfg, max(1, trainer.steps_per_epoch)),
                              loss=make_loss(cfg, info.num_classes), metrics=["accuracy"])

                def stop(m: Any) -> None:
                    m.stop_training = True

                clocks["plain"] = turn_clock("plain", "monitored", baton, k, total_turns,
                                             between=None, stop=stop)
                steps = trainer.steps_per_epoch if trainer.steps_per_epoch > 0 else None
                model.fit(trainer.train_ds, validation_data=trainer.val_ds, epochs=epochs,
                          steps_per_epoch=steps, verbose=0, shuffle=False,
                          callbacks=[clocks["plain"]])
                finish("plain", "monitored")
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                baton.fail(exc)

        log(f"{total_turns} turns of {k} steps per arm ({WARMUP_TURNS} warm-up), batch "
            f"{case.batch_size}, {e} steps per epoch")
        threads = [threading.Thread(target=fn, name=f"arm-{fn.__name__}")
                   for fn in (monitored, plain)]
        period, run_writer.FLUSH_SECONDS = run_writer.FLUSH_SECONDS, 1e9  # idles the writer thread
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            run_writer.FLUSH_SECONDS = period
        observer.close()
        if errors:
            raise errors[0]
        trainer = shared["trainer"]
        n_layers = len(trainer.groups)
        params = trainer.built.summary.total_params
        grads_file = root / "run" / "gradients" / "norms.bin"
        grads_ok = grads_file.exists() and grads_file.stat().st_size > 0

    monitored_steps = turns * k  # the flushes after the warm-up cover these
    flush_cpu = flusher.cpu / monitored_steps  # charged to every monitored step

    def per_turn(arm: str, index: int, extra: float) -> list[float | None]:
        out: list[float | None] = []
        for steps in clocks[arm].turns:
            xs = steps[index]
            out.append(statistics.fmean(xs) + extra if xs else None)
        return out

    wall = {"plain": per_turn("plain", 0, 0.0), "monitored": per_turn("monitored", 0, flush_cpu)}
    cpu = {"plain": per_turn("plain", 1, 0.0), "monitored": per_turn("monitored", 1, flush_cpu)}

    def ratios(series: dict[str, list[float | None]]) -> list[float]:
        out = []
        m, p = series["monitored"], series["plain"]
        for i in range(WARMUP_TURNS, min(len(m), len(p))):
            if m[i] is not None and p[i - 1] is not None and p[i] is not None:
                out.append(m[i] / ((p[i - 1] + p[i]) / 2))
        return out

    wall_r, cpu_r = ratios(wall), ratios(cpu)
    if not wall_r:
        raise RuntimeError(f"{case.name}: no complete pairs of turns")

    def steps_of(arm: str) -> list[float]:
        return [x for w, _ in clocks[arm].turns[WARMUP_TURNS:] for x in w]

    def med(arm: str, series: dict[str, list[float | None]]) -> float:
        return statistics.median(x for x in series[arm][WARMUP_TURNS:] if x is not None)

    fast = {arm: percentile(steps_of(arm), 10) for arm in ("plain", "monitored")}
    fast["monitored"] += flush_cpu
    ratio = statistics.median(wall_r)
    failures = []
    if ratio > TARGET_RATIO:
        failures.append(f"ratio {ratio:.3f} > {TARGET_RATIO}")
    if not grads_ok:
        failures.append("the monitored run wrote no gradient norms")
    log(f"ratio {ratio:.3f} (IQR {percentile(wall_r, 25):.3f}–{percentile(wall_r, 75):.3f}), "
        f"fast ratio {fast['monitored'] / fast['plain']:.3f}, CPU ratio "
        f"{statistics.median(cpu_r):.3f}")
    return {"name": case.name, "preset": case.preset, "data": f"synthetic: {case.data}",
            "batch_size": case.batch_size, "params": params, "layers_monitored": n_layers,
            "steps_per_turn": k, "steps_per_epoch": e, "turns": turns,
            "warmup_turns": WARMUP_TURNS, "pairs": len(wall_r),
            "plain_step_ms": round(med("plain", wall) * 1e3, 2),
            "monitored_step_ms": round(med("monitored", wall) * 1e3, 2),
            "flush_ms_per_step": round(flush_cpu * 1e3, 3),
            "flush_wall_ms_per_step": round(flusher.wall / monitored_steps * 1e3, 3),
            "flushes": flusher.count,
            "ratio": round(ratio, 4),
            "ratio_p25": round(percentile(wall_r, 25), 4),
            "ratio_p75": round(percentile(wall_r, 75), 4),
            "ratio_of_medians": round(med("monitored", wall) / med("plain", wall), 4),
            "plain_p10_ms": round(fast["plain"] * 1e3, 2),
            "monitored_p10_ms": round(fast["monitored"] * 1e3, 2),
            "fast_ratio": round(fast["monitored"] / fast["plain"], 4),
            "cpu_plain_ms": round(med("plain", cpu) * 1e3, 2),
            "cpu_monitored_ms": round(med("monitored", cpu) * 1e3, 2),
            "cpu_ratio": round(statistics.median(cpu_r), 4),
            "events_observed": observer.events,
            "steps_ms": {arm: [[round(x * 1e3, 3) for x in w] for w, _ in clocks[arm].turns]
                         for arm in ("plain", "monitored")},
            "seconds": round(time.perf_counter() - t_start, 1),
            "target": TARGET_RATIO, "passed": not failures, "failures": failures}


def format_table(machine: dict[str, Any], during: dict[str, Any],
                 cases: list[dict[str, Any]]) -> str:
    rows = []
    for c in cases:
        rows.append((c["name"], f"{c['batch_size']}", f"{c['layers_monitored']}",
                     f"{c['plain_step_ms']:.1f}", f"{c['monitored_step_ms']:.1f}",
                     f"{c['flush_ms_per_step']:.2f}",
                     f"{c['ratio']:.3f} ({c['ratio_p25']:.3f}–{c['ratio_p75']:.3f})",
                     f"{c['fast_ratio']:.3f}", f"{c['cpu_ratio']:.3f}", f"{c['pairs']}",
                     f"<= {c['target']}",
                     "pass" if c["passed"] else "FAIL: " + "; ".join(c["failures"])))
    head = ("case", "batch", "layers", "plain ms/step", "monitored ms/step", "flush ms/step",
            "ratio (IQR)", "fast ratio", "CPU ratio", "pairs", "target", "result")
    return "\n".join([
        table(head, rows), "",
        machine_line(machine, during),
        "ratio: median over pairs of monitored / plain wall-clock step time (each monitored "
        "step, + flush ms/step of CPU, against the plain steps before and after it); "
        "ms/step: medians (monitored without the flush); fast ratio: of the 10th-percentile step "
        "times; CPU ratio: as ratio, for process CPU time per step"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="CASE", choices=[c.name for c in CASES],
                        help="run one case: " + ", ".join(c.name for c in CASES))
    parser.add_argument("--all", action="store_true", help="also the slow gpt-char case")
    parser.add_argument("--turns", type=int, default=None,
                        help="measured turns per arm after the warm-up (default: per case)")
    parser.add_argument("--steps-per-turn", type=int, default=1,
                        help="steps an arm trains before handing over (default 1)")
    parser.add_argument("--json", action="store_true",
                        help="last stdout line: one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--dump", metavar="FILE", help="write every step time to FILE (JSON)")
    args = parser.parse_args(argv)
    if (args.turns is not None and args.turns < 1) or args.steps_per_turn < 1:
        parser.error("--turns and --steps-per-turn must be >= 1")
    selected = [c for c in CASES if (c.name == args.only if args.only else
                                     (args.all or c.default))]
    machine = machine_info()
    with LoadSampler() as load:
        cases = [run_case(c, args.turns, args.steps_per_turn, args.quiet) for c in selected]
    passed = all(c["passed"] for c in cases)
    during = load.summary()
    if args.dump:
        Path(args.dump).write_text(json.dumps(cases), encoding="utf-8")
    for c in cases:
        del c["steps_ms"]  # per-step times: --dump only
    if args.json:
        print(json.dumps({"benchmark": "overhead", "ratio": max(c["ratio"] for c in cases),
                          "target": TARGET_RATIO, "machine": machine, "load_during": during,
                          "cases": cases, "passed": passed}), flush=True)
    else:
        print(format_table(machine, during, cases), flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
