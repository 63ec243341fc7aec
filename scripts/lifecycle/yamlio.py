"""YAML in and out with positions, so that every error can name file:line:column."""

from __future__ import annotations

import datetime
import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from lifecycle.errors import InputError, Location


def load_text(text: str, filename: str) -> Any:
    """Parse YAML keeping line/column information (ruamel round-trip nodes)."""
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
        raise InputError(f"malformed YAML: {exc.problem or exc.context}", where) from None
    except ValueError as exc:
        # ruamel builds dates while constructing (2027-13-45 raises ValueError with no position)
        raise InputError(f"malformed YAML: {exc}", _bad_timestamp(yaml, text, filename)) from None


def _bad_timestamp(yaml: YAML, text: str, filename: str) -> Location:
    """Where the first scalar tagged as a timestamp that is not a real date/time is."""
    try:
        todo = [yaml.compose(text)]
    except MarkedYAMLError:
        return Location(filename)
    while todo:
        node = todo.pop(0)
        if node is None:
            continue
        if isinstance(node.value, list):
            for item in node.value:
                todo.extend(item if isinstance(item, tuple) else [item])
        elif node.tag.endswith(":timestamp"):
            try:
                datetime.date.fromisoformat(str(node.value)[:10])
            except ValueError:
                return Location(filename, node.start_mark.line + 1, node.start_mark.column + 1)
    return Location(filename)


def load_fast(text: str) -> tuple[Any, Any] | None:
    """(plain data, libyaml node tree) for large valid files; ruamel's pure-Python round-trip parser takes
    seconds on a 1,000-image catalogue. None when libyaml (PyYAML) is missing, the text does not parse, or a
    mapping repeats a key: the caller then uses load_text, which reports problems with their positions."""
    try:
        import yaml
        loader_class = yaml.CSafeLoader
    except (ImportError, AttributeError):
        return None
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None or _has_duplicate_keys(node):
            return None
        data = loader.construct_document(node)
    except (yaml.YAMLError, ValueError, TypeError):
        return None
    finally:
        loader.dispose()
    return to_plain(data), node


def _has_duplicate_keys(root: Any) -> bool:
    todo = [root]
    while todo:
        node = todo.pop()
        if node.id == "mapping":
            keys = [k.value for k, _ in node.value if k.id == "scalar"]
            if len(keys) != len(set(keys)):
                return True
            todo.extend(v for _, v in node.value)
        elif node.id == "sequence":
            todo.extend(node.value)
    return False


def fast_line(node: Any, path: list[Any]) -> int | None:
    """1-based line of the value at `path` in a libyaml node tree (see load_fast)."""
    for key in path:
        if node.id == "mapping":
            node = next((v for k, v in node.value if k.value == key), None)
        elif node.id == "sequence" and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            return None
    return node.start_mark.line + 1


def load_file(path: Path, display: str | None = None) -> Any:
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", Location(name)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", Location(name)) from None
    return load_text(text, name)


def position(node: Any, path: list[Any]) -> tuple[int | None, int | None]:
    """1-based (line, column) of the value at `path` inside a round-trip document, as close as it gets."""
    line = col = None
    current = node
    for key in path:
        if isinstance(current, CommentedMap) and key in current:
            try:
                ln, cl = current.lc.value(key) if not isinstance(current[key], (CommentedMap, CommentedSeq)) \
                    else current.lc.key(key)
                line, col = ln + 1, cl + 1
            except (KeyError, TypeError, AttributeError):
                pass
            current = current[key]
        elif isinstance(current, CommentedSeq) and isinstance(key, int) and 0 <= key < len(current):
            try:
                ln, cl = current.lc.item(key)
                line, col = ln + 1, cl + 1
            except (KeyError, TypeError, AttributeError):
                pass
            current = current[key]
        else:
            break
    if line is None and hasattr(node, "lc"):
        line, col = node.lc.line + 1, node.lc.col + 1
    return line, col


def key_position(node: Any, path: list[Any], key: str) -> tuple[int | None, int | None]:
    """Position of a key itself (for 'unknown key' errors)."""
    current = node
    for part in path:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return position(node, path)
    if isinstance(current, CommentedMap) and key in current:
        ln, cl = current.lc.key(key)
        return ln + 1, cl + 1
    return position(node, path)


def to_plain(node: Any) -> Any:
    """Round-trip nodes to plain dicts/lists (for JSON Schema and dataclasses)."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()
    return node


def dump_text(data: Any) -> str:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 120
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()
