"""The pretrained backbone's read-only inside view: a double-click on its card (or "Show
Inside…") lists the layers of a tiny saved BertBackbone, frozen ones marked."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from resnet_studio.core.spec import spec_from_dict
from resnet_studio.gui.backbone_view import BackboneView

TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras_hub

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "##s"]
    folder = tmp_path_factory.mktemp("bert")
    keras_hub.models.BertBackbone(vocabulary_size=len(vocab), num_layers=2, num_heads=2,
                                  hidden_dim=8, intermediate_dim=16,
                                  max_sequence_length=16).save_to_preset(str(folder))
    keras_hub.models.BertTokenizer(vocabulary=vocab).save_to_preset(str(folder))
    return folder


def spec(folder: Path, **params) -> object:
    return spec_from_dict({
        "schema_version": 1, "name": "bert-classifier", "input": {"kind": "tokens",
                                                                  "shape": [16]},
        "blocks": [{"type": "pretrained_backbone", "name": "bert",
                    "params": {"preset": str(folder), **params}},
                   {"type": "classifier_head", "name": "head", "params": {"classes": 3}}],
        "dataset": "stdlib-docs"})


def test_double_click_opens_the_layers_read_only(make_window, qtbot, bert_folder: Path) -> None:
    import keras_hub

    window = make_window(spec(bert_folder, unfreeze_top=1))
    canvas = window.canvas
    canvas.ensure_visible((0,))
    qtbot.mouseDClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      canvas.card_center((0,)))
    view = window.edit.backbone_view
    assert isinstance(view, BackboneView) and view.isVisible()
    with qtbot.waitSignal(view.ready, timeout=TIMEOUT_MS):
        pass
    assert view.error is None, view.error
    rows = {item.text(0): item for item in view.rows()}
    # Every layer of the backbone is listed, with its own parameter count.
    backbone = keras_hub.models.Backbone.from_preset(str(bert_folder), load_weights=False)
    for layer in backbone.layers:
        assert layer.name in rows
        if layer.weights:
            assert rows[layer.name].text(3) == f"{layer.count_params():,}"
    # unfreeze_top=1: the last transformer layer and the pooler train, the rest are frozen.
    assert rows["transformer_layer_1"].text(4) == "fine-tuned"
    assert rows["pooled_dense"].text(4) == "fine-tuned"
    assert rows["transformer_layer_0"].text(4) == "frozen"
    assert rows["token_embedding"].text(4) == "frozen"
    # Sublayers are shown under their layer.
    assert rows["transformer_layer_0"].childCount() >= 4
    assert f"{backbone.count_params():,} parameters" in view.header.text()
    # Read-only: nothing in it edits, and the document did not change.
    assert not any(item.flags() & Qt.ItemFlag.ItemIsEditable for item in view.rows())
    assert window.doc.undo_stack.count() == 0
    view.close()


def test_a_missing_preset_is_said_in_the_view(qtbot, tmp_path: Path) -> None:
    view = BackboneView("bert", {"preset": str(tmp_path / "gone" / "bert")})
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.ready, timeout=TIMEOUT_MS):
        pass
    assert "no preset folder" in view.header.text() and not view.rows()
