"""Editing operations: pure functions on specs, addressed by block paths."""

from __future__ import annotations

import json

import pytest

from resnet_studio.core import editing as ed
from resnet_studio.core.editing import EditError
from resnet_studio.core.presets import load_preset
from resnet_studio.core.spec import (
    MAX_NESTING,
    ArchitectureSpec,
    BlockSpec,
    InputSpec,
    spec_from_dict,
    validate,
)


def types(blocks: list[BlockSpec]) -> list:
    return [(b.type, types(b.blocks)) if b.blocks is not None else b.type for b in blocks]


@pytest.fixture
def spec() -> ArchitectureSpec:
    """conv, bn, act, residual[conv, bn], pool, head."""
    return spec_from_dict({
        "name": "t", "input": {"kind": "image", "shape": [8, 8, 3]},
        "blocks": [
            {"type": "conv", "name": "c1", "params": {"filters": 8}},
            {"type": "batch_norm"},
            {"type": "activation"},
            {"type": "residual", "name": "res", "params": {"shortcut": "identity"}, "blocks": [
                {"type": "conv", "name": "inner", "params": {"filters": 8}},
                {"type": "batch_norm"}]},
            {"type": "global_pool"},
            {"type": "classifier_head", "params": {"classes": 3}},
        ]})


def test_addressing(spec):
    assert ed.location_of((3, 1)) == "blocks[3].blocks[1]"
    assert ed.path_of("blocks[3].blocks[1].params.filters") == (3, 1)
    assert ed.path_of("blocks[0]") == (0,)
    assert ed.path_of("training.epochs") is None
    assert ed.get_block(spec, (3, 0)).name == "inner"
    assert ed.all_paths(spec) == [(0,), (1,), (2,), (3,), (3, 0), (3, 1), (4,), (5,)]
    assert [loc for loc, _ in spec.walk()] == [ed.location_of(p) for p in ed.all_paths(spec)]
    with pytest.raises(EditError, match=r"blocks\[9\]"):
        ed.get_block(spec, (9,))
    with pytest.raises(EditError, match="cannot hold blocks"):
        ed.child_list(spec, (0,))
    assert ed.has_block(spec, (3, 1)) and not ed.has_block(spec, (3, 2))


def test_selection_helpers():
    assert ed.normalize_selection([(3, 1), (1,), (3,), (1,)]) == [(1,), (3,)]
    assert ed.is_contiguous([(2,), (1,), (3,)])
    assert not ed.is_contiguous([(1,), (3,)])
    assert not ed.is_contiguous([(1,), (3, 0)])
    assert not ed.is_contiguous([])


def test_edits_never_modify_their_input(spec):
    before = spec.to_dict()
    ed.insert_block(spec, (1,), BlockSpec("dropout"))
    ed.remove_blocks(spec, [(0,)])
    ed.move_blocks(spec, [(0,)], (), 3)
    ed.duplicate_blocks(spec, [(3,)])
    ed.wrap_in_residual(spec, [(0,), (1,)])
    ed.unwrap(spec, (3,))
    ed.set_param(spec, (0,), "filters", 4)
    ed.toggle_shortcut(spec, (3,))
    ed.rename_block(spec, (1,), "bn")
    assert spec.to_dict() == before


def test_insert_and_remove_round_trip(spec):
    new, path = ed.insert_block(spec, (3, 1), ed.new_block("dropout"))
    assert path == (3, 1)
    assert types(new.blocks[3].blocks) == ["conv", "dropout", "batch_norm"]
    assert ed.remove_blocks(new, [path]) == spec
    new, paths = ed.insert_blocks(spec, (), 6, [BlockSpec("dropout"), BlockSpec("dense")])
    assert paths == [(6,), (7,)] and types(new.blocks)[-2:] == ["dropout", "dense"]
    with pytest.raises(EditError, match="position 9"):
        ed.insert_blocks(spec, (), 9, [BlockSpec("dropout")])
    with pytest.raises(EditError, match="cannot hold blocks"):
        ed.insert_block(spec, (0, 0), BlockSpec("dropout"))


