"""Training on several devices or machines through tf.distribute.

Three strategies (the `strategy` training setting):

- `default`: no tf.distribute strategy at all; one device (the first GPU, else the CPU).
- `mirrored`: `tf.distribute.MirroredStrategy` over every local GPU, or over the devices
  listed in the `devices` setting ("GPU:0,GPU:1"; "CPU:0,CPU:1" splits the CPU into logical
  devices when TensorFlow has not started yet, which is how the tests run it on a laptop).
- `multi-worker`: `tf.distribute.MultiWorkerMirroredStrategy`, configured from the
  `TF_CONFIG` environment variable; one process per machine, started the same way on each.

Under a strategy `batch_size` is the global batch: every step, each of the R replicas gets
batch_size / R examples of the same global batch a single device would get (the datasets
are sharded by DATA, so every worker reads the data in the same seeded order and keeps its
share). Each replica's loss is its own mean divided by R, so the all-reduced (summed)
gradient is the gradient of the global batch's mean loss.

Gradient norms: the monitored train step all-reduces the gradients itself
(`all_reduce_gradients`) and computes the per-layer norms from the result, so they are the
norms of the gradient the optimizer applies, identical on every replica. The optimizer is
told not to all-reduce a second time (`apply_reduced_gradients`).

Keras 3.15 `fit` needs two workarounds under tf.distribute (tensorflow/tensorflow#72388);
both live here, in `KerasDistributeFixes`, and tests/core/test_distribute.py checks that
Keras still behaves the way they assume (it fails when an upgrade changes it); the private
Keras API they use is reached through core/keras_private.py:

1. `_maybe_symbolic_build` MEAN-reduces the first data batch across replicas to build the
   model (under MultiWorkerMirroredStrategy that is a collective over the data, which
   fails) and consumes an iterator of the training data to get it (which advances a
   reshuffling dataset by one epoch, so a mirrored run would not see the batches a single
   device sees). We build from the dataset's element spec instead: nothing is read
   (keras_private.BuildFromElementSpec, which does the same without a strategy).
2. In multi-worker mode Keras reduces every log with `strategy.reduce("MEAN", v, axis=0)`,
   which fails for scalars. Each log leaves the step with a leading axis of size 1, which
   that reduction removes again (a vector of L gradient norms leaves as (1, L), arrives as
   (L,)).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_studio.core import keras_private
from resnet_studio.core.training_config import STRATEGIES, parse_devices


class DistributionError(ValueError):
    """The strategy cannot be set up as asked (missing TF_CONFIG, unknown device…)."""


@dataclass
class Distribution:
    """The strategy a run trains under, and this process's place in it.

    Attributes:
        name: `default`, `mirrored` or `multi-worker`.
        strategy: The tf.distribute strategy (None for `default`: Keras's default).
        devices: This worker's replica devices, short names ("GPU:0").
        workers: Processes taking part (1 unless multi-worker).
        task_type: "worker" or "chief" (multi-worker), else None.
        task_id: Index of this process among its task type.
        is_chief: This process writes the run folder; the others write to a temporary one.
        warnings: Said to the user when the run starts (ignored devices, no GPU found).
    """

    name: str = "default"
    strategy: Any = None
    devices: tuple[str, ...] = ()
    workers: int = 1
    task_type: str | None = None
    task_id: int = 0
    is_chief: bool = True
    warnings: list[str] = field(default_factory=list)

    @property
    def replicas(self) -> int:
        """Replicas taking part in every step (all workers together)."""
        return int(self.strategy.num_replicas_in_sync) if self.strategy is not None else 1

    def scope(self) -> contextlib.AbstractContextManager[Any]:
        """Where the model, optimizer and metrics must be created."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def all_gpus(self) -> bool:
        """True when every local replica runs on a GPU (mixed precision pays off)."""
        return bool(self.devices) and all(d.startswith("GPU") for d in self.devices)

    def precision_device(self, device: Any) -> Any:
        """The device mixed precision is decided for: `device` (the first GPU, else the CPU)
        unless some local replica runs on a CPU, then a CPU."""
        if self.strategy is None or self.all_gpus():
            return device
        from resnet_studio.core.training.devices import DeviceInfo

        return DeviceInfo("CPU", "CPU", 0)

    def scratch_dir(self) -> Path:
        """A new temporary folder for a non-chief worker's run folder (the Trainer deletes it
        when the process exits)."""
        return Path(tempfile.mkdtemp(prefix=f"resnet-studio-{self.task_type}{self.task_id}-"))

    def describe(self, device: Any) -> str:
        """Human description: the device for `default`, else the replicas."""
        if self.strategy is None:
            return str(device)
        local = ", ".join(self.devices)
        if self.name == "multi-worker":
            return (f"multi-worker: {self.task_type} {self.task_id} of {self.workers} "
                    f"workers, {self.replicas} replicas in all (here: {local})")
        return f"mirrored: {self.replicas} replica{'s' if self.replicas > 1 else ''} ({local})"

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.name, "replicas": self.replicas, "devices": list(self.devices),
                "workers": self.workers, "task_type": self.task_type, "task_id": self.task_id,
                "chief": self.is_chief}


