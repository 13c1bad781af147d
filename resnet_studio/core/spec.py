"""Architecture specs and the preset file format.

A spec is plain data: an input description, an ordered list of blocks (each with a type,
optional name, params and, for containers, child blocks), optional training defaults and a
dataset name. It serializes to the preset JSON (docs/architecture.md) and back without loss.

Loading is defensive: any bytes give either a spec or a `SpecError` listing every problem
with its location (`blocks[3].params.filters: expected a positive integer, got -64`).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_studio.core.params import Problem, _show

SCHEMA_VERSION = 1
INPUT_KINDS = ("image", "sequence", "tokens", "vector")
INPUT_FIELDS = ("kind", "shape", "vocab_size", "tokenizer")
# The tokenizers a tokens input can name (core/data/tokenizers.py; repeated here so that
# parsing a spec does not import the data package).
TOKENIZERS = ("bytes", "wordpiece")
# Rank of one example (no batch axis) for each input kind.
INPUT_RANKS = {"image": 3, "sequence": 2, "tokens": 1, "vector": 1}
MAX_INPUT_DIM = 16384
MAX_VOCAB = 10_000_000  # input.vocab_size; the editor's vocabulary field takes this range too
MAX_FILE_BYTES = 8 * 1024 * 1024  # a preset is a few KB; refuse to parse anything huge
MAX_NESTING = 32  # residual containers inside containers: deeper than this is a mistake
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
TOP_LEVEL_KEYS = (
    "schema_version", "name", "title", "description", "citation", "input", "blocks",
    "training", "dataset",
)


class SpecError(ValueError):
    """A spec or preset file is not acceptable.

    Args:
        problems: Every problem found, each with its location.
        source: The file (or other origin) the spec came from, named in the message.
    """

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = [str(p) for p in self.problems]
        if len(lines) == 1:
            super().__init__(head + lines[0])
        else:
            super().__init__(head + f"{len(lines)} problems:\n  " + "\n  ".join(lines))


@dataclass
class BlockSpec:
    """One block of an architecture.

    Args:
        type: Registered block type, e.g. `basic_block`.
        params: Parameter values; absent keys take the block type's defaults.
        name: Optional unique name; layers of the block are prefixed with it.
        blocks: Child blocks, for containers (`residual`) only.
        previous_shortcut: Editor memory, not part of the file format: the shortcut mode
            the block had before it was switched to `none`, so switching it back on restores
            the user's choice (`core.editing.toggle_shortcut`). Ignored by `==` and never
            saved.
    """

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    blocks: list[BlockSpec] | None = None
    previous_shortcut: str | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["params"] = copy.deepcopy(self.params)
        if self.blocks is not None:
            out["blocks"] = [b.to_dict() for b in self.blocks]
        return out

    def walk(self) -> Iterator[BlockSpec]:
        """This block, then its descendants, depth first."""
        yield self
        for child in self.blocks or []:
            yield from child.walk()


@dataclass
class InputSpec:
    """What one example looks like.

    Args:
        kind: `image` (H, W, C), `sequence` (T, F) floats, `tokens` (T,) integer ids,
            `vector` (F,).
        shape: Shape of one example, without the batch axis.
        vocab_size: Number of token ids, for `tokens` inputs (0 = from the dataset); with the
            `wordpiece` tokenizer, the size of the vocabulary to learn.
        tokenizer: For text-classification data: `bytes` (UTF-8 bytes, the default) or
            `wordpiece` (learnt from the training split). Part of how the data binds to the
            model, so it lives with the input.
    """

    kind: str
    shape: tuple[int, ...]
    vocab_size: int = 0
    tokenizer: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "shape": list(self.shape)}
        if self.vocab_size:
            out["vocab_size"] = self.vocab_size
        if self.tokenizer:
            out["tokenizer"] = self.tokenizer
        return out


@dataclass
class ArchitectureSpec:
    """A whole architecture, as stored in a preset file."""

    name: str
    input: InputSpec
    blocks: list[BlockSpec]
    title: str = ""
    description: str = ""
    citation: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "name": self.name}
        for key in ("title", "description", "citation"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        out["input"] = self.input.to_dict()
        out["blocks"] = [b.to_dict() for b in self.blocks]
        if self.training:
            out["training"] = copy.deepcopy(self.training)
        if self.dataset is not None:
            out["dataset"] = self.dataset
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def copy(self) -> ArchitectureSpec:
        return spec_from_dict(self.to_dict())

    def walk(self) -> Iterator[tuple[str, BlockSpec]]:
        """(location, block) for every block, depth first, e.g. (`blocks[4].blocks[1]`, …)."""

        def rec(blocks: list[BlockSpec], prefix: str) -> Iterator[tuple[str, BlockSpec]]:
            for i, b in enumerate(blocks):
                loc = f"{prefix}blocks[{i}]"
                yield loc, b
                if b.blocks:
                    yield from rec(b.blocks, loc + ".")

        return rec(self.blocks, "")


# --------------------------------------------------------------------------- migrations
# Each migration takes a dict at version N and returns it at version N + 1. Version 1 is
# the first published format, so there is nothing to migrate yet; the hook is here so that
# a rename later ships with its migration (as run.json does: docs/architecture.md). Training
# settings added since (weight_decay_mode/_on, milestone_unit, constant_warmup_*, image_size)
# default to what a file without them always meant (decoupled decay on weights only,
# fractional milestones, no warm-up), so version 1 files need no migration for them.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Brings a preset dict to `SCHEMA_VERSION`, or raises SpecError for unknown versions."""
    version = data.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SpecError([Problem("schema_version", f"expected a positive integer, got "
                                                   f"{_show(version)}")])
    if version > SCHEMA_VERSION:
        raise SpecError([Problem(
            "schema_version",
            f"this file was written by a newer ResNet Studio (schema_version {version}; this "
            f"version reads up to {SCHEMA_VERSION}). Update ResNet Studio to open it.")])
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["schema_version"] = version
    return data


