"""Exports a built model as a SavedModel, a .keras file, a TFLite flatbuffer or Python code.

Every export is verified before it is handed over: the SavedModel and the .keras file are
reloaded and must reproduce the model's outputs on a sample batch (max |Δ| ≤ 1e-4); the
TFLite flatbuffer runs in `tf.lite.Interpreter` on the same batch; the Python script runs in
a fresh interpreter (with `resnet_studio` made unimportable) and must rebuild a model with
the same parameter count.

Writes are atomic. Everything is built in a hidden temporary folder next to the target (same
parent, so the final rename cannot cross file systems), verified there, then renamed into
place; any failure removes the temporary folder, so a failed export leaves nothing behind and
an existing target is only replaced by a verified new one.

The Python code itself is written by `core.python_code`; this module writes and verifies it.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resnet_studio.core import swap
from resnet_studio.core.export_errors import ExportError
from resnet_studio.core.python_code import python_source

__all__ = ["FORMATS", "ExportError", "ExportResult", "export_model", "python_source"]

if TYPE_CHECKING:
    import keras

FORMATS = ("savedmodel", "keras", "tflite", "python")
TOLERANCE = 1e-4
"""Largest |Δ| accepted between the model and a reloaded float export (float32 round-off of
a reordered graph stays around 1e-6; anything near 1e-4 is a real difference)."""
PYTHON_TIMEOUT_S = 600
"""Upper bound for the fresh interpreter that runs an exported script. Importing TensorFlow
and keras-hub takes 5-15 s on a laptop; building a ResNet-152 graph a few more."""
_SUFFIXES = {"savedmodel": "", "keras": ".keras", "tflite": ".tflite", "python": ".py"}
# Runs an exported script as __main__ with resnet_studio unimportable: proves it stands alone.
_RUNNER = ("import runpy, sys; sys.modules['resnet_studio'] = None; "
           "runpy.run_path(sys.argv[1], run_name='__main__')")


def _exists_error(target: Path) -> ExportError:
    error = ExportError(f"{target} exists; pass overwrite=True to replace it")
    error.target_exists = True
    return error


@dataclass
class ExportResult:
    """What an export wrote and how it verified.

    Attributes:
        format: One of FORMATS.
        path: The written file or folder.
        bytes: Size on disk (all files of a SavedModel folder).
        verified: The reloaded export passed its check.
        max_abs_diff: Largest |Δ| between model and export outputs on the sample (None for
            Python code, which carries no weights).
        details: Format-specific facts, e.g. tflite `quantized`, `float_bytes`,
            `size_reduction`; python `params`.
    """

    format: str
    path: str
    bytes: int
    verified: bool
    max_abs_diff: float | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_model(model: keras.Model, fmt: str, out: str | os.PathLike[str], *,
                 sample: np.ndarray, quantize: bool | str = False, overwrite: bool = False,
                 spec_name: str | None = None,
                 representative: np.ndarray | None = None, tokenizer: Any = None,
                 texts: list[str] | None = None, pixels: Any = None) -> ExportResult:
    """Writes `model` to `out` in format `fmt` and verifies the result.

    Args:
        model: A functional keras.Model (logits out).
        fmt: `savedmodel` (a folder), `keras` (a `.keras` file), `tflite` or `python`.
        out: Target path. Its parent folder is created if missing.
        sample: A small input batch of the model's input dtype, used for verification.
        quantize: TFLite only: `dynamic` (or True: int8 weights), `float16` or `int8`
            (full integer, int8 input and output; core/tflite/).
        overwrite: Replace an existing `out` (only after the new export verified).
        spec_name: Architecture name, recorded in the details and the Python script.
        representative: int8 only: training inputs that calibrate the activation ranges.
        tokenizer: SavedModel of a text model: the run's `Tokenizer`; the `serve` endpoint
            then reads raw strings (core/export_text.py).
        texts: With `tokenizer`: sample texts that verify the reloaded SavedModel.
        pixels: SavedModel of an image model: the data's `PixelTransform`; the `serve`
            endpoint then reads uint8 images (core/export_image.py).

    Returns:
        What was written and how it verified.

    Raises:
        ExportError: unknown format, bad sample, existing target, unwritable folder, disk
            full, unsupported model (TFLite ops, Python code) or failed verification.
    """
    if fmt not in FORMATS:
        raise ExportError(f"Expected fmt in {FORMATS}, received: fmt={fmt!r}")
    if quantize and fmt != "tflite":
        raise ExportError(f"quantize=True applies to the tflite format only, received: "
                          f"fmt={fmt!r}")
    target = Path(os.path.abspath(os.path.expanduser(os.fspath(out))))
    if fmt == "keras" and target.suffix != ".keras":
        # Keras refuses to save or load a native model file under any other extension.
        raise ExportError(f"a .keras export must be named *.keras, received: {target}")
    sample = _check_sample(model, sample)
    _refuse_existing(target, overwrite)
    exporter = _EXPORTERS[fmt]
    with _workspace(target) as work:
        artifact = work / ("export" + _SUFFIXES[fmt])
        try:
            max_diff, details = exporter(model, artifact, sample, work, quantize=quantize,
                                         spec_name=spec_name, representative=representative,
                                         tokenizer=tokenizer, texts=texts, pixels=pixels)
            if spec_name:
                details["spec"] = spec_name
            _move_into_place(artifact, target, work, overwrite)
        except ExportError:
            raise
        except Exception as e:
            raise _as_export_error(e, target, fmt) from e
    return ExportResult(fmt, str(target), _disk_bytes(target), True, max_diff, details)


# --- paths, atomic writes, errors -------------------------------------------------------------

def _refuse_existing(target: Path, overwrite: bool) -> None:
    if os.path.lexists(target) and not overwrite:
        raise _exists_error(target)


@contextmanager
def _workspace(target: Path) -> Iterator[Path]:
    """A hidden temporary folder next to `target`, removed (with anything in it) on exit."""
    parent = target.parent
    created = _make_parents(parent)
    swap.clean_stale_workspaces(parent, target.name)  # left by killed exports
    try:
        work = Path(tempfile.mkdtemp(prefix=swap.workspace_prefix(target.name),
                                     suffix=".partial", dir=parent))
    except OSError as e:
        _remove_created(created)
        raise _as_export_error(e, parent, None) from e
    ok = False
    try:
        yield work
        ok = True
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not ok:
            _remove_created(created)


def _make_parents(parent: Path) -> list[Path]:
    """Creates missing parent folders; returns them (deepest last) for clean-up on failure."""
    missing: list[Path] = []
    p = parent
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    if p.exists() and not p.is_dir():
        raise ExportError(f"cannot write into {p}: it is a file, not a folder")
    created: list[Path] = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        except OSError as e:
            _remove_created(created)
            raise ExportError(f"cannot create folder {d}: {e.strerror or e}") from e
        created.append(d)
    return created


def _remove_created(created: list[Path]) -> None:
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            pass  # not empty (someone else wrote there meanwhile): keep it


def _move_into_place(artifact: Path, target: Path, work: Path, overwrite: bool) -> None:
    """Renames the verified artifact onto `target`; an old target goes into `work` first."""
    if os.path.lexists(target):
        if not overwrite:  # appeared while we were exporting
            raise _exists_error(target)
        if artifact.is_file() and target.is_file() and not target.is_symlink():
            os.replace(artifact, target)  # atomic: readers see the old or the new file
            return
        # A folder: swapped with the new one in one step where the system can (the old one
        # is then in the workspace, deleted with it); else moved aside, then the new one in.
        if swap.exchange(artifact, target):
            return
        previous = work / "previous"
        os.replace(target, previous)
        try:
            os.replace(artifact, target)
        except BaseException:
            os.replace(previous, target)
            raise
    else:
        os.replace(artifact, target)


def _write_bytes(path: Path, data: bytes) -> None:
    """Writes and fsyncs, so a full disk shows up here rather than after the rename."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _exception_chain(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _as_export_error(e: BaseException, path: Path, fmt: str | None) -> ExportError:
    """Turns an OS or library failure into an ExportError naming the path."""
    for exc in _exception_chain(e):
        # TensorFlow's C++ writers raise tf.errors.* (not OSError) with the strerror text.
        if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or \
                "No space left on device" in str(exc):
            return ExportError(f"disk full while writing {path}")
        if isinstance(exc, PermissionError) or (
                isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM,
                                                           errno.EROFS)):
            return ExportError(f"cannot write to {path}: {exc.strerror or 'permission denied'}")
    if isinstance(e, OSError):
        return ExportError(f"cannot write {path}: {e.strerror or e}")
    what = f" as {fmt}" if fmt else ""
    return ExportError(f"could not export{what} to {path}: "
                       f"{_first_line(str(e)) or type(e).__name__}")