def test_new_block_takes_defaults_and_containers_start_empty():
    assert ed.new_block("conv") == BlockSpec("conv", {})
    assert ed.new_block("residual").blocks == []
    with pytest.raises(EditError, match="did you mean 'conv'"):
        ed.new_block("convv")


def test_inserting_a_named_block_twice_renames_the_copy(spec):
    new, path = ed.insert_block(spec, (1,), BlockSpec("conv", {}, name="c1"))
    assert ed.get_block(new, path).name == "c1_2"
    assert validate(new) == []


def test_remove_container_takes_children_and_last_block_is_refused(spec):
    new = ed.remove_blocks(spec, [(3, 0), (3,)])
    assert types(new.blocks) == ["conv", "batch_norm", "activation", "global_pool",
                                 "classifier_head"]
    with pytest.raises(EditError, match="at least one block"):
        ed.remove_blocks(spec, [(i,) for i in range(6)])


def test_move_within_list_into_and_out_of_containers(spec):
    new, paths = ed.move_blocks(spec, [(0,)], (), 3)  # drop in the gap before block 3
    assert types(new.blocks)[:3] == ["batch_norm", "activation", "conv"] and paths == [(2,)]
    new, paths = ed.move_blocks(spec, [(1,), (2,)], (3,), 1)  # into the container
    assert types(new.blocks[1].blocks) == ["conv", "batch_norm", "activation", "batch_norm"]
    assert paths == [(1, 1), (1, 2)]
    new, paths = ed.move_blocks(spec, [(3, 1)], (), 0)  # out of the container, to the top
    assert types(new.blocks)[0] == "batch_norm" and paths == [(0,)]
    assert types(new.blocks[4].blocks) == ["conv"]
    # Moving back restores the spec exactly.
    back, _ = ed.move_blocks(new, paths, (4,), 1)
    assert back == spec


def test_move_refuses_moving_a_container_into_itself(spec):
    with pytest.raises(EditError, match="into itself"):
        ed.move_blocks(spec, [(3,)], (3,), 0)


def test_move_by_steps_and_leaves_containers_at_their_edge(spec):
    new, paths = ed.move_by(spec, [(1,)], -1)
    assert types(new.blocks)[:2] == ["batch_norm", "conv"] and paths == [(0,)]
    new, paths = ed.move_by(spec, [(1,), (2,)], +1)
    assert types(new.blocks)[1] == ("residual", ["conv", "batch_norm"]) and paths == [(2,), (3,)]
    new, paths = ed.move_by(spec, [(3, 0)], -1)  # first child steps out above its container
    assert types(new.blocks)[3:5] == ["conv", ("residual", ["batch_norm"])] and paths == [(3,)]
    new, paths = ed.move_by(spec, [(3, 1)], +1)  # last child steps out below
    assert types(new.blocks)[4] == "batch_norm" and paths == [(4,)]
    same, paths = ed.move_by(spec, [(0,)], -1)  # already first: nothing changes
    assert same == spec and paths == [(0,)]
    with pytest.raises(EditError, match="same list"):
        ed.move_by(spec, [(0,), (3, 0)], +1)


def test_duplicate_runs_and_fresh_names(spec):
    new, paths = ed.duplicate_blocks(spec, [(0,), (1,)])
    assert types(new.blocks)[:4] == ["conv", "batch_norm", "conv", "batch_norm"]
    assert paths == [(2,), (3,)] and new.blocks[2].name == "c1_2"
    new, paths = ed.duplicate_blocks(spec, [(3,)])
    assert paths == [(4,)] and new.blocks[4].name == "res_2"
    assert new.blocks[4].blocks[0].name == "inner_2"
    assert validate(new) == []
    # Non-adjacent selections are duplicated run by run.
    new, paths = ed.duplicate_blocks(spec, [(0,), (4,)])
    assert paths == [(1,), (6,)]
    assert types(new.blocks)[5:7] == ["global_pool", "global_pool"]