# --------------------------------------------------------------------------- parsing
def _parse_input(value: Any, problems: list[Problem]) -> InputSpec | None:
    if not isinstance(value, dict):
        problems.append(Problem("input", f"expected an object with kind and shape, got "
                                         f"{_show(value)}"))
        return None
    for key in value:
        if key not in INPUT_FIELDS:
            problems.append(Problem(f"input.{key}", f"unknown field (known: "
                                                    f"{', '.join(INPUT_FIELDS)})"))
    kind = value.get("kind")
    if kind not in INPUT_KINDS:
        problems.append(Problem("input.kind", f"expected one of {', '.join(INPUT_KINDS)}, got "
                                              f"{_show(kind)}"))
        return None
    shape = value.get("shape")
    rank = INPUT_RANKS[kind]
    if not isinstance(shape, list) or len(shape) != rank or not all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_INPUT_DIM
        for d in shape
    ):
        problems.append(Problem(
            "input.shape",
            f"expected {rank} positive integer(s) up to {MAX_INPUT_DIM:,} for a {kind} input, "
            f"got {_show(shape)}"))
        return None
    vocab = value.get("vocab_size", 0)
    if isinstance(vocab, bool) or not isinstance(vocab, int) or not 0 <= vocab <= MAX_VOCAB:
        problems.append(Problem("input.vocab_size", f"expected an integer from 0 to "
                                                    f"{MAX_VOCAB:,}, got {_show(vocab)}"))
        vocab = 0
    tokenizer = value.get("tokenizer", "")
    if tokenizer not in ("", *TOKENIZERS) or (tokenizer and kind != "tokens"):
        problems.append(Problem("input.tokenizer", f"expected one of {', '.join(TOKENIZERS)} "
                                                   f"on a tokens input, got {_show(tokenizer)}"))
        tokenizer = ""
    return InputSpec(kind=kind, shape=tuple(shape), vocab_size=vocab, tokenizer=tokenizer)


