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

The Python exporter reads the functional graph from `model.get_config()` (Keras 3.15: each
layer has `class_name`, `config` and `inbound_nodes`, and each node is
`{"args": [...], "kwargs": {...}}` with tensors serialized as `__keras_tensor__` dicts whose
`keras_history` is `[layer name, node index, tensor index]`). Each emitted layer expression
is evaluated once at generation time and its `get_config()` compared with the original, so a
config key dropped as "default" can never silently change the architecture.
"""

from __future__ import annotations

import ast
import builtins
import errno
import inspect
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

FORMATS = ("savedmodel", "keras", "tflite", "python")
TOLERANCE = 1e-4
"""Largest |Δ| accepted between the model and a reloaded float export (float32 round-off of
a reordered graph stays around 1e-6; anything near 1e-4 is a real difference)."""
PYTHON_TIMEOUT_S = 600
"""Upper bound for the fresh interpreter that runs an exported script. Importing TensorFlow
and keras-hub takes 5-15 s on a laptop; building a ResNet-152 graph a few more."""
LINE_WIDTH = 99
_BASE_LAYER_KEYS = ("name", "trainable", "dtype")
_SUFFIXES = {"savedmodel": "", "keras": ".keras", "tflite": ".tflite", "python": ".py"}
# Runs an exported script as __main__ with resnet_studio unimportable: proves it stands alone.
_RUNNER = ("import runpy, sys; sys.modules['resnet_studio'] = None; "
           "runpy.run_path(sys.argv[1], run_name='__main__')")


class ExportError(ValueError):
    """An export could not be written or did not verify; the message says which and where."""


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
                 sample: np.ndarray, quantize: bool = False, overwrite: bool = False,
                 spec_name: str | None = None) -> ExportResult:
    """Writes `model` to `out` in format `fmt` and verifies the result.

    Args:
        model: A functional keras.Model (logits out).
        fmt: `savedmodel` (a folder), `keras` (a `.keras` file), `tflite` or `python`.
        out: Target path. Its parent folder is created if missing.
        sample: A small input batch of the model's input dtype, used for verification.
        quantize: TFLite only: dynamic-range quantization of the weights.
        overwrite: Replace an existing `out` (only after the new export verified).
        spec_name: Architecture name, recorded in the details and the Python script.

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
                                         spec_name=spec_name)
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
        raise ExportError(f"{target} exists; pass overwrite=True / --force to replace it")


@contextmanager
def _workspace(target: Path) -> Iterator[Path]:
    """A hidden temporary folder next to `target`, removed (with anything in it) on exit."""
    parent = target.parent
    created = _make_parents(parent)
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
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
            raise ExportError(f"{target} exists; pass overwrite=True / --force to replace it")
        if artifact.is_file() and target.is_file() and not target.is_symlink():
            os.replace(artifact, target)  # atomic: readers see the old or the new file
            return
        # A folder cannot be replaced atomically by rename: move the old one aside (it is
        # deleted with the workspace) and put it back if the second rename fails.
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

def _export_savedmodel(model: keras.Model, path: Path, sample: np.ndarray, work: Path,
                       **_: Any) -> tuple[float, dict[str, Any]]:
    import tensorflow as tf

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


def _tflite_convert(saved_model: Path, quantize: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if quantize:
        # Dynamic-range quantization: int8 weights, float activations; no dataset needed.
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    try:
        return converter.convert()
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
    import tensorflow as tf

    with warnings.catch_warnings():
        # TF 2.21 warns that tf.lite.Interpreter moves to the ai-edge-litert package; it
        # is still the interpreter TensorFlow ships, and the one TF users have.
        warnings.simplefilter("ignore", UserWarning)
        interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    (inp,) = interpreter.get_input_details()
    # The converter fixes the batch to 1; the signature keeps it dynamic, so resize.
    interpreter.resize_tensor_input(inp["index"], list(sample.shape), strict=False)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], sample.astype(inp["dtype"]))
    interpreter.invoke()
    # Signature outputs are named output_0, output_1, ... in the model's output order.
    outs = sorted(interpreter.get_output_details(), key=lambda d: d["name"])
    return [np.array(interpreter.get_tensor(d["index"])) for d in outs]


