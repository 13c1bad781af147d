"""Every shipped preset validates, builds and round-trips; published parameter counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resnet_studio.core.builder import build_model, check_buildable
from resnet_studio.core.presets import DEFAULT_PRESET, list_presets, load_preset, preset_names
from resnet_studio.core.spec import load_spec, save_spec

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"
# Names the CLI, the README, the docs and the tests rely on: renaming one breaks them.
REQUIRED = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet20-cifar",
            "resnet32-cifar", "resnet44-cifar", "resnet56-cifar", "resnet110-cifar",
            "plain20-cifar", "plain56-cifar", "preact-resnet18", "resnet8-digits",
            "resnet1d-mnist1d", "residual-gru-mnist1d", "transformer-mnist1d", "gpt-char",
            "vit-tiny", "lab-sigmoid-mlp"}
# Seconds to build each on 2 cores: in `make test`, not in `make test-fast`.
BIG = {"resnet101", "resnet152", "resnet1202-cifar"}


def _slow_if_big(name: str, *values):
    return pytest.param(*values, marks=pytest.mark.slow) if name in BIG else \
        pytest.param(*values)


def test_required_presets_ship_and_the_package_sees_the_folder():
    on_disk = {p.stem for p in PRESETS_DIR.glob("*.json")}
    assert REQUIRED <= on_disk
    assert set(preset_names()) == on_disk
    assert DEFAULT_PRESET in on_disk


@pytest.mark.parametrize("path", [_slow_if_big(p.stem, p) for p in
                                  sorted(PRESETS_DIR.glob("*.json"))], ids=lambda p: p.stem)
def test_preset_validates_builds_and_round_trips(path, tmp_path):
    spec = load_spec(path)
    assert spec.name == path.stem
    assert spec.title and spec.description
    built, problems = check_buildable(spec)
    assert problems == [] and built is not None
    assert built.summary.total_params > 0
    out = tmp_path / path.name
    save_spec(spec, out)
    assert load_spec(out) == spec
    # The file on disk is already in canonical form (what Save writes).
    assert json.loads(out.read_text()) == json.loads(path.read_text())


IMAGENET = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
            "resnet101": 44_549_160, "resnet152": 60_192_808}
# He et al. 2016, Table 6 (CIFAR-10, option A shortcuts).
CIFAR = {"resnet20-cifar": 0.27e6, "resnet32-cifar": 0.46e6, "resnet44-cifar": 0.66e6,
         "resnet56-cifar": 0.85e6, "resnet110-cifar": 1.7e6}


@pytest.mark.parametrize("name,count", [_slow_if_big(n, n, c) for n, c in
                                        sorted(IMAGENET.items())])
def test_imagenet_resnets_have_the_published_parameter_counts(name, count):
    summary = build_model(load_preset(name)).summary
    assert summary.total_params == count
    assert summary.trainable_params == count


@pytest.mark.parametrize("name,count", sorted(CIFAR.items()))
def test_cifar_resnets_are_within_3_percent_of_table_6(name, count):
    total = build_model(load_preset(name)).summary.total_params
    assert abs(total - count) / count < 0.03


def test_plain_presets_equal_their_resnets_without_shortcuts():
    for depth in (20, 56):
        plain = build_model(load_preset(f"plain{depth}-cifar")).summary
        res = build_model(load_preset(f"resnet{depth}-cifar")).summary
        assert plain.total_params == res.total_params  # option A shortcuts have no params


def test_gallery_lists_title_and_dataset_without_building():
    infos = {p.name: p for p in list_presets()}
    assert infos["resnet8-digits"].dataset == "digits"
    assert infos["gpt-char"].input_kind == "tokens"
    assert all(p.title for p in infos.values())
