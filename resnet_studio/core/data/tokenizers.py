"""Tokenizers that turn texts into fixed-length token ids, as part of a dataset's binding.

- `bytes`: UTF-8 byte b is token b + 1, 0 pads (257 ids). Nothing to train or ship; every
  language works; sequences are long for their content.
- `wordpiece`: a WordPiece vocabulary (Wu et al. 2016, as in BERT) learnt from the *training*
  split only, with keras-hub's `compute_word_piece_vocabulary`, and applied with keras-hub's
  `WordPieceTokenizer`. Ids 0–4 are `[PAD] [UNK] [CLS] [SEP] [MASK]`; every sequence starts
  with `[CLS]` (the token a BERT-style classifier pools) and ends with `[SEP]` when it fits.
- `preset:PATH`: the tokenizer a keras-hub preset ships (a pretrained backbone's), framed with
  its own `[CLS]`/`[SEP]` ids the same way.

The vocabulary is plain data (`Tokenizer.vocabulary`, one token per id): the run folder stores
it, exports embed it and the dataset preview shows the tokens of sample texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .base import BYTE_VOCAB_SIZE, DatasetError

TOKENIZERS = ("bytes", "wordpiece")
# `preset:PATH`: a keras-hub preset's own tokenizer (set by a pretrained_backbone block).
PRESET_PREFIX = "preset:"
DEFAULT_TOKENIZER = "bytes"
# WordPiece vocabulary size when the spec leaves input.vocab_size at 0: enough for the
# built-in text set's ~1,500 docstrings without most ids being seen once.
DEFAULT_WORDPIECE_VOCAB = 2000
MAX_WORDPIECE_VOCAB = 200_000
RESERVED_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID = 0, 1, 2, 3


@dataclass(frozen=True)
class Tokenizer:
    """A fitted tokenizer: its kind and (WordPiece) its vocabulary.

    Args:
        kind: `"bytes"`, `"wordpiece"` or `"preset"`.
        vocabulary: Tokens, index = id; empty for `bytes`.
        lowercase: WordPiece lower-cases before splitting.
        strip_accents: WordPiece strips accents before splitting.
        preset: For `"preset"`, the keras-hub preset (folder or handle) it came from.
        pair: The data is sentence pairs, `[CLS] a [SEP] b [SEP]` (tfds_text.encode_pairs):
            exports then take two strings per example.
    """

    kind: str
    vocabulary: tuple[str, ...] = ()
    lowercase: bool = True
    strip_accents: bool = True
    preset: str = ""
    pair: bool = False
    _layer: list[Any] = field(default_factory=list, compare=False, repr=False)

    def special_id(self, token: str, default: int) -> int:
        """The id of `[CLS]`, `[SEP]`, … in this vocabulary (`default` if it has none)."""
        try:
            return self.vocabulary.index(token)
        except ValueError:
            return default

    @property
    def vocab_size(self) -> int:
        """Number of token ids (the embedding's input range)."""
        return BYTE_VOCAB_SIZE if self.kind == "bytes" else len(self.vocabulary)

    def encode(self, texts: Sequence[str], length: int) -> np.ndarray:
        """Returns `(len(texts), length)` int32 token ids, truncated or padded with 0.

        Example:

        >>> Tokenizer("bytes").encode(["hi"], 4).tolist()
        [[105, 106, 0, 0]]
        """
        if self.kind == "bytes":
            return encode_bytes([t.encode("utf-8") for t in texts], length)
        ids = self._wordpiece()(list(texts))
        cls, sep = self.special_id("[CLS]", CLS_ID), self.special_id("[SEP]", SEP_ID)
        out = np.full((len(texts), length), self.special_id("[PAD]", PAD_ID), dtype=np.int32)
        for i, row in enumerate(ids):
            row = np.asarray(row, dtype=np.int32)[: length - 2]
            seq = np.concatenate([[cls], row, [sep]])[:length]
            out[i, : len(seq)] = seq
        return out

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """WordPiece ids of each text, unframed and uncut (pairs frame them together)."""
        if self.kind == "bytes":
            return [[b + 1 for b in t.encode("utf-8")] for t in texts]
        return self._wordpiece()(list(texts))

    def tokens(self, ids: Sequence[int]) -> list[str]:
        """The tokens of `ids` as strings (for previews), padding left out."""
        pad = PAD_ID if self.kind == "bytes" else self.special_id("[PAD]", PAD_ID)
        ids = [int(i) for i in ids if int(i) != pad]
        if self.kind == "bytes":
            return [bytes([i - 1]).decode("latin-1") for i in ids if 0 < i < BYTE_VOCAB_SIZE]
        return [self.vocabulary[i] if i < len(self.vocabulary) else "[UNK]" for i in ids]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (the vocabulary is stored separately, one token a line)."""
        out = {"kind": self.kind, "vocab_size": self.vocab_size, "lowercase": self.lowercase,
               "strip_accents": self.strip_accents}
        if self.pair:
            out["texts_per_example"] = 2
        return {**out, "preset": self.preset} if self.preset else out

    def layer(self) -> Any:
        """The keras-hub tokenizer layer (made once, reused: it compiles a lookup table)."""
        if not self._layer:
            import keras_hub

            # A preset's WordPiece vocabulary and settings are all it needs: rebuilt from them,
            # a run's tokenizer works after the preset folder is gone.
            self._layer.append(keras_hub.tokenizers.WordPieceTokenizer(
                vocabulary=list(self.vocabulary), lowercase=self.lowercase,
                strip_accents=self.strip_accents, dtype="int32"))
        return self._layer[0]

    def _wordpiece(self) -> Any:
        layer = self.layer()

        def tokenize(texts: list[str]) -> list[list[int]]:
            # keras-hub returns Python lists for list input (a ragged tensor otherwise).
            out = layer(texts)
            return out.to_list() if hasattr(out, "to_list") else out

        return tokenize


def encode_bytes(texts: Sequence[bytes], length: int) -> np.ndarray:
    """Byte-level ids: byte b -> b + 1, 0 pads; each text truncated to `length` bytes."""
    out = np.zeros((len(texts), length), dtype=np.int32)
    for i, data in enumerate(texts):
        data = data[:length]
        out[i, : len(data)] = np.frombuffer(data, dtype=np.uint8).astype(np.int32) + 1
    return out


def check_tokenizer(kind: str | None) -> str:
    """Returns the tokenizer name, `bytes` for None.

    Raises:
        DatasetError: An unknown name.
    """
    kind = kind or DEFAULT_TOKENIZER
    if kind not in TOKENIZERS and not kind.startswith(PRESET_PREFIX):
        raise DatasetError(f"Expected a tokenizer in {TOKENIZERS}, received: tokenizer={kind!r}")
    return kind


def fit_tokenizer(kind: str | None, train_texts: Sequence[str], vocab_size: int = 0
                  ) -> Tokenizer:
    """Fits a tokenizer on the training texts (only WordPiece learns anything).

    Args:
        kind: `"bytes"` or `"wordpiece"` (None = bytes).
        train_texts: The training split's texts; validation and test texts must not be used,
            or their words would leak into the vocabulary.
        vocab_size: WordPiece vocabulary size (0 = `DEFAULT_WORDPIECE_VOCAB`). When the texts
            have fewer distinct pieces, the rest are `[unusedN]` placeholders.

    Raises:
        DatasetError: Unknown tokenizer or vocabulary size out of range.
    """
    kind = check_tokenizer(kind)
    if kind == "bytes":
        return Tokenizer("bytes")
    if kind.startswith(PRESET_PREFIX):
        return preset_tokenizer(kind.removeprefix(PRESET_PREFIX))
    size = vocab_size or DEFAULT_WORDPIECE_VOCAB
    if not len(RESERVED_TOKENS) < size <= MAX_WORDPIECE_VOCAB:
        raise DatasetError(f"Expected a WordPiece vocabulary size from {len(RESERVED_TOKENS) + 1} "
                           f"to {MAX_WORDPIECE_VOCAB:,}, received: vocab_size={vocab_size}")
    import keras_hub
    import tensorflow as tf

    # A list would be read as file names: the texts go in as a dataset.
    texts = tf.data.Dataset.from_tensor_slices(list(train_texts)).batch(256)
    vocab = keras_hub.tokenizers.compute_word_piece_vocabulary(
        texts, vocabulary_size=size, lowercase=True, strip_accents=True,
        reserved_tokens=list(RESERVED_TOKENS))
    # Texts with fewer distinct pieces give a smaller vocabulary. Padded with never-seen
    # "[unusedN]" entries (as BERT's vocabulary has) so the embedding has exactly the size the
    # spec asked for and the editor's parameter count is the trained model's.
    vocab = list(vocab) + [f"[unused{i}]" for i in range(size - len(vocab))]
    return Tokenizer("wordpiece", tuple(vocab[:size]))


def read_vocabulary(text: str, settings: dict[str, Any] | None = None) -> Tokenizer:
    """A WordPiece tokenizer from a vocabulary file's text (one token a line, id = line)
    and the settings `Tokenizer.to_dict` wrote beside it.

    Raises:
        DatasetError: A learnt vocabulary without the reserved tokens first.
    """
    settings = settings or {"kind": "wordpiece"}
    vocab = tuple(line for line in text.split("\n") if line)
    kind = settings.get("kind", "wordpiece")
    if kind == "wordpiece" and vocab[: len(RESERVED_TOKENS)] != RESERVED_TOKENS:
        raise DatasetError("vocabulary file: expected the reserved tokens "
                           f"{' '.join(RESERVED_TOKENS)} on its first lines")
    return Tokenizer(kind, vocab, bool(settings.get("lowercase", True)),
                     bool(settings.get("strip_accents", True)), str(settings.get("preset", "")),
                     settings.get("texts_per_example", 1) == 2)


def preset_tokenizer(preset: str) -> Tokenizer:
    """The tokenizer that a keras-hub preset ships (nothing is learnt).

    Raises:
        DatasetError: The preset has no tokenizer, or it cannot be read.
    """
    import keras_hub

    try:
        layer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
    except (ValueError, OSError) as e:
        raise DatasetError(f"preset {preset}: no tokenizer could be loaded ({e})") from None
    if not hasattr(layer, "vocabulary") or not hasattr(layer, "lowercase"):
        raise DatasetError(f"preset {preset}: its tokenizer ({type(layer).__name__}) is not "
                           f"WordPiece-based; only WordPiece presets (BERT and kin) are supported")
    vocab = tuple(str(t) for t in layer.get_vocabulary())
    return Tokenizer("preset", vocab, bool(layer.lowercase),
                     bool(getattr(layer, "strip_accents", False)), preset)


def text_backbone_preset(preset: str) -> str | None:
    """`preset` (a folder made absolute) when it ships a tokenizer, else None (image
    backbones). Handles are taken to be text backbones when their name says so."""
    if not isinstance(preset, str) or not preset:
        return None
    path = Path(preset).expanduser()
    if path.is_dir():  # a preset folder on disk, else a keras-hub handle
        path = path.resolve()
        return str(path) if (path / "tokenizer.json").is_file() else None
    return preset if any(w in preset for w in ("bert", "roberta", "electra")) else None


def text_load_args(spec: Any) -> dict[str, Any]:
    """`load_dataset` keywords that read text the way a model with this spec trains on it:
    the token length, and the tokenizer (a pretrained text backbone's own, whose ids its
    weights were trained on, else the spec's `input.tokenizer`). Empty for other inputs.

    Used by training and by the dataset preview, so the preview shows the tokens the model
    will see.
    """
    if spec.input.kind != "tokens":
        return {}
    tokenizer = spec.input.tokenizer or None
    for _, block in spec.walk():
        if block.type == "pretrained_backbone":
            preset = text_backbone_preset(block.params.get("preset", ""))
            if preset:
                tokenizer = f"{PRESET_PREFIX}{preset}"
                break
    vocab = spec.input.vocab_size if tokenizer == "wordpiece" else 0
    return {"sequence_length": int(spec.input.shape[0]), "tokenizer": tokenizer,
            "vocab_size": vocab}
