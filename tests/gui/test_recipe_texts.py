"""Texts the recipes change: the Learn pages say what the papers say, and the gradient plots
say what their norms include."""

from __future__ import annotations

from resnet_studio.core.presets import load_preset
from resnet_studio.gui import learn


def test_rezero_transformer_is_drawn_without_layer_norm() -> None:
    spec = load_preset("rezero-transformer-mnist1d")
    block = next(b for b in spec.blocks if b.type == "transformer_encoder")
    boxes = [box for unit in learn.units_of(block) for box in unit.boxes + unit.post]
    assert "LayerNorm" not in boxes
    assert "y = α·F(x) + x" in learn.explain(block).formula_html


def test_help_cites_the_papers_it_explains() -> None:
    html = learn.RESIDUAL_HELP_HTML
    assert "arXiv:1605.06431" in html  # Veit et al. 2016, the unraveled view
    assert "arXiv:2002.04745" in html  # Xiong et al. 2020, pre-LN
    assert "y = ReLU(x + p<sub>l</sub>·F(x))" in html  # Huang et al.'s test-time rule
    assert "Sec. 4.1, plain-18 against plain-34" in html


def test_gradient_plots_say_their_norms_include_the_l2_term(qtbot) -> None:
    from resnet_studio.gui.training.plots import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    for plot in (plots.heatmap_plot, plots.bars_plot, plots.picked_plot):
        assert "L2 term λ·w" in plot.toolTip()
