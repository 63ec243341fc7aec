"""JSON files the lifecycle writes and reads back (plans, journals, image-info, usage): one way to read them,
with errors that name the file and line, and one way to write them (atomically)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lifecycle.errors import InputError, Location


def read_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in `path`; InputError (exit 2) naming the file, line and column when it is not one."""
    where = Location(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} not found", where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what}: {exc}", where) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON ({what}): {exc.msg}", Location(str(path), exc.lineno, exc.colno)) from None
    if not isinstance(data, dict):
        raise InputError(f"not a {what}: the top level must be a JSON object", where)
    return data


def write_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a reader never sees half a file, even if the writer dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