def _parse_block(value: Any, location: str, depth: int, problems: list[Problem]
                 ) -> BlockSpec | None:
    if not isinstance(value, dict):
        problems.append(Problem(location, f"expected a block object, got {_show(value)}"))
        return None
    for key in value:
        if key not in ("type", "name", "params", "blocks"):
            problems.append(Problem(f"{location}.{key}",
                                    "unknown field (known: type, name, params, blocks)"))
    btype = value.get("type")
    if not isinstance(btype, str) or not btype:
        problems.append(Problem(f"{location}.type", f"expected a block type name, got "
                                                    f"{_show(btype)}"))
        return None
    name = value.get("name")
    if name is not None and (not isinstance(name, str) or not NAME_RE.match(name)):
        problems.append(Problem(
            f"{location}.name",
            f"expected a name of letters, digits, '_' or '-' starting with a letter (at most "
            f"64), got {_show(name)}"))
        name = None
    params = value.get("params", {})
    if not isinstance(params, dict):
        problems.append(Problem(f"{location}.params", f"expected an object, got {_show(params)}"))
        params = {}
    children = None
    if "blocks" in value:
        raw = value["blocks"]
        if not isinstance(raw, list):
            problems.append(Problem(f"{location}.blocks", f"expected a list of blocks, got "
                                                          f"{_show(raw)}"))
        elif depth >= MAX_NESTING:
            problems.append(Problem(f"{location}.blocks",
                                    f"blocks nested deeper than {MAX_NESTING} levels (at most "
                                    f"{MAX_NESTING - 1} containers inside one another)"))
        else:
            children = []
            for i, child in enumerate(raw):
                parsed = _parse_block(child, f"{location}.blocks[{i}]", depth + 1, problems)
                if parsed is not None:
                    children.append(parsed)
    return BlockSpec(type=btype, params=dict(params), name=name, blocks=children)


def spec_from_dict(data: Any, source: str | None = None) -> ArchitectureSpec:
    """Parses and fully validates a preset dict (structure, block types, params, training).

    Raises:
        SpecError: with every problem found.
    """
    if not isinstance(data, dict):
        raise SpecError([Problem("", f"expected a JSON object at the top level, got "
                                     f"{type(data).__name__}")], source)
    try:
        data = migrate(copy.deepcopy(data))
    except SpecError as e:
        raise SpecError(e.problems, source) from None
    problems: list[Problem] = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(Problem(key, f"unknown field (known: {', '.join(TOP_LEVEL_KEYS)})"))
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(Problem("name", f"expected a name of letters, digits, '_' or '-' "
                                        f"starting with a letter, got {_show(name)}"))
        name = "untitled"
    texts = {}
    for key in ("title", "description", "citation"):
        v = data.get(key, "")
        if not isinstance(v, str):
            problems.append(Problem(key, f"expected a string, got {_show(v)}"))
            v = ""
        texts[key] = v
    inp = _parse_input(data.get("input"), problems)
    raw_blocks = data.get("blocks")
    blocks: list[BlockSpec] = []
    if not isinstance(raw_blocks, list) or not raw_blocks:
        problems.append(Problem("blocks", f"expected a non-empty list of blocks, got "
                                          f"{_show(raw_blocks)}"))
    else:
        for i, b in enumerate(raw_blocks):
            parsed = _parse_block(b, f"blocks[{i}]", 1, problems)
            if parsed is not None:
                blocks.append(parsed)
    training = data.get("training", {})
    if not isinstance(training, dict):
        problems.append(Problem("training", f"expected an object, got {_show(training)}"))
        training = {}
    dataset = data.get("dataset")
    if dataset is not None and (not isinstance(dataset, str) or not dataset):
        problems.append(Problem("dataset", f"expected a dataset name, got {_show(dataset)}"))
        dataset = None
    if problems or inp is None:
        raise SpecError(problems, source)
    spec = ArchitectureSpec(name=name, input=inp, blocks=blocks, training=dict(training),
                            dataset=dataset, **texts)
    problems = validate(spec)
    if problems:
        raise SpecError(problems, source)
    return spec


