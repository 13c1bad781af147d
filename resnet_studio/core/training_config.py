"""Training settings: one schema for presets' `training` section, CLI flags and GUI forms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from resnet_studio.core.params import Param, Problem, check_params, with_defaults

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("constant", "step", "cosine", "warmup_cosine", "plateau")
AUGMENTATIONS = ("pad_crop", "flip", "scale_crop", "random_resized_crop")
# Augmentations that cut the training input out of a larger, rescaled image (ImageNet style):
# with one of them the evaluation input is the centre crop of an image resized 256/224 larger.
CROP_AUGMENTATIONS = ("scale_crop", "random_resized_crop")
WEIGHT_DECAY_MODES = ("decoupled", "l2")
WEIGHT_DECAY_TARGETS = ("weights", "all")
MILESTONE_UNITS = ("fraction", "epoch", "step")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multi-worker")

TRAINING_PARAMS: tuple[Param, ...] = (
    Param("optimizer", "choice", "adam", "Optimizer.", choices=OPTIMIZERS),
    Param("learning_rate", "float", 1e-3, "Initial (peak) learning rate.", minimum=0.0,
          maximum=100.0, exclusive_minimum=True),
    Param("momentum", "float", 0.9, "Momentum for SGD and RMSprop.", minimum=0.0, maximum=0.9999),
    Param("nesterov", "bool", False, "Nesterov momentum (SGD)."),
    Param("weight_decay", "float", 0.0, "Weight decay λ (0 = off); weight_decay_mode says how "
          "it is applied, weight_decay_on to which parameters.", minimum=0.0, maximum=1.0),
    Param("weight_decay_mode", "choice", "decoupled",
          "l2: the term λ/2·‖w‖² is part of the loss, so λ·w is added to the gradient before "
          "the optimizer (and its momentum) sees it: He et al. 2016 and PyTorch's SGD "
          "weight_decay. decoupled: after each step w ← w − lr·λ·w, outside momentum and "
          "adaptive scaling (Loshchilov & Hutter 2019; AdamW). With SGD momentum 0.9, l2 of a "
          "given λ shrinks weights about 10× more than decoupled. The gradient norms plotted "
          "include the λ·w term under l2.", choices=WEIGHT_DECAY_MODES),
    Param("weight_decay_on", "choice", "weights",
          "weights: only tensors of rank ≥ 2 (convolution and dense kernels, embeddings); "
          "no biases, no normalization γ/β, no ReZero/LayerScale scales. all: every trainable "
          "parameter (the original Caffe and fb.resnet.torch recipes).",
          choices=WEIGHT_DECAY_TARGETS),
    Param("schedule", "choice", "constant", "Learning-rate schedule.", choices=SCHEDULES),
    Param("warmup_epochs", "float", 0.0, "Linear warm-up: the rate rises from 0 to its value "
          "over this many epochs, then follows the schedule (any schedule but plateau; Goyal "
          "et al. 2017, arXiv:1706.02677).", minimum=0.0, maximum=1000.0),
    Param("step_milestones", "str", "0.5,0.75", "Step schedule: where the rate is multiplied "
          "by step_factor, in milestone_unit (e.g. 0.5,0.75 of training; 30,60 epochs; "
          "32000,48000 steps)."),
    Param("milestone_unit", "choice", "fraction", "Unit of step_milestones: fraction of the "
          "whole training, epoch, or step (optimizer iterations, as the papers count them).",
          choices=MILESTONE_UNITS),
    Param("constant_warmup_steps", "int", 0, "Train the first N steps at "
          "constant_warmup_factor × the scheduled rate, then switch to the schedule (He et al. "
          "2016 §4.2, ResNet-110: 0.01 for about 400 iterations, then 0.1). 0 = off.",
          minimum=0, maximum=10_000_000),
    Param("constant_warmup_factor", "float", 0.1, "Multiplier of the rate during "
          "constant_warmup_steps.", minimum=0.0, maximum=1.0, exclusive_minimum=True),
    Param("constant_warmup_until_error", "float", 0.0, "End the constant warm-up as soon as "
          "the training error (running over the epoch so far) falls below this, "
          "constant_warmup_steps being then the longest it lasts (He et al.'s ResNet-110: "
          "0.8). 0 = after exactly constant_warmup_steps.", minimum=0.0, maximum=1.0),
    Param("step_factor", "float", 0.1, "Step schedule: multiplier at each milestone.",
          minimum=0.0, maximum=1.0, exclusive_minimum=True),
    Param("epochs", "int", 10, "Passes over the training set.", minimum=1, maximum=100_000),
    Param("batch_size", "int", 64, "Global batch size.", minimum=1, maximum=1_000_000),
    Param("augment", "str_list", [], "Image augmentations: pad_crop (pad 1/8 of the side, "
          "random crop back: He et al.'s CIFAR recipe), flip (horizontal), scale_crop (shorter "
          "side random in [256, 480]·size/224, random size×size crop: He et al. 2016 §3.4), "
          "random_resized_crop (8–100 % of the area, aspect 3/4–4/3, resized: Szegedy et al. "
          "2015, torchvision).", choices=AUGMENTATIONS),
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
    Param("image_size", "int", 0, "Side of the square training image for datasets read from "
          "files (tfds:, folder:). 0: the architecture's input size when a crop augmentation "
          "(scale_crop, random_resized_crop) is on, else the dataset's own size. Evaluation "
          "with a crop augmentation: resize the shorter side to size·256/224, centre crop.",
          minimum=0, maximum=4096),
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
        unit = values.get("milestone_unit", "fraction")
        try:
            parse_milestones(values["step_milestones"],
                             unit if unit in MILESTONE_UNITS else "fraction")
        except ValueError as e:
            problems.append(Problem(f"{location}.step_milestones", str(e)))
    if isinstance(values, Mapping) and values.get("constant_warmup_steps") and \
            values.get("schedule") == "plateau":
        problems.append(Problem(f"{location}.constant_warmup_steps", "a constant warm-up "
                                "needs a schedule of steps; plateau lowers the rate on its own"))
    augment = values.get("augment") if isinstance(values, Mapping) else None
    if isinstance(augment, list) and sum(a in CROP_AUGMENTATIONS for a in augment) > 1:
        problems.append(Problem(f"{location}.augment", "choose one of scale_crop and "
                                "random_resized_crop, not both"))
    if isinstance(values, Mapping) and isinstance(values.get("devices"), str):
        try:
            parse_devices(values["devices"])
        except ValueError as e:
            problems.append(Problem(f"{location}.devices", str(e)))
    return problems


def parse_milestones(text: str, unit: str = "fraction") -> list[float]:
    """'0.5,0.75' -> [0.5, 0.75], increasing.

    Args:
        text: Comma-separated milestones.
        unit: `fraction` (each in (0, 1)), `epoch` (positive numbers) or `step` (positive
            integers).

    Raises:
        ValueError: saying what was expected.
    """
    example = {"fraction": "0.5,0.75", "epoch": "30,60", "step": "32000,48000"}[unit]
    noun = {"fraction": "fractions", "epoch": "epochs", "step": "step numbers"}[unit]
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f'expected comma-separated {noun} like "{example}", got "{text}"'
                         ) from None
    if values != sorted(values) or len(set(values)) != len(values):
        raise ValueError(f'expected increasing {noun}, got "{text}"')
    if unit == "fraction" and any(not 0 < v < 1 for v in values):
        raise ValueError(f'expected increasing fractions between 0 and 1, got "{text}"')
    if unit != "fraction" and any(not 0 < v < 1e9 for v in values):
        raise ValueError(f'expected positive {noun} like "{example}", got "{text}"')
    if unit == "step" and any(v != int(v) for v in values):
        raise ValueError(f'expected whole step numbers like "{example}", got "{text}"')
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
    weight_decay_mode: str = "decoupled"
    weight_decay_on: str = "weights"
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    step_milestones: str = "0.5,0.75"
    milestone_unit: str = "fraction"
    constant_warmup_steps: int = 0
    constant_warmup_factor: float = 0.1
    constant_warmup_until_error: float = 0.0
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
    image_size: int = 0
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
        """`step_milestones` as numbers, in `milestone_unit`."""
        return parse_milestones(self.step_milestones, self.milestone_unit)

    def milestone_steps(self, steps_per_epoch: int) -> list[int]:
        """After how many optimizer steps the step schedule multiplies the rate by
        step_factor (He et al.: 32000 and 48000 iterations)."""
        total = max(1, self.epochs * steps_per_epoch)
        scale = {"fraction": total, "epoch": steps_per_epoch, "step": 1}[self.milestone_unit]
        return [max(1, int(round(m * scale))) for m in self.milestones]

    @property
    def crop_augmentation(self) -> str | None:
        """`scale_crop` or `random_resized_crop` when one is on (ImageNet-style input)."""
        return next((a for a in self.augment or () if a in CROP_AUGMENTATIONS), None)

    @property
    def device_list(self) -> list[str]:
        """`devices` as canonical names ('/device:GPU:0', …)."""
        return parse_devices(self.devices)


def training_param(name: str) -> Param:
    """The schema entry for one training setting (GUI forms, CLI help)."""
    return _BY_NAME[name]
