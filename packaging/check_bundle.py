"""Builds the desktop bundle and checks that its launcher works (`make package-check`).

    .venv/bin/python packaging/check_bundle.py [--no-build] [--train] [--dist DIR]

1. builds dist/resnet-studio/ with PyInstaller (packaging/resnet-studio.spec), unless
   --no-build, which checks the bundle already there;
2. runs `resnet-studio --version` and expects `resnet-studio VERSION`;
3. runs `resnet-studio --screenshot FILE` with QT_QPA_PLATFORM=offscreen and a throw-away
   RESNET_STUDIO_HOME, and checks the PNG: 1400x900, not tiny, many colours;
4. with --train, trains resnet8-digits for one epoch on the digits (`train ... --json`) and
   expects status `completed`.
Prints the bundle size and the time of every step; exits 1 if any check fails.
Not part of `make test`: the build alone takes about 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "resnet-studio.spec"
NAME = "resnet-studio"
SCREENSHOT_SIZE = (1400, 900)
MIN_PNG_BYTES = 20_000  # the editor at 1400x900 is ~150 KB; a blank window is a few KB
MIN_COLOURS = 64  # distinct colours on a sampling grid; a blank or one-colour window has 1-3


def version() -> str:
    text = (ROOT / "resnet_studio" / "__init__.py").read_text(encoding="utf-8")
    return text.split('__version__ = "', 1)[1].split('"', 1)[0]


def tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            p = Path(dirpath, f)
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def png_problems(path: Path) -> list[str]:
    """What is wrong with the screenshot (empty list: it looks like a real window)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    if not path.is_file():
        return [f"{path} was not written"]
    problems = []
    if path.stat().st_size < MIN_PNG_BYTES:
        problems.append(f"{path} has only {path.stat().st_size} bytes")
    image = QImage(str(path))
    if image.isNull():
        return [*problems, f"{path} is not a readable PNG"]
    if (image.width(), image.height()) != SCREENSHOT_SIZE:
        problems.append(f"{path} is {image.width()}x{image.height()}, expected "
                        f"{SCREENSHOT_SIZE[0]}x{SCREENSHOT_SIZE[1]}")
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7)
               for y in range(0, image.height(), 7)}
    if len(colours) < MIN_COLOURS:
        problems.append(f"{path} has only {len(colours)} distinct colours")
    return problems


def run(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[subprocess.CompletedProcess,
                                                                      float]:
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-build", action="store_true", help="check the existing bundle")
    parser.add_argument("--train", action="store_true",
                        help="also train resnet8-digits for one epoch with the bundle")
    parser.add_argument("--dist", default=str(ROOT / "dist"), help="PyInstaller's dist folder")
    args = parser.parse_args(argv)
    dist = Path(args.dist)
    bundle = dist / NAME
    launcher = bundle / (NAME + (".exe" if sys.platform == "win32" else ""))
    failures: list[str] = []

    if not args.no_build:
        start = time.perf_counter()
        build = subprocess.run([sys.executable, "-m", "PyInstaller", str(SPEC), "--distpath",
                                str(dist), "--workpath", str(ROOT / "build" / "pyinstaller"),
                                "--noconfirm", "--log-level", "WARN"], cwd=ROOT)
        print(f"build: {time.perf_counter() - start:.0f} s, exit {build.returncode}")
        if build.returncode != 0:
            print("check_bundle: the PyInstaller build failed", file=sys.stderr)
            return 1
    if not launcher.is_file():
        print(f"check_bundle: no launcher at {launcher} (build it with `make package`)",
              file=sys.stderr)
        return 1
    print(f"bundle: {bundle} {tree_size(bundle) / 2**30:.2f} GiB "
          f"({sum(1 for _ in bundle.rglob('*'))} files)")

    with tempfile.TemporaryDirectory(prefix="resnet-studio-check-") as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="2",
                   RESNET_STUDIO_HOME=str(Path(tmp) / "home"))

        result, seconds = run([str(launcher), "--version"], env, 60)
        expected = f"{NAME} {version()}"
        print(f"--version: {result.stdout.strip()!r} in {seconds:.2f} s, exit {result.returncode}")
        if result.returncode != 0 or result.stdout.strip() != expected:
            failures.append(f"--version printed {result.stdout.strip()!r} (exit "
                            f"{result.returncode}), expected {expected!r}")

        shot = Path(tmp) / "screenshot.png"
        result, seconds = run([str(launcher), "--screenshot", str(shot)], env, 600)
        print(f"--screenshot: {seconds:.1f} s, exit {result.returncode}, "
              f"{shot.stat().st_size if shot.exists() else 0} bytes")
        problems = png_problems(shot) if result.returncode == 0 else [
            f"--screenshot exited {result.returncode}: {result.stderr.strip()[-2000:]}"]
        failures += problems

        if args.train:
            result, seconds = run([str(launcher), "train", "resnet8-digits", "--dataset",
                                   "digits", "--epochs", "1", "--json", "--runs-root",
                                   str(Path(tmp) / "runs")], env, 900)
            lines = result.stdout.strip().splitlines()
            summary = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
            test = summary.get("test") or {}
            print(f"train: {seconds:.1f} s, exit {result.returncode}, status "
                  f"{summary.get('status')}, test accuracy {test.get('accuracy')}")
            if result.returncode != 0 or summary.get("status") != "completed":
                failures.append(f"train exited {result.returncode}: "
                                f"{result.stderr.strip()[-2000:]}")

    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    print("bundle check: " + ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
