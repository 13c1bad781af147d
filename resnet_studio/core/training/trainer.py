"""The Trainer: builds the model for a spec bound to a dataset, trains it with per-layer
gradient norms, writes the run folder and reports events to an observer.

`run()` blocks; it must be called in the thread that owns the model (Keras global state is
per thread). `request_stop()`, `pause()` and `resume()` may be called from any thread: they
act between batches.
"""

from __future__ import annotations

import atexit
import math
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from resnet_studio.core.binding import image_geometry
from resnet_studio.core.blocks.context import Binding
from resnet_studio.core.runs.diskio import StoreWriteError
from resnet_studio.core.spec import ArchitectureSpec
from resnet_studio.core.training.events import (
    Alert,
    BatchEnd,
    EpochEnd,
    Finished,
    GradNorms,
    Log,
    Observer,
    Started,
    ignore,
)
from resnet_studio.core.training.throttle import BatchThrottle
from resnet_studio.core.training_config import TrainingConfig


@dataclass
class RunResult:
    """What `Trainer.run()` returns (also the CLI's --json object)."""

    run_dir: str
    status: str
    epochs_completed: int
    steps: int
    params: int
    seconds: float
    test: dict[str, Any] | None = None
    error: str | None = None
    failure: dict[str, Any] = field(default_factory=dict)
    final_train_loss: float | None = None
    device: str = ""
    distribution: dict[str, Any] | None = None  # strategy, replicas, devices, worker role
    weights_sha256: str | None = None  # of the final weights: equal on every worker

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def bad_input(self) -> bool:
        """Failed on the user's data (`failed_on_bad_data`): the CLI exits 2, not 1."""
        return self.status == "failed" and failed_on_bad_data(self.failure)


def failed_on_bad_data(failure: dict[str, Any] | None) -> bool:
    """Whether a failed run's `failure` record blames the data: a damaged file read during
    the run (a validation or test image, or one changed on disk), as before it."""
    return (failure or {}).get("exception") == "DatasetError"


@dataclass(frozen=True)
class ResumePoint:
    """Where a run continues: `epoch` (0-based) after `batch_in_epoch` of its batches, i.e.
    `skip_examples` examples of that epoch's order, at global `step`."""

    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    skip_examples: int = 0


class TrainingFailure(Exception):
    """Raised inside the training loop for faults that end the run as failed."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


def binding_for(info: Any) -> Binding:
    """Binding of an architecture to a dataset's metadata (`core/binding.facts_of`)."""
    from resnet_studio.core.binding import facts_of

    return facts_of(info)


