"""CLI: presets, summary, validate, --version; exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from resnet_studio import __version__
from resnet_studio.cli import main
from resnet_studio.core.builder import build_model
from resnet_studio.core.presets import load_preset, preset_names


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"resnet-studio {__version__}"


def test_presets_json_lists_every_shipped_preset(capsys):
    code, out, _ = run(capsys, "presets", "--json")
    assert code == 0
    assert [p["name"] for p in last_json(out)["presets"]] == preset_names()


@pytest.mark.parametrize("name,count", [("resnet18", 11_689_512), ("resnet34", 21_797_672),
                                        ("resnet50", 25_557_032), ("resnet101", 44_549_160),
                                        ("resnet152", 60_192_808)])
def test_summary_json_gives_the_published_totals(capsys, name, count):
    code, out, _ = run(capsys, "summary", name, "--json")
    assert code == 0
    data = last_json(out)
    assert data["total_params"] == count
    assert data["trainable_params"] == count
    assert sum(b["params"] for b in data["blocks"]) == count
    for b in data["blocks"]:
        assert {"name", "type", "output_shape", "params"} <= set(b)
    assert data["blocks"][-1]["output_shape"] == [None, 1000]


def test_summary_table_and_no_residual(capsys):
    code, out, _ = run(capsys, "summary", "resnet8-digits")
    assert code == 0
    total = build_model(load_preset("resnet8-digits")).summary.total_params
    assert f"total params:         {total:,}" in out
    assert "stage2" in out and "basic_block" in out
    code, out, _ = run(capsys, "summary", "resnet8-digits", "--no-residual", "--json")
    data = last_json(out)
    # The projection shortcuts of stage2/3 are gone, nothing else.
    assert 0 < total - data["total_params"] < 5000


def test_validate_ok_and_problems(capsys, tmp_path):
    code, out, _ = run(capsys, "validate", "resnet20-cifar")
    assert code == 0 and "valid" in out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "input": {"kind": "image", "shape": [8, 8, 1]},
                               "blocks": [{"type": "conv", "params": {"filters": -64}},
                                          {"type": "classifier_head"}]}))
    code, out, err = run(capsys, "validate", str(bad))
    assert code == 2
    assert "blocks[0].params.filters: expected a positive integer" in err
    assert str(bad) in err
    shape_bad = tmp_path / "shape.json"
    shape_bad.write_text(json.dumps({"name": "s", "input": {"kind": "image",
                                                            "shape": [8, 8, 1]},
                                     "blocks": [{"type": "conv"}, {"type": "gru"}]}))
    code, _, err = run(capsys, "validate", str(shape_bad), "--json")
    assert code == 2 and "blocks[1]" in err and "expects a sequence" in err


@pytest.mark.parametrize("content", ["", "{", "[]", '{"name": NaN}', "\x00\x01binary",
                                     '{"schema_version": 7, "name": "x"}',
                                     '{"name":"x","input":{"kind":"image","shape":[8,8,1]},'
                                     '"blocks":[{"type":"wormhole"}]}'])
def test_broken_files_exit_2_with_a_message_and_no_traceback(capsys, tmp_path, content):
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    for command in ("validate", "summary"):
        code, out, err = run(capsys, command, str(path))
        assert code == 2, (command, err)
        assert "Traceback" not in err and str(path) in err


@pytest.mark.slow
def test_console_script_subprocess_exit_codes(tmp_path):
    """The installed entry point itself: exit 2 and a one-line message on stderr."""
    path = tmp_path / "empty.json"
    path.write_text("")
    result = subprocess.run([sys.executable, "-m", "resnet_studio.cli.main", "validate",
                             str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "the file is empty" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "resnet_studio.cli.main", "summary", "nope"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "no preset named 'nope'" in result.stderr


def _mismatched_preset(tmp_path):
    """resnet8-digits saying 32×32×3 inputs and 3 classes: digits has 8×8×1 and 10."""
    spec = load_preset("resnet8-digits").to_dict()
    spec["input"]["shape"] = [32, 32, 3]
    head = next(b for b in spec["blocks"] if b["type"] == "classifier_head")
    head["params"] = {**head.get("params", {}), "classes": 3}
    path = tmp_path / "mismatched.json"
    path.write_text(json.dumps(spec))
    return path


def test_summary_on_a_dataset_lists_what_binding_changes(capsys, tmp_path):
    from resnet_studio.core.binding import bind_spec, facts_for_editor
    from resnet_studio.core.builder import summarize

    path = _mismatched_preset(tmp_path)
    code, out, _ = run(capsys, "summary", str(path), "--dataset", "digits")
    assert code == 0
    tail = out.split("BatchNorm statistics:")[1]
    assert "input: 32×32×3 in the preset → 8×8×1 from digits" in tail
    assert "classifier_head (blocks[5]) classes: 3 in the preset → 10 from digits" in tail

    code, out, _ = run(capsys, "summary", str(path), "--dataset", "digits", "--json")
    data = last_json(out)
    assert [(d["location"], d["field"], d["user"], d["dataset"], d["applied"])
            for d in data["differences"]] == [("input", "shape", [32, 32, 3], [8, 8, 1], True),
                                              ("blocks[5]", "classes", 3, 10, True)]
    assert data["differences"][0]["text"] == "input: 32×32×3 in the preset → 8×8×1 from digits"
    # The summary is the model as it trains: the bound spec's count, 10 outputs.
    spec = load_preset(str(path))
    bound = bind_spec(spec, facts_for_editor(spec, "digits"))
    assert data["total_params"] == summarize(bound.spec).total_params
    assert data["input_shape"] == [None, 8, 8, 1] and data["output_shape"] == [None, 10]


def test_summary_on_a_matching_dataset_says_nothing_differs(capsys):
    code, out, _ = run(capsys, "summary", "resnet8-digits", "--dataset", "digits")
    assert code == 0 and "the preset's input and head already match it" in out
    code, out, _ = run(capsys, "summary", "resnet8-digits", "--dataset", "digits", "--json")
    assert last_json(out)["differences"] == []
    # Without a dataset there is nothing bound, and no list.
    code, out, _ = run(capsys, "summary", "resnet8-digits", "--json")
    assert "differences" not in last_json(out)
