"""The user-data folder: where runs, settings, autosaves and caches of ResNet Studio live.

One function for the whole project, so the CLI, the GUI and the run store never disagree on
where a user's files are.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "RESNET_STUDIO_HOME"


def studio_home() -> Path:
    """$RESNET_STUDIO_HOME (tests, portable installs), else the platform's user-data folder
    for resnet-studio (~/.local/share/resnet-studio on Linux)."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home)
    import platformdirs  # deferred: most commands never need it

    return Path(platformdirs.user_data_dir("resnet-studio", appauthor=False))
