"""The one JSON encoder of the project: numpy values, sets and tuples as plain JSON."""

from __future__ import annotations

from typing import Any


def to_jsonable(o: Any) -> Any:
    """`json.dumps(..., default=to_jsonable)`: numpy scalars and arrays become numbers and
    lists, sets and tuples lists; anything else its `str` (a path, an enum), never an error."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        np = None
    if np is not None:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)
