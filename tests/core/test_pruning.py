"""Magnitude pruning: exact counts, masks that hold through fine-tuning, runs linked to their
parent, the Zhu & Gupta schedule, and a pruned run resumed after SIGKILL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.cli import main
from resnet_studio.core.sparsity.masks import (
    PruningError,
    PruningSettings,
    compute_masks,
    polynomial_sparsity,
    sparsity_report,
)
from resnet_studio.core.training.trainer import Trainer
from resnet_studio.core.training_config import TrainingConfig
from tests.processes import sigkill_when
from tests.tiny_models import tiny_residual_cnn

LIMIT = 320
STUDIO = [sys.executable, "-c", "import sys; from resnet_studio.cli import main; sys.exit(main())"]


def weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"conv_a/kernel": rng.normal(size=(3, 3, 4, 8)).astype(np.float32),
            "conv_a/bias": rng.normal(size=(8,)).astype(np.float32),
            "conv_b/kernel": rng.normal(size=(3, 3, 8, 16)).astype(np.float32) * 0.1,
            "head/kernel": rng.normal(size=(16, 10)).astype(np.float32),
            "bn/gamma": rng.normal(size=(16,)).astype(np.float32)}


@pytest.mark.parametrize("sparsity", [0.1, 0.5, 0.8, 0.9, 0.333])
def test_per_layer_fraction_equals_the_request_to_one_weight(sparsity):
    w = weights()
    masks = compute_masks(w, sparsity, scope="layer")
    assert sorted(masks) == ["conv_a/kernel", "conv_b/kernel", "head/kernel"]  # kernels only
    for path, mask in masks.items():
        pruned = int((mask == 0).sum())
        assert abs(pruned - sparsity * mask.size) <= 1, (path, pruned, mask.size)
        # The pruned ones are the smallest: every kept |w| >= every pruned |w|.
        a = np.abs(w[path])
        assert a[mask == 1].min() >= a[mask == 0].max()


def test_global_scope_prunes_small_layers_more_and_hits_the_total():
    w = weights()
    masks = compute_masks(w, 0.5, scope="global")
    total = sum(m.size for m in masks.values())
    pruned = sum(int((m == 0).sum()) for m in masks.values())
    assert abs(pruned - 0.5 * total) <= 1
    # One threshold for all layers: every kept |w| >= every pruned |w|, wherever they are.
    kept = np.concatenate([np.abs(w[p])[m == 1] for p, m in masks.items()])
    cut = np.concatenate([np.abs(w[p])[m == 0] for p, m in masks.items()])
    assert kept.min() >= cut.max()
    # conv_b's weights are 10x smaller: it loses far more of them than conv_a.
    assert (masks["conv_b/kernel"] == 0).mean() > 0.6
    assert (masks["conv_a/kernel"] == 0).mean() < 0.1


def test_structured_masks_remove_whole_filters():
    w = weights()
    masks = compute_masks(w, 0.5, structured=True, scope="layer", exclude=("head/kernel",))
    assert "head/kernel" not in masks
    for mask in masks.values():
        per_filter = mask.reshape(-1, mask.shape[-1])
        assert np.all((per_filter == 0).all(axis=0) | (per_filter == 1).all(axis=0))
        assert int((per_filter == 0).all(axis=0).sum()) == round(0.5 * mask.shape[-1])
    # Global structured pruning never empties a layer.
    masks = compute_masks(w, 0.9, structured=True, scope="global", exclude=("head/kernel",))
    assert all(m.max() == 1 for m in masks.values())


def test_pruning_again_keeps_earlier_cuts():
    w = weights()
    first = compute_masks(w, 0.5, scope="layer")
    cut = {p: v * first[p] if p in first else v for p, v in w.items()}
    second = compute_masks(cut, 0.8, scope="layer")
    for p in first:
        assert np.all(second[p][first[p] == 0] == 0)


def test_polynomial_schedule_of_zhu_and_gupta():
    s = [polynomial_sparsity(t, 0.8, 10, 110) for t in (0, 10, 60, 110, 500)]
    assert s[0] == s[1] == 0.0 and s[3] == s[4] == pytest.approx(0.8)
    assert s[2] == pytest.approx(0.8 - 0.8 * 0.5 ** 3)  # half-way: 7/8 of the target
    cfg = PruningSettings(0.8, schedule="gradual", begin_step=0, end_step=10, frequency=4)
    assert [t for t in range(15) if cfg.updates_at(t)] == [0, 4, 8, 10]
    with pytest.raises(PruningError, match="sparsity"):
        PruningSettings(1.0)


# --------------------------------------------------------------------------- training
def architecture():
    return tiny_residual_cnn("prune-test", {"filters": 8, "shortcut": "identity"})


@pytest.fixture(scope="module")
def parent_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "parent"
    cfg = TrainingConfig.from_sources(architecture().training,
                                      {"epochs": 2, "batch_size": 32, "seed": 3})
    result = Trainer(architecture(), "digits", cfg, run_dir=run_dir, limit=LIMIT).run()
    assert result.status == "completed", result.error
    return run_dir


def kernels(run_dir: Path) -> dict[str, np.ndarray]:
    """The prunable kernels of a run's last checkpoint, read from the weights file."""
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.training.restore import load_run_model

    trainer, _ = load_run_model(read_run(run_dir))
    return {v.path: v.numpy() for v in trainer.model.trainable_weights
            if v.path.endswith("/kernel")}


