"""Run folders: everything a training run leaves on disk, and reading it back.

Layout (DESIGN.md): run.json, architecture.json, metrics.jsonl, gradients/ (layers.json +
norms.bin, appendable), checkpoints/ (weights + optimizer state), final.json,
tensorboard/, exports/.

Writing is cheap for the training thread: records are appended to in-memory buffers and a
background thread flushes them (and TensorBoard summaries) every few seconds; an epoch end
forces a synchronous flush with fsync, so a killed process leaves everything up to the last
epoch on disk.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_studio.core.spec import atomic_write_text

HOME_ENV = "RESNET_STUDIO_HOME"
STATUSES = ("running", "completed", "stopped", "failed", "interrupted")
FLUSH_SECONDS = 2.0  # background flush period: bounds what a crash can lose mid-epoch


def default_runs_root() -> Path:
    """$RESNET_STUDIO_HOME/runs, else the platform's user-data folder."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home) / "runs"
    import platformdirs

    return Path(platformdirs.user_data_dir("resnet-studio", appauthor=False)) / "runs"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n", backup=False)


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


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


def _process_start(pid: int) -> str | None:
    """Start time of a process (Linux /proc), to tell a live run from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or _process_start(pid) in (None, start)


class RunWriter:
    """Creates and fills one run folder. Used by the thread that trains.

    Args:
        run_dir: The folder (created; must not already hold a run unless `resume`).
        meta: Initial run.json content (id, preset, dataset, config, device…).
        layer_names: Layers with weights, in depth order (columns of the gradient file).
        layer_blocks: Block of each of those layers.
        resume: Continue an existing run folder (appending).
    """

    def __init__(self, run_dir: Path, meta: dict[str, Any], architecture: dict[str, Any],
                 layer_names: list[str], layer_blocks: list[str], *, resume: bool = False
                 ) -> None:
        self.dir = Path(run_dir)
        if not resume:
            if (self.dir / "run.json").exists():
                raise FileExistsError(f"{self.dir} already holds a run; choose another --run-dir")
            self.dir.mkdir(parents=True, exist_ok=True)
        for sub in ("checkpoints", "gradients", "tensorboard", "exports"):
            (self.dir / sub).mkdir(exist_ok=True)
        self.meta = dict(meta)
        if resume:
            old = json.loads((self.dir / "run.json").read_text(encoding="utf-8"))
            old.update(self.meta)
            self.meta = old
        self.meta.update({"pid": os.getpid(), "pid_start": _process_start(os.getpid()),
                          "host": socket.gethostname(), "status": "running",
                          "updated": _now()})
        self.meta.setdefault("started", _now())
        self.meta.setdefault("versions", library_versions())
        self.meta.setdefault("resumes", 0)
        if resume:
            self.meta["resumes"] += 1
        _write_json(self.dir / "run.json", self.meta)
        if not resume:
            _write_json(self.dir / "architecture.json", architecture)
            _write_json(self.dir / "gradients" / "layers.json",
                        {"layers": layer_names, "blocks": layer_blocks,
                         "record": "little-endian int64 step, then float32 norm per layer"})
        self._n_layers = len(layer_names)
        self._record = np.dtype([("step", "<i8"), ("norms", "<f4", (self._n_layers,))])
        self._lock = threading.Lock()
        self._metrics: list[str] = []
        self._grads: list[tuple[int, np.ndarray]] = []
        self._tb_scalars: list[tuple[str, int, float]] = []
        self._tb_norms: list[tuple[int, np.ndarray]] = []
        self._layer_names = layer_names
        self._norm_tags = [f"grad_norm/{name}" for name in layer_names]
        self._tb_writer: _ScalarEventFile | None = None
        # Serialises whole flushes (the background thread's and the epoch end's): records
        # taken from the buffers are written in the order they were taken.
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_loop, name="run-writer", daemon=True)
        self._thread.start()

    # -- records (training thread; cheap)
    def log(self, record: dict[str, Any]) -> None:
        """Appends one metrics record (a batch or an epoch) to metrics.jsonl."""
        line = json.dumps(record, default=_jsonable)
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
            self.meta["updated"] = _now()
            meta = dict(self.meta)
        if metrics:
            with open(self.dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write("\n".join(metrics) + "\n")
                if sync:
                    f.flush()
                    os.fsync(f.fileno())
        if grads:
            arr = np.empty(len(grads), dtype=self._record)
            for i, (step, norms) in enumerate(grads):
                arr[i] = (step, norms)
            with open(self.dir / "gradients" / "norms.bin", "ab") as f:
                f.write(arr.tobytes())
                if sync:
                    f.flush()
                    os.fsync(f.fileno())
        _write_json(self.dir / "run.json", meta)
        if scalars or tb_norms:
            self._write_tensorboard(scalars, tb_norms)

    def _write_tensorboard(self, scalars: list[tuple[str, int, float]],
                           norms: list[tuple[int, np.ndarray]]) -> None:
        if self._tb_writer is None:
            self._tb_writer = _ScalarEventFile(self.dir / "tensorboard")
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
        self.update(status=status, finished=_now(), **fields)
        self.flush(sync=True)
        if self._tb_writer is not None:
            self._tb_writer.close()

    def write_final(self, final: dict[str, Any]) -> None:
        _write_json(self.dir / "final.json", final)


class _ScalarEventFile:
    """A TensorBoard event file of scalars, holding the records `tf.summary.scalar(tag,
    value, step=step)` writes (a float32 scalar tensor; the scalars plugin's metadata with a
    tag's first value), built as protos in Python and framed by `tf.io.TFRecordWriter`.

    Why not `tf.summary.scalar`: called eagerly it costs ~0.6 ms per value, and the run
    writes one gradient norm per layer per step: ~15 ms of flushing per step for a 24-layer
    Transformer, 10 % of its training step on 2 cores (benchmarks/bench_overhead.py). Here a
    value costs ~7 µs; a traced `tf.summary.write` loop costs 15-40 µs.
    """

    _count = 0  # event files made by this process: part of each file's unique name

    def __init__(self, logdir: Path) -> None:
        import tensorflow as tf
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
        from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
        from tensorboard.plugins.scalar import metadata

        self._event, self._summary = event_pb2.Event, summary_pb2.Summary
        self._tensor, self._float = tensor_pb2.TensorProto, types_pb2.DT_FLOAT
        self._scalar_shape = TensorShapeProto()
        self._metadata = metadata.create_summary_metadata(display_name=None, description=None)
        self._tagged: set[str] = set()
        logdir.mkdir(parents=True, exist_ok=True)
        _ScalarEventFile._count += 1
        # The name TensorFlow's own writer gives its files.
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{_ScalarEventFile._count}.v2")
        self._file = tf.io.TFRecordWriter(str(logdir / name))
        self._file.write(self._event(wall_time=time.time(),
                                     file_version="brain.Event:2").SerializeToString())

    def write(self, by_step: dict[int, list[tuple[str, float]]]) -> None:
        """One event per step, holding that step's (tag, value) pairs."""
        now = time.time()
        for step, values in by_step.items():
            out = []
            for tag, value in values:
                v = self._summary.Value(tag=tag, tensor=self._tensor(
                    dtype=self._float, tensor_shape=self._scalar_shape, float_val=[value]))
                if tag not in self._tagged:
                    v.metadata.CopyFrom(self._metadata)
                    self._tagged.add(tag)
                out.append(v)
            self._file.write(self._event(wall_time=now, step=int(step),
                                         summary=self._summary(value=out)).SerializeToString())

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


# --------------------------------------------------------------------------- checkpoints
def _random_state_variables(model: Any) -> list[Any]:
    """Variables of the model's layers that are not weights: the states of the seed
    generators of dropout and drop-path layers. `save_weights` leaves them out, yet a resumed
    run must continue their random streams to drop what the uninterrupted run would have."""
    weights = {id(w) for w in model.weights}
    seen: set[int] = set()
    out = []
    for layer in model.layers:
        for v in layer.variables:
            if id(v) not in weights and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out


def save_checkpoint(run_dir: Path, model: Any, state: dict[str, Any], name: str = "last"
                    ) -> Path:
    """Weights + optimizer variables + random-generator states + training position,
    replaced atomically."""
    ckpt_root = Path(run_dir) / "checkpoints"
    tmp = ckpt_root / f".{name}-{secrets.token_hex(4)}"
    tmp.mkdir(parents=True)
    try:
        model.save_weights(str(tmp / "model.weights.h5"))
        opt = model.optimizer
        arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(opt.variables)}
        np.savez(tmp / "optimizer.npz", **arrays)
        rng = _random_state_variables(model)
        np.savez(tmp / "random.npz", **{f"v{i:05d}": np.asarray(v.numpy())
                                        for i, v in enumerate(rng)})
        _write_json(tmp / "state.json", {**state, "optimizer_variables": len(arrays),
                                          "random_variables": [v.path for v in rng],
                                          "saved": _now()})
        final = ckpt_root / name
        old = ckpt_root / f".{name}-old"
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


