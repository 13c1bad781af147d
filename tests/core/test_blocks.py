"""Contract tests for every block type: builds, shapes, serialization, shortcuts."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from resnet_studio.core.blocks import BLOCK_TYPES
from resnet_studio.core.blocks.context import BlockBuildError
from resnet_studio.core.builder import build_model, plain_twin
from resnet_studio.core.spec import ArchitectureSpec, BlockSpec, InputSpec
from tests.core.blockcases import CASES, CONV_BN_RELU_CONV_BN, case_spec

RESIDUAL_TYPES = sorted(t for t, bt in BLOCK_TYPES.items() if bt.has_shortcut)


def sample_input(spec: ArchitectureSpec, batch: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (batch, *spec.input.shape)
    if spec.input.kind == "tokens":
        return rng.integers(0, spec.input.vocab_size, size=shape).astype("int32")
    return rng.normal(size=shape).astype("float32")


def test_every_block_type_has_a_case():
    assert set(CASES) == set(BLOCK_TYPES)


def test_every_block_type_has_help_and_a_family_and_valid_defaults():
    for bt in BLOCK_TYPES.values():
        assert bt.help and bt.title
        for p in bt.params:
            assert p.help, f"{bt.type}.{p.name} has no help"
            assert p.check(p.default, "x") == [], f"{bt.type}.{p.name} default is invalid"


@pytest.mark.parametrize("block_type", sorted(CASES))
def test_block_builds_with_expected_shape_and_counts(block_type):
    spec = case_spec(block_type)
    built = build_model(spec)
    summary = built.summary
    assert tuple(built.model.output.shape) == CASES[block_type].output_shape
    (block,) = summary.blocks
    assert block.output_shape == CASES[block_type].output_shape
    # Counts come from Keras: totals + BatchNorm statistics are what Keras counts.
    assert summary.total_params + summary.statistics == built.model.count_params()
    assert block.params == summary.total_params
    # Every layer of the model belongs to a block (so every gradient maps to a block).
    names = {layer.name for layer in built.model.layers if layer.name != "input"}
    assert names <= set(built.layer_block)
    assert all(n.startswith("blk_") for n in built.layer_block)


@pytest.mark.parametrize("block_type", sorted(CASES))
def test_block_config_round_trip_gives_same_outputs(block_type):
    spec = case_spec(block_type)
    model = build_model(spec).model
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = sample_input(spec)
    np.testing.assert_allclose(np.asarray(clone(x, training=False)),
                               np.asarray(model(x, training=False)), atol=1e-5, rtol=1e-5)
    assert clone.count_params() == model.count_params()


def test_keras_file_round_trip_with_custom_layers(tmp_path):
    spec = case_spec("basic_block", {"shortcut": "zero_pad", "scaling": "layerscale",
                                     "drop_path": 0.2, "variant": "v2"})
    model = build_model(spec).model
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = sample_input(spec)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)),
                               np.asarray(model(x, training=False)), atol=1e-5)


def _shortcut_layer_params(built) -> int:
    """Parameters of the layers that exist only for shortcuts (projections)."""
    total = 0
    for layer in built.model.layers:
        if "proj" in layer.name:
            stats = 0
            if isinstance(layer, keras.layers.BatchNormalization):
                stats = int(np.prod(layer.moving_mean.shape)) * 2
            total += layer.count_params() - stats
    return total


@pytest.mark.parametrize("block_type", RESIDUAL_TYPES)
@pytest.mark.parametrize("shortcut", ["identity", "projection", "zero_pad"])
def test_shortcut_none_removes_exactly_the_shortcut(block_type, shortcut):
    choices = BLOCK_TYPES[block_type].param("shortcut").choices
    if shortcut not in choices:
        pytest.skip(f"{block_type} has no {shortcut} shortcut")
    params = {"shortcut": shortcut}
    if block_type in ("basic_block", "bottleneck_block") and shortcut == "identity":
        params.update({"stride": 1, "filters": 4, "expansion": 1} if block_type ==
                      "bottleneck_block" else {"stride": 1, "filters": 4})
    if block_type in ("residual_dense", "residual_lstm", "residual_gru") and \
            shortcut == "identity":
        params["units"] = CASES[block_type].input_shape[-1]
    residual = build_model(case_spec(block_type, params))
    plain = build_model(case_spec(block_type, {**params, "shortcut": "none"}))
    diff = residual.summary.total_params - plain.summary.total_params
    assert diff == _shortcut_layer_params(residual)
    if shortcut in ("identity", "zero_pad"):
        assert diff == 0
    adds = [layer for layer in residual.model.layers if isinstance(layer, keras.layers.Add)]
    assert adds, "a residual block must add its shortcut"
    assert not [layer for layer in plain.model.layers if isinstance(layer, keras.layers.Add)]
    # Same weighted layers otherwise: the plain twin shares every non-shortcut layer.
    plain_names = {layer.name for layer in plain.model.layers if layer.weights}
    residual_names = {layer.name for layer in residual.model.layers
                      if layer.weights and "proj" not in layer.name}
    assert plain_names == residual_names


def test_projection_shortcut_params_match_1x1_conv_plus_bn():
    built = build_model(case_spec("basic_block", {"filters": 8, "repeat": 1, "stride": 2,
                                                  "shortcut": "projection"}))
    # 1×1 conv 4 -> 8 without bias, then BN (gamma, beta): from the case's (8, 8, 4) input.
    assert _shortcut_layer_params(built) == 4 * 8 + 2 * 8


def test_user_built_residual_container_matches_basic_block():
    container = ArchitectureSpec(
        name="diy", input=InputSpec("image", (8, 8, 8)),
        blocks=[BlockSpec("residual", {"shortcut": "identity", "activation": "relu"},
                          blocks=[BlockSpec(b.type, dict(b.params)) for b in
                                  CONV_BN_RELU_CONV_BN])])
    ready = ArchitectureSpec(
        name="ready", input=InputSpec("image", (8, 8, 8)),
        blocks=[BlockSpec("basic_block", {"filters": 8, "repeat": 1, "stride": 1,
                                          "shortcut": "identity"})])
    a, b = build_model(container).summary, build_model(ready).summary
    assert a.total_params == b.total_params == 2 * (3 * 3 * 8 * 8) + 2 * (2 * 8)
    assert a.output_shape == b.output_shape
    (res,) = a.blocks
    assert [c.type for c in res.children] == ["conv", "batch_norm", "activation", "conv",
                                              "batch_norm"]
    assert res.params == sum(c.params for c in res.children)


@pytest.mark.parametrize("block_type,params,shape", [
    ("residual_dense", {"units": 6, "repeat": 3, "shortcut": "identity"}, None),
    ("basic_block", {"filters": 4, "stride": 1, "repeat": 2, "variant": "v2",
                     "shortcut": "identity"}, (8, 8, 4)),
    ("transformer_encoder", {}, None),
    ("residual_gru", {"units": 3, "shortcut": "identity"}, None),
])
def test_rezero_makes_each_residual_unit_the_identity_at_init(block_type, params, shape):
    spec = case_spec(block_type, {**params, "scaling": "rezero"})
    if block_type == "residual_gru":
        spec.blocks[-1].params["norm"] = False
    if shape:
        spec.input.shape = shape
    model = build_model(spec).model
    x = sample_input(spec)
    np.testing.assert_allclose(np.asarray(model(x, training=True)), x, atol=1e-6)


def test_layerscale_and_fixed_scale_multiply_the_branch():
    spec = case_spec("residual_dense", {"units": 6, "repeat": 1, "shortcut": "identity", "activation": "none",
                                        "scaling": "fixed", "scale": 0.5})
    built = build_model(spec)
    x = sample_input(spec)
    dense = built.model.get_layer("blk_1_dense")
    expected = x + 0.5 * np.asarray(dense(x))
    np.testing.assert_allclose(np.asarray(built.model(x)), expected, atol=1e-5)
    ls = build_model(case_spec("residual_dense", {"units": 6, "shortcut": "identity",
                                                  "scaling": "layerscale", "scale": 1e-3}))
    gamma = ls.model.get_layer("blk_1_layerscale").gamma
    np.testing.assert_allclose(np.asarray(gamma), np.full((6,), 1e-3), rtol=1e-6)


def test_drop_path_is_inactive_at_inference_and_drops_whole_examples_in_training():
    spec = case_spec("residual_dense", {"units": 6, "repeat": 1, "shortcut": "identity",
                                        "drop_path": 0.5})
    model = build_model(spec).model
    reference = build_model(case_spec("residual_dense", {"units": 6, "repeat": 1,
                                                         "shortcut": "identity"})).model
    reference.set_weights(model.get_weights())
    x = sample_input(spec, batch=64)
    np.testing.assert_allclose(np.asarray(model(x, training=False)),
                               np.asarray(reference(x, training=False)), atol=1e-6)
    y = np.asarray(model(x, training=True))
    dropped = np.all(np.isclose(y, x, atol=1e-6), axis=1)  # branch dropped: y == x
    assert 10 < dropped.sum() < 54  # about half of 64, per example


def test_drop_path_rate_rises_linearly_with_depth():
    spec = case_spec("residual_dense", {"units": 6, "repeat": 4, "shortcut": "identity",
                                        "drop_path": 0.4, "drop_path_rising": True})
    model = build_model(spec).model
    rates = [model.get_layer(f"blk_{j}_drop_path").rate for j in range(1, 5)]
    np.testing.assert_allclose(rates, [0.1, 0.2, 0.3, 0.4])


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_transformer_unit_equals_keras_hub_layer_with_equal_weights(causal, variant):
    import keras_hub

    btype = "transformer_decoder" if causal else "transformer_encoder"
    spec = case_spec(btype, {"num_heads": 2, "intermediate_dim": 16, "repeat": 1,
                             "activation": "relu", "variant": variant})
    ours = build_model(spec).model
    cls = keras_hub.layers.TransformerDecoder if causal else keras_hub.layers.TransformerEncoder
    hub = cls(intermediate_dim=16, num_heads=2, activation="relu",
              normalize_first=variant == "v2")
    x = sample_input(spec)
    hub(x)
    attn = hub._self_attention_layer
    pairs = [(attn, "blk_1_attn"), (hub._self_attention_layer_norm, "blk_1_attn_ln"),
             (hub._feedforward_layer_norm, "blk_1_ffn_ln"),
             (hub._feedforward_intermediate_dense, "blk_1_ffn1"),
             (hub._feedforward_output_dense, "blk_1_ffn2")]
    for hub_layer, name in pairs:
        hub_layer.set_weights(ours.get_layer(name).get_weights())
    assert hub.count_params() == ours.count_params()
    np.testing.assert_allclose(np.asarray(hub(x)), np.asarray(ours(x)), atol=1e-5)


def test_errors_name_the_block_and_what_would_fit():
    spec = ArchitectureSpec(name="bad", input=InputSpec("image", (8, 8, 1)),
                            blocks=[BlockSpec("conv", {"filters": 4}), BlockSpec("gru", {}),
                                    BlockSpec("classifier_head", {})])
    with pytest.raises(BlockBuildError) as e:
        build_model(spec)
    assert e.value.location == "blocks[1]"
    assert "gru" in str(e.value) and "expects a sequence" in str(e.value)
    spec = case_spec("basic_block", {"shortcut": "identity", "stride": 2})
    with pytest.raises(BlockBuildError, match="projection"):
        build_model(spec)
    spec = ArchitectureSpec(name="tok", input=InputSpec("tokens", (6,), 10),
                            blocks=[BlockSpec("conv", {"filters": 4})])
    with pytest.raises(BlockBuildError, match="blocks\\[0\\]"):
        build_model(spec)


def test_plain_twin_sets_every_shortcut_to_none_and_nothing_else():
    from resnet_studio.core.presets import load_preset

    spec = load_preset("resnet20-cifar")
    spec.blocks.insert(4, BlockSpec("residual", {"shortcut": "identity"},
                                    blocks=[BlockSpec("conv", {"filters": 64})]))
    twin = plain_twin(spec)
    for (loc, a), (loc2, b) in zip(spec.walk(), twin.walk(), strict=True):
        assert loc == loc2 and a.type == b.type
        if BLOCK_TYPES[a.type].has_shortcut:
            assert b.params["shortcut"] == "none"
            assert {k: v for k, v in a.params.items() if k != "shortcut"} == \
                   {k: v for k, v in b.params.items() if k != "shortcut"}
        else:
            assert a.params == b.params
    assert spec.blocks[1].params["shortcut"] == "zero_pad"  # original untouched