class Trainer:
    """Trains one architecture on one dataset.

    Args:
        spec: The architecture (its `training` section gives defaults under `config`).
        dataset: Dataset name (`digits`, `tfds:cifar10`, …).
        config: Resolved training settings.
        run_dir: Folder for this run (created; must be new unless `resume`).
        observer: Called with every event, in the training thread.
        data_dir: TFDS data folder.
        limit: Use at most this many examples per split (smoke tests).
        initial_weights: Layer name -> weights to load before training, wherever the layer
            exists with equal shapes (plain-twin comparisons start from shared weights).
        resume: Continue the run in `run_dir` from its last checkpoint.
        preset: Name recorded in run.json.
        run_meta: Extra fields for run.json, written when the folder is created (a
            comparison records each run's role and partner this way).
        data: An already loaded Dataset to use instead of loading `dataset` (a run's
            stored sample, for exporting without the original data).
        batch_throttle: For an observer that wants fewer `BatchEnd` events (the GUI): which
            to emit (training/throttle.py); epoch ends and the last values always arrive.
    """

    def __init__(self, spec: ArchitectureSpec, dataset: str, config: TrainingConfig, *,
                 run_dir: str | Path, observer: Observer = ignore, data_dir: str | None = None,
                 limit: int | None = None,
                 initial_weights: dict[str, list[np.ndarray]] | None = None,
                 resume: bool = False, preset: str | None = None,
                 run_meta: dict[str, Any] | None = None, data: Any = None,
                 batch_throttle: BatchThrottle | None = None) -> None:
        self.spec = spec
        self.dataset_name = dataset
        self.config = config
        self.run_dir = Path(run_dir)
        self.observer = observer
        self.batch_throttle = batch_throttle
        self.data_dir = data_dir
        self.limit = limit
        self.initial_weights = initial_weights
        self.resuming = resume
        self.preset = preset or spec.name
        self.run_meta = dict(run_meta or {})
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._owner: Any = None  # the run's owner lock (runs/lock.py) while training
        self.model: Any = None
        self.built: Any = None
        self.data: Any = data

    # -- control (any thread)
    def request_stop(self) -> None:
        """Stop after the current batch (also wakes a paused run)."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        """Hold training between batches until `resume()`."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # -- the run (owning thread)
    def prepare(self) -> None:
        """Loads the data and builds the model; raises bad-input errors before any run folder
        exists (DatasetError, SpecError, BlockBuildError). A resume first takes the run's
        owner lock (RunLocked when another trainer has it; runs/lock.py)."""
        if self.resuming and self._owner is None:
            from resnet_studio.core.runs.ownership import own_run

            self._owner = own_run(self.run_dir, resume=True, epochs=self.config.epochs)
        try:
            self._prepare()
        except BaseException:
            self._release_owner()
            raise

    def _release_owner(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.release()

    def _prepare(self) -> None:
        from resnet_studio.core.builder import build_model
        from resnet_studio.core.data import load_dataset
        from resnet_studio.core.data.tokenizers import text_load_args
        from resnet_studio.core.training.devices import configure_devices, mixed_precision_policy
        from resnet_studio.core.training.distribute import DistributionError, make_distribution
        from resnet_studio.core.training.monitored import MonitoredModel, layer_groups
        from resnet_studio.core.training.optim import (
            decayed_variables,
            error_warmup,
            make_loss,
            make_optimizer,
        )

        cfg = self.config
        self.device = configure_devices()
        # First thing to start TensorFlow's runtime: MultiWorkerMirroredStrategy must
        # configure it (distribute.py). DistributionError is bad input, like a DatasetError.
        self.distribution = make_distribution(cfg.strategy, cfg.devices)
        if self.resuming and self.distribution.workers > 1:
            raise DistributionError("resuming a multi-worker run is not supported: resume it "
                                    "on one machine (--strategy default or mirrored)")
        self.device_text = self.distribution.describe(self.device)
        # No keras.utils.clear_session(): it replaces Keras's thread-local state objects for
        # *every* thread (a run in the GUI would reset the editor's and an export's builds).
        # Layer names come from the spec, so they are the same without it.
        policy, warning = mixed_precision_policy(
            cfg.precision, self.distribution.precision_device(self.device))
        self._warnings = ([warning] if warning else []) + self.distribution.warnings
        keras.config.set_dtype_policy(policy)
        text = text_load_args(self.spec)
        if self.data is None:  # else given: a run's stored sample (runs/inference.py)
            self._emit(Log(f"Loading dataset {self.dataset_name}…"))
            self.data = load_dataset(self.dataset_name, seed=cfg.seed,
                                     validation_fraction=cfg.validation_fraction,
                                     data_dir=self.data_dir, limit=self.limit, **text,
                                     **image_geometry(self.spec, cfg))
        self._warnings += list(getattr(self.data, "warnings", None) or [])
        info = self.data.info
        # Model, optimizer and metrics are created under the strategy's scope (their
        # variables are then mirrored on every replica); a no-op for `default`.
        with self.distribution.scope():
            # Same seed -> same initial weights and (the pipelines' shuffles mix in the global
            # seed) the same batch order; both matter for plain-twin comparisons.
            keras.utils.set_random_seed(cfg.seed)
            facts = binding_for(info)
            self.built = build_model(self.spec, facts)
            from resnet_studio.core.binding import bind_spec

            self._warnings += [f"{d.block}: {d.message()}"
                               for d in bind_spec(self.spec, facts).differences]
            base = self.built.model
            self.model = MonitoredModel(inputs=base.inputs, outputs=base.outputs, name=base.name)
            self.groups = layer_groups(self.model, self.built.layer_block)
            self.model.set_layer_groups(self.groups, cfg.grad_norm_every)
            from resnet_studio.core.training.memory import check_step_memory

            # Before a step runs: too large is refused naming a batch size that fits.
            n_train = info.sizes.get("train", -1)  # a batch is at most the training set
            check_step_memory(self.model, min(cfg.batch_size, n_train) if n_train > 0
                              else cfg.batch_size, f"{self.preset} on {self.dataset_name}")
            if self.distribution.replicas > 1 and cfg.sync_batch_norm:
                from resnet_studio.core.training.distribute import synchronize_batch_norm

                synchronize_batch_norm(self.model)
            if self.initial_weights:
                self._load_initial_weights(self.initial_weights)
            n_train = info.sizes.get("train", -1)
            self.steps_per_epoch = (math.ceil(n_train / cfg.batch_size) if n_train > 0 else -1)
            from resnet_studio.core.data import make_pipelines

            self.train_ds, self.val_ds, self.test_ds = make_pipelines(
                self.data, batch_size=cfg.batch_size, seed=cfg.seed, augment=cfg.augment or ())
            if self.steps_per_epoch > 0:  # epochs that depend on (seed, epoch) only: see _fit
                self.train_ds = self._training_stream(0)
            if cfg.weight_decay and cfg.weight_decay_mode == "l2":
                self.model.set_l2(cfg.weight_decay, decayed_variables(
                    self.model.trainable_weights, cfg.weight_decay_on))
            optimizer = make_optimizer(cfg, max(1, self.steps_per_epoch),
                                       self.model.trainable_weights)
            if policy != "float32":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.model.compile(optimizer=optimizer, loss=make_loss(cfg, info.num_classes),
                               metrics=["accuracy"])
            self.warmup = error_warmup(optimizer)  # ends on a training-error threshold

    def _load_initial_weights(self, weights: dict[str, list[np.ndarray]]) -> None:
        for layer in self.model.layers:
            w = weights.get(layer.name)
            if w is not None and [a.shape for a in w] == [tuple(v.shape) for v in
                                                          layer.weights]:
                layer.set_weights(w)

    def layer_weights(self) -> dict[str, list[np.ndarray]]:
        """Layer name -> current weights (to start a twin from the same point)."""
        return {layer.name: layer.get_weights() for layer in self.model.layers if layer.weights}

    def run(self) -> RunResult:
        """Prepares (if needed), trains, evaluates; returns the result. Never raises for a
        failed run (status 'failed' with the error); raises bad-input errors from prepare(),
        and RunLocked / RunInUse when the run folder is another trainer's."""
        try:
            return self._run()
        except Exception as e:
            # A damaged file read before training (the sample batch, the statistics): bad
            # input, in our words and naming the file, not TensorFlow's op error.
            from resnet_studio.core.data import DatasetError, explain_data_error
            from resnet_studio.core.data.op_errors import is_decode_error

            if is_decode_error(e):
                message = explain_data_error(e, self.dataset_name)
                if getattr(self, "writer", None) is not None:  # the folder says why, too
                    self.writer.finish("failed", error=message, failure={
                        "step": 0, "exception": "DatasetError"})
                raise DatasetError(message) from None
            raise
        finally:
            self._release_owner()

    def _run(self) -> RunResult:
        t0 = time.time()
        if self.model is None:
            self.prepare()
        from resnet_studio.core.runs.writer import RunWriter

        cfg, info = self.config, self.data.info
        summary = self.built.summary
        layers = [g.layer for g in self.groups]
        blocks = [g.block for g in self.groups]
        scratch = None
        if not self.distribution.is_chief:  # only the chief keeps a run folder
            scratch = self.distribution.scratch_dir()
            self.run_dir = scratch / self.run_dir.name
        meta = {"id": self.run_dir.name, "preset": self.preset, "dataset": self.dataset_name,
                "config": cfg.to_dict(), "device": self.device_text,
                "distribution": self.distribution.to_dict(),
                "params": summary.total_params, "limit": self.limit,
                "data_dir": self.data_dir, "binding": info.to_dict(), **self.run_meta}
        if self._owner is None:  # before anything is written: the folder is ours alone
            from resnet_studio.core.runs.ownership import own_run

            self._owner = own_run(self.run_dir, resume=self.resuming, epochs=cfg.epochs)
        # A resume loads its checkpoint before writing anything: one that cannot be loaded
        # (damaged, or the architecture, data or optimizer changed) leaves run.json as it was.
        with self.distribution.scope():  # optimizer slots built by a restore are mirrored
            position = self._restore() if self.resuming else ResumePoint()
        self.writer = RunWriter(self.run_dir, meta, self.built.spec.to_dict(), layers, blocks,
                                resume=self.resuming)
        if self.resuming:
            from resnet_studio.core.runs import truncate_records

            truncate_records(self.run_dir, position.step)
        self.alert_checker = self._alert_checker(layers, blocks)
        if not self.resuming:  # the start of the run, for the loss landscape's line
            from resnet_studio.core.runs.checkpoints import save_initial_weights

            save_initial_weights(self.run_dir, self.model)
            if self.data.tokenizer is not None:
                from resnet_studio.core.runs.vocabulary import save_tokenizer

                save_tokenizer(self.run_dir, self.data.tokenizer)
            from resnet_studio.core.runs.backbones import save_backbones

            save_backbones(self.run_dir, self.built.spec)  # rebuilt without the preset folder
            if self.distribution.is_chief:  # export and evaluate without the data
                from resnet_studio.core.runs.inference import save_sample

                save_sample(self.run_dir, self.test_ds, info.sizes.get("test", -1))
        initial_epoch, initial_step = position.epoch, position.step
        for w in self._warnings:
            self._emit(Log(w, "warning"))
        self._emit(Started(str(self.run_dir), self.device_text, summary.to_dict(), layers, blocks,
                           cfg.epochs, self.steps_per_epoch, initial_epoch, initial_step,
                           cfg.to_dict(), info.to_dict()))
        self._emit(Log(f"Training {self.preset} on {info.name} ({summary.total_params:,} "
                       f"parameters) on {self.device_text}"))
        callback = _StudioCallback(self, initial_step)
        callback.saved_epochs = initial_epoch
        status, error, failure, test = "completed", None, {}, None
        try:
            self._fit(callback, position)
            if callback.failure is not None:
                raise callback.failure
            if self.stop_requested:
                status = "stopped"
                self._checkpoint(callback, "last")
            else:
                self._emit(Log("Evaluating on the test split…"))
                from resnet_studio.core.training.evaluation import evaluate

                test = evaluate(self.model, self.test_ds, info.task, info.num_classes)
                self.writer.write_final({"test": test, "run_id": self.run_dir.name})
        except TrainingFailure as e:
            status, error, failure = "failed", str(e), e.details
        except Exception as e:  # keep the run folder consistent whatever went wrong
            from resnet_studio.core.data.op_errors import is_decode_error

            status, error = "failed", _describe_exception(e, cfg, self.dataset_name)
            # A damaged file met mid-run is the user's input, as one met before training.
            failure = {"step": callback.step, "exception": "DatasetError"
                       if is_decode_error(e) else type(e).__name__}
            if isinstance(e, StoreWriteError):  # the run stands at its last checkpoint
                callback.epochs_completed = callback.saved_epochs
                failure = {"step": callback.saved_step, "exception": "StoreWriteError"}
        seconds = time.time() - t0
        from resnet_studio.core.training.distribute import weights_digest

        digest = weights_digest(self.model.get_weights())
        self.writer.finish(status, seconds=round(seconds, 3),
                           epochs_completed=callback.epochs_completed, steps=callback.step,
                           error=error, failure=failure or None,
                           test=_short_test(test),
                           final_train_loss=callback.last_loss, weights_sha256=digest)
        if self.writer.write_error is not None and status != "failed":
            # The end could not be recorded (a full disk at the very end): not a success.
            status, error = "failed", str(self.writer.write_error)
        if scratch is not None:  # kept until the process ends: `compare` still reads it
            atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        if error:
            self._emit(Log(error, "error"))
        self._emit(Finished(status, str(self.run_dir), callback.epochs_completed, callback.step,
                            seconds, test, error, failure))
        return RunResult(str(self.run_dir), status, callback.epochs_completed, callback.step,
                         summary.total_params, round(seconds, 3), test, error, failure,
                         callback.last_loss, self.device_text, self.distribution.to_dict(),
                         digest)

    def _alert_checker(self, layers: list[str], blocks: list[str]) -> Any:
        from resnet_studio.core.training.alerts import GradientAlerts
        from resnet_studio.core.training.blocknorms import BlockMap

        # A resumed run keeps the alerts it already raised and does not raise them again.
        self._alert_records: list[dict[str, Any]] = list(self.writer.meta.get("alerts") or [])
        self.writer.update(alerts=list(self._alert_records))
        try:
            block_map = BlockMap.from_spec(self.built.spec, layers, blocks)
        except (ValueError, KeyError, IndexError):  # never let a diagnostic break a run
            block_map = None
        return GradientAlerts(layers, block_map,
                              reported=[a.get("kind", "") for a in self._alert_records])

    def _report_alerts(self, alerts: list[Any]) -> None:
        """Each alert: recorded in run.json, emitted as an Alert and as a warning Log line
        (the CLI prints warnings; the GUI log shows them)."""
        for a in alerts:
            self._alert_records.append(a.to_dict())
            self.writer.update(alerts=list(self._alert_records))
            self._emit(Alert(a.kind, a.message, a.step, list(a.layers), list(a.blocks)))
            self._emit(Log(a.message, "warning"))

    def _callbacks(self, callback: _StudioCallback) -> list[Any]:
        from resnet_studio.core.training.histograms import HistogramCallback

        # Before `callback`: an epoch's histograms are on disk before its checkpoint.
        cbs: list[Any] = [HistogramCallback(self, callback), callback]
        pruning = self.writer.meta.get("pruning")
        if pruning:  # a pruned run (fresh or resumed): its masks hold through every step
            from resnet_studio.core.sparsity.hold import PruningCallback

            cbs.insert(0, PruningCallback(self.model, pruning))
        if self.config.schedule == "plateau":
            cbs.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1,
                                                         patience=5, verbose=0))
        if self.config.early_stopping:
            cbs.append(keras.callbacks.EarlyStopping(monitor="val_loss",
                                                     patience=self.config.early_stopping,
                                                     restore_best_weights=False))
        return cbs

    def _restore(self) -> ResumePoint:
        """Loads the last checkpoint (weights, optimizer state including the step counter
        that drives the learning-rate schedule, random-generator state) and returns where
        training stopped. Records written after that checkpoint by a killed process are cut
        off, so the run's history stays one continuous, duplicate-free sequence of steps."""
        from resnet_studio.core.runs import checkpoint_dir
        from resnet_studio.core.runs.checkpoints import load_checkpoint

        ckpt = checkpoint_dir(self.run_dir)
        if not ckpt.exists():
            raise FileNotFoundError(f"{self.run_dir}: no checkpoint to resume from")
        try:
            state = load_checkpoint(ckpt, self.model)
            epoch, step = int(state["epoch"]), int(state["step"])
        except Exception as e:  # noqa: BLE001 - any unloadable checkpoint is bad input
            from resnet_studio.core.runs import NotResumable

            raise NotResumable(checkpoint_problem(ckpt, e)) from None
        batches = int(state.get("batch_in_epoch", 0))
        examples = batches * int(state.get("batch_size", self.config.batch_size))
        n_train = self.data.info.sizes.get("train", -1)
        if n_train > 0 and examples >= n_train:
            batches = examples = 0  # an end-of-epoch checkpoint: `epoch` already counts it
        where = f"epoch {epoch + 1}, after batch {batches}" if batches else \
            f"the start of epoch {epoch + 1}"
        self._emit(Log(f"Resumed at step {step} ({where})"))
        if examples and self.steps_per_epoch <= 0:
            self._emit(Log("This dataset's size is unknown, so the interrupted epoch restarts "
                           "from its beginning with a new order", "warning"))
            examples = batches = 0
        return ResumePoint(epoch, step, batches, examples)

    def _training_stream(self, start_epoch: int, skip_examples: int = 0,
                         end_epoch: int | None = None) -> Any:
        from resnet_studio.core.data import training_stream

        cfg = self.config
        return training_stream(self.data, batch_size=cfg.batch_size, seed=cfg.seed,
                               augment=cfg.augment or (), start_epoch=start_epoch,
                               end_epoch=cfg.epochs if end_epoch is None else end_epoch,
                               skip_examples=skip_examples)

    def _fit(self, callback: _StudioCallback, position: ResumePoint) -> None:
        """Runs `model.fit` from `position` so that a resumed run trains on exactly the
        batches, in the order, that the uninterrupted run would have.

        Every epoch's order depends only on (seed, epoch) (`training_stream`), so any epoch
        can be regenerated in a new process. Keras counts epochs of a fixed number of steps,
        and an epoch interrupted after b batches has fewer left: that remainder is fitted on
        its own as one Keras epoch, then the following epochs in a second `fit`. (Its epoch
        record therefore averages the training metrics over the remaining batches only;
        per-step records are exact.) When the dataset's size is unknown, epochs come from
        the reshuffling pipeline and a resumed run restarts at an epoch boundary.
        """
        cfg = self.config
        callbacks = self._callbacks(callback)
        # No validation split (validation_fraction 0): Keras would warn on the empty set.
        val = None if self.data.info.sizes.get("validation", -1) == 0 else self.val_ds
        common = {"validation_data": val, "verbose": 0, "shuffle": False, "callbacks": callbacks}
        if val is not None:
            self._trace_validation(val)
        epoch = position.epoch
        if self.steps_per_epoch <= 0:
            self.model.fit(self.train_ds, epochs=cfg.epochs, initial_epoch=epoch, **common)
            return
        from resnet_studio.core.data import steps_in_epoch

        if position.skip_examples and epoch < cfg.epochs:
            remaining = self.data.info.sizes["train"] - position.skip_examples
            callback.resume_at = (epoch, position.batch_in_epoch)
            self.model.fit(self._training_stream(epoch, position.skip_examples, epoch + 1),
                           epochs=epoch + 1, initial_epoch=epoch,
                           steps_per_epoch=steps_in_epoch(remaining, cfg.batch_size), **common)
            if callback.failure is not None or self.model.stop_training or \
                    self.stop_requested:
                return
            epoch += 1
        if epoch < cfg.epochs:
            train = self.train_ds if epoch == 0 else self._training_stream(epoch)
            self.model.fit(train, epochs=cfg.epochs, initial_epoch=epoch,
                           steps_per_epoch=self.steps_per_epoch, **common)

    def _trace_validation(self, val: Any) -> None:
        """Traces Keras's test function now, on one validation batch, while the run is still
        preparing. Otherwise the first epoch's validation traces it mid-training: ~0.3 s of
        Python holding the GIL in the training thread, which froze the GUI's event loop for
        100-200 ms one second into every run (benchmarks/bench_gui.py). Inference only: no
        weight, statistic, RNG or metric that training uses is changed (fit resets the
        metrics at every epoch), and the full validation reuses the trace (same element
        spec)."""
        self.model.evaluate(val.take(1), verbose=0)

    def _checkpoint(self, callback: _StudioCallback, name: str) -> None:
        from resnet_studio.core.runs.checkpoints import save_checkpoint

        save_checkpoint(self.run_dir, self.model,
                        {"epoch": callback.epochs_completed, "step": callback.step,
                         "batch_in_epoch": callback.batch_in_epoch,
                         "batch_size": self.config.batch_size})
        callback.saved_epochs, callback.saved_step = callback.epochs_completed, callback.step

    def _emit(self, event: Any) -> None:
        throttle = self.batch_throttle
        if throttle is not None:
            if isinstance(event, BatchEnd):
                event = throttle.offer(event)
                if event is None:
                    return
            elif not isinstance(event, GradNorms):  # the held-back batch first, in order
                pending = throttle.flush()
                if pending is not None:
                    self.observer(pending)
        self.observer(event)


