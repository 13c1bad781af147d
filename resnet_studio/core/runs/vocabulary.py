"""A run's tokenizer: `tokenizer.json` (kind and settings) and `vocabulary.txt` (one token a
line, id = line number). Stored when a text run starts, so that evaluation and exports read
raw text exactly as training did, with or without the dataset or the preset folder."""

from __future__ import annotations

import os
from typing import Any

from resnet_studio.core.data.tokenizers import Tokenizer, read_vocabulary
from resnet_studio.core.runs import layout
from resnet_studio.core.runs.jsonfile import write_json

PathLike = str | os.PathLike[str]


def save_tokenizer(run_dir: PathLike, tokenizer: Tokenizer) -> None:
    """Writes the tokenizer's settings and (WordPiece, preset) its vocabulary."""
    if tokenizer.vocabulary:
        text = "".join(f"{token}\n" for token in tokenizer.vocabulary)
        path = layout.vocabulary_txt(run_dir)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    write_json(layout.tokenizer_json(run_dir), tokenizer.to_dict())


def load_tokenizer(run_dir: PathLike) -> Tokenizer | None:
    """The run's tokenizer, or None for runs on data that is not text."""
    import json

    settings_path = layout.tokenizer_json(run_dir)
    if not settings_path.is_file():
        return None
    settings: dict[str, Any] = json.loads(settings_path.read_text(encoding="utf-8"))
    if settings.get("kind") == "bytes":
        return Tokenizer("bytes")
    return read_vocabulary(layout.vocabulary_txt(run_dir).read_text(encoding="utf-8"), settings)