@pytest.mark.slow
def test_masks_stay_zero_through_fine_tuning(parent_run, tmp_path):
    from resnet_studio.core.compress.prune import ParentModel, prune_run

    parent = ParentModel(parent_run)
    masks = parent.masks(0.7, False, "layer")
    outcome = prune_run(parent, 0.7, scope="layer", fine_tune_epochs=2,
                        run_dir=tmp_path / "pruned")
    assert outcome.status == "completed", outcome.error
    after = kernels(tmp_path / "pruned")
    before = parent.values
    for path, mask in masks.items():
        assert np.all(after[path][mask == 0] == 0), path  # exactly zero, every step
        kept = mask == 1
        # Fine-tuning did train the kept weights (a stub that only masks would fail here).
        assert np.abs(after[path][kept] - before[path][kept]).max() > 1e-4, path
        assert abs(int((mask == 0).sum()) - 0.7 * mask.size) <= 1
    meta = json.loads((tmp_path / "pruned" / "run.json").read_text())
    assert meta["parent"] == str(parent_run)
    assert meta["pruning"]["sparsity"] == 0.7 and meta["pruning"]["scope"] == "layer"
    assert meta["sparsity"]["sparsity"] == pytest.approx(outcome.measured_sparsity)
    assert 0.69 <= outcome.measured_sparsity <= 0.71
    # Sizes of the pruned model (float32 TFLite) and its checkpoint, plain and gzipped.
    assert meta["sizes"]["compressed_size_bytes"] == outcome.compressed_size_bytes
    assert 0 < outcome.compressed_size_bytes < outcome.size_bytes
    assert outcome.checkpoint_size_bytes == (tmp_path / "pruned" / "checkpoints" / "last" /
                                             "model.weights.h5").stat().st_size
    assert 0.0 <= outcome.accuracy <= 1.0  # the numbers that matter: benchmarks/bench_compression.py


@pytest.mark.slow
def test_gradual_schedule_reaches_the_target_during_fine_tuning(parent_run, tmp_path):
    from resnet_studio.core.compress.prune import ParentModel, prune_run

    parent = ParentModel(parent_run)
    outcome = prune_run(parent, 0.6, schedule="gradual", fine_tune_epochs=2,
                        run_dir=tmp_path / "gradual")
    assert outcome.status == "completed", outcome.error
    report = sparsity_report(kernels(tmp_path / "gradual"))
    assert abs(report["zeros"] - 0.6 * report["prunable"]) <= 1  # global scope, exact
    assert outcome.measured_sparsity == pytest.approx(report["sparsity"])


