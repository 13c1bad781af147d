"""Dataset metadata and a few samples, loaded off the GUI thread for the train panel.

Describing a TFDS dataset may probe the network (up to its fast-fail timeout) and loading
samples imports TensorFlow, so both happen in a job (gui.jobs) with a thread of its own; the
result comes back to the GUI thread as the job's `finished`. Only the newest request's result
is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QPointF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap, QPolygonF

from resnet_studio.core.jobs import JobState
from resnet_studio.gui.jobs import Job

SAMPLES = 8
THUMB = 56


@dataclass
class Preview:
    """What the panel shows for one dataset (or why it cannot)."""

    name: str
    info: Any = None  # DatasetInfo
    x: np.ndarray | None = None  # a few training inputs
    y: np.ndarray | None = None
    vocabulary: list[str] | None = None
    error: str = ""
    # Text under a learnt or preset tokenizer: the first sample's tokens, as the model sees them.
    tokens: list[str] | None = None
    tokenizer: str = ""


def load_preview(name: str, data_dir: str | None = None,
                 text: dict[str, Any] | None = None) -> Preview:
    """Metadata and SAMPLES training examples of a dataset (in the calling thread).

    `text`: `tokenizers.text_load_args` of the open architecture, so a text preview is
    tokenized as training will tokenize it.
    """
    from resnet_studio.core.data import DatasetError, describe_dataset, load_dataset

    try:
        info = describe_dataset(name, data_dir=data_dir)
        data = load_dataset(name, seed=0, data_dir=data_dir, limit=SAMPLES * 4,
                            **_text_args(name, text))
        if data.in_memory:
            x, y = data.arrays("train")
            x, y = np.asarray(x[:SAMPLES]), np.asarray(y[:SAMPLES])
        else:
            pairs = list(data.split("train").take(SAMPLES).as_numpy_iterator())
            x = np.stack([p[0] for p in pairs]) if pairs else None
            y = np.stack([p[1] for p in pairs]) if pairs else None
        tok = data.tokenizer
        if tok is not None and tok.kind != "bytes" and x is not None and len(x):
            # The tokenized load's info (its vocabulary is the tokenizer's), with the split
            # sizes of the whole dataset: the load itself was cut to a few samples.
            return Preview(name, replace(data.info, sizes=info.sizes), x, y, None,
                           tokens=tok.tokens(x[0]), tokenizer=tok.kind)
        return Preview(name, info, x, y, data.vocabulary)
    except DatasetError as e:
        return Preview(name, error=str(e))
    except Exception as e:  # noqa: BLE001 - shown to the user, never raised in the GUI
        from resnet_studio.core.data import explain_data_error
        from resnet_studio.core.data.op_errors import is_op_error

        if is_op_error(e):  # a damaged image among the samples: named, in our words
            return Preview(name, error=explain_data_error(e, name))
        return Preview(name, error=f"{type(e).__name__}: {e}")


def _text_args(name: str, text: dict[str, Any] | None) -> dict[str, Any]:
    """The architecture's tokenizer applies to text sets only; other data previews as is."""
    from resnet_studio.core.data import describe_dataset

    if not text or describe_dataset(name).input_kind != "tokens":
        return {}
    return dict(text)


def preview_job(name: str, data_dir: str | None, text: dict[str, Any] | None,
                state: JobState) -> Preview:
    """load_preview as a job function (core.jobs); it reports its own errors in the Preview."""
    del state
    return load_preview(name, data_dir, text)


class PreviewLoader(QObject):
    """Loads previews as jobs (gui.jobs), one thread per request; the newest request wins.

    Signals:
        loaded(object): a Preview for the newest request.
    """

    loaded = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._jobs: dict[Job, int] = {}  # running jobs and the request each answers
        self._held: list[tuple[str, str | None, dict[str, Any] | None]] | None = None

    def hold(self) -> None:
        """Keeps requests until release(). The window holds them while TensorFlow imports:
        a preview imports scikit-learn and SciPy (~1.5 s holding the GIL), which delayed the
        import, and so the first training step, by about a second
        (benchmarks/bench_startup.py)."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Loads the newest request made while on hold."""
        held, self._held = self._held, None
        if held:
            self.request(*held[-1])

    @property
    def held(self) -> bool:
        return self._held is not None

    def request(self, name: str, data_dir: str | None = None,
                text: dict[str, Any] | None = None) -> None:
        if self._held is not None:
            self._held.append((name, data_dir, text))
            return
        self._generation += 1
        job = Job(preview_job, name, data_dir, text, name=f"preview-{name}", parent=self)
        job.finished.connect(self._on_finished)
        self._jobs[job] = self._generation
        job.start()

    def wait(self, timeout: float = 60.0) -> None:
        """Waits for the running loads (window shutdown); a load cannot be interrupted."""
        for job in list(self._jobs):
            job.cancel_and_wait(int(timeout * 1000))

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    @Slot(object)
    def _on_finished(self, preview: object) -> None:
        job = self.sender()
        generation = self._jobs.pop(job, None)
        if isinstance(job, Job):
            job.deleteLater()
        if generation == self._generation and isinstance(preview, Preview):
            self.loaded.emit(preview)


# --------------------------------------------------------------------------- thumbnails
def _to_uint8(img: np.ndarray) -> np.ndarray:
    lo, hi = float(np.nanmin(img)), float(np.nanmax(img))
    scaled = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return np.ascontiguousarray(np.clip(scaled * 255, 0, 255).astype(np.uint8))


def image_pixmap(x: np.ndarray, size: int = THUMB) -> QPixmap:
    """A normalized (H, W, C) image as a thumbnail (contrast stretched for display)."""
    img = _to_uint8(np.asarray(x, dtype=np.float32))
    h, w = img.shape[:2]
    if img.ndim == 3 and img.shape[2] >= 3:
        rgb = np.ascontiguousarray(img[:, :, :3])
        q = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    else:
        gray = np.ascontiguousarray(img.reshape(h, w, -1)[:, :, 0])
        q = QImage(gray.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(q).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                       Qt.TransformationMode.FastTransformation)


def sequence_pixmap(x: np.ndarray, color: QColor, background: QColor,
                    size: int = THUMB) -> QPixmap:
    """A (T, F) or (F,) signal as a small line plot (first feature)."""
    values = np.asarray(x, dtype=np.float64)
    values = values[:, 0] if values.ndim == 2 else values.reshape(-1)
    pm = QPixmap(size, size)
    pm.fill(background)
    if values.size < 2 or not np.all(np.isfinite(values)):
        return pm
    lo, hi = values.min(), values.max()
    span = hi - lo if hi > lo else 1.0
    xs = np.linspace(2, size - 3, values.size)
    ys = (size - 3) - (values - lo) / span * (size - 6)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(color, 1.4))
    painter.drawPolyline(QPolygonF([QPointF(a, b) for a, b in zip(xs, ys, strict=True)]))
    painter.end()
    return pm


def token_text(x: np.ndarray, vocabulary: list[str] | None, length: int = 48,
               tokens: list[str] | None = None) -> str:
    """Token ids as text (characters of the vocabulary, '·' for unknown ids); WordPiece
    tokens (`tokens`) separated by spaces, continuation pieces marked ## as BERT writes them."""
    if tokens is not None:
        return " ".join(tokens[:length])
    ids = np.asarray(x).reshape(-1)[:length]
    if not vocabulary:
        return " ".join(str(int(i)) for i in ids)
    chars = [vocabulary[int(i)] if 0 <= int(i) < len(vocabulary) else "·" for i in ids]
    return "".join(c if c.isprintable() else "⏎" if c == "\n" else "·" for c in chars)
