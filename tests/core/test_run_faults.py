"""Run-store faults that come from processes: one owner per run (an OS file lock), a kill
during a checkpoint swap, a full disk, nothing-to-do resumes, broken run.json files
(docs/reliability.md, section 3). Real processes wherever the fault is a process fault."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.cli import main
from resnet_studio.core.runs import RunIsRunning, delete_run, read_run
from resnet_studio.core.runs.lock import RunLock, RunLocked, holder
from resnet_studio.core.spec import spec_from_dict
from resnet_studio.core.training.trainer import Trainer
from resnet_studio.core.training_config import TrainingConfig

ROOT = Path(__file__).resolve().parents[2]
STUDIO = [sys.executable, "-c", "import sys; from resnet_studio.cli import main; sys.exit(main())"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
LIMIT = 96


def tiny_spec():
    return spec_from_dict({
        "name": "tiny", "input": {"kind": "image", "shape": [8, 8, 1]},
        "blocks": [
            {"type": "conv_stem", "params": {"filters": 4, "kernel_size": 3, "stride": 1,
                                             "pool": False}},
            {"type": "basic_block", "params": {"filters": 4, "shortcut": "identity"}},
            {"type": "global_pool", "params": {}},
            {"type": "classifier_head", "params": {"classes": 10}}],
        "dataset": "digits"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A 1-epoch run of a tiny model on 96 digits, marked `stopped` (resumable)."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    cfg = TrainingConfig.from_sources({}, {"epochs": 1, "batch_size": 16, "seed": 3})
    result = Trainer(tiny_spec(), "digits", cfg, run_dir=run_dir, limit=LIMIT,
                     preset="tiny").run()
    assert result.status == "completed", result.error
    meta = json.loads((run_dir / "run.json").read_text())
    meta["status"] = "stopped"
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2))
    return run_dir


@pytest.fixture
def stopped(trained, tmp_path) -> Path:
    run_dir = tmp_path / "runs" / "stopped"
    shutil.copytree(trained, run_dir)
    (run_dir / ".owner.lock").unlink(missing_ok=True)
    return run_dir


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ owner lock

@pytest.mark.slow
def test_a_locked_run_is_running_and_cannot_be_resumed_or_deleted(stopped, capsys):
    before = (stopped / "run.json").read_bytes()
    lock = RunLock(stopped).acquire()
    try:
        assert holder(stopped)["pid"] == os.getpid()
        assert read_run(stopped).status == "running"
        assert main(["runs", "--root", str(stopped.parent), "--json"]) == 0
        runs = _last_json(capsys.readouterr().out)["runs"]
        assert [r["status"] for r in runs] == ["running"]
        with pytest.raises(RunIsRunning):
            delete_run(read_run(stopped))
        with pytest.raises(RunLocked):
            RunLock(stopped).acquire()  # a second owner in the same process, too
        code = main(["train", "--resume", str(stopped), "--epochs", "2"])
        err = capsys.readouterr().err
        assert code == 2
        assert f"in use by process {os.getpid()} on {socket.gethostname()}" in err
        assert (stopped / "run.json").read_bytes() == before
    finally:
        lock.release()
    assert holder(stopped) is None and read_run(stopped).status == "stopped"


@pytest.mark.slow
def test_sigkill_releases_the_lock(stopped):
    code = ("import sys, time; from resnet_studio.core.runs.lock import RunLock; "
            "RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(120)")
    child = subprocess.Popen([sys.executable, "-c", code, str(stopped)], env=ENV,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        assert holder(stopped)["pid"] == child.pid
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert holder(stopped) is None
    assert read_run(stopped).status == "stopped"  # resumable again
    RunLock(stopped).acquire().release()


@pytest.mark.slow
def test_two_resumes_at_once_exactly_one_runs(stopped):
    argv = [*STUDIO, "train", "--resume", str(stopped), "--epochs", "3", "--json"]
    procs = [subprocess.Popen(argv, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], [o[1][-1500:] for o in outs]
    loser = next(o for p, o in zip(procs, outs, strict=True) if p.returncode == 2)
    assert any(s in loser[1] for s in ("in use by process", "status is completed",
                                       "nothing to do")), loser[1]
    assert "Traceback" not in loser[1]
    steps = [json.loads(line)["step"] for line in (stopped / "metrics.jsonl").open()
             if '"kind": "batch"' in line]
    assert steps == list(range(1, len(steps) + 1))  # one continuous history, no duplicates
    assert read_run(stopped).meta["resumes"] == 1


# ------------------------------------------------------------------- resume: nothing to do

@pytest.mark.slow
def test_resume_with_no_epochs_left_is_refused_and_keeps_run_json(stopped, capsys):
    before = (stopped / "run.json").read_bytes()
    for epochs in ("1", None):  # as many as done; the run's own setting (1)
        argv = ["train", "--resume", str(stopped)] + (["--epochs", epochs] if epochs else [])
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "nothing to do: 1 epoch already trained and the run is set to 1; pass " \
               "--epochs 2 or more" in err
    assert (stopped / "run.json").read_bytes() == before


# ---------------------------------------------------------------- kill at checkpoint swap

@pytest.mark.slow
def test_sigkill_at_the_checkpoint_swap_leaves_a_named_checkpoint_and_resume_works(tmp_path,
                                                                                  capsys):
    run_dir = tmp_path / "run"
    env = {**ENV, "RESNET_STUDIO_FAULT": "kill-at-checkpoint-swap:2"}  # epoch 2's swap
    proc = subprocess.run([*STUDIO, "train", "resnet8-digits", "--limit", "64", "--epochs", "3",
                           "--batch-size", "16", "--run-dir", str(run_dir)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-1500:]
    ckpts = run_dir / "checkpoints"
    # Epoch 2's checkpoint is complete on disk; `last` still names epoch 1's, whole.
    assert (ckpts / "last").is_symlink()
    assert json.loads((ckpts / "last" / "state.json").read_text())["epoch"] == 1
    assert len([p for p in ckpts.iterdir() if p.name.startswith("ckpt-")]) == 2
    assert read_run(run_dir).status == "interrupted"
    assert main(["train", "--resume", str(run_dir), "--json"]) == 0
    result = _last_json(capsys.readouterr().out)
    assert result["status"] == "completed" and result["epochs_completed"] == 3
    left = sorted(p.name for p in ckpts.iterdir())
    assert [n for n in left if n.startswith(("ckpt-", ".partial-", ".last"))] == \
        [os.readlink(ckpts / "last")]  # older checkpoints and leftovers cleaned


def test_a_leftover_of_the_two_rename_scheme_is_found_on_open(trained, tmp_path):
    run_dir = tmp_path / "old"
    shutil.copytree(trained, run_dir, symlinks=False)
    ckpts = run_dir / "checkpoints"
    last = ckpts / "last"
    real = last.resolve() if last.is_symlink() else last
    shutil.copytree(real, ckpts / ".last-old")
    shutil.copytree(real, ckpts / ".last-1a2b")
    state = json.loads((ckpts / ".last-1a2b" / "state.json").read_text())
    state["step"] += 1
    (ckpts / ".last-1a2b" / "state.json").write_text(json.dumps(state))
    shutil.rmtree(last) if not last.is_symlink() else last.unlink()
    for p in ckpts.iterdir():
        if p.name.startswith("ckpt-"):
            shutil.rmtree(p)
    from resnet_studio.core.runs import checkpoint_complete, checkpoint_dir

    assert checkpoint_dir(run_dir) == ckpts / ".last-1a2b"  # the newer complete one
    assert checkpoint_complete(run_dir)


# -------------------------------------------------------------------------------- full disk

@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs (needs root and mount permission; skipped otherwise)."""
    mount = tmp_path / "full"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.slow
