"""Regenerates the README screenshots with `resnet-studio gui PRESET --screenshot FILE`.

Run from anywhere: `python docs/make_screenshots.py` (uses the `resnet-studio` next to the
running Python, i.e. the project's virtualenv). Renders offscreen, so it works on a headless
machine; each screenshot is 1400×900.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "screenshots"
# (preset, file, appearance)
SHOTS = [
    ("resnet20-cifar", "editor-resnet.png", "light"),
    ("gpt-char", "editor-transformer.png", "light"),
    ("preact-resnet18", "editor-dark.png", "dark"),
]


def studio_command() -> list[str]:
    exe = Path(sys.executable).with_name("resnet-studio")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("resnet-studio")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from resnet_studio.cli import main; "
                                  "sys.exit(main())"]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    failures = 0
    for preset, name, appearance in SHOTS:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3",
                   RESNET_STUDIO_APPEARANCE=appearance)
        # A private home: the user's settings (zoom, layout) must not change the images.
        env["RESNET_STUDIO_HOME"] = str(OUT / ".home")
        cmd = [*studio_command(), "gui", preset, "--screenshot", str(OUT / name)]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            failures += 1
            print(f"FAILED {name}: exit {result.returncode}\n{result.stderr[-2000:]}",
                  file=sys.stderr)
        else:
            print(result.stdout.strip().splitlines()[-1])
    shutil.rmtree(OUT / ".home", ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
