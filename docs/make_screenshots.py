"""Regenerates the README screenshots.

Editor images come from `resnet-studio gui PRESET --screenshot FILE`; the training image
from this script's `--training FILE` mode, which opens the main window, presses Train and
grabs the window mid-run, once a few epochs have filled the plots; the comparison image from
`--compare FILE`, which opens the lab preset, starts Train → Compare with Plain Twin and
grabs the Compare tab when both runs are done (a few epochs each), headline included; the
Insight images from `--insight DIR`, which trains a few epochs in the window, then opens
Train › Predictions and Histograms and grabs its two pages (predictions.png, histograms.png).

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


# The training shot: this preset on its dataset, grabbed after GRAB_AFTER of EPOCHS epochs.
TRAINING_SHOT = ("resnet8-digits", "training.png", "light")
EPOCHS, GRAB_AFTER = 12, 6


def training_screenshot(out: Path) -> int:
    """Trains in the GUI and grabs the Training tab mid-run (runs in a child process)."""
    from resnet_studio.core.presets import load_preset
    from resnet_studio.gui.app import SCREENSHOT_SIZE, make_application
    from resnet_studio.gui.main_window import MainWindow

    app = make_application()
    window = MainWindow(load_preset(TRAINING_SHOT[0]), restore_layout=False)
    window.resize(*SCREENSHOT_SIZE)
    return grab_mid_training(app, window, out, EPOCHS, GRAB_AFTER)


def grab_mid_training(app, window, out: Path, epochs: int, grab_after: int) -> int:
    """Presses Train for `epochs` epochs once TensorFlow is loaded, grabs the window after
    epoch `grab_after`, stops the run and exits the event loop; returns 0 when the image was
    written (shared with make_text_screenshots.py)."""
    from PySide6.QtCore import QTimer

    from resnet_studio.core.training.events import EpochEnd

    view = window.training_view
    view.panel.set_value("epochs", epochs)
    code = [1]

    def grab() -> None:
        view.plots.refresh()
        app.processEvents()
        code[0] = 0 if window.grab().save(str(out), "PNG") else 1
        print(f"wrote {out}")
        view.stop()

    def on_event(event: object) -> None:
        if isinstance(event, EpochEnd) and event.epoch == grab_after:
            QTimer.singleShot(0, grab)

    def start() -> None:
        window.start_training()
        view.session.event.connect(on_event)

    def finished(_f: object) -> None:
        window.doc.undo_stack.setClean()  # no "save changes?" question on close
        window.close()
        app.exit(code[0])

    window.show()
    window.start_backend()
    window.tf_loader.ready.connect(lambda _info: QTimer.singleShot(0, start))
    view.run_finished.connect(finished)
    return app.exec()


# The comparison shot: this preset and its plain twin, COMPARE_EPOCHS epochs each.
COMPARE_SHOT = ("lab-sigmoid-mlp", "compare.png", "light")
COMPARE_EPOCHS = 6


def compare_screenshot(out: Path) -> int:
    """Compares the lab preset with its plain twin in the GUI and grabs the Compare tab."""
    from PySide6.QtCore import QTimer

    from resnet_studio.core.presets import load_preset
    from resnet_studio.gui.app import SCREENSHOT_SIZE, make_application
    from resnet_studio.gui.main_window import MainWindow

    app = make_application()
    window = MainWindow(load_preset(COMPARE_SHOT[0]), restore_layout=False)
    window.resize(*SCREENSHOT_SIZE)
    window.training_view.panel.set_value("epochs", COMPARE_EPOCHS)
    view = window.compare_view

    def grab(results: object) -> None:
        code = 1
        if isinstance(results, dict) and all(
                r.get("status") == "completed" for r in results.values()):
            view.refresh()
            app.processEvents()
            code = 0 if window.grab().save(str(out), "PNG") else 1
            print(f"wrote {out}")
        window.close()
        app.exit(code)

    window.show()
    window.start_backend()
    window.tf_loader.ready.connect(
        lambda _info: QTimer.singleShot(0, window.start_compare))
    view.finished.connect(grab)
    return app.exec()


# The Insight shots: this preset trained INSIGHT_EPOCHS epochs, then its two pages.
INSIGHT_SHOT = ("resnet8-digits", ("predictions.png", "histograms.png"), "light")
INSIGHT_EPOCHS, INSIGHT_LAYER = 3, "stage2_1_conv1"


def insight_screenshots(out_dir: Path) -> int:
    """Trains in the GUI, then grabs the Insight tab's Predictions and Histograms pages."""
    from PySide6.QtCore import QTimer

    from resnet_studio.core.presets import load_preset
    from resnet_studio.gui.app import SCREENSHOT_SIZE, make_application
    from resnet_studio.gui.main_window import MainWindow

    app = make_application()
    window = MainWindow(load_preset(INSIGHT_SHOT[0]), restore_layout=False)
    window.resize(*SCREENSHOT_SIZE)
    view = window.training_view
    view.panel.set_value("epochs", INSIGHT_EPOCHS)
    code = [1]

    def save(name: str) -> bool:
        app.processEvents()
        ok = window.grab().save(str(out_dir / name), "PNG")
        print(f"wrote {out_dir / name}")
        return ok

    def grab_pages(_predictions: object) -> None:
        insight = window.runs.built("insight")
        ok = save(INSIGHT_SHOT[1][0])
        insight.pages.setCurrentWidget(insight.histograms)
        insight.histograms.select_layer(INSIGHT_LAYER)
        insight.histograms.overlay.setChecked(True)
        ok = save(INSIGHT_SHOT[1][1]) and ok
        code[0] = 0 if ok else 1
        window.close()
        app.exit(code[0])

    def show_insight(_finished: object) -> None:
        window.actions["insight"].trigger()  # Train › Predictions and Histograms
        window.runs.built("insight").predictions.ready.connect(
            lambda p: QTimer.singleShot(0, lambda: grab_pages(p)))

    window.show()
    window.start_backend()
    window.tf_loader.ready.connect(lambda _info: QTimer.singleShot(0, window.start_training))
    view.run_finished.connect(lambda f: QTimer.singleShot(0, lambda: show_insight(f)))
    return app.exec()


def _env(appearance: str) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3",
               RESNET_STUDIO_APPEARANCE=appearance)
    # A private home: the user's settings (zoom, layout) and runs stay out of the images.
    env["RESNET_STUDIO_HOME"] = str(OUT / ".home")
    return env


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--training":
        return training_screenshot(Path(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "--compare":
        return compare_screenshot(Path(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "--insight":
        return insight_screenshots(Path(sys.argv[2]))
    OUT.mkdir(parents=True, exist_ok=True)
    failures = 0
    jobs = [([*studio_command(), "gui", preset, "--screenshot", str(OUT / name)], name,
             appearance) for preset, name, appearance in SHOTS]
    _, name, appearance = TRAINING_SHOT
    jobs.append(([sys.executable, __file__, "--training", str(OUT / name)], name, appearance))
    _, name, appearance = COMPARE_SHOT
    jobs.append(([sys.executable, __file__, "--compare", str(OUT / name)], name, appearance))
    _, names, appearance = INSIGHT_SHOT
    jobs.append(([sys.executable, __file__, "--insight", str(OUT)], " and ".join(names),
                 appearance))
    for cmd, name, appearance in jobs:
        env = _env(appearance)
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
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