def test_unique_name():
    assert ed.unique_name("a", set()) == "a"
    assert ed.unique_name("a", {"a"}) == "a_2"
    assert ed.unique_name("a_2", {"a_2", "a_3"}) == "a_4"
    long = "x" * 64
    assert len(ed.unique_name(long, {long})) == 64


def test_wrap_three_primitives_builds_a_residual_container(spec):
    new, path = ed.wrap_in_residual(spec, [(0,), (1,), (2,)])
    assert path == (0,)
    assert types(new.blocks)[0] == ("residual", ["conv", "batch_norm", "activation"])
    assert new.blocks[0].params == {"shortcut": "identity"}
    assert validate(new) == []
    back, paths = ed.unwrap(new, path)
    assert back == spec and paths == [(0,), (1,), (2,)]
    with pytest.raises(EditError, match="consecutive"):
        ed.wrap_in_residual(spec, [(0,), (2,)])
    with pytest.raises(EditError, match="not a container"):
        ed.unwrap(spec, (0,))


def test_wrapping_cannot_nest_deeper_than_the_format_allows():
    s = ArchitectureSpec("deep", InputSpec("vector", (4,)), [BlockSpec("dense")])
    path = (0,)
    for _ in range(MAX_NESTING - 1):
        s, path = ed.wrap_in_residual(s, [path])
        path = (*path, 0)
    assert len(path) == MAX_NESTING
    spec_from_dict(s.to_dict())  # still a valid file
    with pytest.raises(EditError, match="nested"):
        ed.wrap_in_residual(s, [path[:-1]])


def test_set_and_reset_param(spec):
    new = ed.set_param(spec, (0,), "filters", 16.0)
    assert new.blocks[0].params["filters"] == 16 and isinstance(new.blocks[0].params["filters"],
                                                                int)
    with pytest.raises(EditError, match=r"blocks\[0\]\.params\.filters: expected a positive"):
        ed.set_param(spec, (0,), "filters", 0)
    with pytest.raises(EditError, match="no parameter 'units'"):
        ed.set_param(spec, (0,), "units", 3)
    assert "filters" not in ed.reset_param(spec, (0,), "filters").blocks[0].params


def test_rename(spec):
    assert ed.rename_block(spec, (1,), "bn").blocks[1].name == "bn"
    assert ed.rename_block(spec, (0,), "").blocks[0].name is None
    assert ed.rename_block(spec, (0,), "c1") == spec  # its own name is not a clash
    with pytest.raises(EditError, match="already the name of blocks"):
        ed.rename_block(spec, (1,), "inner")
    with pytest.raises(EditError, match="starting with a letter"):
        ed.rename_block(spec, (1,), "1bad")


def test_toggle_shortcut_restores_what_the_spec_uses():
    cifar = load_preset("resnet20-cifar")
    off = ed.toggle_shortcut(cifar, (2,))
    assert off.blocks[2].params["shortcut"] == "none"
    assert ed.shortcut_of(off, (2,)) == "none"
    on = ed.toggle_shortcut(off, (2,))
    assert on == cifar  # zero_pad, like the other stages, not the type's default
    assert ed.toggle_shortcut(off, (2,), restore="projection").blocks[2].params[
        "shortcut"] == "projection"
    with pytest.raises(EditError, match="no shortcut"):
        ed.toggle_shortcut(cifar, (0,))
    assert ed.shortcut_of(cifar, (0,)) is None
    plain = ed.set_shortcuts(cifar, "none")
    assert {ed.shortcut_of(plain, p) for p in [(1,), (2,), (3,)]} == {"none"}
    # The plain twin remembers each block's mode: switching one on gives it back.
    assert ed.toggle_shortcut(plain, (1,)).blocks[1].params["shortcut"] == "zero_pad"
    # A file saved plain has no such memory: every stage plain falls back to the default.
    reloaded = plain.copy()
    assert ed.toggle_shortcut(reloaded, (1,)).blocks[1].params["shortcut"] == "projection"