def short_name(device: str) -> str:
    """'/job:localhost/replica:0/task:0/device:GPU:1' -> 'GPU:1'."""
    return device.rsplit("device:", 1)[-1]


def list_devices() -> list[str]:
    """Short names of the logical devices TensorFlow sees ("CPU:0", "GPU:0", …).

    Turns on GPU memory growth first (`configure_devices`), since listing logical devices
    starts TensorFlow's runtime, after which that setting can no longer be made.
    """
    import tensorflow as tf

    from resnet_studio.core.training.devices import configure_devices

    configure_devices()
    return [short_name(d.name) for d in tf.config.list_logical_devices()
            if d.device_type in ("CPU", "GPU")]


_multi_worker: Any = None


def make_distribution(strategy: str, devices: str = "") -> Distribution:
    """Creates the strategy named by the training settings.

    Call it before anything else touches TensorFlow in a multi-worker process:
    MultiWorkerMirroredStrategy must configure the runtime before it starts.

    Raises:
        DistributionError: unknown strategy, devices that do not exist, TF_CONFIG missing or
            malformed.
    """
    if strategy not in STRATEGIES:
        raise DistributionError(f"Expected strategy in {STRATEGIES}, received: "
                                f"strategy={strategy!r}")
    try:
        wanted = parse_devices(devices)
    except ValueError as e:
        raise DistributionError(f"devices: {e}") from None
    ignored = ([f"devices ({devices}) are only used by the mirrored strategy; ignored"]
               if wanted and strategy != "mirrored" else [])
    if strategy == "default":
        return Distribution(warnings=ignored)
    import tensorflow as tf

    if strategy == "mirrored":
        return _mirrored(tf, wanted)
    global _multi_worker
    task_type, task_id, workers, chief = read_tf_config(os.environ.get("TF_CONFIG"))
    # One per process: it configures the runtime's collectives once (a comparison trains
    # two models in a row under it).
    if _multi_worker is None:
        try:
            _multi_worker = tf.distribute.MultiWorkerMirroredStrategy()
        except (RuntimeError, ValueError) as e:  # the runtime started before the strategy
            raise DistributionError(f"multi-worker: cannot configure TensorFlow ({e}); the "
                                    "strategy must be created before TensorFlow starts, as "
                                    "the CLI does") from None
    mwms = _multi_worker
    local = tuple(short_name(d) for d in mwms.extended.worker_devices)
    return Distribution("multi-worker", mwms, local, workers, task_type, task_id, chief,
                        ignored)


