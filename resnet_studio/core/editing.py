"""Editing operations on architecture specs: pure functions, no Qt.

Every function takes an `ArchitectureSpec` and returns a new one (the input is never
modified), so an editor can keep the old spec for undo and the tests can compare specs.
Blocks are addressed by a *path*: the indices from the top-level block list down through
containers, e.g. `(4, 1)` is `blocks[4].blocks[1]`. Structural edits also return the paths
of the blocks they created or moved, which an editor selects afterwards.

Bad requests (a path that does not exist, a selection that is not contiguous, a value out of
range) raise `EditError` with a message naming what was wrong.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from resnet_studio.core.blocks import registry
from resnet_studio.core.params import Problem
from resnet_studio.core.spec import (
    INPUT_KINDS,
    INPUT_RANKS,
    MAX_INPUT_DIM,
    MAX_NESTING,
    MAX_VOCAB,
    NAME_RE,
    ArchitectureSpec,
    BlockSpec,
    InputSpec,
    SpecError,
    spec_from_dict,
)

Path = tuple[int, ...]
CLIPBOARD_KEY = "resnet_studio_blocks"  # the JSON object key of copied blocks
LAST_BLOCK = ("An architecture keeps at least one block: add the next block first, then "
              "delete this one (or File › New for a fresh start).")
_LOCATION_STEP = re.compile(r"blocks\[(\d+)\]")


class EditError(ValueError):
    """An edit that cannot be applied; the message says why."""


# --------------------------------------------------------------------------- a blank start
def blank_spec() -> ArchitectureSpec:
    """File › New: the smallest architecture that still builds, trains and exports.

    An input (8×8 grey images, the offline `digits` set) and a classifier head behind a
    flatten: a linear model, the baseline every block added in between must beat. Not an
    empty list: an architecture always has at least one block (an empty one has no output to
    summarize, train or export), so every state of the editor is a model that builds. New
    blocks go before the head (`Document.insertion_point`).
    """
    return ArchitectureSpec(
        name="untitled", title="Untitled architecture",
        description="A blank start: the input and a classifier head. Add blocks from the "
                    "palette; they go in before the head.",
        input=InputSpec("image", (8, 8, 1)), dataset="digits",
        blocks=[BlockSpec("flatten"), BlockSpec("classifier_head")])


def removal_problem(spec: ArchitectureSpec, paths: Iterable[Sequence[int]]) -> str:
    """Why the blocks at `paths` cannot be removed ("" when they can): the editor greys its
    Delete action with this reason rather than failing after the key press."""
    sel = normalize_selection(paths)
    if sel and {p for p in sel if len(p) == 1} >= {(i,) for i in range(len(spec.blocks))}:
        return LAST_BLOCK
    return ""


# --------------------------------------------------------------------------- addressing
def location_of(path: Path) -> str:
    """(4, 1) -> 'blocks[4].blocks[1]' (the location format of problems and build errors)."""
    return ".".join(f"blocks[{i}]" for i in path)


def path_of(location: str) -> Path | None:
    """The block path a problem location points into, or None when it names no block.

    'blocks[4].blocks[1].params.filters' -> (4, 1); 'training.epochs' -> None.
    """
    path: list[int] = []
    rest = location
    while True:
        m = _LOCATION_STEP.match(rest)
        if not m:
            break
        path.append(int(m.group(1)))
        rest = rest[m.end():]
        if rest.startswith("."):
            rest = rest[1:]
    return tuple(path) if path else None


def get_block(spec: ArchitectureSpec, path: Sequence[int]) -> BlockSpec:
    """The block at `path`. Raises EditError when there is none."""
    if not path:
        raise EditError("an empty path names no block")
    blocks = spec.blocks
    block: BlockSpec | None = None
    for depth, i in enumerate(path):
        if blocks is None or not 0 <= i < len(blocks):
            raise EditError(f"there is no block at {location_of(tuple(path[:depth + 1]))}")
        block = blocks[i]
        blocks = block.blocks
    assert block is not None
    return block


def has_block(spec: ArchitectureSpec, path: Sequence[int]) -> bool:
    try:
        get_block(spec, path)
    except EditError:
        return False
    return True


def child_list(spec: ArchitectureSpec, parent: Sequence[int]) -> list[BlockSpec]:
    """The block list under `parent`: the top level for (), else the container's children."""
    if not parent:
        return spec.blocks
    block = get_block(spec, parent)
    if block.blocks is None:
        raise EditError(f"{location_of(tuple(parent))} ({block.type}) cannot hold blocks: only "
                        "containers such as 'residual' can")
    return block.blocks