def _first_line(text: str) -> str:
    """The first line that says something: an MLIR `error:` line if any, else the first."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "error:" in ln:
            # MLIR lines read `loc(<long op path>): error: <message>`: keep the message.
            return ln.rsplit("error:", 1)[1].strip()
    return lines[0] if lines else ""


# --- verification -----------------------------------------------------------------------------

def _check_sample(model: keras.Model, sample: Any) -> np.ndarray:
    """The sample as an array of the model's input dtype, with a matching shape."""
    if len(model.inputs) != 1:
        raise ExportError(f"export supports single-input models; this one has "
                          f"{len(model.inputs)} inputs")
    spec = model.inputs[0]
    arr = np.asarray(sample)
    want = np.dtype(spec.dtype)
    if arr.dtype != want:
        if arr.dtype.kind in "iu" and want.kind in "iu" or arr.dtype.kind == want.kind == "f":
            arr = arr.astype(want)
        else:
            raise ExportError(f"sample dtype {arr.dtype} does not match the model input "
                              f"{want}")
    expected = tuple(spec.shape)
    if arr.ndim != len(expected) or any(e is not None and e != a
                                        for e, a in zip(expected[1:], arr.shape[1:], strict=True)):
        raise ExportError(f"sample shape {arr.shape} does not match the model input "
                          f"{expected}")
    if arr.shape[0] < 1:
        raise ExportError("sample needs at least one example")
    return arr


