"""The pretrained_backbone block, offline: a tiny keras-hub BertBackbone saved with
save_to_preset, fine-tuned on the built-in text set, exported as a SavedModel that reads
strings and reloaded with TensorFlow alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.core.builder import BlockBuildError, build_model
from resnet_studio.core.spec import spec_from_dict
from tests.processes import serve_text_in_bare_tensorflow

LENGTH = 32


@pytest.fixture(scope="module")
def bert_preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, width-16 BERT with a WordPiece vocabulary learnt from the docstrings."""
    import keras
    import keras_hub

    from resnet_studio.core.data import stdlib_docs
    from resnet_studio.core.data.tokenizers import fit_tokenizer

    keras.utils.set_random_seed(0)
    vocab = list(fit_tokenizer("wordpiece", stdlib_docs.corpus()[0][:200], 300).vocabulary)
    folder = tmp_path_factory.mktemp("tiny-bert")
    keras_hub.models.BertBackbone(vocabulary_size=len(vocab), num_layers=2, num_heads=2,
                                  hidden_dim=16, intermediate_dim=32,
                                  max_sequence_length=LENGTH).save_to_preset(str(folder))
    keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=True).save_to_preset(str(folder))
    return folder


def backbone_spec(preset: Path | str, **params) -> dict:
    return {"schema_version": 1, "name": "tiny-bert-classifier",
            "input": {"kind": "tokens", "shape": [LENGTH]},
            "blocks": [{"type": "pretrained_backbone", "name": "bert",
                        "params": {"preset": str(preset), **params}},
                       {"type": "classifier_head", "name": "head", "params": {"classes": 8}}],
            "dataset": "stdlib-docs"}


def test_the_backbone_arrives_with_its_pretrained_weights(bert_preset: Path) -> None:
    import keras_hub

    built = build_model(spec_from_dict(backbone_spec(bert_preset)))
    pretrained = keras_hub.models.Backbone.from_preset(str(bert_preset)).get_weights()
    ours = next(la for la in built.model.layers if "backbone" in la.name).get_weights()
    assert len(ours) == len(pretrained) > 10
    for a, b in zip(ours, pretrained, strict=True):
        np.testing.assert_array_equal(a, b)
    # The summary counts the backbone's parameters (declared, not loaded).
    assert built.summary.total_params == built.model.count_params()


def test_frozen_and_top_layers_only(bert_preset: Path) -> None:
    frozen = build_model(spec_from_dict(backbone_spec(bert_preset, trainable=False)))
    assert frozen.summary.trainable_params == 16 * 8 + 8  # the head alone
    top = build_model(spec_from_dict(backbone_spec(bert_preset, unfreeze_top=1)))
    backbone = next(la for la in top.model.layers if "backbone" in la.name)
    trainable = {la.name for la in backbone.layers if la.trainable and la.weights}
    assert trainable == {"transformer_layer_1", "pooled_dense"}


def test_a_missing_preset_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(BlockBuildError, match="no preset folder"):
        build_model(spec_from_dict(backbone_spec(tmp_path / "nowhere" / "x")))
    with pytest.raises(BlockBuildError, match="config.json"):
        build_model(spec_from_dict(backbone_spec(tmp_path)))


@pytest.mark.slow
def test_fine_tune_export_strings_and_reload_with_tensorflow_alone(bert_preset: Path,
                                                                     tmp_path: Path) -> None:
    import shutil

    from resnet_studio.core.runs import read_run
    from resnet_studio.core.runs.vocabulary import load_tokenizer
    from resnet_studio.core.training.restore import evaluate_run, export_run
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig

    cfg = TrainingConfig.from_sources({"epochs": 1, "batch_size": 16, "optimizer": "adam",
                                       "learning_rate": 0.001})
    preset = tmp_path / "preset"  # a copy, deleted once the run has trained
    shutil.copytree(bert_preset, preset)
    trainer = Trainer(spec_from_dict(backbone_spec(preset)), "stdlib-docs", cfg,
                      run_dir=tmp_path / "run", limit=64)
    result = trainer.run()
    assert result.status == "completed", result.error
    texts = ["Return the square root of x.", "Open a TCP connection to the host.",
             "Pickle an object to a byte string."]
    trained = np.asarray(trainer.built.model(trainer.data.tokenizer.encode(texts, LENGTH),
                                             training=False))
    # The run is self-contained: the preset's description (not its weights) is in the run.
    copy = tmp_path / "run" / "backbones" / "bert"
    assert (copy / "config.json").is_file() and (copy / "assets").is_dir()
    assert not (copy / "model.weights.h5").exists()
    shutil.rmtree(preset)
    assert 0.0 <= evaluate_run(read_run(tmp_path / "run"))["accuracy"] <= 1.0
    # The preset's tokenizer became the dataset's, and the run keeps it.
    tokenizer = load_tokenizer(tmp_path / "run")
    assert tokenizer.kind == "preset" and len(tokenizer.vocabulary) == 300
    # Gradient norms by depth include every backbone layer.
    layers = json.loads((tmp_path / "run" / "gradients" / "layers.json").read_text())["layers"]
    assert "bert_backbone/transformer_layer_0" in layers and layers[-1] == "head_logits"

    run = read_run(tmp_path / "run")
    export = export_run(run, "savedmodel", str(tmp_path / "served"))
    assert export.details["input"] == "strings" and export.verified
    import tensorflow as tf

    # The model's own graph on the ids our tokenizer makes, as the export holds it.
    served_here = tf.saved_model.load(str(tmp_path / "served"))  # kept: it owns the variables
    expected = served_here.serve_ids(tf.constant(tokenizer.encode(texts, LENGTH))).numpy()
    served = serve_text_in_bare_tensorflow(tmp_path / "served", texts)
    np.testing.assert_allclose(served, expected, atol=1e-5)
    # ... and equal to the model as it was trained, before its preset folder was deleted.
    np.testing.assert_allclose(served, trained, atol=1e-4)
    assert (served.argmax(1) == expected.argmax(1)).all()


