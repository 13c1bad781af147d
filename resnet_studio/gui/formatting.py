"""Text for shapes, parameter counts and block parameters, shared by the canvas, the
inspector and the summary view (Qt-free: plain strings in, plain strings out)."""

from __future__ import annotations

from typing import Any

from resnet_studio.core.blocks import registry
from resnet_studio.core.spec import BlockSpec

SHORTCUT_TEXT = {
    "identity": "identity: y = F(x) + x",
    "projection": "projection: y = F(x) + W_s·x (a 1×1 convolution or dense layer where the "
                  "shape changes)",
    "zero_pad": "zero_pad: y = F(x) + pad(x) (subsample and add zero channels; no parameters)",
    "none": "none: a plain block, y = F(x)",
}


def format_shape(shape: tuple[int | None, ...] | list[int | None]) -> str:
    """'(None, 8, 8, 16)'."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def format_count(n: int) -> str:
    """'1,234 params'."""
    return f"{n:,} params"


def format_value(value: Any) -> str:
    """A parameter value as the user reads it: yes/no, 0.1, 'a, b' or — for an empty list."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def key_param_text(bt: registry.BlockType | None, block: BlockSpec) -> str:
    """'filters 32 · stride 2 · shortcut zero_pad' (repeat is shown as ×N instead)."""
    if bt is None:
        return f"unknown block type {block.type!r}"
    values = bt.resolve(block.params)
    names = bt.key_params or tuple(p.name for p in bt.params[:3])
    parts = []
    for name in names:
        if name == "repeat" or name not in values:
            continue
        value = values[name]
        param = bt.param(name)
        if value == 0 and param.kind == "int" and "0 =" in param.help:
            parts.append(f"{name.replace('_', ' ')} auto")
        elif name == "kernel_size":
            parts.append(f"{value}×{value} kernel")
        else:
            parts.append(f"{name.replace('_', ' ')} {format_value(value)}")
    return " · ".join(parts) if parts else bt.help