def _outputs(value: Any) -> list[np.ndarray]:
    import keras

    return [np.asarray(keras.ops.convert_to_numpy(t)) for t in keras.tree.flatten(value)]


def _max_abs_diff(ref: list[np.ndarray], got: list[np.ndarray], what: str) -> float:
    """max |ref - got|; matching non-finite entries count as equal, mismatched ones as inf."""
    if len(ref) != len(got):
        raise ExportError(f"verification failed: {what} has {len(got)} outputs, the model "
                          f"{len(ref)}")
    worst = 0.0
    for a, b in zip(ref, got, strict=True):
        if a.shape != b.shape:
            raise ExportError(f"verification failed: {what} output shape {b.shape}, the "
                              f"model's {a.shape}")
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
        d = np.where(same, 0.0, np.abs(a64 - b64))
        d = np.where(np.isnan(d), np.inf, d)
        worst = max(worst, float(d.max()) if d.size else 0.0)
    return worst


def _require_close(diff: float, what: str) -> None:
    if not diff <= TOLERANCE:
        raise ExportError(f"verification failed: {what} differs from the model by "
                          f"{diff:.3g} (tolerance {TOLERANCE:g})")


def _reference(model: keras.Model, sample: np.ndarray) -> list[np.ndarray]:
    return _outputs(model(sample, training=False))


# --- SavedModel / .keras / TFLite -------------------------------------------------------------

def _export_savedmodel(model: keras.Model, path: Path, sample: np.ndarray, work: Path, *,
                       tokenizer: Any = None, texts: list[str] | None = None,
                       pixels: Any = None, **_: Any) -> tuple[float, dict[str, Any]]:
    import tensorflow as tf

    if tokenizer is not None and texts:
        from resnet_studio.core.export_text import export_text_savedmodel

        diff, details = export_text_savedmodel(model, path, tokenizer, texts)
        _require_close(diff, "the reloaded SavedModel (from raw text)")
        return diff, details
    if pixels is not None and len(model.inputs[0].shape) == 4:
        from resnet_studio.core.export_image import export_image_savedmodel

        diff, details = export_image_savedmodel(model, path, sample, pixels)
        _require_close(diff, "the reloaded SavedModel (from uint8 images)")
        return diff, details

    model.export(str(path), format="tf_saved_model", verbose=False)
    loaded = tf.saved_model.load(str(path))
    diff = _max_abs_diff(_reference(model, sample), _outputs(loaded.serve(tf.constant(sample))),
                         "the reloaded SavedModel")
    _require_close(diff, "the reloaded SavedModel")
    return diff, {"endpoint": "serve", "signatures": sorted(loaded.signatures.keys())}


def _export_keras(model: keras.Model, path: Path, sample: np.ndarray, work: Path,
                  **_: Any) -> tuple[float, dict[str, Any]]:
    import keras

    from resnet_studio.core.blocks.layers import CUSTOM_OBJECTS

    model.save(str(path))
    loaded = keras.saving.load_model(str(path), custom_objects=CUSTOM_OBJECTS, compile=False)
    diff = _max_abs_diff(_reference(model, sample),
                         _outputs(loaded(sample, training=False)), "the reloaded .keras model")
    _require_close(diff, "the reloaded .keras model")
    return diff, {"optimizer_saved": getattr(model, "optimizer", None) is not None}


