"""Preset format: round trips, validation with locations, broken files, fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resnet_studio.core.presets import load_preset
from resnet_studio.core.spec import (
    SCHEMA_VERSION,
    SpecError,
    atomic_write_text,
    load_spec,
    loads_spec,
    save_spec,
    spec_from_dict,
)

GOOD = {
    "schema_version": 1,
    "name": "tiny",
    "input": {"kind": "image", "shape": [8, 8, 1]},
    "blocks": [
        {"type": "conv_stem", "params": {"filters": 8, "kernel_size": 3, "stride": 1,
                                         "pool": False}},
        {"type": "residual", "name": "res", "params": {"shortcut": "identity"},
         "blocks": [{"type": "conv", "params": {"filters": 8}}, {"type": "batch_norm"}]},
        {"type": "global_pool", "params": {}},
        {"type": "classifier_head", "params": {"classes": 10}},
    ],
    "training": {"optimizer": "sgd", "learning_rate": 0.1, "epochs": 3},
    "dataset": "digits",
}


def with_change(path: str, value) -> dict:
    """GOOD with one value replaced, addressed like `blocks.0.params.filters`."""
    data = json.loads(json.dumps(GOOD))
    *head, last = path.split(".")
    node = data
    for key in head:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return data


def problems_of(data) -> list[str]:
    with pytest.raises(SpecError) as e:
        spec_from_dict(data)
    return [str(p) for p in e.value.problems]


def test_round_trip_dict_and_file(tmp_path):
    spec = spec_from_dict(GOOD)
    assert spec_from_dict(spec.to_dict()) == spec
    path = tmp_path / "tiny.json"
    save_spec(spec, path)
    assert load_spec(path) == spec
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_validation_names_every_problem_with_its_location():
    data = with_change("blocks.0.params.filters", -64)
    data["blocks"][3]["params"]["classes"] = "ten"
    data["blocks"][1]["blocks"][0]["params"]["kernel_size"] = 2.5
    found = problems_of(data)
    assert "blocks[0].params.filters: expected a positive integer up to 65,536, got -64" in found
    assert any(p.startswith("blocks[3].params.classes: expected") and '"ten"' in p
               for p in found)
    assert any(p.startswith("blocks[1].blocks[0].params.kernel_size") for p in found)
    assert len(found) == 3


@pytest.mark.parametrize("path,value,fragment", [
    ("blocks.0.type", "conv_stme", "did you mean 'conv_stem'"),
    ("blocks.0.params.filters", 10**12, "blocks[0].params.filters"),
    ("blocks.0.params.pool", "yes", "true or false"),
    ("blocks.0.params.colour", 3, "unknown parameter"),
    ("input.shape", [8, 8], "expected 3 positive integer"),
    ("input.kind", "video", "input.kind"),
    ("training.learning_rate", -1, "training.learning_rate"),
    ("training.optimizer", "lion", "training.optimizer"),
    ("schema_version", 99, "newer ResNet Studio"),
    ("schema_version", "1", "schema_version"),
    ("name", "", "name"),
    ("blocks", [], "non-empty list"),
    ("blocks.1.name", "global_pool", None),
])
def test_bad_values_are_refused_with_a_message(path, value, fragment):
    data = with_change(path, value)
    if path == "blocks.1.name":  # a duplicate name
        data["blocks"][2]["name"] = "global_pool"
        fragment = "already the name of blocks[1]"
    found = " | ".join(problems_of(data))
    assert fragment in found


@pytest.mark.parametrize("content,fragment", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b'{"name": "x", "input": ', "not valid JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
    ("{\"name\": \"caf\xe9\"}".encode("latin-1"), "not UTF-8"),
    (b"[1, 2, 3]", "expected a JSON object"),
    (b'{"name": NaN}', "NaN is not allowed"),
    (b'{"schema_version": 1, "name": "x", "input": {"kind": "vector", "shape": [4]}, '
     b'"blocks": [{"type": "dropout", "params": {"rate": 1e999}}]}', "finite"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
])
def test_broken_files_give_a_spec_error_naming_the_file(tmp_path, content, fragment):
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    with pytest.raises(SpecError) as e:
        load_spec(path)
    assert str(path) in str(e.value)
    assert fragment in str(e.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.json")
    with pytest.raises(SpecError, match="folder"):
        load_spec(tmp_path)


def test_atomic_write_keeps_a_backup_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "p.json"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert (tmp_path / "p.json~").read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json", "p.json~"]


def test_unknown_preset_name_lists_the_shipped_ones():
    with pytest.raises(SpecError, match="resnet8-digits"):
        load_preset("resnet9000")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "type", "params", "blocks", "input", "kind", "shape", "filters",
                         "schema_version", "training", "x"]) | st.text(max_size=5),
        children, max_size=5),
    max_leaves=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_loader_never_raises_anything_but_spec_error_on_random_json(value):
    try:
        loads_spec(json.dumps(value))
    except SpecError as e:
        assert e.problems  # a refusal always says why


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["conv", "dense", "gru", "residual", "classifier_head",
                                 "batch_norm", "bogus", 3]), min_size=1, max_size=4),
       st.dictionaries(st.sampled_from(["filters", "units", "shortcut", "rate", "repeat"]),
                       st.integers(-5, 5) | st.text(max_size=3) | st.floats(-2, 2), max_size=3))
def test_validator_on_random_block_lists(types, params):
    data = {"name": "fuzz", "input": {"kind": "image", "shape": [8, 8, 1]},
            "blocks": [{"type": t, "params": params} for t in types]}
    try:
        spec = loads_spec(json.dumps(data))
    except SpecError as e:
        assert e.problems and all(p.location.startswith("blocks") for p in e.problems)
    else:
        assert [b.type for b in spec.blocks] == types
