"""Writing a run folder while it trains (RunWriter, used by the Trainer's thread).

Writing is cheap for the training thread: records are appended to in-memory buffers and a
background thread flushes them (and TensorBoard summaries) every few seconds; an epoch end
forces a synchronous flush with fsync, so a killed process leaves everything up to the last
epoch on disk.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import threading
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.jsonio import to_jsonable
from resnet_studio.core.runs import diskio, layout, records
from resnet_studio.core.runs.jsonfile import now, write_json
from resnet_studio.core.runs.names import default_name
from resnet_studio.core.runs.results import write_final
from resnet_studio.core.runs.schema import RUN_SCHEMA_VERSION
from resnet_studio.core.runs.store import STATUSES, process_start, read_meta
from resnet_studio.core.runs.tensorboard import ScalarEventFile

FLUSH_SECONDS = 2.0  # background flush period: bounds what a crash can lose mid-epoch


def library_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    from resnet_studio import __version__

    versions = {"resnet_studio": __version__, "python": platform.python_version(),
                "tensorflow": tf.__version__, "keras": keras.__version__,
                "numpy": np.__version__}
    from importlib import metadata

    try:  # from the installed metadata: importing keras_hub takes ~0.6 s before the 1st step
        versions["keras_hub"] = metadata.version("keras-hub")
    except metadata.PackageNotFoundError:  # pragma: no cover - a declared dependency
        pass
    return versions


class RunWriter:
    """Creates and fills one run folder. Used by the thread that trains.

    Args:
        run_dir: The folder (created; must not already hold a run unless `resume`).
        meta: Initial run.json content (id, preset, dataset, config, device…).
        architecture: architecture.json's content (the bound spec's dict).
        layer_names: Layers with weights, in depth order (columns of the gradient file).
        layer_blocks: Block of each of those layers.
        resume: Continue an existing run folder (appending).
    """

    def __init__(self, run_dir: Path, meta: dict[str, Any], architecture: dict[str, Any],
                 layer_names: list[str], layer_blocks: list[str], *, resume: bool = False
                 ) -> None:
        self.dir = Path(run_dir)
        self.write_error: diskio.StoreWriteError | None = None  # the last write that failed
        if not resume:
            if layout.is_run_dir(self.dir):
                raise FileExistsError(f"{self.dir} already holds a run; choose another --run-dir")
        with diskio.guarded(self.dir):
            self.dir.mkdir(parents=True, exist_ok=True)
            for sub in layout.SUBFOLDERS:
                (self.dir / sub).mkdir(exist_ok=True)
        self.meta = dict(meta)
        if resume:
            old = read_meta(self.dir)
            old.update(self.meta)
            self.meta = old
        self.meta.update({"schema_version": RUN_SCHEMA_VERSION, "pid": os.getpid(),
                          "pid_start": process_start(os.getpid()),
                          "host": socket.gethostname(), "status": "running",
                          "updated": now()})
        self.meta.setdefault("started", now())
        self.meta.setdefault("name", default_name(self.meta, self.dir.name))
        self.meta.setdefault("versions", library_versions())
        self.meta.setdefault("resumes", 0)
        if resume:
            self.meta["resumes"] += 1
        write_json(layout.run_json(self.dir), self.meta)
        if not resume:
            write_json(layout.architecture_json(self.dir), architecture)
            records.write_gradient_layers(self.dir, layer_names, layer_blocks)
        self._n_layers = len(layer_names)
        self._record = records.gradient_record(self._n_layers)
        self._lock = threading.Lock()
        self._metrics: list[str] = []
        self._grads: list[tuple[int, np.ndarray]] = []
        self._tb_scalars: list[tuple[str, int, float]] = []
        self._tb_norms: list[tuple[int, np.ndarray]] = []
        self._layer_names = layer_names
        self._norm_tags = [f"grad_norm/{name}" for name in layer_names]
        self._tb_writer: ScalarEventFile | None = None
        # Serialises whole flushes (the background thread's and the epoch end's): records
        # taken from the buffers are written in the order they were taken.
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_loop, name="run-writer", daemon=True)
        self._thread.start()

    # -- records (training thread; cheap)
    def log(self, record: dict[str, Any]) -> None:
        """Appends one metrics record (a batch or an epoch) to metrics.jsonl."""
        line = json.dumps(record, default=to_jsonable)
        with self._lock:
            self._metrics.append(line)
            if record.get("kind") == "batch":
                step = int(record["step"])
                for key in ("loss", "lr"):
                    if key in record:
                        self._tb_scalars.append((f"batch/{key}", step, float(record[key])))
            elif record.get("kind") == "epoch":
                step = int(record.get("step", record["epoch"]))
                for key, value in record.items():
                    if key.startswith(("train_", "val_")) and isinstance(value, (int, float)):
                        self._tb_scalars.append((f"epoch/{key}", step, float(value)))

    def log_gradients(self, step: int, norms: np.ndarray) -> None:
        with self._lock:
            self._grads.append((int(step), np.asarray(norms, dtype=np.float32)))
            self._tb_norms.append((int(step), np.asarray(norms, dtype=np.float32)))

    def update(self, **fields: Any) -> None:
        """Merges fields into run.json (written at the next flush)."""
        with self._lock:
            self.meta.update(fields)

    # -- flushing
    def flush(self, sync: bool = True) -> None:
        with self._flush_lock:
            self._flush(sync)

    def _flush(self, sync: bool) -> None:
        with self._lock:
            metrics, self._metrics = self._metrics, []
            grads, self._grads = self._grads, []
            scalars, self._tb_scalars = self._tb_scalars, []
            tb_norms, self._tb_norms = self._tb_norms, []
            self.meta["updated"] = now()
            meta = dict(self.meta)
        if metrics:
            records.append_metrics(self.dir, metrics, sync)
        if grads:
            arr = np.empty(len(grads), dtype=self._record)
            for i, (step, norms) in enumerate(grads):
                arr[i] = (step, norms)
            records.append_gradients(self.dir, arr, sync)
        write_json(layout.run_json(self.dir), meta)
        if scalars or tb_norms:
            tb = self.dir / layout.TENSORBOARD
            try:
                with diskio.guarded(tb):
                    self._write_tensorboard(scalars, tb_norms)
            except diskio.StoreWriteError:
                raise
            except Exception as e:  # TensorFlow's writer raises its own errors, not OSError
                full = (diskio.free_bytes(tb) or 0) < diskio.RESERVE_BYTES
                raise diskio.StoreWriteError(
                    28, f"disk full at {tb}" if full else
                    f"cannot write {tb}: {str(e).strip().splitlines()[0][:200]}") from None

    def _write_tensorboard(self, scalars: list[tuple[str, int, float]],
                           norms: list[tuple[int, np.ndarray]]) -> None:
        if self._tb_writer is None:
            self._tb_writer = ScalarEventFile(self.dir / layout.TENSORBOARD)
        by_step: dict[int, list[tuple[str, float]]] = {}
        for tag, step, value in scalars:
            by_step.setdefault(step, []).append((tag, value))
        for step, vec in norms:
            by_step.setdefault(step, []).extend(zip(self._norm_tags, vec.tolist(), strict=True))
        self._tb_writer.write(by_step)
        self._tb_writer.flush()

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                self.flush(sync=False)
            except OSError:  # disk trouble: the synchronous flush will raise it to the trainer
                pass

    def finish(self, status: str, **fields: Any) -> None:
        """Final flush; run.json gets the status and end time."""
        if status not in STATUSES:
            raise ValueError(f"Expected status in {STATUSES}, received: status={status!r}")
        self._stop.set()
        self._thread.join()
        self.update(status=status, finished=now(), **fields)
        try:
            self.flush(sync=True)
        except diskio.StoreWriteError as e:  # run.json is updated only if it can be
            self.write_error = e
        if self._tb_writer is not None:
            try:
                self._tb_writer.close()
            except Exception:  # noqa: BLE001 - a full disk; reported by the flush above
                pass

    def write_final(self, final: dict[str, Any]) -> None:
        """final.json: the test metrics after the last epoch."""
        write_final(self.dir, final)
