"""Fuzzing the preset loader, the validator and the symbolic builder with hypothesis.

Properties: whatever the bytes, `loads_spec` returns a spec or raises `SpecError` with at least
one located, non-empty problem (never another exception, never a hang on deep nesting); a
spec it accepts passes `validate` and survives a JSON round trip unchanged; and for accepted
specs the Keras build (`summarize`, symbolic: no weights allocated) either gives a summary
within the parameter limit or a `SpecError` / `BlockBuildError` naming a block, and leaves no
declared variable behind. Budget: about 20 s on two cores (max_examples below).
"""

from __future__ import annotations

import json
import math
import re

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from resnet_studio.core.blocks import registry
from resnet_studio.core.blocks.context import BlockBuildError
from resnet_studio.core.builder import _pending_variables, summarize
from resnet_studio.core.params import Param
from resnet_studio.core.presets import preset_names, preset_text
from resnet_studio.core.spec import SpecError, loads_spec, spec_from_dict, validate
from resnet_studio.core.training_config import TRAINING_PARAMS

PRESET_BYTES = [(name, preset_text(name).encode("utf-8")) for name in preset_names()]


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def accepted_or_refused(data: bytes | str, source: object = None) -> object:
    """loads_spec's result, after checking the refusal contract; None when refused.

    Args:
        source: The decoded JSON, when known: every problem's location must then lead to a
            place in it (a value, or a missing key of an object that is there).
    """
    try:
        spec = loads_spec(data, "fuzz.json")
    except SpecError as e:
        assert e.problems, "a refusal must say why"
        for p in e.problems:
            assert isinstance(p.location, str) and p.message.strip()
            if source is not None:
                assert leads_into(source, p.location), (p.location, p.message)
        assert str(e).startswith("fuzz.json: ")  # the file is named
        return None
    assert validate(spec) == []
    assert spec_from_dict(json.loads(spec.to_json())) == spec  # lossless round trip
    return spec


def leads_into(data: object, location: str) -> bool:
    """True when `blocks[2].params.filters`-style `location` walks into `data` up to its
    last step (which may name a missing key)."""
    steps = [key if key else int(index)
             for key, index in re.findall(r"\.?([^.\[\]]+)|\[(\d+)\]", location)]
    node = data
    for step in steps[:-1]:
        try:
            node = node[step]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return False
    return not steps or isinstance(node, (dict, list))


# --------------------------------------------------------------------------- raw bytes
@fuzz(150)
@given(st.sampled_from(PRESET_BYTES), st.data())
def test_mutated_preset_files_load_or_are_refused_with_located_problems(preset, data):
    _, raw = preset
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert", "delete", "splice"]))
    pos = data.draw(st.integers(0, len(raw)))
    if kind == "truncate":
        mutated = raw[:pos]
    elif kind == "flip":
        i = min(pos, len(raw) - 1)
        mutated = raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1:]
    elif kind == "insert":
        mutated = raw[:pos] + data.draw(st.binary(min_size=1, max_size=8)) + raw[pos:]
    elif kind == "delete":
        mutated = raw[:pos] + raw[pos + data.draw(st.integers(1, 16)):]
    else:  # a token of JSON that is valid on its own, dropped anywhere
        token = data.draw(st.sampled_from([b"NaN", b"-Infinity", b"1e999", b"-1", b"0",
                                           b"1e12", b"null", b"[]", b"{}", b'"x"', b"true",
                                           b"9" * 40]))
        mutated = raw[:pos] + token + raw[pos:]
    event("accepted" if accepted_or_refused(mutated) is not None else "refused")


@fuzz(100)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_are_refused_with_a_reason(raw):
    accepted_or_refused(raw)


def test_nesting_beyond_any_limit_is_refused_not_a_crash():
    for depth in (40, 2000):  # containers; then beyond the JSON parser's recursion limit
        inner = '{"type": "dense", "params": {"units": 4}}'
        blocks = '{"type": "residual", "blocks": [' * depth + inner + "]}" * depth
        text = '{"name": "deep", "input": {"kind": "vector", "shape": [4]}, "blocks": [%s]}'
        assert accepted_or_refused(text % blocks) is None
    assert accepted_or_refused("[" * 200_000) is None


# --------------------------------------------------------------------------- structured
NUMBERS = (st.integers(-3, 70) | st.sampled_from([0, -1, 2**31, 10**12, 10**30])
           | st.floats(allow_nan=True, allow_infinity=True) | st.booleans())
VALUES = NUMBERS | st.none() | st.text(max_size=6) | st.lists(st.integers(0, 9), max_size=3)
BLOCK_TYPES = sorted(registry.BLOCK_TYPES)
PERCENT = st.sampled_from(range(100))  # near uniform (st.floats favours 0.0 and 1.0)


