"""CLI: with no command, `resnet-studio` opens the app, and gui options work without `gui`
(`resnet-studio --screenshot FILE`, what the desktop bundle's launcher is checked with)."""

from __future__ import annotations

import pytest

import resnet_studio.gui.app as gui_app
from resnet_studio.cli import main


@pytest.fixture
def calls(monkeypatch) -> list[tuple]:
    """run_app is replaced by a recorder: no window, no event loop."""
    seen: list[tuple] = []

    def fake_run_app(preset=None, screenshot=None):
        seen.append((preset, screenshot))
        return 0

    monkeypatch.setattr(gui_app, "run_app", fake_run_app)
    return seen


@pytest.mark.parametrize("argv,expected", [
    ([], (None, None)),
    (["--screenshot", "shot.png"], (None, "shot.png")),
    (["--screenshot=shot.png"], (None, "shot.png")),
    (["--screenshot", "shot.png", "resnet20-cifar"], ("resnet20-cifar", "shot.png")),
    (["gui", "--screenshot", "shot.png"], (None, "shot.png")),  # the documented form
    (["gui", "resnet20-cifar"], ("resnet20-cifar", None)),
])
def test_gui_is_the_default_command(calls, argv, expected):
    assert main(argv) == 0
    assert calls == [expected]


def test_top_level_options_and_bad_flags_are_not_sent_to_gui(calls, capsys):
    assert main(["--version"]) == 0
    assert main(["--help"]) == 0
    assert "--screenshot FILE" in capsys.readouterr().out  # the epilog names the short form
    assert main(["--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert main(["--screenshot"]) == 2  # FILE missing: gui's own usage error
    assert calls == []
