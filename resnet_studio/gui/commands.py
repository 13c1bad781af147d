"""Undoable edits. Each command computes its new spec with `resnet_studio.core.editing` when it
is created (raising EditError if the edit is impossible) and swaps whole specs on redo/undo,
together with the selection before and after, so undo also restores what was selected.

Command texts read as sentences in Edit → Undo: "Undo Change filters of stage2 to 48".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from resnet_studio.core import editing
from resnet_studio.core.blocks import registry
from resnet_studio.core.builder import block_names
from resnet_studio.core.spec import ArchitectureSpec, BlockSpec

if TYPE_CHECKING:
    from resnet_studio.gui.document import Document

Path = editing.Path

# QUndoCommand.id() values of commands that merge with their successor.
MERGE_SET_PARAM = 1
MERGE_SET_INFO = 2


def block_label(spec: ArchitectureSpec, path: Sequence[int]) -> str:
    """How a block is called in messages: its name, or the name Keras layers get from it."""
    block = editing.get_block(spec, path)
    return block.name or block_names(spec).get(editing.location_of(tuple(path)), block.type)


def _type_title(block_type: str) -> str:
    bt = registry.BLOCK_TYPES.get(block_type)
    return bt.title if bt else block_type


def _count(paths: Sequence[Path], spec: ArchitectureSpec, verb: str) -> str:
    if len(paths) == 1:
        return f"{verb} {block_label(spec, paths[0])}"
    return f"{verb} {len(paths)} blocks"


def _show_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class SpecCommand(QUndoCommand):
    """Replaces the document's spec (and selection); undo puts the old ones back."""

    def __init__(self, doc: Document, text: str, new_spec: ArchitectureSpec,
                 selection: Sequence[Path]) -> None:
        super().__init__(text)
        self.doc = doc
        self.old_spec = doc.spec
        self.old_selection = list(doc.selection)
        self.new_spec = new_spec
        self.new_selection = [tuple(p) for p in selection]

    @property
    def changes_anything(self) -> bool:
        return self.new_spec != self.old_spec

    def redo(self) -> None:
        self.doc._apply(self.new_spec, self.new_selection)

    def undo(self) -> None:
        self.doc._apply(self.old_spec, self.old_selection)


class InsertBlocksCommand(SpecCommand):
    def __init__(self, doc: Document, parent: Path, index: int, blocks: Sequence[BlockSpec],
                 verb: str = "Add") -> None:
        spec, paths = editing.insert_blocks(doc.spec, parent, index, blocks)
        what = (_type_title(blocks[0].type) if len(blocks) == 1 else f"{len(blocks)} blocks")
        super().__init__(doc, f"{verb} {what}", spec, paths)


class RemoveBlocksCommand(SpecCommand):
    def __init__(self, doc: Document, paths: Sequence[Path]) -> None:
        sel = editing.normalize_selection(paths)
        spec = editing.remove_blocks(doc.spec, sel)
        # Select the block that took the place of the first removed one, if any.
        after = [sel[0]] if editing.has_block(spec, sel[0]) else (
            [(*sel[0][:-1], sel[0][-1] - 1)] if sel[0][-1] > 0 else
            ([sel[0][:-1]] if sel[0][:-1] else []))
        super().__init__(doc, _count(sel, doc.spec, "Delete"), spec, after)


class MoveBlocksCommand(SpecCommand):
    def __init__(self, doc: Document, paths: Sequence[Path], parent: Path, index: int) -> None:
        sel = editing.normalize_selection(paths)
        spec, moved = editing.move_blocks(doc.spec, sel, parent, index)
        super().__init__(doc, _count(sel, doc.spec, "Move"), spec, moved)


class MoveByCommand(SpecCommand):
    def __init__(self, doc: Document, paths: Sequence[Path], delta: int) -> None:
        sel = editing.normalize_selection(paths)
        spec, moved = editing.move_by(doc.spec, sel, delta)
        direction = "up" if delta < 0 else "down"
        super().__init__(doc, f"{_count(sel, doc.spec, 'Move')} {direction}", spec, moved)


class DuplicateBlocksCommand(SpecCommand):
    def __init__(self, doc: Document, paths: Sequence[Path]) -> None:
        sel = editing.normalize_selection(paths)
        spec, copies = editing.duplicate_blocks(doc.spec, sel)
        super().__init__(doc, _count(sel, doc.spec, "Duplicate"), spec, copies)


