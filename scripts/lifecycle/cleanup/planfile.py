"""Checking a cleanup plan file field by field before anything is applied.

A plan is reviewed (and may be edited) between `--plan-file` and `--from-plan`, so it is input like the
catalogue: every field is checked against scripts/lifecycle/schemas/cleanup-plan.schema.json, then for
what a schema cannot say (each deletion's tags are `delete` decisions on that digest; no digest twice;
times parse). Every problem is named as `<file>:<line>:<column>: <entry>.<field>: <what>`
(`plan.json:14:19: deletions[0].children: null is not an array`), and the whole list is raised as one
InputError (exit 2) before any registry request.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import jsonschema

from lifecycle.catalogue.schema import schema
from lifecycle.errors import InputError, Location

TYPE_NAMES = {"array": "an array", "object": "an object", "string": "a string", "integer": "an integer",
              "number": "a number", "boolean": "true or false", "null": "null"}


def _patterns() -> dict[str, str]:
    """The schema's patterns in words (a reviewer should not have to read a regular expression)."""
    defs = schema("cleanup-plan")["definitions"]
    return {defs["digest"]["pattern"]: "a digest (sha256:<64 hex>)", defs["tag"]["pattern"]: "a tag name",
            defs["time"]["pattern"]: "an ISO 8601 UTC time (2026-11-28T03:00:00Z)"}


PATTERNS = _patterns()


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(schema("cleanup-plan"))


def field_path(parts: list[Any] | tuple[Any, ...]) -> str:
    """['deletions', 0, 'children'] -> 'deletions[0].children'."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "top level"


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(error: jsonschema.ValidationError) -> list[tuple[list[Any], str]]:
    """(path, what) for one schema error, in words that say which field and what it must be."""
    path = list(error.absolute_path)
    if error.validator == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        return [(path + [name], "missing") for name in error.validator_value if name not in present]
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return [(path + [key], f"unknown field (allowed: {', '.join(allowed)})")
                for key in error.instance if key not in allowed]
    if error.validator == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return [(path, f"{_shown(error.instance)} is not {' or '.join(TYPE_NAMES.get(t, t) for t in types)}")]
    if error.validator == "pattern":
        what = PATTERNS.get(error.validator_value)
        return [(path, f"{_shown(error.instance)} is not {what or 'valid here'}"
                 + ("" if what else f" (must match {error.validator_value})"))]
    if error.validator == "const":
        return [(path, f"{_shown(error.instance)} is not {_shown(error.validator_value)}")]
    if error.validator == "enum":
        return [(path, f"{_shown(error.instance)} is not one of {', '.join(map(_shown, error.validator_value))}")]
    if error.validator == "minimum":
        return [(path, f"{_shown(error.instance)} is below {error.validator_value}")]
    if error.validator == "minItems":
        return [(path, f"must list at least {error.validator_value} item(s)")]
    return [(path, error.message)]


def _problems(data: Any) -> list[tuple[list[Any], str]]:
    """Every problem of a parsed plan document as (path of the field, what is wrong); empty when fine."""
    found: list[tuple[list[Any], str]] = []
    for error in _validator().iter_errors(data):
        found += _message(error)
    if not found:
        found += _consistency(data)
    found.sort(key=lambda p: [(0, x) if isinstance(x, int) else (1, str(x)) for x in p[0]])
    return found


def _consistency(data: dict[str, Any]) -> list[tuple[list[Any], str]]:
    """What the schema cannot say: applying relies on every one of these."""
    found: list[tuple[list[Any], str]] = []
    decisions: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, decision in enumerate(data["tags"]):
        if decision["tag"] in decisions:
            found.append((["tags", i, "tag"], f"{decision['tag']} is also tags[{decisions[decision['tag']][0]}]"))
        decisions.setdefault(decision["tag"], (i, decision))
    first: dict[str, int] = {}
    for i, deletion in enumerate(data["deletions"]):
        digest = deletion["digest"]
        if digest in first:
            found.append((["deletions", i, "digest"], f"{digest} is also deletions[{first[digest]}]"))
        first.setdefault(digest, i)
        for j, tag in enumerate(deletion["tags"]):
            entry = decisions.get(tag)
            if entry is None:
                found.append((["deletions", i, "tags", j], f"{tag} has no decision in tags"))
            elif entry[1]["digest"] != digest:
                found.append((["deletions", i, "tags", j],
                              f"{tag} is on {entry[1]['digest']} in tags[{entry[0]}], not on {digest}"))
            elif entry[1]["action"] != "delete":
                found.append((["deletions", i, "tags", j],
                              f"{tag} is a {entry[1]['action']!r} decision in tags[{entry[0]}], not 'delete'"))
    return found


def check(data: Any, source: str, text: str | None = None) -> None:
    """InputError (exit 2) listing every problem, each naming the file, the entry and the field (and, given
    the file's text, the line and column of the field, or of its entry when the field is missing)."""
    if not isinstance(data, dict) or data.get("version") != 1:
        shown = _shown(data.get("version")) if isinstance(data, dict) and "version" in data else "missing"
        raise InputError(f"not a cleanup plan of version 1 (version: {shown})", Location(source))
    found = _problems(data)
    if found:
        places = json_positions(text) if text is not None else {}
        lines = []
        for path, what in found:
            at = places.get(tuple(path)) or places.get(tuple(path[:-1])) if places else None
            where = Location(source, *_line_col(text, at)) if at is not None and text is not None else source
            lines.append(f"{where}: {field_path(path)}: {what}")
        raise InputError(f"{len(found)} problem(s) in the cleanup plan; nothing was deleted", Location(source),
                         lines)


_SPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")


def json_positions(text: str) -> dict[tuple[Any, ...], int]:
    """Offset of every value of a valid JSON document by its path (object members: of their key), so that a
    problem found on the parsed data can be shown at its line and column."""
    places: dict[tuple[Any, ...], int] = {}

    def skip(i: int) -> int:
        return _SPACE.match(text, i).end()  # type: ignore[union-attr]

    def value(i: int, path: tuple[Any, ...]) -> int:
        i = skip(i)
        places.setdefault(path, i)
        if text[i] == "{":
            i = skip(i + 1)
            while text[i] != "}":
                start = i
                key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
                places[path + (key,)] = start
                i = value(skip(i) + 1, path + (key,))      # past the ':'
                i = skip(i)
                if text[i] == ",":
                    i = skip(i + 1)
            return i + 1
        if text[i] == "[":
            i, index = skip(i + 1), 0
            while text[i] != "]":
                i = skip(value(i, path + (index,)))
                index += 1
                if text[i] == ",":
                    i = skip(i + 1)
            return i + 1
        if text[i] == '"':
            return json.decoder.scanstring(text, i + 1)[1]  # type: ignore[attr-defined]
        return _SCALAR.match(text, i).end()  # type: ignore[union-attr]

    value(0, ())
    return places


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
