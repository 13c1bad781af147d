"""Shipped presets (presets/*.json, packaged as resnet_studio/presets) and name resolution."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from resnet_studio.core.params import Problem
from resnet_studio.core.spec import ArchitectureSpec, SpecError, load_spec, loads_spec

DEFAULT_PRESET = "resnet8-digits"


@dataclass(frozen=True)
class PresetInfo:
    """Gallery entry of a shipped preset (read without building anything)."""

    name: str
    title: str
    description: str
    citation: str
    input_kind: str
    dataset: str | None


def _folder():
    return resources.files("resnet_studio").joinpath("presets")


def preset_names() -> list[str]:
    """Names of the shipped presets, sorted."""
    return sorted(p.name[:-5] for p in _folder().iterdir() if p.name.endswith(".json"))


def preset_text(name: str) -> str:
    return _folder().joinpath(f"{name}.json").read_text(encoding="utf-8")


def list_presets() -> list[PresetInfo]:
    out = []
    for name in preset_names():
        d = json.loads(preset_text(name))
        out.append(PresetInfo(name, d.get("title", ""), d.get("description", ""),
                              d.get("citation", ""), d["input"]["kind"], d.get("dataset")))
    return out


def load_preset(name_or_path: str) -> ArchitectureSpec:
    """A shipped preset by name, or a preset file by path.

    Raises:
        SpecError: unknown name, unreadable or invalid file.
    """
    if name_or_path in preset_names():
        return loads_spec(preset_text(name_or_path), f"preset {name_or_path}")
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists() or "/" in name_or_path:
        return load_spec(path)
    raise SpecError([Problem("", f"no preset named {name_or_path!r} and no such file (shipped "
                                 f"presets: {', '.join(preset_names())})")], name_or_path)
