"""Limits live in core, once: the preset reader, the editing functions and the GUI's fields all
read them from the Param schemas and core.spec (issue 18, item 8)."""

from __future__ import annotations

import pytest

from resnet_studio.core import editing
from resnet_studio.core.blocks.primitives import MAX_UNITS
from resnet_studio.core.presets import load_preset
from resnet_studio.core.spec import MAX_INPUT_DIM, MAX_VOCAB, SpecError, spec_from_dict


def _with(path_value: dict) -> dict:
    data = load_preset("resnet8-digits").to_dict()
    data["blocks"][1]["params"].update(path_value)
    return data


def test_filters_up_to_max_units_and_not_one_more():
    assert spec_from_dict(_with({"filters": MAX_UNITS})).blocks[1].params["filters"] == MAX_UNITS
    with pytest.raises(SpecError, match="65,536"):
        spec_from_dict(_with({"filters": MAX_UNITS + 1}))
    spec = load_preset("resnet8-digits")
    assert editing.set_param(spec, (1,), "filters", MAX_UNITS).blocks[1].params["filters"] \
        == MAX_UNITS
    with pytest.raises(editing.EditError, match="65,536"):
        editing.set_param(spec, (1,), "filters", MAX_UNITS + 1)


def test_input_limits_are_the_same_for_files_and_edits():
    spec = load_preset("resnet8-digits")
    editing.set_input(spec, "image", (MAX_INPUT_DIM, 8, 1))
    with pytest.raises(editing.EditError, match="16,384"):
        editing.set_input(spec, "image", (MAX_INPUT_DIM + 1, 8, 1))
    editing.set_input(spec, "tokens", (16,), MAX_VOCAB)
    with pytest.raises(editing.EditError, match="10,000,000"):
        editing.set_input(spec, "tokens", (16,), MAX_VOCAB + 1)
    data = spec.to_dict()
    data["input"] = {"kind": "tokens", "shape": [16], "vocab_size": MAX_VOCAB + 1}
    with pytest.raises(SpecError, match="10,000,000"):
        spec_from_dict(data)