def _short_test(test: dict[str, Any] | None) -> dict[str, Any] | None:
    if test is None:
        return None
    return {k: v for k, v in test.items() if k != "confusion_matrix"}


def checkpoint_problem(ckpt: Path, e: BaseException) -> str:
    """Why a checkpoint cannot be loaded, in one line (Keras's shape errors list every
    weight array: 9.7 KB for a small model)."""
    first = str(e).strip().splitlines()[0][:240] if str(e).strip() else type(e).__name__
    if isinstance(e, (OSError, KeyError, EOFError)) or "Unable to" in first:
        why = "a file is missing or damaged"
    elif isinstance(e, ValueError) and "optimizer" in first:
        why = "the optimizer differs from the run's (--optimizer or its settings changed)"
    elif isinstance(e, ValueError):
        why = "it does not fit the model: the architecture or the dataset changed"
    else:
        why = "it cannot be loaded"
    return f"{ckpt}: cannot resume from this checkpoint: {why} ({type(e).__name__}: {first})"


def _describe_exception(e: Exception, cfg: TrainingConfig, dataset: str | None = None) -> str:
    import tensorflow as tf

    from resnet_studio.core.data import explain_data_error

    if isinstance(e, StoreWriteError):
        return str(e)

    if isinstance(e, tf.errors.ResourceExhaustedError):
        return (f"out of memory with batch size {cfg.batch_size}: try a smaller batch "
                f"(--batch-size {max(1, cfg.batch_size // 2)}) or a smaller model")
    if isinstance(e, tf.errors.OpError):  # our words, the file named (a damaged image)
        return explain_data_error(e, dataset)[:500]
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first}"[:500]