def all_paths(spec: ArchitectureSpec) -> list[Path]:
    """Every block's path, depth first (the order of `spec.walk()`)."""
    out: list[Path] = []

    def rec(blocks: list[BlockSpec], prefix: Path) -> None:
        for i, b in enumerate(blocks):
            out.append((*prefix, i))
            if b.blocks:
                rec(b.blocks, (*prefix, i))

    rec(spec.blocks, ())
    return out


def normalize_selection(paths: Iterable[Sequence[int]]) -> list[Path]:
    """Paths sorted in document order, without duplicates and without blocks whose container
    is also selected (moving or deleting the container already takes them along)."""
    unique = sorted({tuple(p) for p in paths if p})
    out: list[Path] = []
    for p in unique:
        if not any(p[:len(q)] == q for q in out):
            out.append(p)
    return out


def is_contiguous(paths: Iterable[Sequence[int]]) -> bool:
    """True when the paths are siblings with consecutive indices (e.g. (2,), (3,), (4,))."""
    ps = sorted({tuple(p) for p in paths})
    if not ps or any(len(p) != len(ps[0]) or p[:-1] != ps[0][:-1] for p in ps):
        return False
    return [p[-1] for p in ps] == list(range(ps[0][-1], ps[0][-1] + len(ps)))


# --------------------------------------------------------------------------- internals
def _copy(spec: ArchitectureSpec) -> ArchitectureSpec:
    # deepcopy, not spec.copy(): that re-validates, and an editor must be able to edit a spec
    # that has problems (it shows them on their blocks).
    return copy.deepcopy(spec)


def _find(spec: ArchitectureSpec, target: BlockSpec) -> Path:
    """Path of a block object (by identity)."""

    def rec(blocks: list[BlockSpec], prefix: Path) -> Path | None:
        for i, b in enumerate(blocks):
            if b is target:
                return (*prefix, i)
            if b.blocks:
                found = rec(b.blocks, (*prefix, i))
                if found is not None:
                    return found
        return None

    found = rec(spec.blocks, ())
    if found is None:  # pragma: no cover - internal invariant
        raise AssertionError("block not found in spec")
    return found


def _detach(spec: ArchitectureSpec, target: BlockSpec) -> None:
    """Removes a block object (by identity) from whichever list holds it."""
    stack = [spec.blocks]
    while stack:
        blocks = stack.pop()
        for i, b in enumerate(blocks):
            if b is target:
                del blocks[i]
                return
            if b.blocks:
                stack.append(b.blocks)
    raise AssertionError("block not found in spec")  # pragma: no cover


def _depth(block: BlockSpec) -> int:
    """1 for a block without children, 1 + the deepest child otherwise."""
    return 1 + max((_depth(c) for c in block.blocks or []), default=0)


def _check_result(spec: ArchitectureSpec) -> ArchitectureSpec:
    if not spec.blocks:
        raise EditError(LAST_BLOCK)
    deepest = max(_depth(b) for b in spec.blocks)
    if deepest > MAX_NESTING:
        raise EditError(f"blocks would be nested {deepest} levels deep, deeper than "
                        f"{MAX_NESTING} levels (at most {MAX_NESTING - 1} containers inside one "
                        "another)")
    return spec


def _used_names(spec: ArchitectureSpec) -> set[str]:
    return {b.name for _, b in spec.walk() if b.name}


def unique_name(base: str, taken: set[str]) -> str:
    """`base` if free, else `base_2`, `base_3`, … (a trailing `_N` is counted on from)."""
    if base not in taken:
        return base
    m = re.match(r"^(.*?)_(\d+)$", base)
    stem, n = (m.group(1), int(m.group(2))) if m else (base, 1)
    while True:
        n += 1
        suffix = f"_{n}"
        candidate = stem[:64 - len(suffix)] + suffix
        if candidate not in taken:
            return candidate


