"""Exports that serve raw input: sentence pairs as two strings, images as uint8 pixels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.core.data.tfds_text import PAIR_JOIN, encode_pairs
from resnet_studio.core.data.tokenizers import fit_tokenizer
from tests.processes import serve_text_in_bare_tensorflow

CORPUS = ["Return the square root of x.", "Open a TCP connection to the host and port.",
          "Pickle an object to a byte string.", "Read the whole file as text.",
          "Sort the list in place, stable.", "Parse a date from a string of digits."] * 3


@pytest.fixture(scope="module")
def pair_tokenizer():
    return dataclasses.replace(fit_tokenizer("wordpiece", CORPUS, 80), pair=True)


def test_pairs_are_framed_in_the_graph_as_in_the_data(pair_tokenizer) -> None:
    import tensorflow as tf

    from resnet_studio.core.export_text import _graph_pair_tokenize

    rng = np.random.default_rng(0)
    words = " ".join(CORPUS).split()
    first = [" ".join(rng.choice(words, rng.integers(0, 14))) for _ in range(40)]
    second = [" ".join(rng.choice(words, rng.integers(0, 14))) for _ in range(40)]
    for length in (5, 8, 12, 33):  # budgets that cut one side, both or neither
        want = encode_pairs(pair_tokenizer, first, second, length)
        graph = tf.function(_graph_pair_tokenize(pair_tokenizer, length))  # as served
        got = graph(tf.constant(first), tf.constant(second)).numpy()
        np.testing.assert_array_equal(got, want)  # integer ids: exact


def pair_model(vocab: int, length: int):
    """Token + segment embeddings (segments derived from the ids, as a backbone reads them),
    mean-pooled, 3 classes."""
    import keras

    from resnet_studio.core.blocks.layers import TextBackboneInput

    keras.utils.set_random_seed(1)
    ids = keras.Input((length,), dtype="int32")
    segments = TextBackboneInput("segment_ids", pad_id=0, sep_id=3)(ids)
    x = keras.layers.Embedding(vocab, 8)(ids) + keras.layers.Embedding(2, 8)(segments)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(ids, keras.layers.Dense(3)(x))


@pytest.mark.slow
def test_pair_export_serves_two_strings_reloaded_with_tensorflow_alone(pair_tokenizer,
                                                                      tmp_path: Path) -> None:
    from resnet_studio.core.export import export_model

    length = 16
    model = pair_model(pair_tokenizer.vocab_size, length)
    first, second = CORPUS[:4], CORPUS[5:9]
    texts = [PAIR_JOIN.join(p) for p in zip(first, second, strict=True)]
    ids = encode_pairs(pair_tokenizer, first, second, length)
    result = export_model(model, "savedmodel", tmp_path / "served", sample=ids,
                          tokenizer=pair_tokenizer, texts=texts)
    assert result.verified and result.details["input"].startswith("string pairs")
    expected = np.asarray(model(ids, training=False))
    # The segment embedding matters: the same texts as one pair the other way round differ.
    swapped = np.asarray(model(encode_pairs(pair_tokenizer, second, first, length)))
    assert np.abs(swapped - expected).max() > 1e-4
    served = serve_text_in_bare_tensorflow(tmp_path / "served", first, second)
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_a_pair_run_remembers_it(tmp_path: Path, pair_tokenizer) -> None:
    from resnet_studio.core.runs.vocabulary import load_tokenizer, save_tokenizer

    save_tokenizer(tmp_path, pair_tokenizer)
    assert load_tokenizer(tmp_path).pair
    save_tokenizer(tmp_path, dataclasses.replace(pair_tokenizer, pair=False))
    assert not load_tokenizer(tmp_path).pair


def test_digits_say_how_their_pixels_became_inputs() -> None:
    from resnet_studio.core.data import load_dataset

    data = load_dataset("digits", seed=0)
    raw = data.pixels.invert(data.x_test)
    assert raw.dtype == np.uint8 and raw.max() == 16 and raw.min() == 0  # counts of 4x4 blocks
    np.testing.assert_allclose(data.pixels.apply(raw), data.x_test, atol=1e-5)


@pytest.mark.slow
def test_an_image_run_exports_a_savedmodel_that_takes_uint8(tmp_path: Path) -> None:
    import tensorflow as tf

    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.training.restore import export_run, load_run_model
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig

    cfg = TrainingConfig.from_sources({"epochs": 1, "batch_size": 32})
    result = Trainer(load_preset("resnet8-digits"), "digits", cfg, run_dir=tmp_path / "run",
                     limit=64).run()
    assert result.status == "completed", result.error
    export = export_run(read_run(tmp_path / "run"), "savedmodel", str(tmp_path / "served"))
    assert export.verified and export.details["input"] == "uint8 images (8, 8, 1)"
    trainer, data = load_run_model(read_run(tmp_path / "run"))
    raw = data.pixels.invert(data.x_test[:16])
    served = tf.saved_model.load(str(tmp_path / "served"))
    got = served.serve(tf.constant(raw)).numpy()
    # The Keras model on the same images, preprocessed as training preprocessed them.
    expected = np.asarray(trainer.built.model(data.pixels.apply(raw), training=False))
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(served.serve_float(tf.constant(data.x_test[:16])).numpy(),
                               expected, atol=1e-4)
    with pytest.raises((TypeError, ValueError)):  # floats are not pixels
        served.serve(tf.constant(data.x_test[:2]))


@pytest.mark.slow
def test_a_glue_pair_run_exports_two_string_inputs(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """End to end on tfds.testing.mock_data: a run on glue/mrpc records that its examples
    are pairs, and its SavedModel's serve takes (text_a, text_b)."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from resnet_studio.core.data import tfds as tfds_mod
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.runs.vocabulary import load_tokenizer
    from resnet_studio.core.spec import spec_from_dict
    from resnet_studio.core.training.restore import export_run
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig
    from tests.core.test_text import MRPC, _glue_examples

    def as_dataset(self, split, **kwargs) -> tf.data.Dataset:
        name = next(k for k in MRPC if k in str(split))
        return tf.data.Dataset.from_tensor_slices(_glue_examples(MRPC[name]))

    spec = spec_from_dict({
        "schema_version": 1, "name": "pair-bag",
        "input": {"kind": "tokens", "shape": [24], "tokenizer": "wordpiece", "vocab_size": 80},
        "blocks": [{"type": "token_embedding", "name": "embed", "params": {"embed_dim": 8}},
                   {"type": "global_pool", "name": "pool", "params": {}},
                   {"type": "classifier_head", "name": "head", "params": {"classes": 2}}],
        "dataset": "tfds:glue/mrpc"})
    monkeypatch.setattr(tfds_mod, "network_available", lambda hosts, timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=12, as_dataset_fn=as_dataset):
        trainer = Trainer(spec, "tfds:glue/mrpc", TrainingConfig.from_sources(
            {"epochs": 1, "batch_size": 4}), run_dir=tmp_path / "run")
        assert trainer.run().status == "completed"
        assert load_tokenizer(tmp_path / "run").pair
        export = export_run(read_run(tmp_path / "run"), "savedmodel", str(tmp_path / "served"))
    assert export.verified and export.details["input"] == "string pairs (text_a, text_b)"
    first, second = ["The cat sat on the mat."], ["The weather was sunny."]
    served = tf.saved_model.load(str(tmp_path / "served"))
    got = served.serve(tf.constant(first), tf.constant(second)).numpy()
    ids = encode_pairs(trainer.data.tokenizer, first, second, 24)
    np.testing.assert_allclose(got, np.asarray(trainer.built.model(ids)), atol=1e-5)


def test_folder_images_say_how_their_pixels_became_inputs(tmp_path: Path) -> None:
    import tensorflow as tf

    from resnet_studio.core.data import load_dataset

    rng = np.random.default_rng(0)
    images = {}
    for c in ("cats", "dogs"):
        (tmp_path / c).mkdir()
        for i in range(10):
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            images[(c, i)] = pixels
            (tmp_path / c / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    data = load_dataset(f"folder:{tmp_path}", seed=0, validation_fraction=0.2)
    assert data.pixels.scale == pytest.approx(1 / 255) and len(data.pixels.mean) == 3
    x, _ = next(iter(data.split("test")))
    raw = data.pixels.invert(np.asarray(x)[None])[0]
    # The stored image is one of the files, exactly, and maps back to the model's input.
    assert any(np.array_equal(raw, p) for p in images.values())
    np.testing.assert_allclose(data.pixels.apply(raw), np.asarray(x), atol=1e-5)