def _mirrored(tf: Any, wanted: list[str]) -> Distribution:
    warnings: list[str] = []
    if wanted:
        cpus = [int(d.rsplit(":", 1)[1]) for d in wanted if ":CPU:" in d]
        if cpus:
            _split_cpu(tf, max(cpus) + 1)
    available = {short_name(d.name): d.name for d in tf.config.list_logical_devices()}
    if not wanted:
        gpus = [n for n in available if n.startswith("GPU:")]
        wanted = [f"/device:{n}" for n in gpus] or ["/device:CPU:0"]
        if not gpus:
            warnings.append("mirrored: no GPU found; training on one CPU replica (list "
                            "devices such as CPU:0,CPU:1 to split the CPU)")
    missing = [short_name(d) for d in wanted if short_name(d) not in available]
    if missing:
        raise DistributionError(f"devices: {', '.join(missing)} not found; this machine has "
                                f"{', '.join(sorted(available))}")
    return Distribution("mirrored", _mirrored_strategy(tf, tuple(wanted)),
                        tuple(short_name(d) for d in wanted), warnings=warnings)


_mirrored_strategies: dict[tuple[str, ...], Any] = {}


def _mirrored_strategy(tf: Any, devices: tuple[str, ...]) -> Any:
    """One MirroredStrategy per device set for the whole process.

    Every MirroredStrategy numbers its collective ops from the same keys (group 1, instance
    100, …), and the runtime remembers each instance: a second strategy in the process (the
    next run in the GUI, the plain twin of a comparison) would reuse the first one's keys
    and fail ("Shape mismatch in the collective instance 100"). Reusing the strategy keeps
    counting; a strategy for another device set gets its own key range
    (`_collective_key_base`, read by the constructor, the hook TensorFlow's own tests use).
    """
    strategy = _mirrored_strategies.get(devices)
    if strategy is None:
        base = 10_000 * (len(_mirrored_strategies) + 1)
        with keras_private.collective_key_base(tf.distribute.MirroredStrategy, base):
            strategy = tf.distribute.MirroredStrategy(devices=list(devices))
        _mirrored_strategies[devices] = strategy
    return strategy


def _split_cpu(tf: Any, count: int) -> None:
    """Splits the physical CPU into `count` logical devices, if TensorFlow has not started
    (afterwards the configuration is fixed; the existing devices are then checked)."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu) or []
    if len(current) >= count:
        return
    with contextlib.suppress(RuntimeError):  # already initialised
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])


def read_tf_config(raw: str | None) -> tuple[str, int, int, bool]:
    """(task type, task index, number of workers, is chief) from TF_CONFIG's text.

    The chief is the `chief` task if the cluster has one, else worker 0 (TensorFlow's rule).

    Raises:
        DistributionError: TF_CONFIG unset, not JSON, or not a cluster with this task in it.
    """
    example = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}\'')
    if not raw:
        raise DistributionError(f"strategy multi-worker needs the TF_CONFIG environment "
                                f"variable on every machine, e.g. {example} (index 1 on the "
                                "second); see docs/distributed.md")
    try:
        cfg = json.loads(raw)
    except ValueError as e:
        raise DistributionError(f"TF_CONFIG is not valid JSON ({e}); expected e.g. "
                                f"{example}") from None
    cluster = cfg.get("cluster") if isinstance(cfg, Mapping) else None
    task = cfg.get("task") if isinstance(cfg, Mapping) else None
    if not isinstance(cluster, Mapping) or not isinstance(task, Mapping):
        raise DistributionError(f"TF_CONFIG: expected an object with 'cluster' and 'task', "
                                f"received: {raw[:200]}")
    task_type, index = task.get("type"), task.get("index")
    if task_type not in ("chief", "worker"):
        raise DistributionError(f"TF_CONFIG: expected task type 'worker' or 'chief', "
                                f"received: type={task_type!r}")
    members = cluster.get(task_type)
    if not isinstance(members, Sequence) or isinstance(members, str) or not members:
        raise DistributionError(f"TF_CONFIG: the cluster lists no {task_type!r} addresses")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(members):
        raise DistributionError(f"TF_CONFIG: expected task index 0..{len(members) - 1}, "
                                f"received: index={index!r}")
    workers = sum(len(cluster.get(t) or []) for t in ("chief", "worker"))
    chief = task_type == "chief" or ("chief" not in cluster and index == 0)
    return task_type, index, workers, chief


def synchronize_batch_norm(model: Any) -> int:
    """Makes every BatchNormalization layer of `model` (nested ones too) compute its batch
    statistics over the global batch (`synchronized=True`, read when the step is traced).
    Returns how many layers it changed."""
    import keras

    layers = [layer for layer in keras_private.flatten_layers(model)
              if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        layer.synchronized = True
    return len(layers)


def shard_by_data(dataset: Any) -> Any:
    """Every worker reads the whole dataset in the same (seeded) order and keeps its share
    of each global batch. FILE sharding (the AUTO default for file-based sources) would give
    workers different files, hence different batches than a single device, and fails when a
    split has fewer files than there are workers (TFDS mnist has one)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


# ------------------------------------------------------------------ inside the train step
def all_reduce_gradients(grads: Sequence[Any]) -> list[Any]:
    """Sums the replicas' gradients (in a replica context; identity with one replica).

    Each replica's loss was divided by the number of replicas (Keras does this under a
    strategy), so the sum is the gradient of the global batch's mean loss.
    """
    import tensorflow as tf

    ctx = tf.distribute.get_replica_context()
    grads = list(grads)
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return grads
    present = [i for i, g in enumerate(grads) if g is not None]
    reduced = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [grads[i] for i in present])
    for i, g in zip(present, reduced, strict=True):
        grads[i] = g
    return grads


