"""Crash-safe runs and exact resume.

A `resnet-studio train` process killed with SIGKILL right after a checkpoint leaves a run that
`resnet-studio runs` lists as interrupted, with every metric and gradient record up to that
checkpoint; `train --resume` continues it; a run stopped in the middle of an epoch resumes
there. Either way the resumed run's per-step losses and learning rates equal those of an
uninterrupted run with the same seed: same weights, optimizer state (Adam moments and the
step counter that drives the cosine schedule), batch order, augmentation draws and dropout
masks. Bit-exact within one machine: the reference and the resumed runs are computed here,
on the same CPU (measured: a difference of exactly 0, in one process and across processes,
without TF_DETERMINISTIC_OPS). Across machines (AVX-512 vs AVX2 kernels, oneDNN on or off,
another thread count) the same run differs by rounding, so no test compares runs made on
two machines; the tolerance only guards against thread scheduling.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.cli import main
from resnet_studio.core.runs import read_gradients, read_metrics, read_run
from resnet_studio.core.spec import save_spec, spec_from_dict
from resnet_studio.core.training import events as ev
from resnet_studio.core.training.trainer import Trainer
from resnet_studio.core.training_config import TrainingConfig
from tests.processes import sigkill_when

# Trains, exports or spawns processes: not in `make test-fast`.
pytestmark = pytest.mark.slow

# Adam + cosine schedule, augmentation and dropout: every kind of state a resume must restore.
OVERRIDES = {"epochs": 3, "batch_size": 16, "seed": 11, "learning_rate": 0.003}
LIMIT = 640  # 640 training digits: 40 steps per epoch, under a second each
STEPS_PER_EPOCH = 40
RTOL = 1e-4
STUDIO = [sys.executable, "-c", "import sys; from resnet_studio.cli import main; sys.exit(main())"]


def architecture():
    """A small residual CNN (tracing its train step takes seconds, not tens of seconds)."""
    return spec_from_dict({
        "name": "resume-test", "input": {"kind": "image", "shape": [8, 8, 1]},
        "blocks": [
            {"type": "conv_stem", "params": {"filters": 8, "kernel_size": 3, "stride": 1,
                                             "pool": False}},
            {"type": "basic_block", "params": {"filters": 8, "shortcut": "identity"}},
            {"type": "global_pool", "params": {}},
            {"type": "classifier_head", "params": {"classes": 10, "dropout": 0.2}}],
        "training": {"optimizer": "adam", "schedule": "cosine", "augment": ["pad_crop", "flip"]},
        "dataset": "digits"})


def config() -> TrainingConfig:
    return TrainingConfig.from_sources(architecture().training, OVERRIDES)


def cli_flags() -> list[str]:
    return ["--dataset", "digits", "--limit", str(LIMIT), "--epochs", str(OVERRIDES["epochs"]),
            "--batch-size", str(OVERRIDES["batch_size"]), "--seed", str(OVERRIDES["seed"]),
            "--lr", str(OVERRIDES["learning_rate"])]


def batch_records(run_dir: Path) -> list[dict]:
    return [r for r in read_metrics(run_dir) if r["kind"] == "batch"]


def assert_same_steps(resumed: Path, reference: Path) -> float:
    """Per-step losses and learning rates of two runs agree; returns the largest relative
    loss difference."""
    got, want = batch_records(resumed), batch_records(reference)
    assert [r["step"] for r in got] == [r["step"] for r in want]  # no gap, no duplicate
    assert [(r["epoch"], r["batch"]) for r in got] == [(r["epoch"], r["batch"]) for r in want]
    loss = np.array([r["loss"] for r in got])
    ref = np.array([r["loss"] for r in want])
    np.testing.assert_allclose(loss, ref, rtol=RTOL)
    np.testing.assert_allclose([r["lr"] for r in got], [r["lr"] for r in want], rtol=RTOL)
    return float(np.max(np.abs(loss - ref) / np.abs(ref)))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted run everything is compared with."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    result = Trainer(architecture(), "digits", config(), run_dir=run_dir, limit=LIMIT).run()
    assert result.status == "completed", result.error
    assert result.steps == OVERRIDES["epochs"] * STEPS_PER_EPOCH
    return run_dir


def test_stopped_in_mid_epoch_then_resumed_equals_the_uninterrupted_run(tmp_path, reference):
    run_dir = tmp_path / "run"
    stop_at = STEPS_PER_EPOCH + 7  # epoch 2, batch 7

    def stop(event):
        if isinstance(event, ev.BatchEnd) and event.step == stop_at:
            trainer.request_stop()

    trainer = Trainer(architecture(), "digits", config(), run_dir=run_dir, limit=LIMIT,
                      observer=stop)
    assert trainer.run().status == "stopped"
    state = json.loads((run_dir / "checkpoints" / "last" / "state.json").read_text())
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (1, 7, stop_at)

    logs: list[str] = []
    resumed = Trainer(architecture(), "digits", config(), run_dir=run_dir, limit=LIMIT,
                      resume=True,
                      observer=lambda e: logs.append(e.message) if isinstance(e, ev.Log) else 0)
    result = resumed.run()
    assert result.status == "completed", result.error
    assert f"Resumed at step {stop_at} (epoch 2, after batch 7)" in logs
    worst = assert_same_steps(run_dir, reference)
    print(f"mid-epoch resume: max relative loss difference {worst:.2e}")
    assert read_run(run_dir).meta["resumes"] == 1


def test_sigkill_leaves_an_interrupted_run_that_resumes_exactly(tmp_path, reference, capsys):
    root = tmp_path / "runs"
    run_dir = root / "killed"
    spec_file = tmp_path / "resume-test.json"
    save_spec(architecture(), spec_file)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    child = subprocess.Popen([*STUDIO, "train", str(spec_file), *cli_flags(),
                              "--run-dir", str(run_dir)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = run_dir / "checkpoints" / "last" / "state.json"
    # Poll the run folder; kill the moment the first epoch's checkpoint exists.
    sigkill_when(child, checkpoint.exists, "checkpoint")
    assert child.returncode == -signal.SIGKILL

    state = json.loads(checkpoint.read_text())
    # Killed at an epoch boundary (the first one, unless this process was descheduled for a
    # whole epoch): the checkpoint is the start of the next epoch.
    assert state["batch_in_epoch"] == 0 and 1 <= state["epoch"] < OVERRIDES["epochs"]
    saved = state["step"]
    assert saved == state["epoch"] * STEPS_PER_EPOCH

    assert main(["runs", "--root", str(root), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["runs"]
    assert [(r["run_dir"], r["status"]) for r in listed] == [(str(run_dir), "interrupted")]
    # Everything up to the checkpoint is on disk (records are synced before it is written).
    steps = [r["step"] for r in batch_records(run_dir)]
    assert steps[:saved] == list(range(1, saved + 1))
    _, _, grad_steps, norms = read_gradients(run_dir)
    assert grad_steps[:saved].tolist() == list(range(1, saved + 1))
    assert np.all(np.isfinite(norms[:saved]))

    assert main(["train", "--resume", str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "completed"
    assert result["steps"] == OVERRIDES["epochs"] * STEPS_PER_EPOCH
    worst = assert_same_steps(run_dir, reference)
    print(f"resume after SIGKILL at step {saved}: max relative loss difference {worst:.2e}")
    _, _, grad_steps, _ = read_gradients(run_dir)
    assert grad_steps.tolist() == list(range(1, result["steps"] + 1))
    meta = read_run(run_dir).meta
    assert meta["status"] == "completed" and meta["resumes"] == 1


def test_resume_refuses_what_it_cannot_continue(tmp_path, reference, capsys):
    # A completed run, a folder that is no run, a run without a checkpoint, and a preset
    # given together with --resume: exit 2 with the reason, never a traceback.
    no_ckpt = tmp_path / "early"
    (no_ckpt).mkdir()
    (no_ckpt / "run.json").write_text(json.dumps({"status": "stopped", "config": {}}))
    cases = [
        (["train", "--resume", str(reference)], "status is completed"),
        (["train", "--resume", str(tmp_path / "nothing")], "no run.json"),
        (["train", "--resume", str(no_ckpt)], "no checkpoint to resume from"),
        (["train", "resnet8-digits", "--resume", str(no_ckpt)], "drop PRESET"),
        (["train"], "name a preset"),
    ]
    for argv, fragment in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err, (argv, err)
