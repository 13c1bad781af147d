"""The run package (core/runs): run.json's schema version, the stat-cached listing, final
metrics, compare-pair links, resume targets and deletion, on hand-made run folders (no
training: a few milliseconds each)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from resnet_studio.core import runs
from resnet_studio.core.runs import layout, schema
from resnet_studio.core.runs.store import process_start


def make_run(root: Path, name: str, status: str = "completed", **meta) -> Path:
    d = root / name
    d.mkdir(parents=True)
    data = {"id": name, "status": status, "started": f"2026-01-01T10:00:0{len(name) % 10}+0000",
            **meta}
    (d / "run.json").write_text(json.dumps(data))
    return d


def test_run_json_without_a_version_reads_as_version_1_and_newer_ones_are_refused(tmp_path):
    d = make_run(tmp_path, "old")
    assert runs.read_run(d).meta["schema_version"] == 1
    newer = make_run(tmp_path, "newer", schema_version=schema.RUN_SCHEMA_VERSION + 1)
    with pytest.raises(ValueError, match="newer ResNet Studio"):
        runs.read_run(newer)
    bad = make_run(tmp_path, "bad", schema_version="2")
    with pytest.raises(ValueError, match="schema_version must be a positive integer"):
        runs.read_run(bad)
    # The listing skips what it cannot read instead of raising.
    assert [r.id for r in runs.list_runs(tmp_path)] == ["old"]


def test_migrations_run_in_order_up_to_the_current_version(monkeypatch):
    monkeypatch.setattr(schema, "RUN_SCHEMA_VERSION", 3)
    def rename(m: dict) -> dict:
        m["renamed"] = m.pop("old_name")
        return m

    monkeypatch.setattr(schema, "MIGRATIONS", {
        1: rename, 2: lambda m: {**m, "renamed": m["renamed"].upper()}})
    out = schema.migrate_run_meta({"old_name": "x"})
    assert out == {"renamed": "X", "schema_version": 3}


def test_scanner_rereads_only_changed_or_running_runs(tmp_path, monkeypatch):
    a = make_run(tmp_path, "a")
    make_run(tmp_path, "b", "running", host=socket.gethostname(), pid=os.getpid(),
             pid_start=process_start(os.getpid()))
    (tmp_path / "not-a-run").mkdir()
    scanner = runs.RunScanner(tmp_path)
    first = {r.id: r for r in scanner.scan()}
    assert sorted(first) == ["a", "b"] and first["b"].status == "running"
    reads: list[str] = []
    real = runs.store.read_run
    monkeypatch.setattr(runs.store, "read_run", lambda d: reads.append(Path(d).name) or real(d))
    again = {r.id: r for r in scanner.scan()}
    assert reads == ["b"]  # "a" unchanged: the same object comes back
    assert again["a"] is first["a"]
    meta = json.loads((a / "run.json").read_text())
    meta["status"] = "failed"
    (a / "run.json").write_text(json.dumps(meta, indent=1))
    reads.clear()
    assert {r.id: r.status for r in scanner.scan()}["a"] == "failed"
    assert sorted(reads) == ["a", "b"]


def test_final_metrics_fall_back_to_run_json(tmp_path):
    d = make_run(tmp_path, "r", test={"accuracy": 0.5})
    info = runs.read_run(d)
    assert runs.read_test_metrics(info) == {"accuracy": 0.5}
    runs.write_final(d, {"test": {"accuracy": 0.75, "confusion_matrix": [[3, 1], [0, 4]]}})
    assert runs.read_test_metrics(info)["accuracy"] == 0.75
    layout.final_json(d).write_text("{torn")
    assert runs.read_test_metrics(info) == {"accuracy": 0.5}


def test_pair_links_name_the_sibling_folder(tmp_path):
    res = make_run(tmp_path, "x-residual", **runs.pair_meta("residual", tmp_path / "x-plain"))
    plain = make_run(tmp_path, "x-plain", **runs.pair_meta("plain", res))
    lone = make_run(tmp_path, "lone")
    for d in (res, plain):
        assert runs.pair_dirs(runs.read_run(d)) == {"residual": res, "plain": plain}
    assert runs.pair_dirs(runs.read_run(lone)) is None
    assert not runs.is_compared(runs.read_run(lone))


def test_resume_target_says_why_a_run_cannot_resume(tmp_path):
    done = make_run(tmp_path, "done")
    with pytest.raises(runs.NotResumable, match="status is completed"):
        runs.resume_target(done)
    stopped = make_run(tmp_path, "stopped", "stopped", config={})
    with pytest.raises(runs.NotResumable, match="no checkpoint to resume from"):
        runs.resume_target(stopped)
    with pytest.raises(runs.NotResumable, match="not a run folder"):
        runs.resume_target(tmp_path / "nothing")
    ckpt = layout.checkpoint_dir(stopped)
    ckpt.mkdir(parents=True)
    assert runs.can_resume(runs.read_run(stopped))  # offered: the folder is there
    (ckpt / "model.weights.h5").write_bytes(b"")
    (ckpt / "state.json").write_text("{}")
    with pytest.raises(runs.NotResumable, match="architecture.json: unreadable"):
        runs.resume_target(stopped)


def test_delete_refuses_a_running_run_and_removes_others(tmp_path):
    live = make_run(tmp_path, "live", "running", host=socket.gethostname(), pid=os.getpid(),
                    pid_start=process_start(os.getpid()))
    old = make_run(tmp_path, "old", "stopped")
    stale = runs.read_run(live)
    stale.status = "stopped"  # a listing from before it started: read again from disk
    with pytest.raises(runs.RunIsRunning):
        runs.delete_run(stale)
    assert live.is_dir()
    deletable, running = runs.current_state([runs.read_run(old), stale])
    assert [r.id for r in deletable] == ["old"] and [r.id for r in running] == ["live"]
    runs.delete_run(runs.read_run(old))
    assert not old.exists()
