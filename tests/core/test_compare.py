"""The comparison lab and gradient alerts: twin pairs start from the same weights and batch
order, the gradient ratio is what it says, vanishing/exploding alerts fire once, and the
`compare` command keeps the CLI contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from resnet_studio.cli import main
from resnet_studio.core.builder import build_model
from resnet_studio.core.presets import load_preset
from resnet_studio.core.runs import read_gradients, read_run
from resnet_studio.core.spec import spec_from_dict
from resnet_studio.core.training import events as ev
from resnet_studio.core.training.alerts import GradientAlerts
from resnet_studio.core.training.blocknorms import BlockMap
from resnet_studio.core.training.compare import (
    CompareError,
    Comparison,
    block_norms,
    compare,
    gradient_ratio,
    has_shortcuts,
)
from resnet_studio.core.training.monitored import layer_groups
from resnet_studio.core.training_config import TrainingConfig


def config(**kw) -> TrainingConfig:
    return TrainingConfig.from_sources(load_preset("lab-sigmoid-mlp").training,
                                       {"epochs": 2, **kw})


@pytest.fixture(scope="module")
def sigmoid_lab(tmp_path_factory):
    """lab-sigmoid-mlp and its plain twin, 2 epochs on 320 digits (20 steps each)."""
    root = tmp_path_factory.mktemp("runs")
    events: dict[str, list[ev.Event]] = {"residual": [], "plain": []}
    results = compare(load_preset("lab-sigmoid-mlp"), "digits", config(), runs_root=root,
                      limit=320, observer=lambda role, e: events[role].append(e))
    return results, events


@pytest.mark.slow
def test_twins_share_initial_weights_and_batch_order(tmp_path):
    """Bit-exact, within one machine: both twins are built in this process."""
    spec = load_preset("resnet8-digits")  # projection shortcuts: layers only the residual has
    cmp = Comparison(spec, "digits", TrainingConfig.from_sources({"batch_size": 16}),
                     runs_root=tmp_path, limit=64)
    residual = cmp.prepare_residual()
    first_labels = [np.asarray(y) for _, y in residual.train_ds.take(4)]
    res_weights = residual.layer_weights()
    plain = cmp.prepare_plain(res_weights)
    plain_weights = plain.layer_weights()

    only_residual = set(res_weights) - set(plain_weights)
    assert only_residual and all("proj" in name for name in only_residual)
    assert set(plain_weights) < set(res_weights)
    for name, weights in plain_weights.items():
        for a, b in zip(weights, res_weights[name], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)
    # Same seed: the twin's pipeline yields the same batches in the same order.
    for y_res, (_, y_plain) in zip(first_labels, plain.train_ds.take(4), strict=True):
        np.testing.assert_array_equal(y_res, np.asarray(y_plain))
    assert len(np.unique(np.concatenate(first_labels))) > 1


@pytest.mark.slow
def test_compare_records_partners_and_summaries(sigmoid_lab):
    results, _ = sigmoid_lab
    res, plain = results["residual"], results["plain"]
    for role, r in results.items():
        assert r["status"] == "completed", r["error"]
        assert {"run_dir", "status", "final_train_loss", "test", "gradient_ratio", "params",
                "seconds"} <= set(r)
        assert "confusion_matrix" not in r["test"] and 0 <= r["test"]["accuracy"] <= 1
        meta = read_run(r["run_dir"]).meta
        partner = plain if role == "residual" else res
        assert meta["compare"] == {"role": role, "partner": partner["run_id"]}
    assert res["run_dir"].replace("-residual-", "-plain-") == plain["run_dir"]
    assert res["params"] == plain["params"]  # identity shortcuts have no parameters


@pytest.mark.slow
def test_gradient_ratio_equals_a_computation_by_hand(sigmoid_lab):
    results, _ = sigmoid_lab
    for r in results.values():
        layers, blocks, steps, norms = read_gradients(r["run_dir"])
        assert len(steps) == 20
        # The lab's top-level blocks are flatten (no weights), embed, body, classifier_head.
        per_block = {b: np.sqrt(sum(norms[:, i].astype(np.float64) ** 2
                                    for i, bb in enumerate(blocks) if bb == b))
                     for b in ("embed", "body")}
        expected = float(np.mean(per_block["embed"] / per_block["body"]))
        assert gradient_ratio(r["run_dir"]) == pytest.approx(expected, rel=1e-6)
        names, steps2, bn = block_norms(r["run_dir"])
        assert names == ["embed", "body", "classifier_head"] and bn.shape == (20, 3)
        np.testing.assert_allclose(bn[:, 1], per_block["body"], rtol=1e-6)
    # The physics: through 18 sigmoid layers (each derivative <= 1/4) the plain twin's first
    # block gets almost nothing; the shortcuts keep the gradient at the scale of the last.
    assert results["plain"]["gradient_ratio"] < 1e-6
    assert results["residual"]["gradient_ratio"] > 1e-2


@pytest.mark.slow
def test_vanishing_alert_fires_on_the_plain_twin_only(sigmoid_lab):
    results, events = sigmoid_lab
    assert results["plain"]["alerts"] == ["vanishing"]
    assert results["residual"]["alerts"] == []
    (alert,) = [e for e in events["plain"] if isinstance(e, ev.Alert)]
    assert alert.kind == "vanishing" and alert.blocks == ["embed", "body"]
    assert alert.layers == ["embed_dense"]  # the starved layers: those of the first block
    warnings = [e for e in events["plain"] if isinstance(e, ev.Log) and e.level == "warning"]
    assert [w.message for w in warnings] == [alert.message]
    assert not [e for e in events["residual"] if isinstance(e, ev.Alert)]
    (recorded,) = read_run(results["plain"]["run_dir"]).meta["alerts"]
    assert recorded["kind"] == "vanishing" and recorded["step"] == alert.step == 10


def test_alert_checker_exploding_and_growing_fire_once():
    names = ["a", "b", "c"]
    checker = GradientAlerts(names)
    assert checker.observe(1, np.array([1.0, 2.0, 3.0])) == []
    (boom,) = checker.observe(2, np.array([1.0, 5e3, 2e3]))
    assert boom.kind == "exploding" and boom.layers == ["b", "c"] and boom.step == 2
    assert "layer b" in boom.message and "5e+03" in boom.message
    assert checker.observe(3, np.array([1.0, 9e3, 1.0])) == []  # once per run
    checker = GradientAlerts(names)
    for step in range(1, 4):
        checker.observe(step, np.array([1.0, 1.0, 1e-9]))
    assert checker.end_epoch(1) == []
    for step in range(4, 7):
        checker.observe(step, np.array([1.0, 12.0, 1e-7]))  # b: 12×; c: 100× but negligible
    (grow,) = checker.end_epoch(2)
    assert grow.kind == "growing" and grow.layers == ["b"] and "12×" in grow.message
    checker.observe(7, np.array([1.0, 500.0, 1.0]))
    assert checker.end_epoch(3) == []  # already reported
    # A resumed run does not repeat the kinds it already reported.
    assert GradientAlerts(names, reported=["exploding"]).observe(1, np.full(3, 1e4)) == []


def test_alert_checker_vanishing_uses_top_level_blocks_of_containers():
    spec = spec_from_dict({
        "name": "c", "input": {"kind": "vector", "shape": [4]},
        "blocks": [{"type": "dense", "name": "first", "params": {"units": 4}},
                   {"type": "residual", "name": "res", "params": {"shortcut": "identity"},
                    "blocks": [{"type": "dense", "params": {"units": 4}},
                               {"type": "dense", "params": {"units": 4}}]},
                   {"type": "classifier_head", "params": {"classes": 2}}]})
    built = build_model(spec)
    groups = layer_groups(built.model, built.layer_block)
    layers, blocks = [g.layer for g in groups], [g.block for g in groups]
    bmap = BlockMap.from_spec(built.spec, layers, blocks)
    assert bmap.names == ["first", "res", "classifier_head"]
    assert bmap.heads == [False, False, True] and bmap.ratio_blocks == (0, 1)
    assert len(bmap.layers[1]) == 2  # both children of the container
    norms = np.ones(len(layers))
    norms[0] = 1e-6
    checker = GradientAlerts(layers, bmap, window=3)
    assert checker.observe(1, norms) == [] and checker.observe(2, norms) == []
    (alert,) = checker.observe(3, norms)
    assert alert.kind == "vanishing" and alert.blocks == ["first", "res"]
    assert f"{1e-6 / math.sqrt(2):.1e}" in alert.message
    # A short run (fewer steps than the window) is judged at the epoch end.
    short = GradientAlerts(layers, bmap, window=50)
    short.observe(1, norms)
    assert [a.kind for a in short.end_epoch(1)] == ["vanishing"]
    # Only a head after one block: no ratio, no vanishing check.
    assert BlockMap.from_spec(built.spec, layers[:1] + layers[-1:],
                              blocks[:1] + blocks[-1:]).ratio_blocks is None


def test_an_architecture_without_shortcuts_cannot_be_compared(tmp_path):
    spec = load_preset("plain20-cifar")
    assert not has_shortcuts(spec) and has_shortcuts(load_preset("resnet20-cifar"))
    with pytest.raises(CompareError, match="no shortcut"):
        Comparison(spec, "digits", TrainingConfig(), runs_root=tmp_path)
    assert not list(tmp_path.iterdir())


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_cli_compare_json_and_bad_input(capsys, tmp_path):
    code, out, err = run_cli(capsys, "compare", "lab-sigmoid-mlp", "--dataset", "digits",
                             "--epochs", "1", "--limit", "64", "--json",
                             "--runs-root", str(tmp_path))
    assert code == 0, err
    data = json.loads(out.strip().splitlines()[-1])
    assert set(data) == {"residual", "plain"}
    for role in ("residual", "plain"):
        assert {"run_dir", "status", "final_train_loss", "test", "gradient_ratio", "params",
                "seconds"} <= set(data[role])
        assert data[role]["status"] == "completed"
        assert f"{role}: run folder: {data[role]['run_dir']}" in err
    assert sorted(p.name.split("-")[-2] for p in tmp_path.iterdir()) == ["plain", "residual"]

    code, out, err = run_cli(capsys, "compare", "plain20-cifar", "--dataset", "digits",
                             "--runs-root", str(tmp_path / "x"))
    assert code == 2 and "no shortcut" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "compare", "resnet8-digits", "--dataset", "nope",
                           "--runs-root", str(tmp_path / "x"))
    assert code == 2 and "nope" in err
    assert not (tmp_path / "x").exists()
    code, _, err = run_cli(capsys, "compare", "no-such-preset")
    assert code == 2 and "no preset named" in err


@pytest.mark.slow
def test_cli_compare_exit_1_when_a_run_fails(capsys, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    x[3, 1] = np.nan  # every run fails at its first step
    np.savez(tmp_path / "nan.npz", x_train=x, y_train=y, x_test=x[:8] * 0, y_test=y[:8])
    preset = tmp_path / "tiny.json"
    preset.write_text(json.dumps({
        "name": "tiny-mlp", "input": {"kind": "vector", "shape": [8]},
        "blocks": [{"type": "dense", "params": {"units": 8}},
                   {"type": "residual_dense", "params": {"units": 8, "repeat": 2}},
                   {"type": "classifier_head", "params": {"classes": 2}}],
        "training": {"batch_size": 8, "epochs": 1, "validation_fraction": 0.0}}))
    args = ["compare", str(preset), "--dataset", f"npz:{tmp_path / 'nan.npz'}",
            "--runs-root", str(tmp_path / "runs")]
    code, out, err = run_cli(capsys, *args)
    assert code == 1 and "residual and plain run failed" in err and "non-finite" in err
    assert "status" in out and out.count("failed") >= 2  # the table is still printed
    code, out, _ = run_cli(capsys, *args, "--json")
    data = json.loads(out.strip().splitlines()[-1])
    assert code == 1 and [data[r]["status"] for r in ("residual", "plain")] == ["failed"] * 2