def test_a_full_disk_fails_the_run_cleanly_and_keeps_the_last_checkpoint(tiny_disk):
    run_dir = tiny_disk / "run"
    # 64 examples an epoch: the 2 MB fill up within the first checkpoints all the same.
    proc = subprocess.run([*STUDIO, "train", "resnet8-digits", "--epochs", "5", "--limit", "64",
                           "--batch-size", "8", "--run-dir", str(run_dir)],
                          env=ENV, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "run failed: disk full at " in proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    last = run_dir / "checkpoints" / "last"
    if last.exists():  # the disk may fill before the first checkpoint fits
        state = json.loads((last / "state.json").read_text())
        assert (last / "model.weights.h5").stat().st_size > 0
        meta = json.loads((run_dir / "run.json").read_text())
        if meta["status"] == "failed":  # run.json is updated only if it still could be
            assert "disk full" in meta["error"]
            assert meta["epochs_completed"] == state["epoch"]
    assert not list((run_dir / "checkpoints").glob(".partial-*"))


# ------------------------------------------------------------------------------- exports

def test_force_export_swaps_folders_in_one_step_and_stale_workspaces_are_cleaned(tmp_path):
    from resnet_studio.core import swap

    a, b = tmp_path / "new", tmp_path / "model"
    a.mkdir()
    b.mkdir()
    (a / "which").write_text("new")
    (b / "which").write_text("old")
    assert swap.exchange(a, b)  # Linux: one step
    assert (b / "which").read_text() == "new" and (a / "which").read_text() == "old"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".model.{dead}-abcd.partial"
    mine = tmp_path / f".model.{os.getpid()}-ef01.partial"
    old = tmp_path / ".model.zz9.partial"
    for d in (stale, mine, old):
        d.mkdir()
    os.utime(old, (1, 1))
    removed = swap.clean_stale_workspaces(tmp_path, "model")
    assert sorted(removed) == sorted([stale, old]) and mine.exists()


# ------------------------------------------------------------------ broken run.json files

BROKEN = {"alerts": ["x"], "test": [], "epochs_completed": None, "pid": 2**70,
          "status": "exploded"}


def test_runs_lists_every_readable_run_and_names_the_broken_ones(trained, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(trained, root / "good")
    for key, value in BROKEN.items():
        d = root / f"bad-{key}"
        shutil.copytree(trained, d)
        meta = json.loads((d / "run.json").read_text())
        meta[key] = value
        if key == "pid":
            meta["status"] = "running"
        (d / "run.json").write_text(json.dumps(meta))
    (root / "bad-json").mkdir()
    (root / "bad-json" / "run.json").write_text("{not json")
    assert main(["runs", "--root", str(root)]) == 0
    out, err = capsys.readouterr()
    broken = {line.split()[3] for line in err.splitlines() if "broken run" in line}
    # epochs_completed: null is readable (never written): listed, not broken.
    assert broken == {"bad-alerts:", "bad-test:", "bad-pid:", "bad-status:", "bad-json:"}
    assert "alerts: expected a list of objects, got [\"x\"]" in err
    assert "pid: expected a process id" in err
    assert out.count(" stopped ") == 2 and "epochs 0 " in out and "epochs 1 " in out
    assert main(["runs", "--root", str(root), "--json"]) == 0
    data = _last_json(capsys.readouterr().out)
    assert len(data["runs"]) == 2 and len(data["broken"]) == 5


# ---------------------------------------------------- a failed resume leaves run.json as was

def _resume_fails(run_dir: Path, capsys, *flags: str) -> str:
    before = (run_dir / "run.json").read_bytes()
    code = main(["train", "--resume", str(run_dir), "--epochs", "2", *flags])
    err = capsys.readouterr().err
    assert code == 2, err[-1500:]
    assert "Traceback" not in err and "internal error" not in err
    assert (run_dir / "run.json").read_bytes() == before
    assert len(err) < 1200  # one line, not every weight array
    return err


@pytest.mark.slow
def test_resumes_that_cannot_continue_exit_2_and_keep_run_json(stopped, capsys):
    ckpt = stopped / "checkpoints" / "last"
    weights = ckpt / "model.weights.h5"
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 3])
    assert "a file is missing or damaged" in _resume_fails(stopped, capsys)
    weights.write_bytes(good)
    err = _resume_fails(stopped, capsys, "--optimizer", "sgd")
    assert "cannot resume from this checkpoint" in err
    arch = stopped / "architecture.json"
    spec = json.loads(arch.read_text())
    for block in spec["blocks"][:2]:  # still valid, with other weight shapes
        block["params"]["filters"] = 6
    arch.write_text(json.dumps(spec))
    assert "does not fit the model" in _resume_fails(stopped, capsys)


