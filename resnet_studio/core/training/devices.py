"""Device choice: the first GPU when TensorFlow sees one (memory growth on), else the CPU."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceInfo:
    """Where training runs.

    Attributes:
        kind: "GPU" or "CPU".
        name: Human name (the GPU's model, or "CPU").
        gpus: Number of GPUs TensorFlow sees.
    """

    kind: str
    name: str
    gpus: int

    def __str__(self) -> str:
        return self.name if self.kind == "CPU" else f"GPU: {self.name}"


_configured = False


def configure_devices() -> DeviceInfo:
    """Turns on memory growth for every GPU (so the desktop and other programs keep their GPU
    memory) and reports the device that will train. Idempotent; call before building models.
    """
    global _configured
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not _configured:
        for gpu in gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:
                # GPUs already initialised (e.g. by an earlier run in this process): the
                # setting from that first call stays in force.
                pass
        _configured = True
    if not gpus:
        return DeviceInfo("CPU", "CPU", 0)
    details = tf.config.experimental.get_device_details(gpus[0])
    return DeviceInfo("GPU", str(details.get("device_name", gpus[0].name)), len(gpus))


def mixed_precision_policy(precision: str, device: DeviceInfo) -> tuple[str, str | None]:
    """(policy to use, warning) — mixed precision only pays off, and is only tested, on GPUs."""
    if precision == "float32":
        return "float32", None
    if device.kind != "GPU":
        return "float32", f"{precision} needs a GPU; training in float32 on the CPU"
    return precision, None
