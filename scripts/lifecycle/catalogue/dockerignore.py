"""`.dockerignore` matching with Docker's rules, so the definition hashes exactly what the build sends."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    regex: re.Pattern[str]
    exclude: bool


def _translate(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i:i + 2] == "**":
                i += 2
                if pattern[i:i + 1] == "/":
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                out.append(f"[{'^' + body[1:] if body.startswith('!') else body}]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    # a pattern also excludes everything below a matching directory
    return re.compile("^" + "".join(out) + "(?:/.*)?$")


def parse(text: str) -> list[Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        line = line.lstrip("!").strip()
        line = posixpath.normpath(line.lstrip("/")) if line else line
        if line and line != ".":
            rules.append(Rule(_translate(line), exclude))
    return rules


def included(path: str, rules: list[Rule]) -> bool:
    """Docker's rule: the last pattern that matches decides."""
    keep = True
    for rule in rules:
        if rule.regex.match(path):
            keep = not rule.exclude
    return keep
