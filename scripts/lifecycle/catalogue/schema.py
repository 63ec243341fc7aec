"""The manifests' JSON Schemas (scripts/lifecycle/schemas/) and the checks every manifest loader shares:
each violation reported with file:line:column, dates and glob patterns rejected where they are written."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from lifecycle import yamlio
from lifecycle.errors import InputError, Location


@lru_cache(maxsize=None)
def schema(name: str) -> dict[str, Any]:
    text = resources.files("lifecycle").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def check_schema(document: Any, plain: Any, schema_name: str, filename: str) -> None:
    """Raise one InputError listing every schema violation with its position."""
    checker = validator(schema_name)
    problems = []
    for error in sorted(checker.iter_errors(plain), key=lambda e: list(map(str, e.absolute_path))):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = set(error.schema.get("properties", {}))
            extra = [k for k in error.instance if k not in allowed]
            for key in extra:
                line, col = yamlio.key_position(document, path, key)
                where = "/".join(map(str, path)) or "top level"
                problems.append(f"{Location(filename, line, col)}: unknown key {key!r} at {where} "
                                f"(allowed: {', '.join(sorted(allowed))})")
            continue
        line, col = yamlio.position(document, path)
        where = "/".join(map(str, path)) or "top level"
        problems.append(f"{Location(filename, line, col)}: {where}: {error.message}")
    if problems:
        raise InputError(f"{len(problems)} schema error(s)", Location(filename), problems)


@lru_cache(maxsize=None)
def validator(name: str) -> jsonschema.Draft7Validator:
    # local $refs inlined: resolving "#/definitions/image" once per image is most of the validation time
    return jsonschema.Draft7Validator(inline_refs(schema(name), schema(name)))


def inline_refs(node: Any, root: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/") and len(node) == 1:
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            return inline_refs(target, root)
        return {k: inline_refs(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_refs(v, root) for v in node]
    return node


def parse_date(value: str, document: Any, path: list[Any], filename: str, line_of: Any = None) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        if line_of is not None and not hasattr(document, "lc"):  # a libyaml node tree: line only
            raise InputError(f"{value!r} is not a date (YYYY-MM-DD)", Location(filename, line_of(path))) from None
        line, col = yamlio.position(document, path)
        raise InputError(f"{value!r} is not a date (YYYY-MM-DD)", Location(filename, line, col)) from None


def check_glob(pattern: str, document: Any, path: list[Any], filename: str) -> None:
    """fnmatch accepts almost anything; reject what is surely a mistake (unbalanced brackets, whitespace)."""
    problem = None
    if pattern.count("[") != pattern.count("]"):
        problem = "unbalanced [ ] in pattern"
    elif any(c.isspace() for c in pattern):
        problem = "whitespace in pattern"
    else:
        try:
            re.compile(fnmatch.translate(pattern))
        except re.error as exc:
            problem = f"malformed pattern ({exc})"
    if problem:
        line, col = yamlio.position(document, path)
        raise InputError(f"{problem}: {pattern!r}", Location(filename, line, col))
