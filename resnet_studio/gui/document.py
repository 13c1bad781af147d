"""The open document: a spec, its file, its undo history and the current selection.

Views hold a Document, listen to its signals and change it only through the methods below;
every change goes through a QUndoCommand (see commands.py), so everything can be undone.
The spec object a Document hands out is never modified in place: each edit replaces it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path as FsPath
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from resnet_studio.core import editing
from resnet_studio.core.blocks import registry
from resnet_studio.core.spec import ArchitectureSpec, BlockSpec, load_spec, save_spec
from resnet_studio.gui import commands as cmd

Path = editing.Path


class Document(QObject):
    """An architecture being edited.

    Signals:
        changed: the spec changed (edit, undo, redo, open).
        selection_changed: the selected block paths changed.
        file_changed: the path or the dirty state changed (title bar, Save action).
        edit_failed(str): an edit was refused; the message says why.
        replaced: another document took this one's place (New, Open, a preset, recovery),
            emitted after `changed`. What belongs to a document and not to its edits (the
            training panel's settings) starts over from the new spec here.
    """

    changed = Signal()
    replaced = Signal()
    selection_changed = Signal()
    file_changed = Signal()
    edit_failed = Signal(str)

    def __init__(self, spec: ArchitectureSpec, path: str | os.PathLike[str] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._spec = spec
        self._path = FsPath(path) if path else None
        self._selection: list[Path] = []
        self.revision = 0  # increases with every spec change (autosave compares it)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

    # ------------------------------------------------------------------ state
    @property
    def spec(self) -> ArchitectureSpec:
        return self._spec

    @property
    def path(self) -> FsPath | None:
        return self._path

    @property
    def selection(self) -> list[Path]:
        return list(self._selection)

    @property
    def is_dirty(self) -> bool:
        return not self.undo_stack.isClean()

    def display_name(self) -> str:
        return self._path.name if self._path else self._spec.name

    def set_selection(self, paths: Sequence[Sequence[int]]) -> None:
        sel = sorted({tuple(p) for p in paths if editing.has_block(self._spec, p)})
        if sel != self._selection:
            self._selection = sel
            self.selection_changed.emit()

    # ------------------------------------------------------------------ files
    def replace(self, spec: ArchitectureSpec, path: str | os.PathLike[str] | None = None, *,
                modified: bool = False) -> None:
        """Starts over with `spec` (history cleared). `modified` marks it unsaved (recovery)."""
        self.undo_stack.clear()
        self._path = FsPath(path) if path else None
        self._selection = []
        self._set_spec(spec)
        if modified:
            self.undo_stack.resetClean()
        self.selection_changed.emit()
        self.file_changed.emit()
        self.replaced.emit()

    def open(self, path: str | os.PathLike[str]) -> None:
        """Reads a preset file. On SpecError the document is left exactly as it was."""
        spec = load_spec(path)  # raises before anything here changes
        self.replace(spec, FsPath(path).resolve())

    def save(self, path: str | os.PathLike[str] | None = None) -> FsPath:
        """Writes the spec (atomically) to `path` or the current file; marks it clean.

        Raises:
            OSError: the file could not be written (the old file is intact).
            ValueError: there is no path yet.
        """
        target = FsPath(path) if path else self._path
        if target is None:
            raise ValueError("the document has no file yet: use Save As")
        save_spec(self._spec, target)
        self._path = target.resolve()
        self.undo_stack.setClean()
        self.file_changed.emit()
        return self._path

    # ------------------------------------------------------------------ internals
    def _set_spec(self, spec: ArchitectureSpec) -> None:
        self._spec = spec
        self.revision += 1
        self.changed.emit()

    def _apply(self, spec: ArchitectureSpec, selection: Sequence[Path]) -> None:
        """Used by undo commands only."""
        self._set_spec(spec)
        self.set_selection(selection)

    def _on_clean_changed(self, _clean: bool) -> None:
        self.file_changed.emit()

    def _push(self, make: Callable[[], cmd.SpecCommand]) -> bool:
        try:
            command = make()
        except editing.EditError as e:
            self.edit_failed.emit(str(e))
            return False
        if not command.changes_anything:
            return False
        self.undo_stack.push(command)
        return True

    # ------------------------------------------------------------------ edits
    def insertion_point(self) -> tuple[Path, int]:
        """Where a new block goes: after the last selected block, else before the head(s)."""
        if self._selection:
            last = self._selection[-1]
            return last[:-1], last[-1] + 1
        blocks = self._spec.blocks
        i = len(blocks)
        while i > 0 and (bt := registry.BLOCK_TYPES.get(blocks[i - 1].type)) is not None \
                and bt.family == "Heads":
            i -= 1
        return (), i

    def add_block(self, block_type: str, parent: Sequence[int] | None = None,
                  index: int | None = None) -> bool:
        """Adds a new block of `block_type` (default params) at a position or the insertion
        point."""
        try:
            block = editing.new_block(block_type)
        except editing.EditError as e:
            self.edit_failed.emit(str(e))
            return False
        if parent is None or index is None:
            parent, index = self.insertion_point()
        return self._push(lambda: cmd.InsertBlocksCommand(self, tuple(parent), index, [block]))

    def insert_blocks(self, parent: Sequence[int], index: int, blocks: Sequence[BlockSpec],
                      verb: str = "Add") -> bool:
        return self._push(lambda: cmd.InsertBlocksCommand(self, tuple(parent), index, blocks,
                                                          verb))

    def paste(self, text: str) -> bool:
        try:
            blocks = editing.blocks_from_json(text)
        except editing.EditError as e:
            self.edit_failed.emit(str(e))
            return False
        parent, index = self.insertion_point()
        return self.insert_blocks(parent, index, blocks, verb="Paste")

    def copy_text(self, paths: Sequence[Path] | None = None) -> str:
        return editing.blocks_to_json(self._spec, paths if paths is not None
                                      else self._selection)

    def remove(self, paths: Sequence[Path] | None = None) -> bool:
        paths = self._selection if paths is None else paths
        if not paths:
            return False
        return self._push(lambda: cmd.RemoveBlocksCommand(self, paths))

    def move(self, paths: Sequence[Path], parent: Sequence[int], index: int) -> bool:
        return self._push(lambda: cmd.MoveBlocksCommand(self, paths, tuple(parent), index))

    def move_by(self, delta: int, paths: Sequence[Path] | None = None) -> bool:
        paths = self._selection if paths is None else paths
        if not paths:
            return False
        return self._push(lambda: cmd.MoveByCommand(self, paths, delta))

    def duplicate(self, paths: Sequence[Path] | None = None) -> bool:
        paths = self._selection if paths is None else paths
        if not paths:
            return False
        return self._push(lambda: cmd.DuplicateBlocksCommand(self, paths))

    def wrap(self, paths: Sequence[Path] | None = None) -> bool:
        paths = self._selection if paths is None else paths
        if not paths:
            return False
        return self._push(lambda: cmd.WrapInResidualCommand(self, paths))

    def unwrap(self, path: Path | None = None) -> bool:
        if path is None:
            if len(self._selection) != 1:
                return False
            path = self._selection[0]
        return self._push(lambda: cmd.UnwrapCommand(self, path))

    def set_param(self, path: Path, name: str, value: Any) -> bool:
        return self._push(lambda: cmd.SetParamCommand(self, path, name, value))

    def reset_param(self, path: Path, name: str) -> bool:
        return self._push(lambda: cmd.ResetParamCommand(self, path, name))

    def rename(self, path: Path, name: str | None) -> bool:
        return self._push(lambda: cmd.RenameBlockCommand(self, path, name))

    def toggle_shortcut(self, path: Path | None = None) -> bool:
        if path is None:
            if len(self._selection) != 1:
                return False
            path = self._selection[0]
        return self._push(lambda: cmd.SetShortcutCommand(self, path))

    def set_shortcut(self, path: Path, mode: str) -> bool:
        return self._push(lambda: cmd.SetShortcutCommand(self, path, mode))

    def set_all_shortcuts(self, mode: str) -> bool:
        return self._push(lambda: cmd.SetAllShortcutsCommand(self, mode))

    def set_input(self, kind: str, shape: Sequence[int], vocab_size: int = 0) -> bool:
        return self._push(lambda: cmd.SetInputCommand(self, kind, shape, vocab_size))

    def set_info(self, field: str, value: Any) -> bool:
        return self._push(lambda: cmd.SetInfoCommand(self, field, value))