def _export_tflite(model: keras.Model, path: Path, sample: np.ndarray, work: Path, *,
                   quantize: bool = False, **_: Any) -> tuple[float, dict[str, Any]]:
    saved = work / "savedmodel"
    model.export(str(saved), format="tf_saved_model", verbose=False)
    float_fb = _tflite_convert(saved, quantize=False)
    flatbuffer = _tflite_convert(saved, quantize=True) if quantize else float_fb
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
    details: dict[str, Any] = {"quantized": quantize, "float_bytes": len(float_fb),
                               "input_shape": list(model.inputs[0].shape)}
    if quantize:
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


def python_source(model: keras.Model, spec_name: str | None = None) -> tuple[str, dict[str, Any]]:
    """Standalone Keras code that rebuilds `model`'s architecture (fresh weights).

    Args:
        model: A functional keras.Model.
        spec_name: Architecture name for the script's docstring.

    Returns:
        (source code, facts: `layers` count and the `custom_layers` whose source is inlined).

    Raises:
        ExportError: the model is not functional or a layer cannot be written as code.
    """
    return _CodeGenerator(model, spec_name).generate()


_Ref = tuple[str, int, int]  # (layer name, node index, tensor index) as in keras_history


class _CodeGenerator:
    """Walks a functional config and writes one statement per layer call."""

    def __init__(self, model: keras.Model, spec_name: str | None) -> None:
        import keras

        self.keras = keras
        self.model = model
        self.spec_name = spec_name
        try:
            self.config = model.get_config()
            self.layers_data: list[dict[str, Any]] = self.config["layers"]
        except (NotImplementedError, KeyError, TypeError) as e:
            raise ExportError("Python export needs a functional model (get_config() with "
                              "layers and inbound nodes)") from e
        self.uses_hub = False
        self.custom: dict[str, type] = {}  # class name -> class, in first-use order
        self.tensors: dict[_Ref, str] = {}
        self.lines: list[str] = []
        self.counter = 0
        self.namespace: dict[str, Any] = {"keras": keras}

    # -- classes --

    def _class_expr(self, cls: type) -> str | None:
        """Public spelling of a layer class, registering custom classes; None if internal."""
        keras = self.keras
        name = cls.__name__
        if getattr(keras.layers, name, None) is cls:
            return f"keras.layers.{name}"
        if cls.__module__.split(".")[0] == "keras_hub":
            import keras_hub

            self.uses_hub = True
            self.namespace["keras_hub"] = keras_hub
            return f"keras_hub.layers.{name}" if getattr(keras_hub.layers, name, None) is cls \
                else None
        if cls.__module__.split(".")[0] == "keras":
            return None
        if name in self.custom and self.custom[name] is not cls:
            raise ExportError(f"two different custom layer classes are named {name}")
        self.custom[name] = cls
        self.namespace[name] = cls
        return name

    # -- values --

    def _value(self, v: Any) -> str:
        """Python source for a config value (serialized Keras objects become constructors)."""
        if isinstance(v, dict):
            if "class_name" in v and "config" in v and "module" in v:
                return self._object(v)
            return "{" + ", ".join(f"{self._value(k)}: {self._value(x)}"
                                   for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(self._value(x) for x in v) + "]"
        if isinstance(v, tuple):
            inner = ", ".join(self._value(x) for x in v)
            return f"({inner},)" if len(v) == 1 else f"({inner})"
        return _literal(v)

    def _object(self, d: dict[str, Any]) -> str:
        """A serialized Keras object (initializer, regularizer, dtype policy...) as code."""
        module, class_name, config = d.get("module"), d["class_name"], d.get("config")
        if class_name == "__tuple__":
            return self._value(tuple(config["value"]))
        if module == "keras" and class_name == "DTypePolicy" and isinstance(config, dict) \
                and set(config) == {"name"}:
            return _literal(config["name"])
        cls = _public_keras_attr(self.keras, module, class_name)
        if cls is not None and d.get("registered_name") is None and isinstance(config, dict):
            try:
                ref = cls().get_config()
            except Exception:
                ref = {}
            args = [f"{k}={self._value(x)}" for k, x in config.items()
                    if _norm(ref.get(k, _MISSING)) != _norm(x)]
            return f"{module}.{class_name}({', '.join(args)})"
        return f"keras.saving.deserialize_keras_object({_plain(d)})"

    # -- layers --

    def _constructor(self, layer_data: dict[str, Any], layer: Any) -> str:
        """Constructor expression whose get_config() equals the original config."""
        cfg: dict[str, Any] = layer_data["config"]
        cls = type(layer)
        cls_expr = self._class_expr(cls)
        want = _norm(cfg)
        candidates: list[str] = []
        if cls_expr is not None:
            ref, required = _reference_config(cls, cfg)
            for minimal in (True, False):
                keys = [k for k in cfg if k not in _BASE_LAYER_KEYS]
                keys += [k for k in _BASE_LAYER_KEYS if k in cfg]
                args = [f"{k}={self._value(cfg[k])}" for k in keys
                        if not minimal or k == "name" or k in required or ref is None
                        or _norm(ref.get(k, _MISSING)) != _norm(cfg[k])]
                candidates.append(f"{cls_expr}({', '.join(args)})")
            candidates.append(f"{cls_expr}.from_config({_plain(cfg)})")
        else:
            # Keras/keras-hub internals without a public name: deserialize like Keras does.
            data = {k: layer_data[k] for k in ("module", "class_name", "config",
                                               "registered_name") if k in layer_data}
            candidates.append(f"keras.saving.deserialize_keras_object({_plain(data)})")
        for expr in dict.fromkeys(candidates):
            try:
                rebuilt = eval(expr, dict(self.namespace))  # noqa: S307 - our own code
                if _norm(rebuilt.get_config()) == want:
                    return expr
            except Exception:
                continue
        raise ExportError(f"cannot write layer {cfg.get('name')!r} ({cls.__name__}) as "
                          f"Python code: no constructor reproduces its config")

    def _node_call(self, node: dict[str, Any]) -> str:
        args = [self._arg(a) for a in node.get("args", [])]
        for k, v in node.get("kwargs", {}).items():
            # Keras records the resolved `training` default (False) on every call; at run
            # time the functional model passes the caller's value anyway.
            # `mask=None` likewise only records that the input carried no mask.
            if k in ("training", "mask") and not v:
                continue
            args.append(f"{k}={self._arg(v)}")
        return "(" + ", ".join(args) + ")"

    def _arg(self, v: Any) -> str:
        """Python source for a call argument: tensors become variable names."""
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            name, node, index = v["config"]["keras_history"]
            return self.tensors[(name, int(node), int(index))]
        if isinstance(v, dict) and v.get("class_name") == "__tuple__":
            items = [self._arg(x) for x in v["config"]["value"]]
            return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
        if isinstance(v, list):
            return "[" + ", ".join(self._arg(x) for x in v) + "]"
        if isinstance(v, dict) and not ("class_name" in v and "config" in v):
            return "{" + ", ".join(f"{_literal(k)}: {self._arg(x)}" for k, x in v.items()) + "}"
        return self._value(v)

    def _refs(self, v: Any) -> Iterator[_Ref]:
        if isinstance(v, dict):
            if v.get("class_name") == "__keras_tensor__":
                name, node, index = v["config"]["keras_history"]
                yield (name, int(node), int(index))
                return
            for x in v.values():
                yield from self._refs(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                yield from self._refs(x)

    def _new_var(self) -> str:
        var = f"x{self.counter}"
        self.counter += 1
        return var

    def _emit(self, lhs: str, callee: str, args: str) -> None:
        """`lhs = callee + args`, wrapped one argument group per line when too long."""
        line = f"    {lhs} = {callee}{args}"
        if len(line) <= LINE_WIDTH:
            self.lines.append(line)
            return
        head, sep, inner = callee.partition("(")
        if not sep or not inner.endswith(")"):
            self.lines.append(line)
            return
        self.lines.append(f"    {lhs} = {head}(")
        self.lines.extend(_pack(_split_args(inner[:-1]), indent=8))
        self.lines.append(f"    ){args}")

    def _emit_input(self, data: dict[str, Any]) -> None:
        cfg = data["config"]
        shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
        args = []
        if shape is not None and shape[0] is None:
            args.append(f"shape={self._value(tuple(shape[1:]))}")
        elif shape is not None:
            args.append(f"batch_shape={self._value(tuple(shape))}")
        dtype = cfg.get("dtype")
        if isinstance(dtype, dict):
            dtype = dtype.get("config", {}).get("name")
        if dtype:
            args.append(f"dtype={_literal(dtype)}")
        for flag in ("sparse", "ragged", "optional"):
            if cfg.get(flag):
                args.append(f"{flag}=True")
        args.append(f"name={_literal(cfg['name'])}")
        var = self._new_var()
        self.tensors[(data["name"], 0, 0)] = var
        self._emit(var, f"keras.Input({', '.join(args)})", "")

    def _graph(self) -> None:
        layers = {layer.name: layer for layer in self.model.layers}
        pending: dict[str, list[dict[str, Any]]] = {}
        for data in self.layers_data:
            if data["class_name"] == "InputLayer":
                self._emit_input(data)
            elif data.get("inbound_nodes"):
                if not isinstance(data["inbound_nodes"][0], dict):
                    raise ExportError("Python export needs the Keras 3 functional config "
                                      "(nodes as args/kwargs)")
                pending[data["name"]] = list(data["inbound_nodes"])
        done: dict[str, int] = {}
        instances: dict[str, str] = {}
        # Emit node by node in layer order, deferring a node until its inputs exist (the
        # same order Keras's own functional_from_config replays).
        while pending:
            progressed = False
            for data in self.layers_data:
                name = data["name"]
                while pending.get(name) and all(r in self.tensors
                                                for r in self._refs(pending[name][0])):
                    node = pending[name].pop(0)
                    self._emit_node(data, layers[name], node, done.get(name, 0), instances)
                    done[name] = done.get(name, 0) + 1
                    progressed = True
                if name in pending and not pending[name]:
                    del pending[name]
            if not progressed:
                raise ExportError(f"cannot order the layer graph: layers "
                                  f"{sorted(pending)} wait for inputs that never appear")

    def _emit_node(self, data: dict[str, Any], layer: Any, node: dict[str, Any], index: int,
                   instances: dict[str, str]) -> None:
        name = data["name"]
        shared = len(data["inbound_nodes"]) > 1
        if name not in instances:
            expr = self._constructor(data, layer)
            if shared:
                # A layer applied several times: create it once, call it per node.
                instances[name] = "layer_" + re.sub(r"\W", "_", name)
                self._emit(instances[name], expr, "")
            else:
                instances[name] = expr
        var = self._new_var()
        self._emit(var, instances[name], self._node_call(node))
        count = _node_output_count(layer, index, len(data["inbound_nodes"]))
        for k in range(max(count, 1)):
            # keras_history indexes the flattened outputs of a call.
            self.tensors[(name, index, k)] = f"keras.tree.flatten({var})[{k}]" if count > 1 \
                else var

    def _io(self, spec: Any) -> str:
        """input_layers / output_layers: one [name, node, index] triple or a list of them."""
        if isinstance(spec, (list, tuple)) and len(spec) == 3 and isinstance(spec[0], str):
            return self.tensors[(spec[0], int(spec[1]), int(spec[2]))]
        if isinstance(spec, dict):
            return "{" + ", ".join(f"{_literal(k)}: {self._io(v)}" for k, v in spec.items()) + "}"
        return "[" + ", ".join(self._io(s) for s in spec) + "]"

    def generate(self) -> tuple[str, dict[str, Any]]:
        self._graph()
        inputs = self._io(self.config["input_layers"])
        outputs = self._io(self.config["output_layers"])
        model_name = self.config.get("name") or self.model.name
        self._emit("model", f"keras.Model(inputs={inputs}, outputs={outputs}, "
                            f"name={_literal(model_name)})", "")
        body = "\n".join(self.lines)
        imports, constants, sources = self._custom_sources()
        parts = [self._header(model_name) + "\n" + self._imports(imports), constants, *sources]
        parts.append(
            f"def build_model() -> keras.Model:\n"
            f'    """Builds the {model_name} architecture (fresh weights; outputs logits)."""\n'
            f"{body}\n"
            f"    return model\n")
        parts.append(
            'if __name__ == "__main__":\n'
            "    model = build_model()\n"
            "    model.summary()\n"
            '    print(f"params={model.count_params()}")\n')
        code = "\n\n".join(p.rstrip("\n") + "\n" for p in parts if p)
        info = {"layers": len(self.layers_data), "custom_layers": list(self.custom)}
        return code, info

    def _header(self, model_name: str) -> str:
        import keras

        versions = f"Keras {keras.__version__}"
        if self.uses_hub:
            import keras_hub

            versions += f" and keras-hub {keras_hub.__version__}"
        title = self.spec_name or model_name
        return (f'"""{title}: the architecture as plain Keras code, generated by ResNet Studio.'
                f"\n\nWritten for {versions}; needs nothing else.\n"
                f"build_model() rebuilds the layers with fresh weights (trained weights are in "
                f"the\n.keras and SavedModel exports). Run this file to print the model "
                f"summary and its\nparameter count.\n"
                f'"""\n')

    def _imports(self, extra: list[str]) -> str:
        lines = ["from __future__ import annotations", "", "import keras"]
        if self.uses_hub:
            lines.append("import keras_hub")
        return "\n".join(lines + sorted(set(extra) - set(lines))) + "\n"

    def _custom_sources(self) -> tuple[list[str], str, list[str]]:
        """(imports, constants) the custom classes use, and their source verbatim."""
        imports: dict[str, str] = {}
        constants: dict[str, str] = {}
        sources: list[str] = []
        for name, cls in self.custom.items():
            try:
                src = textwrap.dedent(inspect.getsource(cls))
            except (OSError, TypeError) as e:
                raise ExportError(f"cannot read the source of custom layer {name}") from e
            module_globals = vars(sys.modules[cls.__module__])
            for free in _free_names(src):
                if free in self.custom or free in ("keras", "keras_hub") \
                        or hasattr(builtins, free) or free not in module_globals:
                    continue
                value = module_globals[free]
                statement = _global_statement(free, value)
                if statement is None:
                    raise ExportError(f"custom layer {name} uses {free!r}, which cannot be "
                                      f"written into a standalone script")
                (imports if statement.startswith(("import ", "from ")) else constants)[free] = \
                    statement
            sources.append(src)
        return list(imports.values()), "\n".join(constants.values()), sources


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _norm(v: Any) -> Any:
    """Config value normalised for comparison (tuples and lists are the same in JSON)."""
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_norm(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _literal(v: Any) -> str:
    """Source for a plain value: strings in double quotes, non-finite floats spelled out."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or isinstance(v, (bool, int)):
        return repr(v)
    if isinstance(v, float):
        if math.isnan(v):
            return 'float("nan")'
        if math.isinf(v):
            return 'float("inf")' if v > 0 else 'float("-inf")'
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    raise ExportError(f"cannot write a config value of type {type(v).__name__} as Python code")


def _plain(v: Any) -> str:
    """Source for a JSON-like structure, kept as data (for from_config / deserialize)."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_plain(k)}: {_plain(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_plain(x) for x in v) + "]"
    if isinstance(v, tuple):
        inner = ", ".join(_plain(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    return _literal(v)


def _public_keras_attr(keras: Any, module: Any, class_name: str) -> Any:
    """keras.<module path>.<class_name> if `module` is a public keras path, else None."""
    if not isinstance(module, str) or not module.startswith("keras.") or ".src" in module:
        return None
    obj = keras
    for part in module.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return getattr(obj, class_name, None)


_REFERENCE_CACHE: dict[tuple[type, str], dict[str, Any] | None] = {}


def _reference_config(cls: type, cfg: dict[str, Any]
                      ) -> tuple[dict[str, Any] | None, set[str]]:
    """(config of `cls` built from its required arguments only, their names).

    Keys whose value equals the reference's are defaults and can be left out; required
    arguments must always be written.
    """
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return None, set()
    required = {p.name: cfg[p.name] for p in params
                if p.name != "self" and p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name in cfg}
    key = (cls, repr(sorted(required.items())))
    if key not in _REFERENCE_CACHE:
        try:
            _REFERENCE_CACHE[key] = cls(**required).get_config()
        except Exception:
            _REFERENCE_CACHE[key] = None
    return _REFERENCE_CACHE[key], set(required)


def _node_output_count(layer: Any, index: int, config_nodes: int) -> int:
    """Tensors a call of `layer` returns (flattened), from the live layer when unambiguous."""
    nodes = getattr(layer, "_inbound_nodes", None) or []
    # The config lists only this model's nodes; if the layer was also used elsewhere the
    # indices do not line up, and one output is the only safe assumption.
    if len(nodes) == config_nodes and index < len(nodes):
        return len(getattr(nodes[index], "outputs", [None]))
    return 1


def _free_names(source: str) -> list[str]:
    """Names a class body reads (in first-use order); locals are filtered by the caller."""
    names: dict[str, None] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names[node.id] = None
    return list(names)


def _global_statement(name: str, value: Any) -> str | None:
    """`import` or `NAME = literal` recreating a module-level name, or None if impossible."""
    import types

    if isinstance(value, types.ModuleType):
        mod = value.__name__
        if mod == name:
            return f"import {mod}"
        parent, _, leaf = mod.rpartition(".")
        if parent and leaf == name:
            return f"from {parent} import {name}"
        return f"import {mod} as {name}"
    try:
        return f"{name} = {_plain(value)}"
    except ExportError:
        return None


def _split_args(inner: str) -> list[str]:
    """Splits `a=1, b=(2, 3), c="x, y"` at top-level commas."""
    parts, depth, start, quote = [], 0, 0, None
    i = 0
    while i < len(inner):
        c = inner[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
        i += 1
    if inner[start:].strip():
        parts.append(inner[start:].strip())
    return parts


def _pack(parts: list[str], indent: int) -> list[str]:
    """Greedy packing of arguments into lines of at most LINE_WIDTH characters."""
    lines: list[str] = []
    cur = ""
    for p in parts:
        piece = p + ","
        if cur and indent + len(cur) + 1 + len(piece) > LINE_WIDTH:
            lines.append(" " * indent + cur)
            cur = piece
        else:
            cur = f"{cur} {piece}" if cur else piece
    if cur:
        lines.append(" " * indent + cur)
    return lines


_EXPORTERS: dict[str, Callable[..., tuple[float | None, dict[str, Any]]]] = {
    "savedmodel": _export_savedmodel,
    "keras": _export_keras,
    "tflite": _export_tflite,
    "python": _export_python,
}