INITIAL_WEIGHTS = "initial.weights.h5"  # in checkpoints/: the weights before the first step


def save_initial_weights(run_dir: Path, model: Any) -> Path:
    """Saves the model's weights before training as checkpoints/initial.weights.h5 (written to
    a temporary file, then renamed). The loss landscape draws the line from these weights to
    the trained ones (Goodfellow et al. 2015); they cost one copy of the weights."""
    ckpt_root = Path(run_dir) / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / INITIAL_WEIGHTS
    tmp = ckpt_root / f".initial-{secrets.token_hex(4)}.weights.h5"
    try:
        model.save_weights(str(tmp))
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def load_checkpoint(ckpt: Path, model: Any) -> dict[str, Any]:
    """Restores weights and optimizer state saved by `save_checkpoint`; returns its state."""
    ckpt = Path(ckpt)
    opt = model.optimizer
    if not opt.built:  # built first, so the weights file's optimizer slots have a home
        opt.build(model.trainable_variables)
    model.load_weights(str(ckpt / "model.weights.h5"))
    with np.load(ckpt / "optimizer.npz") as data:
        values = [data[f"v{i:05d}"] for i in range(len(data.files))]
    if len(values) != len(opt.variables):
        raise ValueError(f"{ckpt}: optimizer state has {len(values)} variables, the optimizer "
                         f"{len(opt.variables)}; was the training configuration changed?")
    for var, value in zip(opt.variables, values, strict=True):
        var.assign(value)
    state = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
    rng = _random_state_variables(model)
    if (ckpt / "random.npz").exists():  # absent from checkpoints of earlier versions
        with np.load(ckpt / "random.npz") as data:
            values = [data[f"v{i:05d}"] for i in range(len(data.files))]
        # Matched by position and shape: their paths carry process-wide name counters.
        if [v.shape for v in values] == [tuple(var.shape) for var in rng]:
            for var, value in zip(rng, values, strict=True):
                var.assign(value)
    return state