def _rename_copies(block: BlockSpec, taken: set[str]) -> None:
    """Gives every named block in a copied subtree a name not yet in `taken` (and adds it)."""
    for b in block.walk():
        if b.name:
            b.name = unique_name(b.name, taken)
            taken.add(b.name)


def _block_type(block: BlockSpec, path: Path) -> registry.BlockType:
    bt = registry.BLOCK_TYPES.get(block.type)
    if bt is None:
        raise EditError(f"{location_of(path)}: unknown block type {block.type!r}")
    return bt


# --------------------------------------------------------------------------- structure
def new_block(block_type: str) -> BlockSpec:
    """A block of `block_type` with default params (containers start empty).

    Raises:
        EditError: for an unknown type.
    """
    bt = registry.BLOCK_TYPES.get(block_type)
    if bt is None:
        raise EditError(f"unknown block type {block_type!r}{registry.suggest(block_type)}")
    return BlockSpec(block_type, {}, blocks=[] if bt.container else None)


def insert_blocks(spec: ArchitectureSpec, parent: Sequence[int], index: int,
                  blocks: Sequence[BlockSpec]) -> tuple[ArchitectureSpec, list[Path]]:
    """Inserts copies of `blocks` into the list under `parent` before position `index`.

    Named blocks that would clash with names already in the spec are renamed (`stage2_2`).

    Returns:
        The new spec and the paths of the inserted blocks.
    """
    if not blocks:
        raise EditError("nothing to insert")
    new = _copy(spec)
    target = child_list(new, parent)
    if not 0 <= index <= len(target):
        raise EditError(f"cannot insert at position {index} of a list of {len(target)} blocks")
    taken = _used_names(new)
    copies = [copy.deepcopy(b) for b in blocks]
    for c in copies:
        _rename_copies(c, taken)
    target[index:index] = copies
    _check_result(new)
    return new, [(*tuple(parent), index + k) for k in range(len(copies))]


def insert_block(spec: ArchitectureSpec, path: Sequence[int], block: BlockSpec
                 ) -> tuple[ArchitectureSpec, Path]:
    """Inserts `block` so that it ends up at `path`; returns the new spec and that path."""
    if not path:
        raise EditError("an empty path names no position")
    new, paths = insert_blocks(spec, tuple(path[:-1]), path[-1], [block])
    return new, paths[0]


def remove_blocks(spec: ArchitectureSpec, paths: Iterable[Sequence[int]]) -> ArchitectureSpec:
    """Removes the blocks at `paths` (with their children)."""
    sel = normalize_selection(paths)
    if not sel:
        raise EditError("nothing to remove")
    new = _copy(spec)
    doomed = [get_block(new, p) for p in sel]
    for b in doomed:
        _detach(new, b)
    return _check_result(new)


def move_blocks(spec: ArchitectureSpec, paths: Iterable[Sequence[int]], parent: Sequence[int],
                index: int) -> tuple[ArchitectureSpec, list[Path]]:
    """Moves the selected blocks, in document order, into the list under `parent`.

    Args:
        index: Position in that list *before* the move (as a drop indicator between two
            cards shows it): the blocks land where the gap before block `index` was.

    Returns:
        The new spec and the moved blocks' new paths.
    """
    sel = normalize_selection(paths)
    if not sel:
        raise EditError("nothing to move")
    parent = tuple(parent)
    for p in sel:
        if parent[:len(p)] == p:
            raise EditError(f"cannot move {location_of(p)} into itself")
    new = _copy(spec)
    moving = [get_block(new, p) for p in sel]
    target = child_list(new, parent)
    if not 0 <= index <= len(target):
        raise EditError(f"cannot move to position {index} of a list of {len(target)} blocks")
    # A marker object holds the drop position while the blocks are detached, so no index
    # arithmetic is needed when blocks leave the same list (or an ancestor's list).
    marker = BlockSpec("__drop_marker__")
    target.insert(index, marker)
    for b in moving:
        _detach(new, b)
    at = next(i for i, b in enumerate(target) if b is marker)
    target[at:at + 1] = moving
    _check_result(new)
    return new, [_find(new, b) for b in moving]


