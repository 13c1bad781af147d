"""`resnet-studio experiment`: bad files exit 2 naming the field, the built-ins are listed,
and an experiment killed with SIGKILL resumes without re-running its finished arms."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from resnet_studio.cli import main
from resnet_studio.core.spec import save_spec, spec_from_dict
from tests.processes import sigkill_when

STUDIO = [sys.executable, "-c", "import sys; from resnet_studio.cli import main; sys.exit(main())"]


def write_experiment(tmp_path, **kw):
    """A two-arm experiment on a small residual CNN saved next to it (arch.json)."""
    save_spec(spec_from_dict({
        "name": "arch", "input": {"kind": "image", "shape": [8, 8, 1]},
        "blocks": [
            {"type": "conv_stem", "params": {"filters": 8, "kernel_size": 3, "stride": 1,
                                             "pool": False}},
            {"type": "basic_block", "params": {"filters": 8, "shortcut": "identity"}},
            {"type": "global_pool", "params": {}},
            {"type": "classifier_head", "params": {"classes": 10}}],
        "dataset": "digits"}), tmp_path / "arch.json")
    data = {"name": "twins", "preset": "arch.json", "dataset": "digits", "seeds": 1,
            "training": {"epochs": 2, "batch_size": 16, "optimizer": "adam"},
            "arms": [{"name": "residual"},
                     {"name": "plain", "architecture": {"shortcut": "none"}}], **kw}
    path = tmp_path / "twins.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_malformed_experiment_file_exits_2_naming_file_and_field(tmp_path, capsys):
    path = write_experiment(tmp_path, arms=[{"name": "a", "training": {"clipnorm": -1}}])
    assert main(["experiment", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert f"{path}: arms[0].training.clipnorm" in captured.err
    assert "Traceback" not in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["kind"] == "bad_input"
    assert main(["experiment", "no-such-experiment"]) == 2
    assert "built-in: clipping, degradation" in capsys.readouterr().err
    assert main(["experiment", "degradation", "--seeds", "0"]) == 2


def test_experiments_lists_the_built_in_ones(capsys):
    assert main(["experiments", "--json"]) == 0
    items = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["experiments"]
    by_name = {it["name"]: it for it in items}
    assert set(by_name) == {"clipping", "degradation", "norm-placement", "optimizers",
                            "preactivation", "residual-scaling", "shortcuts"}
    assert by_name["degradation"]["arms"][0] == "plain-8"
    assert all(it["claim"] and it["citation"] for it in items)


@pytest.mark.slow
def test_a_killed_experiment_resumes_without_rerunning_finished_arms(tmp_path, capsys):
    path = write_experiment(tmp_path)
    root = tmp_path / "runs"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    child = subprocess.Popen([*STUDIO, "experiment", str(path), "--limit", "320",
                              "--runs-root", str(root)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    def second_arm_checkpointed() -> bool:
        folders = list(root.glob("*-twins-*"))
        return bool(folders) and (folders[0] / "plain-seed0" / "checkpoints" / "last" /
                                  "state.json").exists()

    # Kill once the first arm has finished and the second has checkpointed an epoch.
    sigkill_when(child, second_arm_checkpointed, "checkpoint of the second arm")
    (folder,) = list(root.glob("*-twins-*"))
    first = (folder / "residual-seed0" / "run.json").read_text()
    assert json.loads(first)["status"] == "completed"

    assert main(["experiment", "--resume", str(folder), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert "[1/2] residual seed 0: completed" in captured.err
    assert "(kept from before)" in captured.err.splitlines()[1]
    assert (folder / "residual-seed0" / "run.json").read_text() == first  # not re-run
    plain = json.loads((folder / "plain-seed0" / "run.json").read_text())
    assert plain["status"] == "completed" and plain["resumes"] == 1  # from its checkpoint
    assert result["experiment"] == "twins" and result["dir"] == str(folder)
    arms = {a["name"]: a for a in result["arms"]}
    assert list(arms) == ["residual", "plain"]
    for a in arms.values():
        assert a["runs"] == [str(folder / f"{a['name']}-seed0")]
        assert {"mean", "sd"} <= set(a["final_train_loss"]) and a["params"] > 0
        for key in ("val_accuracy", "test_accuracy", "gradient_ratio"):
            assert a[key]["mean"] is not None
    assert arms["residual"]["params"] == arms["plain"]["params"]
