"""A memory guard: the peak memory of a training step, estimated from the bound model before
training, against the memory available. Above it the run is refused naming the batch size
that would fit, instead of growing until the kernel kills it without a word (four 4000×4000
images at batch 2 reached 24 GB; issue 17).

Estimate for a batch of B: every layer's output is kept for the backward pass, so
activations cost about B × (sum of the layer outputs per example) × bytes per value (the
gradients flowing back are freed layer by layer); the weights, their gradients and the
optimizer's slots cost 4 × parameters × 4 bytes. Measured: resnet56-cifar at batch 128 on
synthetic-images, estimate 0.97 GB; the whole process peaked at 1.33 GB resident
(`/usr/bin/time -v`, TensorFlow's runtime and the data included). It is meant to refuse a
step several times too large (the 24 GB one), not to tune the batch size.

Available: `$RESNET_STUDIO_MEMORY_LIMIT` (bytes, e.g. `8e9`) if set, else the smaller of the
system's MemAvailable and the container's (cgroup) limit minus its usage. Unknown (not
Linux): no guard.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MEMORY_LIMIT_ENV = "RESNET_STUDIO_MEMORY_LIMIT"
# Share of the available memory a run may plan to use (the data, TensorFlow's own buffers
# and the rest of the process need the remainder).
USABLE_SHARE = 0.9


class MemoryGuardError(ValueError):
    """The training step would not fit in memory; the message names the batch size that
    would. Bad input (exit 2): nothing was trained or written."""


def activation_values_per_example(model: Any) -> int:
    """Sum over the model's layers of their output sizes for one example (values)."""
    total = 0
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for t in node.output_tensors:
                n = 1
                for d in t.shape[1:]:
                    n *= int(d) if d is not None else 1
                total += n
    return total


def step_bytes(model: Any, batch_size: int, bytes_per_value: int = 4) -> int:
    """Estimated peak bytes of one training step at `batch_size` (see the module docstring)."""
    return batch_size * per_example_bytes(model, bytes_per_value) + fixed_bytes(model)


def per_example_bytes(model: Any, bytes_per_value: int = 4) -> int:
    return activation_values_per_example(model) * bytes_per_value


def fixed_bytes(model: Any) -> int:
    return 16 * int(model.count_params())


def available_bytes() -> int | None:
    """Memory this process may use (see the module docstring), or None when unknown."""
    env = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if env:
        try:
            return int(float(env))
        except ValueError:
            raise MemoryGuardError(f"{MEMORY_LIMIT_ENV}: expected a number of bytes such as "
                                   f"8e9, got {env!r}") from None
    candidates = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            candidates.append(max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return min(candidates) if candidates else None


def check_step_memory(model: Any, batch_size: int, what: str = "") -> None:
    """Refuses a training step that would not fit in the available memory.

    Raises:
        MemoryGuardError: naming the estimate, the memory available and the batch size that
            fits (or that none does).
    """
    available = available_bytes()
    if available is None:
        return
    usable = int(available * USABLE_SHARE)
    need = step_bytes(model, batch_size)
    if need <= usable:
        return
    per, fixed = per_example_bytes(model), fixed_bytes(model)
    fits = (usable - fixed) // per if per > 0 and usable > fixed else 0
    head = (f"{what + ': ' if what else ''}a training step with batch size {batch_size} needs "
            f"about {_gb(need)} ({_gb(per)} of activations per example), more than the "
            f"{_gb(usable)} this run may use ({int(USABLE_SHARE * 100)}% of {_gb(available)} "
            "available)")
    if fits >= 1:
        fit = 1 << (int(fits).bit_length() - 1)  # a power of two, as batch sizes usually are
        raise MemoryGuardError(f"{head}; --batch-size {fit} would fit")
    raise MemoryGuardError(f"{head}; even a batch of 1 does not fit: use smaller inputs "
                           "(pool or stride earlier) or a smaller model")


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
