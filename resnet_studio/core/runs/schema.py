"""run.json's format version and the migrations that bring older files up to date.

As with presets (core/spec.py), every run.json carries a `schema_version`; a change to the
format bumps `RUN_SCHEMA_VERSION` and ships a migration from the previous version, so runs
trained by an older ResNet Studio keep opening. A run.json without the field was written
before versioning, in the format that became version 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RUN_SCHEMA_VERSION = 1

# Each migration takes run.json's dict at version N and returns it at version N + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate_run_meta(meta: dict[str, Any], source: str = "run.json") -> dict[str, Any]:
    """Brings run.json's content to `RUN_SCHEMA_VERSION` (a new dict; `schema_version` set).

    Raises:
        ValueError: the version is not a positive integer, or newer than this program reads
            (naming `source`).
    """
    version = meta.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{source}: schema_version must be a positive integer, got "
                         f"{version!r}")
    if version > RUN_SCHEMA_VERSION:
        raise ValueError(f"{source}: written by a newer ResNet Studio (schema_version "
                         f"{version}; this version reads up to {RUN_SCHEMA_VERSION}). Update "
                         "ResNet Studio to open it.")
    meta = {**meta, "schema_version": version}
    while version < RUN_SCHEMA_VERSION:
        meta = MIGRATIONS[version](meta)
        version += 1
        meta["schema_version"] = version
    return meta