def valid_value(p: Param) -> st.SearchStrategy:
    """A value the schema accepts, kept small so that models build in milliseconds."""
    if p.kind == "bool":
        return st.booleans()
    if p.kind == "choice":
        return st.sampled_from(p.choices)
    if p.kind == "str_list":
        return st.lists(st.sampled_from(p.choices), unique=True)
    if p.kind == "int":
        lo = int(p.minimum if p.minimum is not None else 0)
        hi = int(p.maximum if p.maximum is not None else lo + 8)
        return st.integers(lo, min(hi, lo + (1 if p.name == "repeat" else 12)))
    if p.kind == "float":
        lo = float(p.minimum or 0.0)
        return st.floats(lo, min(float(p.maximum or 1.0), lo + 1.0),
                         exclude_min=p.exclusive_minimum)
    return st.just(p.default)


@st.composite
def params_for(draw, block_type: str, bad: float) -> dict:
    """Params of the block type; each is adversarial with probability `bad`."""
    schema = registry.BLOCK_TYPES[block_type].params if block_type in registry.BLOCK_TYPES \
        else ()
    out = {}
    for p in schema:
        if draw(st.booleans()):
            out[p.name] = draw(VALUES) if draw(PERCENT) < bad * 100 else draw(valid_value(p))
    if draw(PERCENT) < bad * 100 / 3:
        out[draw(st.sampled_from(["colour", "size", "filters"]))] = draw(VALUES)
    return out


@st.composite
def blocks(draw, bad: float, depth: int = 0) -> list:
    out = []
    for _ in range(draw(st.integers(1, 4 if depth == 0 else 2))):
        btype = draw(st.sampled_from(BLOCK_TYPES)) if draw(PERCENT) >= bad * 100 / 3 \
            else draw(st.sampled_from(["wormhole", "", "Conv"]))
        block: dict = {"type": btype, "params": draw(params_for(btype, bad))}
        if btype == "residual" and depth < 2:
            block["blocks"] = draw(blocks(bad, depth + 1))
        if draw(PERCENT) < bad * 100 / 3:
            block[draw(st.sampled_from(["name", "blocks", "colour"]))] = draw(VALUES)
        out.append(block)
    return out


@st.composite
def presets(draw, bad: float) -> dict:
    """Preset dicts whose every field is adversarial with probability about `bad`."""
    def maybe(valid: st.SearchStrategy) -> object:
        return draw(VALUES) if draw(PERCENT) < bad * 100 / 3 else draw(valid)

    kind = maybe(st.sampled_from(["image", "sequence", "tokens", "vector"]))
    rank = {"image": 3, "sequence": 2, "tokens": 1, "vector": 1}.get(str(kind), 2)
    data = {"schema_version": maybe(st.just(1)), "name": maybe(st.sampled_from(["fuzz", "f-2"])),
            "input": {"kind": kind,
                      "shape": maybe(st.lists(st.integers(1, 12), min_size=rank,
                                              max_size=rank)),
                      "vocab_size": maybe(st.integers(0, 20))},
            "blocks": draw(blocks(bad))}
    if draw(st.booleans()):
        p = draw(st.sampled_from(TRAINING_PARAMS))
        data["training"] = {p.name: maybe(valid_value(p))}
    return data


@fuzz(250)
@given(presets(bad=0.08))
def test_structured_presets_validate_or_name_every_problem(data):
    text = json.dumps(data)  # NaN and Infinity become JSON tokens, which the loader refuses
    has_non_finite = any(t in text for t in ("NaN", "Infinity"))
    spec = accepted_or_refused(text, None if has_non_finite else data)
    event("accepted" if spec is not None else "refused")
    if spec is not None:
        assert all(not (isinstance(v, float) and not math.isfinite(v))
                   for _, b in spec.walk() for v in b.params.values())


@fuzz(30)
@given(presets(bad=0.0))
def test_accepted_specs_build_or_name_the_block_and_allocate_nothing(data):
    spec = accepted_or_refused(json.dumps(data), data)
    if spec is None:
        return
    limit = 20_000
    try:
        summary = summarize(spec, max_params=limit)
    except SpecError as e:  # above the limit: located at the largest block
        assert e.problems[0].location.startswith("blocks[") and "limit of 20,000" in str(e)
        event("refused: too large")
    except BlockBuildError as e:  # the shapes do not fit: located at the block
        assert e.location.startswith("blocks[") and e.detail
        event("refused: does not build")
    else:
        assert 0 <= summary.total_params <= limit
        event("built")
    assert _pending_variables() == []  # nothing declared is left to be allocated later