def truncate_records(run_dir: str | os.PathLike[str], step: int) -> None:
    """Drops metrics and gradient records after `step` (a resumed run redoes those steps).

    A process killed after its last checkpoint has usually flushed some records of steps the
    checkpoint does not include; without this, the resumed run would log those steps twice.
    Both files are replaced atomically. A torn last record is dropped too.
    """
    d = Path(run_dir)
    path = d / "metrics.jsonl"
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and int(record.get("step", 0)) <= step:
                kept.append(line)
        if len(kept) != len(lines):
            atomic_write_text(path, "".join(line + "\n" for line in kept), backup=False)
    grads = d / "gradients" / "norms.bin"
    if grads.exists():
        names, _, steps, _ = read_gradients(d)
        record = np.dtype([("step", "<i8"), ("norms", "<f4", (len(names),))])
        keep = int(np.searchsorted(steps, step, side="right"))  # steps only increase
        if grads.stat().st_size != keep * record.itemsize:
            raw = grads.read_bytes()[: keep * record.itemsize]
            tmp = grads.with_name(f".norms-{secrets.token_hex(4)}.tmp")
            with open(tmp, "wb") as f:
                f.write(raw)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, grads)


# --------------------------------------------------------------------------- reading
@dataclass
class RunInfo:
    """A run folder as listed by `resnet-studio runs` and the runs view."""

    dir: Path
    meta: dict[str, Any] = field(repr=False)
    status: str

    @property
    def id(self) -> str:
        return str(self.meta.get("id", self.dir.name))

    def to_dict(self) -> dict[str, Any]:
        m = self.meta
        return {"id": self.id, "run_dir": str(self.dir), "status": self.status,
                "preset": m.get("preset"), "dataset": m.get("dataset"),
                "params": m.get("params"), "started": m.get("started"),
                "finished": m.get("finished"), "seconds": m.get("seconds"),
                "epochs_completed": m.get("epochs_completed", 0),
                "best_val_metric": m.get("best_val_metric"), "test": m.get("test"),
                "error": m.get("error"), "compare": m.get("compare"),
                "alerts": [a.get("kind") for a in m.get("alerts") or []]}


