"""Run names (core/runs/names.py, rename.py): the default from preset, dataset and a short
id; renaming through run.json; the CLI's `runs` listing them; the hyperparameters a table
of runs compares (summary.hyperparameters)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest

from resnet_studio.cli.main import main
from resnet_studio.core import runs
from resnet_studio.core.runs.names import MAX_NAME_CHARS, default_name, short_id
from resnet_studio.core.runs.summary import hyperparameters
from resnet_studio.core.runs.writer import RunWriter

RUN_ID = "20261205-150405-resnet8-digits-3f2a"


def make_run(root: Path, run_id: str = RUN_ID, **meta) -> Path:
    d = root / run_id
    d.mkdir(parents=True)
    data = {"id": run_id, "status": "completed", "preset": "resnet8-digits",
            "dataset": "digits", "started": "2026-12-05T15:04:05+0000", **meta}
    (d / "run.json").write_text(json.dumps(data))
    return d


def test_default_name_is_preset_dataset_and_the_folder_names_random_tail():
    assert short_id(RUN_ID) == "3f2a"
    assert short_id("my-own-run-folder") == "folder"  # no hex tail: the last 6 characters
    assert default_name({"preset": "resnet8-digits", "dataset": "digits"}, RUN_ID) == \
        "resnet8-digits · digits · 3f2a"
    assert default_name({"preset": "gpt-char"}, RUN_ID) == "gpt-char · 3f2a"


def test_a_run_without_a_name_reads_with_the_default_and_renames(tmp_path):
    d = make_run(tmp_path)
    assert runs.read_run(d).name == "resnet8-digits · digits · 3f2a"
    renamed = runs.rename_run(d, "  lr 0.1\nwith   warm-up ")
    assert renamed.name == "lr 0.1 with warm-up"
    stored = json.loads((d / "run.json").read_text())
    assert stored["name"] == "lr 0.1 with warm-up" and stored["preset"] == "resnet8-digits"
    assert runs.read_run(d).to_dict()["name"] == "lr 0.1 with warm-up"
    assert runs.rename_run(d, "   ").name == "resnet8-digits · digits · 3f2a"  # the default


def test_a_name_too_long_or_a_running_run_is_refused_and_nothing_changes(tmp_path):
    d = make_run(tmp_path, name="kept")
    before = (d / "run.json").read_bytes()
    with pytest.raises(ValueError, match=f"at most {MAX_NAME_CHARS} characters"):
        runs.rename_run(d, "x" * (MAX_NAME_CHARS + 1))
    running = make_run(tmp_path, "20261205-150406-gpt-char-beef", status="running",
                       pid=os.getpid(), host=socket.gethostname())
    with pytest.raises(runs.RunIsRunning, match="still training"):
        runs.rename_run(running, "new")
    assert (d / "run.json").read_bytes() == before
    assert "name" not in json.loads((running / "run.json").read_text())
    bad = make_run(tmp_path, "20261205-150407-x-0001", name=["not", "text"])
    with pytest.raises(ValueError, match="name: expected text"):
        runs.read_run(bad)


def test_a_new_run_is_named_by_its_writer_and_a_resume_keeps_the_users_name(tmp_path):
    d = tmp_path / RUN_ID
    meta = {"id": RUN_ID, "preset": "resnet8-digits", "dataset": "digits"}
    writer = RunWriter(d, meta, {"name": "x"}, ["dense"], ["b0"])
    writer.log_gradients(1, np.ones(1, np.float32))
    writer.finish("stopped")
    assert json.loads((d / "run.json").read_text())["name"] == "resnet8-digits · digits · 3f2a"
    runs.rename_run(d, "baseline")
    RunWriter(d, meta, {"name": "x"}, ["dense"], ["b0"], resume=True).finish("completed")
    assert runs.read_run(d).name == "baseline"


def test_cli_runs_lists_names(tmp_path, capsys):
    make_run(tmp_path, name="baseline", test={"accuracy": 0.9731})
    make_run(tmp_path, "20261205-160000-gpt-char-00ff", preset="gpt-char",
             dataset="python-docs")
    assert main(["runs", "--root", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(RUN_ID in line and "baseline" in line and "test acc 0.9731" in line
               for line in lines)
    assert any("gpt-char · python-docs · 00ff" in line for line in lines)
    assert main(["runs", "--root", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["runs"]
    assert sorted(r["name"] for r in listed) == ["baseline", "gpt-char · python-docs · 00ff"]


def test_hyperparameters_read_what_run_json_says_and_nothing_else(tmp_path):
    d = make_run(tmp_path, params=28986, test={"accuracy": 0.95},
                 config={"optimizer": "sgd", "learning_rate": 0.1, "batch_size": 64,
                         "epochs": 30, "weight_decay": 1e-4, "schedule": "cosine"})
    assert hyperparameters(runs.read_run(d)) == {
        "optimizer": "sgd", "learning_rate": 0.1, "weight_decay": 1e-4, "schedule": "cosine",
        "batch_size": 64, "epochs": 30, "dataset": "digits", "params": 28986,
        "test_accuracy": 0.95}
    odd = make_run(tmp_path, "20261205-150409-y-0002", config={"batch_size": True,
                                                               "learning_rate": "fast",
                                                               "weight_decay": "lots",
                                                               "schedule": 3})
    h = hyperparameters(runs.read_run(odd))
    assert h["batch_size"] is None and h["learning_rate"] is None and h["optimizer"] is None
    assert h["weight_decay"] is None and h["schedule"] is None