def test_toggle_off_and_on_keeps_the_users_choice():
    """Issue 18 item 4: an identity block among projection blocks came back as projection."""
    spec = ed.set_param(load_preset("resnet8-digits"), (2,), "shortcut", "identity")
    off = ed.toggle_shortcut(spec, (2,))
    assert ed.shortcut_of(off, (2,)) == "none"
    # Other edits in between (a move, a param, a copy of the spec) keep the memory.
    moved, _ = ed.move_blocks(off, [(2,)], (), 4)
    moved = ed.set_param(moved, (1,), "filters", 24)
    back = ed.move_blocks(moved, [(3,)], (), 2)[0]
    assert ed.shortcut_of(ed.toggle_shortcut(back, (2,)), (2,)) == "identity"
    # The inspector's combo (set_param to none) is remembered the same way.
    via_combo = ed.set_param(spec, (2,), "shortcut", "none")
    assert ed.shortcut_of(ed.toggle_shortcut(via_combo, (2,)), (2,)) == "identity"
    # The memory is not part of the document: equal specs, nothing saved.
    assert off.blocks[2].previous_shortcut == "identity"
    assert "previous_shortcut" not in off.to_json()


def test_toggle_on_a_transformer_uses_identity():
    gpt = ed.set_shortcuts(load_preset("gpt-char"), "none")
    assert ed.toggle_shortcut(gpt, (1,)).blocks[1].params["shortcut"] == "identity"


def test_set_input_and_info(spec):
    new = ed.set_input(spec, "image", [16, 16, 1])
    assert new.input == InputSpec("image", (16, 16, 1))
    with pytest.raises(EditError, match="expected 2 positive"):
        ed.set_input(spec, "sequence", [16])
    new = ed.set_info(spec, name="mine", title="Mine", dataset="")
    assert (new.name, new.title, new.dataset) == ("mine", "Mine", None)
    with pytest.raises(EditError, match="name"):
        ed.set_info(spec, name="no spaces")
    with pytest.raises(EditError, match="unknown field"):
        ed.set_info(spec, colour="red")


def test_clipboard_round_trip(spec):
    text = ed.blocks_to_json(spec, [(3,), (0,)])
    assert list(json.loads(text)) == [ed.CLIPBOARD_KEY]
    blocks = ed.blocks_from_json(text)
    assert [b.type for b in blocks] == ["conv", "residual"]
    assert blocks[1] == spec.blocks[3]
    single = ed.blocks_from_json('{"type": "dropout", "params": {"rate": 0.2}}')
    assert single == [BlockSpec("dropout", {"rate": 0.2})]
    with pytest.raises(EditError, match="not JSON"):
        ed.blocks_from_json("hello")
    with pytest.raises(EditError, match=r"blocks\[0\]\.params\.rate"):
        ed.blocks_from_json('[{"type": "dropout", "params": {"rate": 2}}]')
    new, paths = ed.insert_blocks(spec, (), 0, blocks)
    assert validate(new) == []  # pasted names were made unique
    assert new.blocks[0].name == "c1_2" and paths == [(0,), (1,)]


def test_blank_spec_is_valid_and_the_last_block_is_kept_with_a_reason():
    from resnet_studio.core.spec import spec_from_dict

    blank = ed.blank_spec()
    assert spec_from_dict(blank.to_dict()) == blank  # a valid preset, saved as such
    assert [b.type for b in blank.blocks] == ["flatten", "classifier_head"]
    assert ed.removal_problem(blank, [(1,)]) == ""
    assert "at least one block" in ed.removal_problem(blank, [(0,), (1,)])
    one = ed.remove_blocks(blank, [(0,)])
    assert "at least one block" in ed.removal_problem(one, [(0,)])
    with pytest.raises(EditError, match="at least one block"):
        ed.remove_blocks(one, [(0,)])
    # Inside a container, the container's last child may go (the container stays).
    cifar = load_preset("resnet20-cifar")
    assert ed.removal_problem(cifar, [(1,)]) == ""