def move_by(spec: ArchitectureSpec, paths: Iterable[Sequence[int]], delta: int
            ) -> tuple[ArchitectureSpec, list[Path]]:
    """Moves sibling blocks one place up (`delta=-1`) or down (`+1`).

    At the edge of a container they step out of it, above or below the container. At the
    edge of the architecture nothing changes (the same spec is returned).
    """
    sel = normalize_selection(paths)
    if not sel:
        raise EditError("nothing to move")
    if delta not in (-1, 1):
        raise EditError(f"Expected delta -1 or 1, received: delta={delta}")
    parent = sel[0][:-1]
    if any(p[:-1] != parent for p in sel):
        raise EditError("only blocks in the same list can be moved together")
    first, last = sel[0][-1], sel[-1][-1]
    siblings = child_list(spec, parent)
    if delta < 0:
        if first > 0:
            return move_blocks(spec, sel, parent, first - 1)
        if parent:
            return move_blocks(spec, sel, parent[:-1], parent[-1])
    else:
        if last < len(siblings) - 1:
            return move_blocks(spec, sel, parent, last + 2)
        if parent:
            return move_blocks(spec, sel, parent[:-1], parent[-1] + 1)
    return _copy(spec), sel


def _runs(sel: list[Path]) -> list[list[Path]]:
    """Groups sorted paths into runs of consecutive siblings."""
    runs: list[list[Path]] = []
    for p in sel:
        if runs and runs[-1][-1][:-1] == p[:-1] and runs[-1][-1][-1] + 1 == p[-1]:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


def duplicate_blocks(spec: ArchitectureSpec, paths: Iterable[Sequence[int]]
                     ) -> tuple[ArchitectureSpec, list[Path]]:
    """Inserts a copy of each run of consecutive selected blocks right after the run.

    Copies of named blocks get fresh names. Returns the new spec and the copies' paths.
    """
    sel = normalize_selection(paths)
    if not sel:
        raise EditError("nothing to duplicate")
    new = _copy(spec)
    taken = _used_names(new)
    copies: list[BlockSpec] = []
    # Last run first, so the paths of earlier runs stay valid while inserting.
    for run in reversed(_runs(sel)):
        originals = [get_block(new, p) for p in run]
        dup = [copy.deepcopy(b) for b in originals]
        for d in dup:
            _rename_copies(d, taken)
        target = child_list(new, run[0][:-1])
        at = run[-1][-1] + 1
        target[at:at] = dup
        copies[:0] = dup
    _check_result(new)
    return new, [_find(new, b) for b in copies]


def wrap_in_residual(spec: ArchitectureSpec, paths: Iterable[Sequence[int]],
                     params: dict[str, Any] | None = None) -> tuple[ArchitectureSpec, Path]:
    """Wraps consecutive sibling blocks in a `residual` container: y = F(x) + x.

    Returns:
        The new spec and the container's path.
    """
    sel = normalize_selection(paths)
    if not sel:
        raise EditError("select the blocks to wrap")
    if not is_contiguous(sel):
        raise EditError("only consecutive blocks in the same list can be wrapped together")
    new = _copy(spec)
    parent, first = sel[0][:-1], sel[0][-1]
    target = child_list(new, parent)
    inner = target[first:first + len(sel)]
    container = BlockSpec("residual", dict(params) if params is not None
                          else {"shortcut": "identity"}, blocks=inner)
    target[first:first + len(sel)] = [container]
    _check_result(new)
    return new, sel[0]


def unwrap(spec: ArchitectureSpec, path: Sequence[int]) -> tuple[ArchitectureSpec, list[Path]]:
    """Replaces a container by its children; returns the new spec and the children's paths."""
    path = tuple(path)
    block = get_block(spec, path)
    if block.blocks is None:
        raise EditError(f"{location_of(path)} ({block.type}) is not a container")
    new = _copy(spec)
    target = child_list(new, path[:-1])
    children = target[path[-1]].blocks or []
    target[path[-1]:path[-1] + 1] = children
    _check_result(new)
    return new, [(*path[:-1], path[-1] + k) for k in range(len(children))]