class WrapInResidualCommand(SpecCommand):
    def __init__(self, doc: Document, paths: Sequence[Path]) -> None:
        sel = editing.normalize_selection(paths)
        spec, container = editing.wrap_in_residual(doc.spec, sel)
        super().__init__(doc, f"{_count(sel, doc.spec, 'Wrap')} in a residual container",
                         spec, [container])


class UnwrapCommand(SpecCommand):
    def __init__(self, doc: Document, path: Path) -> None:
        spec, children = editing.unwrap(doc.spec, path)
        super().__init__(doc, f"Unwrap {block_label(doc.spec, path)}", spec, children)


class SetParamCommand(SpecCommand):
    """Sets one param; consecutive changes of the same param merge into one undo step."""

    def __init__(self, doc: Document, path: Path, name: str, value: Any) -> None:
        spec = editing.set_param(doc.spec, path, name, value)
        self.path, self.name = tuple(path), name
        super().__init__(doc, self._text(doc.spec, spec), spec, [path])

    def _text(self, old: ArchitectureSpec, new: ArchitectureSpec) -> str:
        value = editing.get_block(new, self.path).params[self.name]
        return f"Change {self.name} of {block_label(old, self.path)} to {_show_value(value)}"

    def id(self) -> int:
        return MERGE_SET_PARAM

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetParamCommand) or other.doc is not self.doc or \
                (other.path, other.name) != (self.path, self.name):
            return False
        self.new_spec = other.new_spec
        self.new_selection = other.new_selection
        self.setText(self._text(self.old_spec, self.new_spec))
        # Spinning a value up and back leaves nothing to undo.
        self.setObsolete(self.new_spec == self.old_spec)
        return True


class ResetParamCommand(SpecCommand):
    def __init__(self, doc: Document, path: Path, name: str) -> None:
        spec = editing.reset_param(doc.spec, path, name)
        super().__init__(doc, f"Reset {name} of {block_label(doc.spec, path)} to its default",
                         spec, [path])


class RenameBlockCommand(SpecCommand):
    def __init__(self, doc: Document, path: Path, name: str | None) -> None:
        spec = editing.rename_block(doc.spec, path, name)
        old = block_label(doc.spec, path)
        text = f"Rename {old} to {name}" if name else f"Clear the name of {old}"
        super().__init__(doc, text, spec, [path])


class SetShortcutCommand(SpecCommand):
    """Toggles a block's shortcut (mode None) or sets a given mode."""

    def __init__(self, doc: Document, path: Path, mode: str | None = None) -> None:
        if mode is None:
            spec = editing.toggle_shortcut(doc.spec, path)
        else:
            spec = editing.set_param(doc.spec, path, "shortcut", mode)
        new_mode = editing.shortcut_of(spec, path)
        label = block_label(doc.spec, path)
        text = (f"Switch off the shortcut of {label}" if new_mode == "none"
                else f"Set the shortcut of {label} to {new_mode}")
        super().__init__(doc, text, spec, [path])


class SetAllShortcutsCommand(SpecCommand):
    def __init__(self, doc: Document, mode: str) -> None:
        spec = editing.set_shortcuts(doc.spec, mode)
        text = ("Remove every shortcut (plain twin)" if mode == "none"
                else f"Set every shortcut to {mode}")
        super().__init__(doc, text, spec, doc.selection)


class SetInputCommand(SpecCommand):
    def __init__(self, doc: Document, kind: str, shape: Sequence[int], vocab_size: int) -> None:
        spec = editing.set_input(doc.spec, kind, shape, vocab_size)
        dims = "×".join(str(d) for d in spec.input.shape)
        super().__init__(doc, f"Change the input to {kind} {dims}", spec, doc.selection)


class SetInfoCommand(SpecCommand):
    """Sets the architecture's name, title, description or dataset (typing merges)."""

    def __init__(self, doc: Document, field: str, value: Any) -> None:
        spec = editing.set_info(doc.spec, **{field: value})
        self.field = field
        super().__init__(doc, f"Change the {field}", spec, doc.selection)

    def id(self) -> int:
        return MERGE_SET_INFO

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetInfoCommand) or other.doc is not self.doc or \
                other.field != self.field:
            return False
        self.new_spec = other.new_spec
        self.setObsolete(self.new_spec == self.old_spec)
        return True
