"""Typed parameter schemas shared by blocks and training settings.

A `Param` says what a value may be (kind, range, choices), its default and a one-line help
text. The same schema checks user input where it enters (preset files, CLI flags, GUI
forms) and lets the GUI generate its forms, so there is one source of truth per setting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS = ("int", "float", "bool", "choice", "str", "str_list")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, with where it is.

    Args:
        location: Dotted path to the offending value, e.g. `blocks[3].params.filters`.
        message: What was expected and what was received.
    """

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


@dataclass(frozen=True)
class Param:
    """Schema of one parameter.

    Args:
        name: Key in the `params` object.
        kind: One of `KINDS`.
        default: Value used when the key is absent.
        help: One line shown as a tooltip and in `resnet-studio presets`.
        minimum: Smallest allowed value (int/float).
        maximum: Largest allowed value (int/float). Absurd sizes are refused here,
            before anything is allocated.
        choices: Allowed values (`choice`, and each item of `str_list`).
        exclusive_minimum: When true, `minimum` itself is not allowed (e.g. a rate > 0).
    """

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = field(default_factory=tuple)
    exclusive_minimum: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Expected kind in {KINDS}, received: kind={self.kind!r}")

    def describe_range(self) -> str:
        """Human description of what is accepted, used in error messages."""
        if self.kind in ("choice", "str_list"):
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        noun = "an integer" if self.kind == "int" else "a number"
        if self.kind == "str":
            return "a string"
        lo, hi = self.minimum, self.maximum
        if lo == 1 and self.kind == "int" and hi is not None:
            return f"a positive integer up to {hi:,}"
        if lo is not None and hi is not None:
            op = "<" if self.exclusive_minimum else "≤"
            return f"{noun} with {_fmt(lo)} {op} value ≤ {_fmt(hi)}"
        if lo is not None:
            return f"{noun} {'>' if self.exclusive_minimum else '≥'} {_fmt(lo)}"
        return noun

    def check(self, value: Any, location: str) -> list[Problem]:
        """Returns the problems with `value` (empty when it is acceptable)."""
        expected = f"expected {self.describe_range()}, got {_show(value)}"
        if self.kind == "bool":
            return [] if isinstance(value, bool) else [Problem(location, expected)]
        if self.kind == "str":
            return [] if isinstance(value, str) else [Problem(location, expected)]
        if self.kind == "choice":
            ok = any(value == c and type(value) is type(c) for c in self.choices)
            return [] if ok else [Problem(location, expected)]
        if self.kind == "str_list":
            if not isinstance(value, list) or not all(
                isinstance(v, str) and v in self.choices for v in value
            ):
                return [Problem(location, f"expected a list of {self.describe_range()}, got "
                                          f"{_show(value)}")]
            return []
        # Numbers. bool is an int subclass in Python: refuse it explicitly.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [Problem(location, expected)]
        if self.kind == "int" and not isinstance(value, int):
            if not (isinstance(value, float) and value.is_integer()):
                return [Problem(location, expected)]
        if isinstance(value, float) and not math.isfinite(value):
            return [Problem(location, expected)]
        if self.minimum is not None:
            if value < self.minimum or (self.exclusive_minimum and value == self.minimum):
                return [Problem(location, expected)]
        if self.maximum is not None and value > self.maximum:
            return [Problem(location, expected)]
        return []

    def normalize(self, value: Any) -> Any:
        """Converts an accepted value to its canonical Python type (e.g. 64.0 -> 64)."""
        if self.kind == "int":
            return int(value)
        if self.kind == "float":
            return float(value)
        if self.kind == "str_list":
            return list(value)
        return value


def check_params(
    schema: Sequence[Param], values: Any, location: str, *, allow_unknown: Iterable[str] = ()
) -> list[Problem]:
    """Checks a `params`-like object against `schema`: types, ranges and unknown keys."""
    if not isinstance(values, Mapping):
        return [Problem(location, f"expected an object, got {_show(values)}")]
    by_name = {p.name: p for p in schema}
    problems: list[Problem] = []
    allowed = set(allow_unknown)
    for key, value in values.items():
        param = by_name.get(key)
        if param is None:
            if key in allowed:
                continue
            known = ", ".join(sorted(by_name)) or "none"
            problems.append(Problem(f"{location}.{key}", f"unknown parameter (known: {known})"))
            continue
        problems.extend(param.check(value, f"{location}.{key}"))
    return problems


def with_defaults(schema: Sequence[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """Returns `values` completed with defaults and normalized to canonical types."""
    out: dict[str, Any] = {}
    for p in schema:
        out[p.name] = p.normalize(values[p.name]) if p.name in values else p.default
    for key, value in values.items():
        out.setdefault(key, value)
    return out


def _fmt(x: float) -> str:
    if isinstance(x, int) or float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:g}"


def _show(value: Any) -> str:
    """A short rendering of a received value for messages (never a huge dump)."""
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    if isinstance(value, float) and math.isnan(value):
        text = "NaN"
    return text if len(text) <= 60 else text[:57] + "..."