def validate(spec: ArchitectureSpec) -> list[Problem]:
    """Checks block types, params, names and training settings (not shapes: see builder)."""
    # Imported here: the block registry imports this module for BlockSpec.
    from resnet_studio.core.blocks import registry
    from resnet_studio.core.training_config import check_training

    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for loc, block in spec.walk():
        btype = registry.BLOCK_TYPES.get(block.type)
        if btype is None:
            problems.append(Problem(f"{loc}.type", f"unknown block type {_show(block.type)}"
                                                   f"{registry.suggest(block.type)}"))
            continue
        problems.extend(btype.check(block, loc))
        if block.name is not None:
            if block.name in seen:
                problems.append(Problem(f"{loc}.name", f'"{block.name}" is already the name of '
                                                       f"{seen[block.name]}"))
            seen[block.name] = loc
    problems.extend(check_training(spec.training, "training"))
    return problems


# --------------------------------------------------------------------------- files
def _reject_constant(token: str) -> float:
    # json accepts NaN/Infinity by default; a preset with them is broken, say so.
    raise ValueError(f"{token} is not allowed in a preset (numbers must be finite)")


def parse_json_text(text: str, source: str) -> Any:
    """json.loads with messages that name the file, line and column; NaN/∞ refused."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise SpecError([Problem("", f"not valid JSON: {e.msg} at line {e.lineno}, column "
                                     f"{e.colno}")], source) from None
    except ValueError as e:
        raise SpecError([Problem("", str(e))], source) from None
    except RecursionError:
        raise SpecError([Problem("", "JSON nested too deeply to be a preset")], source) from None


def loads_spec(text: str | bytes, source: str = "<preset>") -> ArchitectureSpec:
    """Parses preset text (or bytes, which must be UTF-8)."""
    if isinstance(text, bytes):
        if b"\x00" in text:
            raise SpecError([Problem("", "this is a binary file, not a JSON preset")], source)
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise SpecError([Problem("", f"not UTF-8 text (byte {e.start}): presets are UTF-8 "
                                         "JSON")], source) from None
    if not text.strip():
        raise SpecError([Problem("", "the file is empty")], source)
    data = parse_json_text(text, source)
    # Floats that overflow (1e999) parse as inf without going through parse_constant.
    bad = _find_non_finite(data, "")
    if bad is not None:
        raise SpecError([Problem(bad, "numbers must be finite (got infinity)")], source)
    return spec_from_dict(data, source)


def _find_non_finite(value: Any, loc: str) -> str | None:
    stack = [(value, loc)]
    while stack:
        v, where = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return where or "(top level)"
        if isinstance(v, dict):
            stack.extend((x, f"{where}.{k}" if where else str(k)) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((x, f"{where}[{i}]") for i, x in enumerate(v))
    return None


def load_spec(path: str | os.PathLike[str]) -> ArchitectureSpec:
    """Reads a preset file. Raises SpecError naming the file for anything unreadable."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError([Problem("", f"file is {size:,} bytes; a preset is at most "
                                         f"{MAX_FILE_BYTES:,}")], str(p))
        raw = p.read_bytes()
    except FileNotFoundError:
        raise SpecError([Problem("", "no such file")], str(p)) from None
    except IsADirectoryError:
        raise SpecError([Problem("", "is a folder, not a preset file")], str(p)) from None
    except OSError as e:
        raise SpecError([Problem("", f"cannot read: {e.strerror or e}")], str(p)) from None
    return loads_spec(raw, str(p))


def atomic_write_text(path: str | os.PathLike[str], text: str, *, backup: bool = True) -> None:
    """Writes `text` so that a crash leaves either the old or the new file, never half.

    Temporary file in the same folder + fsync + rename; the previous version is kept as
    `NAME~` when `backup` is true.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        # mkstemp creates 0600 files; keep the target's mode, or the usual 0644 for new files.
        os.chmod(tmp, p.stat().st_mode & 0o777 if p.exists() else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if backup and p.exists():
            # Copy, not move: the target must exist at every instant.
            shutil.copy2(p, p.with_name(p.name + "~"))
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_spec(spec: ArchitectureSpec, path: str | os.PathLike[str]) -> None:
    """Writes the spec as preset JSON, atomically."""
    atomic_write_text(path, spec.to_json())
