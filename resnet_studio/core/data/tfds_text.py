"""Text classification from TensorFlow Datasets: single texts and sentence pairs.

Which features are the text and which the label:

- the builder's `supervised_keys` when it has them (`imdb_reviews`: text, label);
- else its `Text` features and its one `ClassLabel` (GLUE: `glue/sst2` → sentence, label;
  `glue/mrpc` → sentence1 + sentence2, label);
- else, or to choose, the name says it: `tfds:glue/qnli?text=question,sentence&label=label`.

One text becomes `[CLS] text [SEP]`, a pair `[CLS] a [SEP] b [SEP]` (BERT's layout; the longer
text is cut first when the pair does not fit). Segment ids are not stored: they follow from
the ids (0 up to the first `[SEP]`, 1 after; `segment_ids`), which is how the model's
backbone input adapter makes them. Examples labelled -1 (GLUE's test split, whose labels are
withheld) are not scored: when a test split has no labels, the dataset's `validation` split
is the test set, as the GLUE papers report.

Text sets are read into memory (the largest GLUE task, QNLI, is ~105k short pairs) so that the
tokenizer can be fitted on the training texts.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from .base import DEFAULT_TEXT_LENGTH, Dataset, DatasetError, DatasetInfo
from .tokenizers import CLS_ID, PAD_ID, SEP_ID, Tokenizer, fit_tokenizer

QUERY_KEYS = ("text", "label")
# A pair's two texts in `Dataset.texts` (previews, export checks): "a [SEP] b".
PAIR_JOIN = " [SEP] "


def split_query(name: str) -> tuple[str, dict[str, list[str]]]:
    """`tfds:glue/qnli?text=a,b&label=c` -> (`tfds:glue/qnli`, {"text": [a, b], "label": [c]}).

    Raises:
        DatasetError: An unknown key in the query.
    """
    base, _, query = name.partition("?")
    parsed = {k: [p for v in vs for p in v.split(",") if p] for k, vs in parse_qs(query).items()}
    unknown = sorted(set(parsed) - set(QUERY_KEYS))
    if unknown:
        raise DatasetError(f"{name}: unknown option {unknown[0]!r} after '?'; expected "
                           f"text=FEATURE[,FEATURE2] and label=FEATURE")
    return base, parsed


def text_keys(name: str, builder: Any, tfds: Any) -> tuple[list[str], str] | None:
    """(text feature keys, label key) of a text-classification dataset, None if not text.

    Raises:
        DatasetError: A text dataset whose features are ambiguous, or a query naming features
            it does not have.
    """
    _, query = split_query(name)
    features = builder.info.features
    texts = [k for k, f in features.items() if isinstance(f, tfds.features.Text)]
    labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    if query:
        chosen = query.get("text") or texts
        label = (query.get("label") or labels or [""])[0]
        missing = [k for k in [*chosen, label] if k not in features]
        if missing:
            raise DatasetError(f"{name}: no feature {missing[0]!r}; its features are "
                               f"{', '.join(features)}")
        bad = [k for k in chosen if not isinstance(features[k], tfds.features.Text)]
        if bad or not isinstance(features[label], tfds.features.ClassLabel):
            raise DatasetError(f"{name}: text= must name text features and label= a class "
                               f"label (features: {_describe(features, tfds)})")
        return _checked(name, chosen, label)
    keys = builder.info.supervised_keys
    if keys and len(keys) == 2 and all(isinstance(k, str) for k in keys):
        # Supervised keys decide (cifar10's text `id` is not its input).
        return ([keys[0]], keys[1]) if keys[0] in texts else None
    if not texts or any(isinstance(f, tfds.features.Image) for f in features.values()):
        return None
    if len(labels) == 1 and len(texts) in (1, 2):
        return _checked(name, texts, labels[0])
    raise DatasetError(
        f"{name}: which features are the text and which the label is ambiguous "
        f"({_describe(features, tfds)}). Name them: {name.partition('?')[0]}"
        f"?text=FEATURE[,FEATURE2]&label=FEATURE")


def _checked(name: str, texts: list[str], label: str) -> tuple[list[str], str]:
    if not 1 <= len(texts) <= 2:
        raise DatasetError(f"{name}: one text or a pair of texts is supported, not "
                           f"{len(texts)} ({', '.join(texts)})")
    return texts, label


def _describe(features: Any, tfds: Any) -> str:
    def kind(f: Any) -> str:
        if isinstance(f, tfds.features.Text):
            return "text"
        if isinstance(f, tfds.features.ClassLabel):
            return "label"
        return type(f).__name__
    return ", ".join(f"{k} ({kind(f)})" for k, f in features.items())


def encode_pairs(tokenizer: Tokenizer, first: list[str], second: list[str], length: int
                 ) -> np.ndarray:
    """`[CLS] a [SEP] b [SEP]` ids, the longer side cut first, padded to `length`."""
    if tokenizer.kind == "bytes":
        raise DatasetError("sentence pairs need a WordPiece tokenizer (input.tokenizer "
                           "'wordpiece' or a pretrained backbone's): bytes have no [SEP]")
    a_ids, b_ids = tokenizer.tokenize(first), tokenizer.tokenize(second)
    cls, sep = tokenizer.special_id("[CLS]", CLS_ID), tokenizer.special_id("[SEP]", SEP_ID)
    out = np.full((len(first), length), tokenizer.special_id("[PAD]", PAD_ID), np.int32)
    for i, (a, b) in enumerate(zip(a_ids, b_ids, strict=True)):
        a, b = list(a), list(b)
        while len(a) + len(b) > length - 3:  # longest first, as BERT's run_classifier
            (a if len(a) >= len(b) else b).pop()
        seq = [cls, *a, sep, *b, sep]
        out[i, : len(seq)] = seq
    return out


def segment_ids(ids: np.ndarray, sep_id: int = SEP_ID, pad_id: int = PAD_ID) -> np.ndarray:
    """Segment of each position: 0 through the first `[SEP]`, 1 after it; 0 on padding."""
    ids = np.asarray(ids)
    is_sep = ids == sep_id
    segment = (np.cumsum(is_sep, axis=-1) - is_sep) >= 1
    return np.where(ids == pad_id, 0, segment).astype(np.int32)


def _plan(builder: Any, validation_fraction: float) -> dict[str, str]:
    """Our splits as TFDS split strings; a test split without labels is replaced by the
    labelled `validation` split (GLUE)."""
    from .splits import held_out

    available = {k: int(v.num_examples) for k, v in builder.info.splits.items()}
    if available and "train" not in available:
        raise DatasetError(f"tfds:{builder.info.full_name}: has no 'train' split (it has "
                           f"{sorted(available)})")
    if available:
        n_train = available["train"]
        cut = n_train - held_out(n_train, validation_fraction)
        plan = {"train": f"train[:{cut}]",
                "validation": f"train[{cut}:]" if cut < n_train else ""}
    else:  # sizes unknown until prepared: percent slices
        pct = round(validation_fraction * 100)
        plan = {"train": f"train[:{100 - pct}%]", "validation": f"train[{100 - pct}%:]" if pct
                else ""}
    if "test" in available or not available:
        plan["test"] = "test"
    else:
        plan["test"] = "validation" if "validation" in available else plan["validation"]
    return plan


def load_text(name: str, builder: Any, tfds: Any, keys: tuple[list[str], str], *,
              validation_fraction: float, sequence_length: int | None, limit: int | None,
              tokenizer: str | None, vocab_size: int, description: str = "") -> Dataset:
    """Reads the splits into memory, fits the tokenizer on the training texts, encodes.

    `description` is the builder's description as `tfds.describe_text` words it (passed in:
    tfds.py calls this module, never the other way round).
    """
    from .splits import in_memory

    text_keys_, label_key = keys
    plan = _plan(builder, validation_fraction)

    def read(split: str) -> tuple[list[list[str]], np.ndarray]:
        if not split:
            return [[] for _ in text_keys_], np.zeros((0,), np.int64)
        try:
            rows = list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))
        except Exception as exc:
            raise DatasetError(f"{name}: cannot read split {split!r}: {exc}") from exc
        labels = np.array([int(r[label_key]) for r in rows], dtype=np.int64)
        keep = labels >= 0  # -1: label withheld (GLUE test): not scored
        texts = [[r[k].decode("utf-8", "replace") for r, ok in zip(rows, keep, strict=True)
                  if ok] for k in text_keys_]
        return texts, labels[keep]

    splits = {k: read(v) for k, v in plan.items()}
    if plan["test"] == "test" and not len(splits["test"][1]):
        # Every test label withheld (GLUE): the labelled validation split is scored instead.
        try:
            splits["test"] = read("validation")
        except DatasetError:
            pass  # no validation split either: an empty test set, said by its size
    fitted = fit_tokenizer(tokenizer, [t for texts in splits["train"][0] for t in texts],
                           vocab_size)
    length = sequence_length or DEFAULT_TEXT_LENGTH
    arrays = {}
    for split, (texts, labels) in splits.items():
        n = len(labels) if limit is None else min(limit, len(labels))
        texts = [t[:n] for t in texts]
        ids = (encode_pairs(fitted, texts[0], texts[1], length) if len(texts) == 2
               else fitted.encode(texts[0], length))
        arrays[split] = (ids, labels[:n])
    label = builder.info.features[label_key]
    info = DatasetInfo(
        name=name, task="classification", input_kind="tokens", input_shape=(length,),
        num_classes=int(label.num_classes),
        vocab_size=fitted.vocab_size,
        class_names=tuple(label.names) if label.names else None,
        sizes={k: len(v[1]) for k, v in arrays.items()}, offline=True,
        description=description)
    data = in_memory(info, arrays, None)
    # Pairs: the run records it, so that its exports take two strings (export_text.py).
    data.tokenizer = dataclasses.replace(fitted, pair=True) if len(text_keys_) == 2 else fitted
    data.texts = {k: [PAIR_JOIN.join(p) for p in zip(*[t[: len(arrays[k][1])] for t in v[0]],
                                                     strict=True)]
                  for k, v in splits.items()}
    return data