# ------------------------------------------------------------- a run stands alone

@pytest.mark.slow
def test_export_works_with_the_data_gone_and_evaluate_names_changed_data(tmp_path, capsys):
    def arrays(seed: int) -> dict:
        r = np.random.default_rng(seed)
        x = r.integers(0, 255, (48, 8, 8, 1), dtype=np.uint8)
        y = (x.mean(axis=(1, 2, 3)) > 127).astype("int64")
        return {"x_train": x, "y_train": y, "x_test": x[:16], "y_test": y[:16]}

    data = tmp_path / "data.npz"
    np.savez(data, **arrays(0))
    run_dir = tmp_path / "run"
    cfg = TrainingConfig.from_sources({}, {"epochs": 1, "batch_size": 16, "seed": 1})
    result = Trainer(tiny_spec(), f"npz:{data}", cfg, run_dir=run_dir).run()
    assert result.status == "completed", result.error
    assert (run_dir / "inference.npz").is_file()
    data.rename(tmp_path / "moved.npz")
    out = tmp_path / "model.keras"
    assert main(["export", str(run_dir), "--format", "keras", "--out", str(out)]) == 0
    assert out.is_file() and "exported keras" in capsys.readouterr().out
    assert main(["evaluate", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "the run's data cannot be loaded" in err and "Traceback" not in err
    other = arrays(1)
    other["x_test"] = other["x_test"][:12]
    other["y_test"] = other["y_test"][:12]
    np.savez(data, **other)
    assert main(["evaluate", str(run_dir), "--json"]) == 0
    captured = capsys.readouterr()
    assert "warning: the test data changed since training: 16 examples then, 12 now" in \
        captured.err
    assert _last_json(captured.out)["warnings"]


@pytest.mark.slow
def test_a_read_only_run_folder_is_exit_2_naming_it(tmp_path, capfd):
    """The CLI in this process (not a process fault: no second TensorFlow start-up); capfd
    reads file descriptor 2, C++ lines included."""
    mount = tmp_path / "ro"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        code = main(["train", "resnet8-digits", "--limit", "32", "--epochs", "1",
                     "--run-dir", str(mount / "run")])
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
    err = capfd.readouterr().err
    assert code == 2, err[-1500:]
    assert f"cannot write {mount / 'run'}: read-only file system" in err
    assert "Traceback" not in err


def test_a_damaged_metrics_line_is_dropped_when_cutting_records(tmp_path):
    from resnet_studio.core.runs import read_metrics, truncate_records

    lines = ['{"kind": "batch", "step": 1}', '{"kind": "batch", "step": "x"}', "not json",
             '{"kind": "batch", "step": null}', '{"kind": "batch", "step": 2}',
             '{"kind": "batch", "step": 3}']
    (tmp_path / "metrics.jsonl").write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n")
    truncate_records(tmp_path, 2)
    assert [r["step"] for r in read_metrics(tmp_path)] == [1, 2]