def _tflite_convert(saved_model: Path, quantize: bool | str, model: Any = None,
                    representative: np.ndarray | None = None) -> bytes:
    import tensorflow as tf

    from resnet_studio.core.tflite import (
        QuantizationError,
        configure_converter,
        quantization_mode,
    )
    from resnet_studio.core.tflite.flatbuffer import strip_tensor_names

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    try:
        configure_converter(converter, quantization_mode(quantize), model, representative)
    except QuantizationError as e:
        raise ExportError(str(e)) from None
    try:  # tensor names are debug strings, a tenth of a small int8 file (flatbuffer.py)
        return strip_tensor_names(converter.convert())
    except Exception as e:
        kind = "quantized " if quantize else ""
        text = str(e)
        hint = ""
        if "Select TF ops" in text or "flex op" in text:
            hint = (" (TFLite's built-in op set cannot run this model; recurrent layers "
                    "and some TensorFlow ops need the Select TF ops runtime: use the "
                    "SavedModel export instead)")
        raise ExportError(f"TFLite {kind}conversion failed: "
                          f"{_first_line(text) or type(e).__name__}{hint}") from e


def _tflite_run(flatbuffer: bytes, sample: np.ndarray) -> list[np.ndarray]:
    # int8 inputs/outputs are quantized/dequantized with their tensors' scales there.
    from resnet_studio.core.tflite import TFLiteRunner

    return TFLiteRunner(flatbuffer)(sample)


def _export_tflite(model: keras.Model, path: Path, sample: np.ndarray, work: Path, *,
                   quantize: bool | str = False, representative: np.ndarray | None = None,
                   **_: Any) -> tuple[float, dict[str, Any]]:
    saved = work / "savedmodel"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    float_fb = _tflite_convert(saved, quantize=False)
    flatbuffer = _tflite_convert(saved, quantize, model, representative) if quantize \
        else float_fb
    _write_bytes(path, flatbuffer)
    ref = _reference(model, sample)
    got = _tflite_run(path.read_bytes(), sample)
    diff = _max_abs_diff(ref, got, "the TFLite model")
    if quantize:
        # Quantization changes the numbers by design: report the difference, but a
        # non-finite output where the model is finite means the conversion is broken.
        if any(not np.all(np.isfinite(g)[np.isfinite(r)]) for r, g in zip(ref, got, strict=True)):
            raise ExportError("verification failed: the quantized TFLite model produces "
                              "non-finite outputs")
    else:
        _require_close(diff, "the TFLite model")
    details: dict[str, Any] = {"quantized": bool(quantize), "float_bytes": len(float_fb),
                               "input_shape": list(model.inputs[0].shape)}
    if quantize:
        details["quantization"] = "dynamic" if quantize is True else quantize
        details["quantized_bytes"] = len(flatbuffer)
        details["size_reduction"] = round(1.0 - len(flatbuffer) / len(float_fb), 4)
    return diff, details


# --- Python code ------------------------------------------------------------------------------

def _export_python(model: keras.Model, path: Path, sample: np.ndarray, work: Path, *,
                   spec_name: str | None = None, **_: Any) -> tuple[None, dict[str, Any]]:
    code, info = python_source(model, spec_name=spec_name)
    _write_bytes(path, code.encode("utf-8"))
    params = _run_script(path, work)
    expected = model.count_params()
    if params != expected:
        raise ExportError(f"verification failed: the exported script builds {params:,} "
                          f"parameters, the model has {expected:,}")
    return None, {"params": params, **info}


def _run_script(path: Path, work: Path) -> int:
    """Runs the script in a fresh interpreter; returns the `params=N` it prints."""
    import keras

    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["KERAS_BACKEND"] = keras.backend.backend()
    try:
        proc = subprocess.run([sys.executable, "-c", _RUNNER, str(path)], cwd=work, env=env,
                              capture_output=True, text=True, timeout=PYTHON_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise ExportError(f"verification failed: the exported script did not finish within "
                          f"{PYTHON_TIMEOUT_S} s") from e
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise ExportError(f"verification failed: the exported script exits with code "
                          f"{proc.returncode}: {lines[-1] if lines else 'no message'}")
    found = re.findall(r"^params=(\d+)\s*$", proc.stdout, flags=re.MULTILINE)
    if not found:
        raise ExportError("verification failed: the exported script printed no params=N line")
    return int(found[-1])


_EXPORTERS: dict[str, Callable[..., tuple[float | None, dict[str, Any]]]] = {
    "savedmodel": _export_savedmodel,
    "keras": _export_keras,
    "tflite": _export_tflite,
    "python": _export_python,
}