def test_segment_ids_follow_the_first_sep_as_in_the_data() -> None:
    from resnet_studio.core.blocks.layers import TextBackboneInput
    from resnet_studio.core.data.tfds_text import segment_ids

    ids = np.array([[2, 7, 8, 3, 9, 9, 3, 0, 0], [2, 7, 3, 0, 0, 0, 0, 0, 0]], dtype=np.int32)
    layer = TextBackboneInput("segment_ids", pad_id=0, sep_id=3)
    got = np.asarray(layer(ids))
    np.testing.assert_array_equal(got, segment_ids(ids, sep_id=3, pad_id=0))
    assert got.tolist()[0] == [0, 0, 0, 0, 1, 1, 1, 0, 0] and not got[1].any()
    mask = np.asarray(TextBackboneInput("padding_mask")(ids))
    np.testing.assert_array_equal(mask, (ids != 0).astype(np.int32))


@pytest.fixture(scope="module")
def resnet_preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest keras-hub ResNetBackbone the class allows (its first stage must have 64
    filters): a 3x3 stem and one basic block, 76,224 parameters, any image size."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("tiny-resnet")
    keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64],
        stackwise_num_blocks=[1], stackwise_num_strides=[1], block_type="basic_block",
        image_shape=(None, None, 3)).save_to_preset(str(folder))
    return folder


def image_spec(preset: Path, shape=(8, 8, 1)) -> dict:
    return {"schema_version": 1, "name": "hub-resnet-digits",
            "input": {"kind": "image", "shape": list(shape)},
            "blocks": [{"type": "pretrained_backbone", "name": "resnet",
                        "params": {"preset": str(preset)}},
                       {"type": "global_pool", "name": "pool", "params": {}},
                       {"type": "classifier_head", "name": "head", "params": {"classes": 10}}],
            "dataset": "digits"}


def test_grey_images_reach_an_rgb_backbone(resnet_preset: Path) -> None:
    import keras_hub

    built = build_model(spec_from_dict(image_spec(resnet_preset)))
    adapter = built.model.get_layer("resnet_to_rgb")
    grey = np.random.default_rng(0).normal(size=(2, 8, 8, 1)).astype("float32")
    rgb = np.asarray(adapter(grey))
    assert rgb.shape == (2, 8, 8, 3) and all(np.array_equal(rgb[..., c], grey[..., 0])
                                             for c in range(3))
    pretrained = keras_hub.models.Backbone.from_preset(str(resnet_preset)).get_weights()
    ours = built.model.get_layer("resnet_backbone").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(ours, pretrained, strict=True))
    with pytest.raises(BlockBuildError, match="3 channels; the input has 2"):
        build_model(spec_from_dict(image_spec(resnet_preset, (8, 8, 2))))


@pytest.mark.slow
def test_a_keras_hub_resnet_fine_tunes_on_digits(resnet_preset: Path, tmp_path: Path) -> None:
    from resnet_studio.core.training.trainer import Trainer
    from resnet_studio.core.training_config import TrainingConfig

    cfg = TrainingConfig.from_sources({"epochs": 1, "batch_size": 32, "optimizer": "adam",
                                       "learning_rate": 0.003})
    trainer = Trainer(spec_from_dict(image_spec(resnet_preset)), "digits", cfg,
                      run_dir=tmp_path / "run", limit=256)
    result = trainer.run()
    assert result.status == "completed", result.error
    layers = json.loads((tmp_path / "run" / "gradients" / "layers.json").read_text())["layers"]
    assert "resnet_backbone/stack0_block0_1_conv" in layers and layers[-1] == "head_logits"
    assert (tmp_path / "run" / "backbones" / "resnet" / "config.json").is_file()
    first = np.asarray(trainer.model.get_layer("resnet_backbone").get_weights()[0])
    start = keras_first_kernel(resnet_preset)
    assert np.abs(first - start).max() > 0  # fine-tuned, not frozen
    assert 0.0 <= result.test["accuracy"] <= 1.0


def keras_first_kernel(preset: Path) -> np.ndarray:
    import keras_hub

    return np.asarray(keras_hub.models.Backbone.from_preset(str(preset)).get_weights()[0])
