"""core.incremental: the editor's cached summary equals builder.summarize, for every preset
and after random edits, and an edit rebuilds only what it changed."""

from __future__ import annotations

import random

import pytest

from resnet_studio.core import editing
from resnet_studio.core.blocks import registry
from resnet_studio.core.blocks.context import Binding, BlockBuildError
from resnet_studio.core.builder import ModelTooLargeError, summarize
from resnet_studio.core.incremental import IncrementalSummarizer
from resnet_studio.core.presets import load_preset, preset_names
from resnet_studio.core.spec import SpecError


def _outcome(fn, *args, **kw):
    """The summary as a dict, or the error's type and message (both paths must agree)."""
    try:
        return fn(*args, **kw).to_dict()
    except (SpecError, BlockBuildError) as e:
        return (type(e).__name__, str(e))


# The two whose full build alone takes over 10 s on 2 cores run in `make test`, not test-fast.
SLOW_PRESETS = {"resnet1202-cifar", "bert-tiny"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  if n in SLOW_PRESETS else n for n in preset_names()])
def test_every_preset_summarizes_as_the_full_build(name):
    spec = load_preset(name)
    inc = IncrementalSummarizer()
    full = summarize(spec).to_dict()
    assert inc.summarize(spec).to_dict() == full  # per-block shapes, counts, layers, totals
    assert inc.summarize(spec).to_dict() == full  # from the cache


def test_an_edit_rebuilds_only_the_changed_block_and_those_downstream():
    spec = load_preset("resnet50")
    inc = IncrementalSummarizer()
    inc.summarize(spec)
    blocks = [b.name for b in spec.blocks]
    stage3 = (blocks.index("stage3"),)
    # The last stage's width changes its output: the pool and head below rebuild too
    # (the stage itself from its 2- and 3-unit builds: a ×6 stage is extrapolated).
    misses = inc.misses
    edited = editing.set_param(spec, stage3, "filters", 192)
    assert inc.summarize(edited).to_dict() == summarize(edited).to_dict()
    rebuilt = inc.misses - misses
    assert 1 <= rebuilt <= 3 + (len(blocks) - stage3[0])
    # A dropout in the head changes no shape: only the head rebuilds.
    head = (len(blocks) - 1,)
    misses = inc.misses
    edited = editing.set_param(edited, head, "dropout", 0.3)
    assert inc.summarize(edited).to_dict() == summarize(edited).to_dict()
    assert inc.misses - misses == 1
    # Undo: everything comes from the cache.
    misses = inc.misses
    assert inc.summarize(spec).to_dict() == summarize(spec).to_dict()
    assert inc.misses == misses


def test_binding_and_the_size_limit_apply_as_in_the_full_build():
    spec = load_preset("resnet8-digits")
    inc = IncrementalSummarizer()
    binding = Binding(input_shape=(16, 16, 3), input_kind="image", num_classes=4)
    assert inc.summarize(spec, binding).to_dict() == summarize(spec, binding).to_dict()
    with pytest.raises(ModelTooLargeError):
        inc.summarize(spec, max_params=1000)


def _random_edit(rng: random.Random, spec):
    """One random parameter edit of a top-level block, or a block removed or duplicated."""
    paths = [(i,) for i in range(len(spec.blocks))]
    path = rng.choice(paths)
    block = editing.get_block(spec, path)
    action = rng.random()
    if action < 0.1 and len(paths) > 2:
        return editing.remove_blocks(spec, [path])
    if action < 0.2:
        return editing.duplicate_blocks(spec, [path])[0]
    bt = registry.get_block_type(block.type)
    params = [p for p in bt.params if p.kind in ("int", "choice", "bool", "float")]
    if not params:
        return spec
    p = rng.choice(params)
    if p.kind == "int":
        # Small values keep the test quick; a repeat above 3 still exercises extrapolation.
        lo, hi = int(p.minimum or 1), min(int(p.maximum or 64), 6 if p.name == "repeat" else 64)
        value = rng.randint(lo, max(lo, hi))
    elif p.kind == "float":
        value = round(rng.uniform(float(p.minimum or 0.0), min(float(p.maximum or 1.0), 0.9)), 2)
    elif p.kind == "bool":
        value = rng.random() < 0.5
    else:
        value = rng.choice(list(p.choices))
    try:
        return editing.set_param(spec, path, p.name, value)
    except editing.EditError:
        return spec


@pytest.mark.parametrize("name, seed", [("resnet8-digits", 1), ("resnet20-cifar", 2),
                                        ("resnet1d-mnist1d", 3), ("transformer-mnist1d", 4),
                                        ("residual-gru-mnist1d", 5), ("lab-sigmoid-mlp", 6)])
def test_random_edits_summarize_as_the_full_build(name, seed):
    rng = random.Random(seed)
    spec = load_preset(name)
    inc = IncrementalSummarizer()
    for _ in range(12):
        spec = _random_edit(rng, spec)
        assert _outcome(inc.summarize, spec) == _outcome(summarize, spec)