# --------------------------------------------------------------------------- params
def set_param(spec: ArchitectureSpec, path: Sequence[int], name: str, value: Any
              ) -> ArchitectureSpec:
    """Sets one param of a block after checking it against the block type's schema."""
    path = tuple(path)
    block = get_block(spec, path)
    bt = _block_type(block, path)
    try:
        param = bt.param(name)
    except KeyError:
        known = ", ".join(p.name for p in bt.params) or "none"
        raise EditError(f"{location_of(path)}: {block.type} has no parameter {name!r} "
                        f"(known: {known})") from None
    problems = param.check(value, f"{location_of(path)}.params.{name}")
    if problems:
        raise EditError(str(problems[0]))
    new = _copy(spec)
    target = get_block(new, path)
    if name == "shortcut":
        _remember_shortcut(target, bt.resolve(block.params)["shortcut"], value)
    target.params[name] = param.normalize(value)
    return new


def _remember_shortcut(block: BlockSpec, current: str, value: str) -> None:
    """Keeps the mode a shortcut had when it is switched off, for switching it back on."""
    if value == "none" and current != "none":
        block.previous_shortcut = current


def reset_param(spec: ArchitectureSpec, path: Sequence[int], name: str) -> ArchitectureSpec:
    """Removes an explicit param value, so the block type's default applies again."""
    new = _copy(spec)
    get_block(new, path).params.pop(name, None)
    return new


def rename_block(spec: ArchitectureSpec, path: Sequence[int], name: str | None
                 ) -> ArchitectureSpec:
    """Sets (or, with None or "", clears) a block's name; names are unique in a spec."""
    path = tuple(path)
    get_block(spec, path)
    name = name or None
    if name is not None:
        if not NAME_RE.match(name):
            raise EditError(f'"{name}": a name is letters, digits, "_" or "-", starting with a '
                            "letter (at most 64)")
        for loc, b in spec.walk():
            if b.name == name and loc != location_of(path):
                raise EditError(f'"{name}" is already the name of {loc}')
    new = _copy(spec)
    get_block(new, path).name = name
    return new


def shortcut_of(spec: ArchitectureSpec, path: Sequence[int]) -> str | None:
    """The block's effective shortcut mode, or None when its type has no shortcut."""
    block = get_block(spec, path)
    bt = registry.BLOCK_TYPES.get(block.type)
    if bt is None or not bt.has_shortcut:
        return None
    return str(bt.resolve(block.params)["shortcut"])


def toggle_shortcut(spec: ArchitectureSpec, path: Sequence[int], restore: str | None = None
                    ) -> ArchitectureSpec:
    """Switches a residual block's shortcut off (`none`), or back on.

    Switching on uses `restore` when given; else the mode this block had before it was
    switched off (`BlockSpec.previous_shortcut`: an `identity` block comes back as
    `identity`); else, for a block loaded without a shortcut, the mode most blocks of the
    same type use in this spec (so a CIFAR ResNet gets its `zero_pad` back), else the type's
    default.
    """
    path = tuple(path)
    block = get_block(spec, path)
    bt = _block_type(block, path)
    if not bt.has_shortcut:
        raise EditError(f"{location_of(path)} ({block.type}) has no shortcut to toggle")
    param = bt.param("shortcut")
    current = bt.resolve(block.params)["shortcut"]
    if current != "none":
        return set_param(spec, path, "shortcut", "none")
    if restore is None or restore == "none" or restore not in param.choices:
        restore = block.previous_shortcut
    if restore is None or restore == "none" or restore not in param.choices:
        used = Counter(bt.resolve(b.params)["shortcut"] for _, b in spec.walk()
                       if b.type == block.type)
        used.pop("none", None)
        if used:
            restore = used.most_common(1)[0][0]
        elif param.default != "none":
            restore = param.default
        else:
            restore = "identity"
    return set_param(spec, path, "shortcut", restore)


