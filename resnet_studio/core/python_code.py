"""Standalone Keras code that rebuilds a functional model's architecture (fresh weights).

The generator reads the functional graph from `model.get_config()` (Keras 3.15: each layer
has `class_name`, `config` and `inbound_nodes`, and each node is `{"args": [...],
"kwargs": {...}}` with tensors serialized as `__keras_tensor__` dicts whose `keras_history`
is `[layer name, node index, tensor index]`). Each emitted layer expression is evaluated once
at generation time and its `get_config()` compared with the original, so a config key dropped
as "default" can never silently change the architecture. Custom layer classes have their
source inlined. `core.export` writes the result and verifies it in a fresh interpreter.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import math
import re
import sys
import textwrap
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from resnet_studio.core.export_errors import ExportError

if TYPE_CHECKING:
    import keras

LINE_WIDTH = 99
_BASE_LAYER_KEYS = ("name", "trainable", "dtype")


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
