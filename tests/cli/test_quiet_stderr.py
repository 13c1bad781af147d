"""The command line keeps TensorFlow's C++ start-up lines off stderr (they are written to
fd 2 directly, before absl's logging starts, so TF_CPP_MIN_LOG_LEVEL alone does not help);
--verbose / RESNET_STUDIO_TF_LOGS=1 brings them back."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from resnet_studio.core.tf_quiet import (
    TF_LOGS_ENV,
    filter_tensorflow_lines,
    stderr_without_tensorflow_logs,
)

STUDIO = [sys.executable, "-c", "import sys; from resnet_studio.cli import main; sys.exit(main())"]
# What TensorFlow's C++ side prints on start-up (any of them would be a leak).
TF_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\]|absl::InitializeLog|oneDNN|"
                     r"cuda|cuInit|cpu_feature_guard|rebuild TensorFlow", re.M)

SAMPLE = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796474042.653954   24775 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.
I0000 00:00:1796474042.654245   24775 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796474042.858952   24775 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
/x/site-packages/keras/src/foo.py:74: UserWarning: something a library says
  self.data_adapter = data_adapters.get_data_adapter(
E0000 00:00:1796473285.747749    7868 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error
Traceback (most recent call last):
  File "x.py", line 1, in <module>
ValueError: ours
resnet-studio: a message of ours
"""


def test_only_tensorflow_log_lines_are_filtered():
    kept = filter_tensorflow_lines(SAMPLE)
    assert not TF_LINE.search(kept), kept
    assert kept.splitlines() == [
        "/x/site-packages/keras/src/foo.py:74: UserWarning: something a library says",
        "  self.data_adapter = data_adapters.get_data_adapter(",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "ValueError: ours",
        "resnet-studio: a message of ours"]


def test_fd_2_is_restored_and_what_is_not_tensorflow_comes_back(capfd):
    with stderr_without_tensorflow_logs():
        os.write(2, SAMPLE.encode())
        print("from python", file=sys.stderr)
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert not TF_LINE.search(err), err
    assert "ValueError: ours" in err and "from python" in err and err.endswith("after\n")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", TF_LOGS_ENV)}
    return {**env, "QT_QPA_PLATFORM": "offscreen", **extra}


@pytest.mark.slow
def test_a_one_epoch_train_leaves_no_tensorflow_line_on_stderr(tmp_path):
    """The issue's command (capped at 128 examples), without TF_CPP_MIN_LOG_LEVEL set."""
    proc = subprocess.run([*STUDIO, "train", "resnet8-digits", "--dataset", "digits",
                           "--epochs", "1", "--limit", "128", "--runs-root", str(tmp_path)],
                          capture_output=True, text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not TF_LINE.search(proc.stderr), proc.stderr
    assert "epoch 1/1" in proc.stderr and "run folder:" in proc.stderr  # ours still there
    assert "Warning" not in proc.stderr  # no library warnings either


@pytest.mark.slow
def test_verbose_brings_tensorflows_lines_back(tmp_path):
    for flag, env in (([], _env(**{TF_LOGS_ENV: "1"})), (["--verbose"], _env())):
        proc = subprocess.run([*STUDIO, "summary", "resnet8-digits", *flag], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert re.search(r"^[IWEF]\d{4} ", proc.stderr, re.M), (flag, proc.stderr)
