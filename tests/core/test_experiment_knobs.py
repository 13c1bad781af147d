"""The knobs the experiments turn: a linear warm-up in front of any schedule, the
zero-initialised last γ of each residual branch (Goyal et al. 2017) and shortcut option C."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from resnet_studio.core.builder import build_model, plain_twin
from resnet_studio.core.presets import load_preset
from resnet_studio.core.spec import SpecError, spec_from_dict
from resnet_studio.core.training.optim import make_schedule
from resnet_studio.core.training_config import TrainingConfig


def rates(cfg: TrainingConfig, steps_per_epoch: int, steps: list[int]) -> list[float]:
    sched = make_schedule(cfg, steps_per_epoch)
    return [float(keras.ops.convert_to_numpy(sched(s))) if callable(sched) else sched
            for s in steps]


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine"])
def test_warm_up_ramps_linearly_then_follows_the_schedule(schedule):
    cfg = TrainingConfig.from_sources({"schedule": schedule, "learning_rate": 0.1,
                                       "warmup_epochs": 2, "epochs": 10})
    plain = TrainingConfig.from_sources({"schedule": schedule, "learning_rate": 0.1,
                                         "epochs": 10})
    warm = rates(cfg, 5, [0, 4, 9, 10, 30, 45])
    cold = rates(plain, 5, [0, 4, 9, 10, 30, 45])
    assert warm[0] == pytest.approx(cold[0] / 10)  # step 0 of 10 warm-up steps
    assert warm[1] == pytest.approx(cold[1] / 2)
    assert warm[2] == pytest.approx(cold[2])  # the ramp is over after 10 steps
    assert warm[3:] == pytest.approx(cold[3:])  # milestones do not move


def test_without_warm_up_the_schedule_is_unchanged():
    cfg = TrainingConfig.from_sources({"schedule": "constant", "learning_rate": 0.1})
    assert make_schedule(cfg, 5) == 0.1


def binding():
    from resnet_studio.core.blocks.context import Binding

    return Binding(input_shape=(8, 8, 1), input_kind="image", num_classes=10, vocab_size=0)


def gammas(model, suffix: str) -> dict[str, np.ndarray]:
    return {layer.name: layer.get_weights()[0] for layer in model.layers
            if layer.name.endswith(suffix)}


def test_zero_init_residual_zeroes_the_last_gamma_of_residual_branches_only():
    d = load_preset("resnet8-digits").to_dict()
    for b in d["blocks"]:
        if b["type"] == "basic_block":
            b["params"]["zero_init_residual"] = True
    spec = spec_from_dict(d)
    model = build_model(spec, binding()).model
    last = gammas(model, "bn2")
    assert len(last) == 3 and all(not g.any() for g in last.values())
    first = gammas(model, "_bn")  # the first BN of each branch keeps γ = 1
    assert first and all(g.all() for g in first.values())
    twin = build_model(plain_twin(spec), binding()).model  # a plain unit would output 0
    assert all(g.all() for g in gammas(twin, "bn2").values())


def test_zero_init_residual_refuses_pre_activation_units():
    from resnet_studio.core.blocks.context import BlockBuildError

    d = load_preset("resnet8-digits").to_dict()
    d["blocks"][1]["params"].update(variant="v2", zero_init_residual=True)
    with pytest.raises(BlockBuildError, match="zero_init_residual needs v1"):
        build_model(spec_from_dict(d), binding())


def test_shortcut_options_a_b_c_differ_in_their_projections():
    counts = {}
    for option in ("zero_pad", "projection", "projection_all"):
        d = load_preset("resnet8-digits").to_dict()
        for b in d["blocks"]:
            if b["type"] == "basic_block":
                b["params"].update(shortcut=option, repeat=2)
        model = build_model(spec_from_dict(d), binding()).model
        counts[option] = sum(1 for layer in model.layers if layer.name.endswith("proj_conv"))
    # resnet8-digits: 3 stages of 2 units; the shape changes in 2 of them (option B).
    assert counts == {"zero_pad": 0, "projection": 2, "projection_all": 6}
    d["blocks"][1]["params"]["shortcut"] = "diagonal"
    with pytest.raises(SpecError, match="shortcut"):
        spec_from_dict(d)
