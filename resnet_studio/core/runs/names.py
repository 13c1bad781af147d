"""What a run is called: a name the user can change, stored in run.json (`name`).

A new run is named after what it trained and a short id, `resnet8-digits · digits · 3f2a`
(the last part of its folder name, which is unique), so a table of runs reads without
opening each. Runs written before names existed have no `name` field and read with that
same default (`RunInfo.name`): the field is optional, so run.json's schema_version stays the same and older
ResNet Studios still read newer runs.
"""

from __future__ import annotations

import re
from typing import Any

MAX_NAME_CHARS = 80
SEPARATOR = " · "
_HEX_TAIL = re.compile(r"-([0-9a-f]{4,8})$")


def short_id(run_id: str) -> str:
    """The random tail of a run folder name (`20261205-150405-resnet8-digits-3f2a` ->
    `3f2a`), else the folder name's last 6 characters."""
    match = _HEX_TAIL.search(run_id)
    return match.group(1) if match else run_id[-6:]


def default_name(meta: dict[str, Any], run_id: str) -> str:
    """`preset · dataset · short id`, leaving out what run.json does not say."""
    parts = [str(meta.get(k)) for k in ("preset", "dataset")
             if isinstance(meta.get(k), str) and meta.get(k)]
    return SEPARATOR.join([*parts, short_id(run_id)])


def clean_name(text: str) -> str:
    """A name as stored: whitespace (line breaks included) collapsed to single spaces.

    Raises:
        ValueError: longer than MAX_NAME_CHARS (the message says so).
    """
    name = " ".join(str(text).split())
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"A run name has at most {MAX_NAME_CHARS} characters; this one has "
                         f"{len(name)}.")
    return name
