"""Shared test set-up: quiet TensorFlow, offscreen Qt, isolated user folders."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Runs, caches and settings of a test never touch the user's real folders."""
    home = tmp_path_factory.mktemp("studio-home")
    monkeypatch.setenv("RESNET_STUDIO_HOME", str(home))
    yield home
