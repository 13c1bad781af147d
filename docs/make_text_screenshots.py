"""Regenerates the README screenshots of text models and pretrained backbones.

    python docs/make_text_screenshots.py

writes, under docs/screenshots/ (offscreen, so it works on a headless machine):

- `text-preview.png`: bert-tiny open, its Training tab previewing `stdlib-docs` as the
  WordPiece tokens the model will read;
- `pretrained-canvas.png` and `pretrained-inside.png`: a `pretrained_backbone` block (a tiny
  BertBackbone saved with keras-hub's `save_to_preset`) on the canvas, and its read-only
  inside view;
- `pretrained-training.png`: that backbone fine-tuned on `stdlib-docs` in the Training tab,
  grabbed once a few epochs have filled the gradient plots.

The backbone's weights are random (saved, not downloaded: the screenshots must be made
offline); a real preset folder or handle looks the same with more layers. Each shot runs in
a child process with a private $RESNET_STUDIO_HOME.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "screenshots"
HOME = OUT / ".text-home"
LENGTH = 64
EPOCHS, GRAB_AFTER = 10, 8


def make_backbone(folder: Path) -> None:
    """A 2-layer, width-64 BERT with a 2,000-piece vocabulary learnt from stdlib-docs."""
    import keras
    import keras_hub

    from resnet_studio.core.data import stdlib_docs
    from resnet_studio.core.data.tokenizers import fit_tokenizer

    keras.utils.set_random_seed(0)
    vocab = list(fit_tokenizer("wordpiece", stdlib_docs.corpus()[0], 2000).vocabulary)
    keras_hub.models.BertBackbone(vocabulary_size=len(vocab), num_layers=2, num_heads=2,
                                  hidden_dim=64, intermediate_dim=256,
                                  max_sequence_length=LENGTH).save_to_preset(str(folder))
    keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=True).save_to_preset(str(folder))


def backbone_spec(folder: Path, unfreeze_top: int = 0) -> object:
    """The backbone, dropout and a classifier; `unfreeze_top` 1 in the canvas shots (frozen
    and fine-tuned layers side by side), 0 (all fine-tuned) in the training shot."""
    from resnet_studio.core.spec import spec_from_dict

    return spec_from_dict({
        "schema_version": 1, "name": "tiny-bert-finetune",
        "input": {"kind": "tokens", "shape": [LENGTH]},
        "blocks": [{"type": "pretrained_backbone", "name": "bert",
                    "params": {"preset": str(folder), "trainable": True,
                               "unfreeze_top": unfreeze_top}},
                   {"type": "dropout", "name": "drop", "params": {"rate": 0.1}},
                   {"type": "classifier_head", "name": "head", "params": {"classes": 8}}],
        "training": {"optimizer": "adamw", "learning_rate": 0.001, "epochs": EPOCHS,
                     "batch_size": 32},
        "dataset": "stdlib-docs"})


def _window(spec: object):
    from resnet_studio.gui.app import SCREENSHOT_SIZE, make_application
    from resnet_studio.gui.main_window import MainWindow

    app = make_application()
    window = MainWindow(spec, restore_layout=False)
    window.resize(*SCREENSHOT_SIZE)
    return app, window


def _save(widget, out: Path) -> int:
    ok = widget.grab().save(str(out), "PNG")
    print(f"wrote {out}")
    return 0 if ok else 1


def preview_shot(out: Path) -> int:
    """bert-tiny's Training tab, its preview showing WordPiece tokens."""
    from PySide6.QtCore import QTimer

    from resnet_studio.core.presets import load_preset

    app, window = _window(load_preset("bert-tiny"))
    code = [1]

    def check() -> None:
        panel = window.training_view.panel
        if panel.preview is not None and panel.preview.tokens is not None:
            window.tabs.setCurrentIndex(window.tabs.indexOf(window.training_view))
            app.processEvents()
            code[0] = _save(window, out)
            window.close()
            app.exit(code[0])
        else:
            QTimer.singleShot(200, check)

    window.show()
    window.start_backend()
    QTimer.singleShot(200, check)
    return app.exec()


def backbone_shots(canvas_out: Path, inside_out: Path, folder: Path) -> int:
    """The backbone block selected on the canvas, then its inside view."""
    from PySide6.QtCore import QTimer

    app, window = _window(backbone_spec(folder, unfreeze_top=1))
    code = [1]

    def inside_ready() -> None:
        app.processEvents()
        view = window.edit.backbone_view
        view.tree.scrollToTop()
        code[0] = _save(view, inside_out)
        view.close()
        window.doc.undo_stack.setClean()
        window.close()
        app.exit(code[0])

    def on_summary(*_args: object) -> None:
        window.summary_ready.disconnect(on_summary)
        window.doc.set_selection([(0,)])
        app.processEvents()
        if _save(window, canvas_out):
            app.exit(1)
            return
        window.edit.show_inside((0,))
        window.edit.backbone_view.resize(900, 640)
        window.edit.backbone_view.ready.connect(lambda: QTimer.singleShot(100, inside_ready))

    window.summary_ready.connect(on_summary)
    window.show()
    window.start_backend()
    return app.exec()


def finetune_shot(out: Path, folder: Path) -> int:
    """The backbone fine-tuned in the Training tab, grabbed after GRAB_AFTER epochs."""
    sys.path.insert(0, str(HERE))
    from make_screenshots import grab_mid_training

    app, window = _window(backbone_spec(folder))
    return grab_mid_training(app, window, out, EPOCHS, GRAB_AFTER)


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--preview"]:
        return preview_shot(Path(args[1]))
    if args[:1] == ["--backbone"]:
        return backbone_shots(Path(args[1]), Path(args[2]), Path(args[3]))
    if args[:1] == ["--finetune"]:
        return finetune_shot(Path(args[1]), Path(args[2]))
    if args:
        print(__doc__, file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(HOME, ignore_errors=True)
    # Outside the repository: its path is on the block's card in the images.
    folder = Path(tempfile.gettempdir()) / "tiny-bert"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3",
               RESNET_STUDIO_APPEARANCE="light", RESNET_STUDIO_HOME=str(HOME))
    me = [sys.executable, __file__]
    make_backbone(folder)
    jobs = [[*me, "--preview", str(OUT / "text-preview.png")],
            [*me, "--backbone", str(OUT / "pretrained-canvas.png"),
             str(OUT / "pretrained-inside.png"), str(folder)],
            [*me, "--finetune", str(OUT / "pretrained-training.png"), str(folder)]]
    failures = 0
    for cmd in jobs:
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            failures += 1
            print(f"FAILED {cmd[2]}: exit {result.returncode}\n{result.stderr[-2000:]}",
                  file=sys.stderr)
        else:
            print("\n".join(line for line in result.stdout.splitlines() if "wrote" in line))
    shutil.rmtree(HOME, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
