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

import pytest

from resnet_studio.cli import main
from resnet_studio.core.runs import RunIsRunning, delete_run, read_run
from resnet_studio.core.runs.lock import RunLock, RunLocked, holder
from resnet_studio.core.spec import spec_from_dict
from resnet_studio.core.training.config import TrainingConfig
from resnet_studio.core.training.trainer import Trainer

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
    assert "in use by process" in loser[1] or "status is completed" in loser[1], loser[1]
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