def apply_reduced_gradients(optimizer: Any, grads: Sequence[Any], variables: Sequence[Any]
                            ) -> None:
    """Applies gradients that `all_reduce_gradients` already summed across replicas.

    Keras's optimizer would all-reduce them again: on this optimizer that step becomes the
    identity, for good (keras_private.skip_gradient_all_reduce): the optimizer belongs to a
    model whose train step always reduces first.
    """
    keras_private.skip_gradient_all_reduce(optimizer)
    optimizer.apply_gradients(zip(grads, variables, strict=True))


in_multi_worker_mode = keras_private.in_multi_worker_mode


def with_replica_axis(logs: dict[str, Any]) -> dict[str, Any]:
    """Workaround 2: in multi-worker mode, every log gets a leading axis of size 1 (removed
    again by Keras's reduction along axis 0); elsewhere the logs are returned unchanged."""
    import tensorflow as tf

    if not in_multi_worker_mode(tf.distribute.get_strategy()):
        return logs
    return {k: tf.expand_dims(tf.convert_to_tensor(v), 0) for k, v in logs.items()}


def _shard_datasets(data: Any) -> Any:
    import tensorflow as tf

    return shard_by_data(data) if isinstance(data, tf.data.Dataset) else data


class KerasDistributeFixes(keras_private.BuildFromElementSpec):
    """Mixin for a keras.Model trained with `fit` under tf.distribute (Keras 3.15, TF
    backend): the workarounds described in the module docstring, and DATA sharding of the
    tf.data datasets given to `fit` (`shard_by_data`). Without a strategy, only the early
    build from the element spec applies (it saves the train step's second trace)."""

    def fit(self, x: Any = None, *args: Any, validation_data: Any = None, **kwargs: Any
            ) -> Any:
        if keras_private.distribute_strategy(self) is not None:
            x, validation_data = _shard_datasets(x), _shard_datasets(validation_data)
        return super().fit(x, *args, validation_data=validation_data,  # type: ignore[misc]
                           **kwargs)

    def test_step(self, data: Any) -> Any:
        return with_replica_axis(super().test_step(data))  # type: ignore[misc]


def weights_digest(weights: Iterator[Any] | Sequence[Any]) -> str:
    """SHA-256 of the weights' bytes, in order: equal digests mean bit-identical weights
    (the workers of a multi-worker run must end with the same)."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    for w in weights:
        a = np.ascontiguousarray(np.asarray(w))
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()