def set_shortcuts(spec: ArchitectureSpec, mode: str) -> ArchitectureSpec:
    """Sets every residual block's shortcut that accepts `mode` (e.g. all to `none`)."""
    new = _copy(spec)
    for _, block in new.walk():
        bt = registry.BLOCK_TYPES.get(block.type)
        if bt is not None and bt.has_shortcut and mode in bt.param("shortcut").choices:
            _remember_shortcut(block, bt.resolve(block.params)["shortcut"], mode)
            block.params["shortcut"] = mode
    return new


# --------------------------------------------------------------------------- model fields
def set_input(spec: ArchitectureSpec, kind: str, shape: Sequence[int], vocab_size: int = 0
              ) -> ArchitectureSpec:
    """Sets what one example looks like (kind, shape without the batch axis, vocabulary)."""
    if kind not in INPUT_KINDS:
        raise EditError(f"input.kind: expected one of {', '.join(INPUT_KINDS)}, got {kind!r}")
    shape = tuple(int(d) for d in shape)
    rank = INPUT_RANKS[kind]
    if len(shape) != rank or not all(1 <= d <= MAX_INPUT_DIM for d in shape):
        raise EditError(f"input.shape: expected {rank} positive integer(s) up to "
                        f"{MAX_INPUT_DIM:,} for a {kind} input, got {list(shape)}")
    if not 0 <= int(vocab_size) <= MAX_VOCAB:
        raise EditError(f"input.vocab_size: expected an integer from 0 to {MAX_VOCAB:,}, got "
                        f"{vocab_size}")
    new = _copy(spec)
    # The tokenizer belongs to a tokens input: kept across edits of its shape.
    tokenizer = spec.input.tokenizer if kind == "tokens" else ""
    new.input = InputSpec(kind, shape, int(vocab_size), tokenizer)
    return new


def set_info(spec: ArchitectureSpec, **fields: Any) -> ArchitectureSpec:
    """Sets name, title, description, citation or dataset (None/"" clears the dataset)."""
    new = _copy(spec)
    for key, value in fields.items():
        if key == "name":
            if not isinstance(value, str) or not NAME_RE.match(value):
                raise EditError(f'name: expected letters, digits, "_" or "-" starting with a '
                                f"letter (at most 64), got {value!r}")
        elif key in ("title", "description", "citation"):
            if not isinstance(value, str):
                raise EditError(f"{key}: expected a string, got {value!r}")
        elif key == "dataset":
            value = value or None
            if value is not None and not isinstance(value, str):
                raise EditError(f"dataset: expected a dataset name, got {value!r}")
        else:
            raise EditError(f"unknown field {key!r} (known: name, title, description, "
                            "citation, dataset)")
        setattr(new, key, value)
    return new


# --------------------------------------------------------------------------- clipboard
def blocks_to_json(spec: ArchitectureSpec, paths: Iterable[Sequence[int]]) -> str:
    """The selected blocks as clipboard JSON (`{"resnet_studio_blocks": [...]}`)."""
    sel = normalize_selection(paths)
    return json.dumps({CLIPBOARD_KEY: [get_block(spec, p).to_dict() for p in sel]}, indent=2)


def blocks_from_json(text: str) -> list[BlockSpec]:
    """Parses clipboard JSON (ours, a single block object, or a list of them).

    Raises:
        EditError: when the text is not blocks, naming the first problem.
    """
    try:
        data = json.loads(text)
    except ValueError:
        raise EditError("the clipboard does not hold ResNet Studio blocks (not JSON)") from None
    if isinstance(data, dict) and CLIPBOARD_KEY in data:
        data = data[CLIPBOARD_KEY]
    elif isinstance(data, dict) and "type" in data:
        data = [data]
    if not isinstance(data, list) or not data:
        raise EditError("the clipboard does not hold ResNet Studio blocks")
    # Parse through the preset reader so pasted blocks are checked exactly like a file's.
    holder = {"name": "clipboard", "input": {"kind": "vector", "shape": [1]}, "blocks": data}
    try:
        return spec_from_dict(holder, "clipboard").blocks
    except SpecError as e:
        first: Problem = e.problems[0]
        raise EditError(f"the clipboard blocks are not valid: {first}") from None