def read_run(run_dir: str | os.PathLike[str]) -> RunInfo:
    """Reads run.json; a `running` run whose process is gone is reported `interrupted`."""
    d = Path(run_dir)
    try:
        meta = json.loads((d / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{d}: no run.json (not a run folder)") from None
    except (OSError, ValueError) as e:
        raise ValueError(f"{d}/run.json: unreadable ({e})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{d}/run.json: expected a JSON object, got {type(meta).__name__}")
    status = meta.get("status", "interrupted")
    if status == "running" and meta.get("host") == socket.gethostname():
        pid = meta.get("pid")
        if not isinstance(pid, int) or not _alive(pid, meta.get("pid_start")):
            status = "interrupted"
    return RunInfo(d, meta, status)


def list_runs(root: str | os.PathLike[str] | None = None) -> list[RunInfo]:
    """Runs under `root` (default runs root), newest first; unreadable folders skipped."""
    root = Path(root) if root else default_runs_root()
    if not root.is_dir():
        return []
    runs = []
    for d in root.iterdir():
        if (d / "run.json").is_file():
            try:
                runs.append(read_run(d))
            except (OSError, ValueError):
                continue
    return sorted(runs, key=lambda r: str(r.meta.get("started", "")), reverse=True)


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """metrics.jsonl records; a torn last line (killed mid-write) is skipped."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def read_gradients(run_dir: str | os.PathLike[str]
                   ) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(layer names, their blocks, steps (S,), norms (S, L)); a torn last record is dropped."""
    gdir = Path(run_dir) / "gradients"
    meta = json.loads((gdir / "layers.json").read_text(encoding="utf-8"))
    names, blocks = meta["layers"], meta["blocks"]
    record = np.dtype([("step", "<i8"), ("norms", "<f4", (len(names),))])
    path = gdir / "norms.bin"
    raw = path.read_bytes() if path.exists() else b""
    n = len(raw) // record.itemsize
    arr = np.frombuffer(raw[: n * record.itemsize], dtype=record)
    return names, blocks, arr["step"].copy(), arr["norms"].copy()


def new_run_dir(root: Path, preset: str) -> Path:
    """A fresh, sortable, unique folder name: 20261127-184500-resnet8-digits-3fa2."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{stamp}-{preset}-{secrets.token_hex(2)}"