class _StudioCallback(keras.callbacks.Callback):
    """Keras callback: events, run store records, checkpoints, pause/stop, non-finite checks."""

    def __init__(self, trainer: Trainer, initial_step: int) -> None:
        super().__init__()
        self.trainer = trainer
        self.step = initial_step
        self.epochs_completed = 0
        # Where the last checkpoint stands (a run that fails writing falls back to it).
        self.saved_epochs, self.saved_step = 0, initial_step
        self.batch_in_epoch = 0
        # (epoch, batches already done) of an epoch resumed in its middle: Keras numbers that
        # epoch's remaining batches from 0, the records continue the epoch's numbering.
        self.resume_at: tuple[int, int] | None = None
        self._batch_offset = 0
        self.last_loss: float | None = None
        self.failure: TrainingFailure | None = None
        self._t_batch = time.perf_counter()
        self._t_start = time.perf_counter()
        self._t_epoch = time.perf_counter()
        self._rate = 0.0
        self._best_val = math.inf

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epochs_completed = epoch
        self._batch_offset = self.resume_at[1] if self.resume_at and \
            self.resume_at[0] == epoch else 0
        self.batch_in_epoch = self._batch_offset
        self._t_epoch = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        from resnet_studio.core.training.monitored import (
            BATCH_LOSS_KEY,
            GRAD_NORMS_KEY,
            MONITOR_KEYS,
            NEXT_LR_KEY,
            OVERFLOW_KEY,
        )
        from resnet_studio.core.training.optim import current_lr

        t = self.trainer
        logs = logs or {}
        batch += self._batch_offset
        self.step += 1
        self.batch_in_epoch = batch + 1
        now = time.perf_counter()
        dt, self._t_batch = now - self._t_batch, now
        rate = t.config.batch_size / dt if dt > 0 else 0.0
        self._rate = rate if self._rate == 0 else 0.9 * self._rate + 0.1 * rate
        loss = float(logs.get(BATCH_LOSS_KEY, logs.get("loss", math.nan)))
        self.last_loss = loss
        norms = logs.get(GRAD_NORMS_KEY)
        # From the step's logs: evaluating the schedule here costs ms per batch (monitored.py).
        lr = float(logs[NEXT_LR_KEY]) if NEXT_LR_KEY in logs else \
            current_lr(self.model.optimizer)
        metrics = {k: float(v) for k, v in logs.items()
                   if k not in MONITOR_KEYS and np.ndim(v) == 0}
        if self._end_warmup(metrics.get("accuracy")):
            lr = current_lr(self.model.optimizer)  # the next step's rate is the schedule's
        epoch = self.epochs_completed
        record = {"kind": "batch", "step": self.step, "epoch": epoch + 1,
                  "batch": batch + 1, "loss": loss, "lr": lr, **{
                      f"train_{k}": v for k, v in metrics.items() if k != "loss"}}
        t.writer.log(record)
        t._emit(BatchEnd(self.step, epoch, batch + 1, loss, metrics, lr, self._rate,
                         now - self._t_start))
        due = (self.step - 1) % t.config.grad_norm_every == 0
        # Mixed precision: the loss-scaled gradient overflowed and the optimizer skipped the
        # step (halving its scale). Expected now and then; its norms are not a gradient's.
        overflow = float(logs.get(OVERFLOW_KEY, 0.0)) > 0
        if overflow:
            t._emit(Log(f"Step {self.step}: the float16 gradient overflowed; the step was "
                        "skipped and the loss scale halved"))
        recorded = None
        if norms is not None and due and not overflow:
            recorded = np.asarray(norms, dtype=np.float32)
            t.writer.log_gradients(self.step, recorded)
            t._emit(GradNorms(self.step, recorded))
            bad = np.flatnonzero(~np.isfinite(recorded))
        else:
            bad = np.array([], dtype=int)
        if not math.isfinite(loss) or bad.size:
            self._fail_non_finite(loss, bad, epoch, batch)
            return
        if recorded is not None:
            alerts = t.alert_checker.observe(self.step, recorded)
            if alerts:
                t._report_alerts(alerts)
        if t.stop_requested:
            self.model.stop_training = True
            return
        if t.paused:
            t._emit(Log(f"Paused at step {self.step}"))
            t._running.wait()
            t._emit(Log("Stopping…" if t.stop_requested else
                        f"Resumed at step {self.step}"))
            if t.stop_requested:
                self.model.stop_training = True
            self._t_batch = time.perf_counter()

    def _end_warmup(self, accuracy: float | None) -> bool:
        """He et al.'s ResNet-110 rule: back to the full rate once the training error (the
        epoch's running accuracy so far) is below the threshold, from the next step on.
        True when it ended now."""
        t = self.trainer
        warm = getattr(t, "warmup", None)
        if warm is None or accuracy is None or 1.0 - accuracy >= warm.until_error:
            return False
        warm.end()
        t.warmup = None
        t._emit(Log(f"Warm-up ended after step {self.step}: training error "
                    f"{1.0 - accuracy:.1%} < {warm.until_error:.0%}, the learning rate "
                    "follows its schedule from now on"))
        return True

    def _fail_non_finite(self, loss: float, bad: np.ndarray, epoch: int,
                         batch: int) -> None:
        t = self.trainer
        layers = [t.groups[i].layer for i in bad]
        where = f"step {self.step} (epoch {epoch + 1}, batch {batch + 1})"
        if not math.isfinite(loss):
            msg = f"non-finite loss ({loss}) at {where}"
            if layers:
                msg += f"; non-finite gradients from layer {layers[-1]} (nearest the " \
                       f"output) down to {layers[0]}"
        else:
            msg = f"non-finite gradient at {where} in layer {layers[0]}" + (
                f" (and {len(layers) - 1} more)" if len(layers) > 1 else "")
        msg += ". Training stopped; the last good checkpoint is kept. Check the data " \
               "for NaN/inf, or lower the learning rate."
        self.failure = TrainingFailure(msg, step=self.step, epoch=epoch + 1,
                                       batch=batch + 1, layers=layers[:10])
        self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        from resnet_studio.core.training.monitored import MONITOR_KEYS
        from resnet_studio.core.training.optim import current_lr

        t = self.trainer
        if self.failure is not None or (t.stop_requested and self.batch_in_epoch <
                                        max(1, t.steps_per_epoch)):
            return  # an interrupted epoch is not a completed one
        logs = logs or {}
        train = {k: float(v) for k, v in logs.items() if not k.startswith("val_")
                 and k not in MONITOR_KEYS and np.ndim(v) == 0}
        val = {k[4:]: float(v) for k, v in logs.items() if k.startswith("val_")}
        self.epochs_completed = epoch + 1
        self.batch_in_epoch = 0  # a checkpoint now means "the start of the next epoch"
        lr = current_lr(self.model.optimizer)
        seconds = time.perf_counter() - self._t_epoch
        record = {"kind": "epoch", "epoch": epoch + 1, "step": self.step, "lr": lr,
                  "seconds": round(seconds, 3),
                  **{f"train_{k}": v for k, v in train.items()},
                  **{f"val_{k}": v for k, v in val.items()}}
        t.writer.log(record)
        best = {}
        if "loss" in val and val["loss"] < self._best_val:
            self._best_val = val["loss"]
            best = {"best_val_metric": {"epoch": epoch + 1, **val}}
        t.writer.update(epochs_completed=epoch + 1, steps=self.step, **best)
        alerts = t.alert_checker.end_epoch(epoch + 1, self.step)
        if alerts:
            t._report_alerts(alerts)
        # Records first, then the checkpoint: once a checkpoint exists, every step it covers
        # is on disk, whenever the process is killed.
        t.writer.flush(sync=True)
        t._checkpoint(self, "last")
        t._emit(EpochEnd(epoch + 1, self.step, train, val, lr, seconds))

