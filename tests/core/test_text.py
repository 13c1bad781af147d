"""Text classification: tokenizers, the built-in stdlib-docs set, text presets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.core.data import DatasetError, load_dataset, stdlib_docs
from resnet_studio.core.data.tokenizers import (
    CLS_ID,
    RESERVED_TOKENS,
    SEP_ID,
    Tokenizer,
    fit_tokenizer,
    read_vocabulary,
)
from resnet_studio.core.spec import SpecError, loads_spec

TEXTS = ["Return the square root of x.", "Open a file and return a stream."] * 20


def test_byte_tokens_are_utf8_bytes_plus_one() -> None:
    ids = Tokenizer("bytes").encode(["hé", "abcdef"], 4)
    assert ids.dtype == np.int32 and ids.shape == (2, 4)
    assert ids[0].tolist() == [ord("h") + 1, 0xC3 + 1, 0xA9 + 1, 0]
    assert ids[1].tolist() == [ord(c) + 1 for c in "abcd"]


def test_wordpiece_learns_from_texts_and_frames_with_cls_and_sep() -> None:
    tok = fit_tokenizer("wordpiece", TEXTS, 64)
    assert tok.vocabulary[: len(RESERVED_TOKENS)] == RESERVED_TOKENS
    # Padded to exactly the requested size, so the embedding matches the spec.
    assert tok.vocab_size == len(tok.vocabulary) == 64
    ids = tok.encode(["return the square root", "a very long text " * 20], 10)
    assert ids.shape == (2, 10)
    assert ids[0, 0] == CLS_ID and SEP_ID in ids[0].tolist()
    assert tok.tokens(ids[0]) == ["[CLS]", "return", "the", "square", "root", "[SEP]"]
    # Truncated texts keep [CLS] first and end in [SEP] at the last slot.
    assert ids[1, 0] == CLS_ID and ids[1, -1] == SEP_ID and 0 not in ids[1].tolist()
    # Unknown words map to [UNK] (id 1), never out of range.
    assert tok.encode(["zzzz"], 4)[0].max() < tok.vocab_size


def test_vocabulary_file_round_trip() -> None:
    tok = fit_tokenizer("wordpiece", TEXTS, 40)
    again = read_vocabulary("\n".join(tok.vocabulary) + "\n")
    assert again.vocabulary == tok.vocabulary
    assert np.array_equal(again.encode(TEXTS[:2], 12), tok.encode(TEXTS[:2], 12))
    with pytest.raises(DatasetError, match="reserved tokens"):
        read_vocabulary("a\nb\n")


def test_unknown_tokenizer_and_bad_size_are_named() -> None:
    with pytest.raises(DatasetError, match="tokenizer='sentencepiece'"):
        fit_tokenizer("sentencepiece", TEXTS)
    with pytest.raises(DatasetError, match="vocab_size=3"):
        fit_tokenizer("wordpiece", TEXTS, 3)
    with pytest.raises(DatasetError, match="text classification sets only"):
        load_dataset("digits", tokenizer="wordpiece")


def test_stdlib_docs_labels_come_from_modules_not_text() -> None:
    texts, labels, names = stdlib_docs.corpus()
    assert len(texts) == len(labels) == len(names) > 1000
    assert len(set(texts)) == len(texts)  # a docstring in two areas is dropped from both
    counts = np.bincount(labels, minlength=len(stdlib_docs.CLASS_NAMES))
    assert counts.min() >= 40, dict(zip(stdlib_docs.CLASS_NAMES, counts, strict=True))
    area_of_module = {m: a for a, mods in stdlib_docs.AREAS.items() for m in mods}
    for name, label in zip(names[:200], labels[:200], strict=True):
        module = max((m for m in area_of_module if name.startswith(m + ".")), key=len)
        assert stdlib_docs.CLASS_NAMES[label] == area_of_module[module], name


def test_stdlib_docs_loads_as_text_classification() -> None:
    data = load_dataset("stdlib-docs", seed=3, sequence_length=32)
    info = data.info
    assert info.to_dict()["task"] == "text-classification" and info.input_shape == (32,)
    assert info.num_classes == 8 and info.vocab_size == 257
    assert sum(info.sizes.values()) == len(stdlib_docs.corpus()[0])
    assert info.sizes == stdlib_docs.sizes(0.1)
    assert data.x_train.shape == (info.sizes["train"], 32) and data.x_train.dtype == np.int32
    # The raw texts line up with the token ids (bytes: id = byte + 1).
    first = data.texts["test"][0].encode("utf-8")[:32]
    assert data.x_test[0, : len(first)].tolist() == [b + 1 for b in first]
    # Same seed, same split; another seed, another split.
    assert data.texts["test"] == load_dataset("stdlib-docs", seed=3, limit=5000).texts["test"]
    assert data.texts["test"] != load_dataset("stdlib-docs", seed=4).texts["test"]


@pytest.mark.slow
def test_wordpiece_vocabulary_is_fitted_on_the_training_split_only() -> None:
    data = load_dataset("stdlib-docs", seed=0, sequence_length=24, tokenizer="wordpiece",
                        vocab_size=300, limit=64)
    assert data.info.vocab_size == 300 == data.tokenizer.vocab_size
    assert data.x_train.shape == (64, 24) and (data.x_train[:, 0] == CLS_ID).all()
    assert data.x_test.max() < 300
    # Refitting on the same (full) training texts gives the same vocabulary: the limit does
    # not change what was learnt.
    full = load_dataset("stdlib-docs", seed=0, sequence_length=24, tokenizer="wordpiece",
                        vocab_size=300)
    assert full.tokenizer.vocabulary == data.tokenizer.vocabulary


def test_text_folder_with_wordpiece(tmp_path: Path) -> None:
    for label, word in (("cats", "meow purr whiskers"), ("dogs", "woof bark fetch")):
        folder = tmp_path / label
        folder.mkdir()
        for i in range(6):
            (folder / f"{i}.txt").write_text(f"{word} number {i}", encoding="utf-8")
    data = load_dataset(f"folder:{tmp_path}", sequence_length=8, tokenizer="wordpiece",
                        vocab_size=60, validation_fraction=0.0)
    assert data.info.class_names == ("cats", "dogs") and data.info.vocab_size == 60
    x, y = data.arrays("train")
    for row, label in zip(x, y, strict=True):
        # The first word, put back together from its pieces, is the class's word.
        pieces = data.tokenizer.tokens(row)[1:]
        word = pieces[0] + "".join(p[2:] for p in pieces[1:] if p.startswith("##"))
        assert word.startswith(("meow", "woof")[label]), pieces


def test_input_tokenizer_in_spec_is_validated() -> None:
    text = Path(__file__).resolve().parents[2].joinpath("presets", "bert-tiny.json").read_text()
    spec = loads_spec(text, "bert-tiny")
    assert spec.input.tokenizer == "wordpiece" and spec.input.to_dict()["tokenizer"] == "wordpiece"
    bad = json.loads(text)
    bad["input"]["tokenizer"] = "sentencepiece"
    with pytest.raises(SpecError, match="input.tokenizer"):
        loads_spec(json.dumps(bad), "bad")
    bad["input"] = {"kind": "vector", "shape": [4], "tokenizer": "wordpiece"}
    with pytest.raises(SpecError, match="input.tokenizer"):
        loads_spec(json.dumps(bad), "bad")


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["bert-tiny", "residual-lstm-text"])
def test_text_presets_bind_to_stdlib_docs(preset: str) -> None:
    from resnet_studio.core.builder import summarize
    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.training.trainer import binding_for

    spec = load_preset(preset)
    assert spec.dataset == "stdlib-docs" and spec.input.tokenizer == "wordpiece"
    data = load_dataset("stdlib-docs", sequence_length=spec.input.shape[0], limit=8,
                        tokenizer="wordpiece", vocab_size=spec.input.vocab_size)
    # The trained model's parameter count is the one the editor shows for the spec alone.
    assert summarize(spec, binding_for(data.info)).total_params == summarize(spec).total_params


def test_first_position_pooling_keeps_the_cls_vector() -> None:
    import keras

    from resnet_studio.core.builder import build_model

    spec = loads_spec(json.dumps({
        "schema_version": 1, "name": "pool-first",
        "input": {"kind": "sequence", "shape": [5, 3]},
        "blocks": [{"type": "global_pool", "params": {"mode": "first"}}]}), "pool-first")
    model = build_model(spec).model
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), x[:, 0, :])


# ------------------------------------------------------------------------- TFDS text sets

MRPC = {
    "train": [("The cat sat on the mat.", "A cat was sitting on a mat.", 1),
              ("Stocks fell sharply today.", "The weather was sunny.", 0)] * 6,
    "validation": [("He opened the file.", "The file was opened by him.", 1)] * 3,
    # GLUE's test labels are withheld: TFDS stores -1.
    "test": [("Unlabelled first.", "Unlabelled second.", -1)] * 4,
}


def _glue_examples(rows: list[tuple[str, str, int]]) -> dict:
    return {"sentence1": [a for a, _, _ in rows], "sentence2": [b for _, b, _ in rows],
            "label": [y for _, _, y in rows], "idx": list(range(len(rows)))}


@pytest.mark.slow
def test_tfds_sentence_pairs_without_supervised_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from resnet_studio.core.data import tfds as tfds_mod
    from resnet_studio.core.data.tfds_text import segment_ids

    def as_dataset(self, split, **kwargs) -> tf.data.Dataset:
        name = next(k for k in MRPC if k in str(split))
        return tf.data.Dataset.from_tensor_slices(_glue_examples(MRPC[name]))

    monkeypatch.setattr(tfds_mod, "network_available", lambda hosts, timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=12, as_dataset_fn=as_dataset):
        info = tfds_mod.describe("tfds:glue/mrpc")
        assert info.to_dict()["task"] == "text-classification" and info.num_classes == 2
        data = load_dataset("tfds:glue/mrpc", sequence_length=24, tokenizer="wordpiece",
                            vocab_size=80, validation_fraction=0.0)
    tok = data.tokenizer
    assert tok.pair  # exports of runs on it take two strings
    # The unlabelled test split is not scored: GLUE's validation split is the test set.
    assert data.info.sizes["test"] == 3 and set(data.y_test.tolist()) == {1}
    ids = data.x_train[0]
    words = tok.tokens(ids)
    assert words[0] == "[CLS]" and words.count("[SEP]") == 2 and words[-1] == "[SEP]"
    first_sep = words.index("[SEP]")
    expected_a = tok.tokens(tok.encode(["The cat sat on the mat."], 24)[0])[1:-1]
    assert words[1:first_sep] == expected_a
    segments = segment_ids(ids)
    n = len(words)
    assert segments[: first_sep + 1].tolist() == [0] * (first_sep + 1)
    assert segments[first_sep + 1 : n].tolist() == [1] * (n - first_sep - 1)
    assert segments[n:].tolist() == [0] * (24 - n)  # padding
    assert data.texts["test"][0] == "He opened the file. [SEP] The file was opened by him."


@pytest.mark.slow
def test_tfds_ambiguous_text_features_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow_datasets as tfds

    from resnet_studio.core.data import tfds as tfds_mod

    monkeypatch.setattr(tfds_mod, "network_available", lambda hosts, timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=8):
        # glue/sst2 has no supervised_keys: its one text and one label are found.
        data = load_dataset("tfds:glue/sst2", sequence_length=16, limit=4)
        assert data.info.input_shape == (16,) and data.info.num_classes == 2
        # Choosing features by name; a name it does not have is refused naming it.
        pair = load_dataset("tfds:glue/qnli?text=question,sentence&label=label",
                            sequence_length=16, tokenizer="wordpiece", vocab_size=40, limit=4)
        assert pair.x_train.shape == (4, 16)
        with pytest.raises(DatasetError, match="no feature 'query'"):
            load_dataset("tfds:glue/qnli?text=query&label=label")
        with pytest.raises(DatasetError, match="need a WordPiece tokenizer"):
            load_dataset("tfds:glue/mrpc", limit=4)


def test_a_text_run_feeds_the_live_history() -> None:
    """The Training tab's plots take a text run's Started event (its dataset says
    "text-classification") and its gradient norms."""
    from resnet_studio.core.data import describe_dataset
    from resnet_studio.core.runs.history import RunHistory
    from resnet_studio.core.training.events import GradNorms, Started

    dataset = describe_dataset("stdlib-docs").to_dict()
    assert dataset["task"] == "text-classification"
    history = RunHistory()
    history.apply(Started("run", "CPU", {}, ["a", "b"], ["x", "y"], 1, 10, 0, 0, {}, dataset))
    history.apply(GradNorms(1, np.array([0.5, 0.25], np.float32)))
    assert history.layers == ["a", "b"] and history.gradients is not None