@pytest.mark.slow
def test_a_pruned_run_resumes_after_sigkill(parent_run, tmp_path, capsys):
    root = tmp_path / "runs"
    root.mkdir()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    child = subprocess.Popen([*STUDIO, "prune", str(parent_run), "--sparsity", "0.5",
                              "--fine-tune-epochs", "3", "--runs-root", str(root)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Kill the moment the pruned run's first checkpoint exists.
    sigkill_when(child, lambda: bool(list(root.glob("*/checkpoints/last/state.json"))),
                 "checkpoint")
    (run_dir,) = [p for p in root.iterdir() if (p / "run.json").exists()]
    state = json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())
    assert state["epoch"] >= 1
    assert main(["runs", "--root", str(root), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["runs"]
    assert [r["status"] for r in listed] == ["interrupted"]

    assert main(["train", "--resume", str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "completed" and result["epochs_completed"] == 3
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["resumes"] == 1 and meta["parent"] == str(parent_run)
    report = sparsity_report(kernels(run_dir))
    assert abs(report["zeros"] - 0.5 * report["prunable"]) <= 1  # the masks held


def test_prune_refuses_bad_input_with_exit_2(tmp_path, capsys):
    cases = [(["prune", str(tmp_path), "--sparsity", "0.5,x"], "'x' is not a number"),
             (["prune", str(tmp_path), "--sparsity", "1.2"], "outside [0, 1)"),
             (["prune", str(tmp_path), "--sparsity", "0.5", "--fine-tune-epochs", "-1"],
              ">= 0"),
             (["prune", str(tmp_path), "--sparsity", "0.5", "--schedule", "gradual",
               "--fine-tune-epochs", "0"], "gradual"),
             (["prune", str(tmp_path), "--sparsity", "0.5", "--strategy", "mirrored",
               "--devices", "TPU:x"], "--devices"),
             (["prune", str(tmp_path / "none"), "--sparsity", "0.5"], "no run.json")]
    for argv, fragment in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err, (argv, err)


def test_zeroing_a_branch_leaves_exactly_the_shortcut():
    import keras

    from resnet_studio.core.builder import build_model, plain_twin
    from resnet_studio.core.compress.branches import residual_branches
    from resnet_studio.core.data import describe_dataset
    from resnet_studio.core.presets import load_preset
    from resnet_studio.core.training.trainer import binding_for

    binding = binding_for(describe_dataset("digits"))
    built = build_model(load_preset("resnet8-digits"), binding)
    branches = residual_branches(built.model, built.units)
    assert [b.unit for b in branches] == ["stage1_1", "stage2_1", "stage3_1"]
    b2 = branches[1]
    assert b2.zero == ("stage2_1_bn2/gamma", "stage2_1_bn2/beta")
    assert "stage2_1_conv1" in b2.layers and "stage2_1_proj_conv" not in b2.layers
    assert b2.params == 3 * 3 * 16 * 32 + 3 * 3 * 32 * 32  # conv1 + conv2 kernels
    variables = {v.path: v for v in built.model.weights}
    for path in b2.zero:
        variables[path].assign(np.zeros(variables[path].shape, np.float32))
    add = built.model.get_layer("stage2_1_add")
    probe = keras.Model(built.model.inputs[0], [add.input[0], add.output])
    x = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 1)).astype(np.float32)
    shortcut, out = (np.asarray(t) for t in probe(x, training=False))
    assert np.array_equal(shortcut, out)  # the unit is its shortcut, exactly
    plain = build_model(plain_twin(load_preset("resnet8-digits")), binding)
    assert residual_branches(plain.model, plain.units) == []


@pytest.mark.slow
def test_removed_branches_stay_removed_through_fine_tuning(parent_run, tmp_path, capsys):
    assert main(["prune", str(parent_run), "--blocks", "1", "--fine-tune-epochs", "1",
                 "--runs-root", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (row,) = out["results"]
    assert row["blocks"] == ["basic_block_1"] and row["structured"] is True
    assert row["status"] == "completed" and 0 < row["sparsity"] < 1
    assert set(row["lesion_drop"]) == {"basic_block_1"}
    meta = json.loads((Path(row["run_dir"]) / "run.json").read_text())
    assert meta["pruning"]["blocks"] == ["basic_block_1"]
    weights = kernels(Path(row["run_dir"]))  # kernels only: check the masked BN directly
    from resnet_studio.core.runs import read_run
    from resnet_studio.core.training.restore import load_run_model

    trainer, _ = load_run_model(read_run(row["run_dir"]))
    values = {v.path: v.numpy() for v in trainer.model.trainable_weights}
    for path in meta["pruning"]["masked"]:
        assert np.all(values[path] == 0), path
    assert weights  # the rest of the network is there and was trained
    assert main(["prune", str(parent_run), "--blocks", "2"]) == 2
    assert "1 residual branches" in capsys.readouterr().err


@pytest.mark.slow
def test_masks_stay_zero_when_fine_tuning_under_mirrored_strategy(tmp_path):
    """Two logical CPUs, one replica each (tests/core/pruning_mirrored_check.py, in a
    subprocess: the CPU must be split before TensorFlow starts)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name(
        "pruning_mirrored_check.py"))], env=env, capture_output=True, text=True, cwd=tmp_path,
        timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["parent"] == "completed" and r["status"] == "completed", r["error"]
    assert r["strategy"] == "mirrored" and r["replicas"] == 2
    assert r["pruned"] > 0 and r["nonzero_pruned"] == 0  # the constraint held on each replica
    assert r["kept_moved"] > 1e-4  # and the kept weights did train
    g = r["gradual"]
    assert g["status"] == "completed", g["error"]
    assert abs(g["zeros"] - 0.6 * g["prunable"]) <= 1  # masks recomputed across replicas
