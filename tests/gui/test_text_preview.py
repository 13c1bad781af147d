"""The dataset preview tokenizes text the way the open architecture will train on it."""

from __future__ import annotations

import pytest

from resnet_studio.core.data.tokenizers import text_load_args
from resnet_studio.core.presets import load_preset
from resnet_studio.gui.training.panel import TrainPanel
from resnet_studio.gui.training.preview import load_preview, token_text


@pytest.mark.slow
def test_preview_shows_wordpiece_tokens_of_bert_tiny() -> None:
    spec = load_preset("bert-tiny")
    preview = load_preview("stdlib-docs", None, text_load_args(spec))
    assert not preview.error, preview.error
    assert preview.tokenizer == "wordpiece" and preview.tokens[0] == "[CLS]"
    assert preview.x.shape[1] == spec.input.shape[0]
    text = token_text(preview.x[0], None, tokens=preview.tokens)
    assert text.startswith("[CLS] ") and "[SEP]" in preview.tokens
    # The sizes shown are the whole dataset's, not those of the few samples the preview read.
    from resnet_studio.core.data import describe_dataset

    assert preview.info.sizes == describe_dataset("stdlib-docs").sizes
    assert preview.info.sizes["train"] > 100
    # An image set ignores the architecture's tokenizer.
    assert load_preview("digits", None, text_load_args(spec)).tokens is None


@pytest.mark.slow
def test_training_panel_preview_follows_the_architecture(qtbot) -> None:
    panel = TrainPanel()
    qtbot.addWidget(panel)
    spec = load_preset("bert-tiny")
    with qtbot.waitSignal(panel.loader.loaded, timeout=180_000):
        panel.set_preset_defaults(spec.training, spec.dataset, text_load_args(spec))
    qtbot.waitUntil(lambda: panel.preview is not None and panel.preview.tokens is not None,
                    timeout=180_000)
    assert panel.sample_text.text().startswith("[CLS] ")
    assert "tokens" in panel.sample_text.toolTip()
