"""Messages say what the user typed: flags as flags, limits as they are enforced."""

from __future__ import annotations

import subprocess
import sys

import pytest

from resnet_studio.cli import main


def test_learning_rate_errors_name_the_lr_flag(capsys):
    code = main(["train", "resnet8-digits", "--lr", "-1", "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--lr: expected a number" in err and "learning-rate" not in err


def test_nesting_limit_message_matches_what_is_refused():
    from resnet_studio.core.spec import MAX_NESTING, SpecError, loads_spec

    def nested(containers: int) -> str:
        inner = '{"type": "dense", "params": {"units": 4}}'
        blocks = '{"type": "residual", "blocks": [' * containers + inner + "]}" * containers
        head = '{"name": "d", "input": {"kind": "vector", "shape": [4]}, "blocks": ['
        return head + blocks + "]}"

    loads_spec(nested(MAX_NESTING - 1), "ok")  # 31 containers + the block: 32 levels
    try:
        loads_spec(nested(MAX_NESTING), "deep")
    except SpecError as e:
        assert f"deeper than {MAX_NESTING} levels (at most {MAX_NESTING - 1} containers" in str(e)
    else:
        raise AssertionError("33 levels accepted")


@pytest.mark.slow
@pytest.mark.parametrize("module", ["resnet_studio", "resnet_studio.cli.main"])
def test_module_entry_points_exit_2_on_bad_input(module):
    proc = subprocess.run([sys.executable, "-m", module, "train", "resnet8-digits", "--lr", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "resnet-studio: --lr: expected a number" in proc.stderr
    assert "internal error" not in proc.stderr
