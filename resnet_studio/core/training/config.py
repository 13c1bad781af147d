"""Training settings: one schema for presets' `training` section, CLI flags and GUI forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from resnet_studio.core.params import Param, Problem, check_params, with_defaults

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("constant", "step", "cosine", "warmup_cosine", "plateau")
AUGMENTATIONS = ("pad_crop", "flip")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multi-worker")

TRAINING_PARAMS: tuple[Param, ...] = (
    Param("optimizer", "choice", "adam", "Optimizer.", choices=OPTIMIZERS),
    Param("learning_rate", "float", 1e-3, "Initial (peak) learning rate.", minimum=0.0,
          maximum=100.0, exclusive_minimum=True),
    Param("momentum", "float", 0.9, "Momentum for SGD and RMSprop.", minimum=0.0, maximum=0.9999),
    Param("nesterov", "bool", False, "Nesterov momentum (SGD)."),
    Param("weight_decay", "float", 0.0, "Decoupled weight decay (L2 for SGD: added to the loss "
          "as in He et al.).", minimum=0.0, maximum=1.0),
    Param("schedule", "choice", "constant", "Learning-rate schedule.", choices=SCHEDULES),
    Param("warmup_epochs", "float", 0.0, "Linear warm-up length (warmup_cosine).", minimum=0.0,
          maximum=1000.0),
    Param("step_milestones", "str", "0.5,0.75", "Step schedule: fractions of training at which "
          "the rate is multiplied by step_factor."),
    Param("step_factor", "float", 0.1, "Step schedule: multiplier at each milestone.",
          minimum=0.0, maximum=1.0, exclusive_minimum=True),
    Param("epochs", "int", 10, "Passes over the training set.", minimum=1, maximum=100_000),
    Param("batch_size", "int", 64, "Global batch size.", minimum=1, maximum=1_000_000),
    Param("augment", "str_list", [], "Image augmentations.", choices=AUGMENTATIONS),
    Param("label_smoothing", "float", 0.0, "Label smoothing for classification.", minimum=0.0,
          maximum=0.99),
    Param("clipnorm", "float", 0.0, "Clip each gradient's norm to this (0 = off).", minimum=0.0,
          maximum=1e6),
    Param("global_clipnorm", "float", 0.0, "Clip the global gradient norm (0 = off).",
          minimum=0.0, maximum=1e6),
    Param("precision", "choice", "float32", "Mixed precision needs a GPU; on a CPU training "
          "falls back to float32.", choices=PRECISIONS),
    Param("early_stopping", "int", 0, "Stop after this many epochs without validation "
          "improvement (0 = off).", minimum=0, maximum=10_000),
    Param("seed", "int", 0, "Seed for weights, batch order and augmentation.", minimum=0,
          maximum=2**31 - 1),
    Param("grad_norm_every", "int", 1, "Record per-layer gradient norms every k steps.",
          minimum=1, maximum=1_000_000),
    Param("validation_fraction", "float", 0.1, "Share of the training data held out for "
          "validation.", minimum=0.0, maximum=0.5),
    Param("strategy", "choice", "default", "Where to train: default (one device: the first GPU, "
          "else the CPU), mirrored (every local GPU, or the listed devices; batch_size is "
          "split between them), multi-worker (several machines, configured by TF_CONFIG).",
          choices=STRATEGIES),
    Param("devices", "str", "", "Mirrored strategy: comma-separated devices such as "
          '"GPU:0,GPU:1" (empty = every local GPU).'),
    Param("sync_batch_norm", "bool", True, "With several replicas, batch normalization uses "
          "the statistics of the whole global batch (a small all-reduce per layer and step), "
          "so results do not depend on how many devices share the batch. Off: each replica "
          "normalizes its own share (faster between machines)."),
)
_BY_NAME = {p.name: p for p in TRAINING_PARAMS}


def check_training(values: Any, location: str = "training") -> list[Problem]:
    """Problems with a `training` section (unknown keys, types, ranges, milestones)."""
    problems = check_params(TRAINING_PARAMS, values, location)
    if isinstance(values, Mapping) and isinstance(values.get("step_milestones"), str):
        try:
            parse_milestones(values["step_milestones"])
        except ValueError as e:
            problems.append(Problem(f"{location}.step_milestones", str(e)))
    if isinstance(values, Mapping) and isinstance(values.get("devices"), str):
        try:
            parse_devices(values["devices"])
        except ValueError as e:
            problems.append(Problem(f"{location}.devices", str(e)))
    return problems


def parse_milestones(text: str) -> list[float]:
    """'0.5,0.75' -> [0.5, 0.75]; each a fraction in (0, 1), increasing."""
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f'expected comma-separated fractions like "0.5,0.75", got "{text}"'
                         ) from None
    if any(not 0 < v < 1 for v in values) or values != sorted(values):
        raise ValueError(f'expected increasing fractions between 0 and 1, got "{text}"')
    return values


_DEVICE = re.compile(r"(?:/?(?:job:[\w-]+/replica:\d+/task:\d+/)?device:)?/?(cpu|gpu):(\d+)",
                     re.IGNORECASE)


def parse_devices(text: str) -> list[str]:
    """'GPU:0, /gpu:1' -> ['/device:GPU:0', '/device:GPU:1'] (empty text: []).

    Only the spelling is checked here; whether the devices exist is known once TensorFlow
    runs (`distribute.make_distribution`).
    """
    out: list[str] = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        m = _DEVICE.fullmatch(item)
        if m is None:
            raise ValueError(f'expected devices like "GPU:0,GPU:1" or "CPU:0,CPU:1", got '
                             f'"{item}" in "{text}"')
        name = f"/device:{m.group(1).upper()}:{int(m.group(2))}"
        if name in out:
            raise ValueError(f'device {name[8:]} is listed twice in "{text}"')
        out.append(name)
    return out


@dataclass
class TrainingConfig:
    """Resolved training settings (defaults < preset < CLI/GUI overrides)."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    step_milestones: str = "0.5,0.75"
    step_factor: float = 0.1
    epochs: int = 10
    batch_size: int = 64
    augment: list[str] | None = None
    label_smoothing: float = 0.0
    clipnorm: float = 0.0
    global_clipnorm: float = 0.0
    precision: str = "float32"
    early_stopping: int = 0
    seed: int = 0
    grad_norm_every: int = 1
    validation_fraction: float = 0.1
    strategy: str = "default"
    devices: str = ""
    sync_batch_norm: bool = True

    @classmethod
    def from_sources(cls, *layers: Mapping[str, Any] | None) -> TrainingConfig:
        """Merges settings, later layers winning; `None` values in a layer are ignored.

        Raises:
            ValueError: naming every bad setting.
        """
        merged: dict[str, Any] = {}
        for layer in layers:
            if layer:
                merged.update({k: v for k, v in layer.items() if v is not None})
        problems = check_training(merged, "training")
        if problems:
            raise ValueError("; ".join(str(p) for p in problems))
        values = with_defaults(TRAINING_PARAMS, merged)
        values["augment"] = list(values["augment"] or [])
        return cls(**{f.name: values[f.name] for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def milestones(self) -> list[float]:
        return parse_milestones(self.step_milestones)

    @property
    def device_list(self) -> list[str]:
        """`devices` as canonical names ('/device:GPU:0', …)."""
        return parse_devices(self.devices)


def training_param(name: str) -> Param:
    """The schema entry for one training setting (GUI forms, CLI help)."""
    return _BY_NAME[name]
