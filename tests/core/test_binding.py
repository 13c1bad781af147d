"""core.binding: one binding of a spec to a dataset's facts, used by training and the editor."""

from __future__ import annotations

import pytest

from resnet_studio.core import editing
from resnet_studio.core.binding import bind_spec, facts_for_editor, facts_of
from resnet_studio.core.blocks.context import Binding
from resnet_studio.core.builder import summarize
from resnet_studio.core.data import describe_dataset, load_dataset
from resnet_studio.core.data.tokenizers import text_load_args
from resnet_studio.core.presets import load_preset


def _head(spec) -> tuple[int, ...]:
    return next((i,) for i, b in enumerate(spec.blocks) if b.type == "classifier_head")


def test_input_and_classes_differences_are_listed_and_applied():
    spec = load_preset("resnet8-digits")
    spec = editing.set_input(spec, "image", (8, 8, 3))
    spec = editing.set_param(spec, _head(spec), "classes", 3)
    facts = facts_of(describe_dataset("digits"))
    bound = bind_spec(spec, facts)
    assert [(d.location, d.block, d.field, d.user, d.dataset, d.applied)
            for d in bound.differences] == [
        ("input", "input", "shape", (8, 8, 3), (8, 8, 1), True),
        (editing.location_of(_head(spec)), "classifier_head", "classes", 3, 10, True)]
    assert "training uses 10" in bound.differences[1].message()
    assert bound.spec.input.shape == (8, 8, 1)
    assert editing.get_block(bound.spec, _head(spec)).params["classes"] == 10
    assert spec.input.shape == (8, 8, 3)  # the user's spec is not changed
    # The builder binds the same way: the bound spec's count is the model's.
    as_trained = summarize(spec, facts).total_params
    assert as_trained == summarize(bound.spec).total_params
    assert as_trained == summarize(load_preset("resnet8-digits")).total_params
    assert summarize(spec).total_params != as_trained


def test_no_dataset_no_differences_and_matching_presets_have_none():
    spec = load_preset("resnet8-digits")
    assert bind_spec(spec, None).differences == [] and bind_spec(spec, None).spec is spec
    assert bind_spec(spec, facts_for_editor(spec, "digits")).differences == []


def test_an_explicit_block_vocabulary_is_kept_and_reported():
    spec = load_preset("gpt-char")
    heads = [(i,) for i, b in enumerate(spec.blocks) if b.type == "lm_head"]
    spec = editing.set_param(spec, heads[0], "vocab_size", 50)
    bound = bind_spec(spec, Binding(input_shape=(128,), input_kind="tokens", vocab_size=103))
    diff = [d for d in bound.differences if d.field == "vocab_size" and d.location != "input"]
    assert [(d.user, d.dataset, d.applied) for d in diff] == [(50, 103, False)]
    assert "will not fit" in diff[0].message()
    assert editing.get_block(bound.spec, heads[0]).params["vocab_size"] == 50


@pytest.mark.parametrize("preset", ["resnet8-digits", "resnet1d-mnist1d", "gpt-char",
                                    "bert-tiny"])
def test_editor_facts_equal_the_loaded_datasets(preset):
    """The editor reads metadata only; training loads the data: both bind the same."""
    spec = load_preset(preset)
    editor = facts_for_editor(spec, spec.dataset)
    data = load_dataset(spec.dataset, limit=40, **text_load_args(spec))
    assert editor == facts_of(data.info)
