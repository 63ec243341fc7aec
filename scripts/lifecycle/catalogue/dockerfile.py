"""A Dockerfile as the lifecycle needs it: every stage's base, with ARGs substituted, and COPY --from.

Only what defines an image's dependencies is modelled; everything else is left to the builder.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from lifecycle.errors import InputError, Location

_VAR_RE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_HEREDOC_RE = re.compile(r"<<-?([\"']?)([A-Za-z_][A-Za-z0-9_]*)\1")
_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(.+?)\s*$")


@dataclass(frozen=True)
class BaseRef:
    """Where a stage's content comes from: an image reference, an earlier stage, or scratch."""

    ref: str
    kind: str  # "image" | "stage" | "scratch"
    line: int
    instruction: str  # "FROM" | "COPY --from"

    @property
    def is_image(self) -> bool:
        return self.kind == "image"


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None
    base: BaseRef
    platform: str | None
    copies_from: tuple[BaseRef, ...] = ()


@dataclass(frozen=True)
class Dockerfile:
    path: str
    stages: tuple[Stage, ...]
    global_args: dict[str, str | None] = field(default_factory=dict)

    def image_refs(self) -> list[BaseRef]:
        """Every image this Dockerfile pulls content from, in order: FROMs of all stages, then COPY --from."""
        refs = [s.base for s in self.stages if s.base.is_image]
        refs += [c for s in self.stages for c in s.copies_from if c.is_image]
        return refs

    @property
    def final_base(self) -> BaseRef:
        """The base of the last stage, followed through stage aliases to an image (or scratch)."""
        stage = self.stages[-1]
        seen = set()
        while stage.base.kind == "stage" and stage.index not in seen:
            seen.add(stage.index)
            stage = self._stage_named(stage.base.ref) or stage
        return stage.base

    def _stage_named(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.name and stage.name.lower() == name.lower():
                return stage
        return None


def substitute(text: str, variables: dict[str, str | None]) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("plain")
        value = variables.get(name)
        op = m.group("op")
        # with the colon an empty value counts as unset; without it only a missing one does (shell rules)
        if op == ":-":
            return value if value else m.group("word")
        if op == "-":
            return value if value is not None else m.group("word")
        if op == ":+":
            return m.group("word") if value else ""
        if op == "+":
            return m.group("word") if value is not None else ""
        return value or ""

    return _VAR_RE.sub(repl, text)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Instructions with continuations joined, each with the 1-based line it starts on."""
    lines = text.splitlines()
    escape = "\\"
    for raw in lines:
        m = _DIRECTIVE_RE.match(raw)
        if not m:
            break
        if m.group(1).lower() == "escape":
            escape = m.group(2)
    result: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    heredocs: list[str] = []  # terminators still to skip: a heredoc body is data, never instructions
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if heredocs:
            if stripped == heredocs[0]:
                heredocs.pop(0)
            continue
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # comment lines inside a continuation are dropped by the builder
        if not buffer:
            start = number
        if stripped.endswith(escape):
            buffer.append(stripped[: -len(escape)])
            continue
        buffer.append(stripped)
        result.append((start, " ".join(buffer)))
        heredocs = [m.group(2) for m in _HEREDOC_RE.finditer(result[-1][1])]
        buffer = []
    if buffer:
        result.append((start, " ".join(buffer)))
    return result


def parse(text: str, path: str, build_args: dict[str, str] | None = None) -> Dockerfile:
    build_args = build_args or {}
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    copies: list[BaseRef] = []
    for line, instruction in _logical_lines(text):
        keyword, _, rest = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            for token in _split(rest, path, line):
                name, eq, default = token.partition("=")
                global_args[name] = build_args.get(name, default if eq else None)
        elif keyword == "FROM":
            if stages:
                stages[-1] = _with_copies(stages[-1], copies)
                copies = []
            stages.append(_parse_from(rest, path, line, len(stages), stages, {**global_args}))
        elif keyword in ("COPY", "ADD") and stages:
            copy_from = _copy_from(rest, path, line, stages)
            if copy_from:
                copies.append(copy_from)
        elif not stages and keyword not in ("ARG",):
            raise InputError(f"{keyword} before the first FROM", Location(path, line))
    if not stages:
        raise InputError("no FROM instruction: a Dockerfile needs at least one stage", Location(path))
    stages[-1] = _with_copies(stages[-1], copies)
    return Dockerfile(path, tuple(stages), global_args)


def _with_copies(stage: Stage, copies: list[BaseRef]) -> Stage:
    return Stage(stage.index, stage.name, stage.base, stage.platform, tuple(copies))


def _split(text: str, path: str, line: int) -> list[str]:
    if not any(c in text for c in "'\"\\"):
        return text.split()  # what shlex gives without quotes or escapes, many times faster
    try:
        return shlex.split(text, posix=True)
    except ValueError as exc:
        raise InputError(f"cannot parse instruction ({exc})", Location(path, line)) from None


def _parse_from(rest: str, path: str, line: int, index: int, earlier: list[Stage],
                variables: dict[str, str | None]) -> Stage:
    tokens = _split(rest, path, line)
    platform = None
    while tokens and tokens[0].startswith("--"):
        flag = tokens.pop(0)
        if flag.startswith("--platform="):
            platform = substitute(flag.split("=", 1)[1], variables)
        else:
            raise InputError(f"unknown FROM flag {flag!r}", Location(path, line))
    if not tokens:
        raise InputError("FROM without an image", Location(path, line))
    ref = substitute(tokens[0], variables)
    if not ref or "$" in ref:
        raise InputError(f"FROM {tokens[0]!r} resolves to {ref!r}: is a build arg missing?", Location(path, line))
    name = None
    if len(tokens) >= 3 and tokens[1].lower() == "as":
        name = tokens[2]
    elif len(tokens) != 1:
        raise InputError(f"malformed FROM: {rest!r} (expected FROM [--platform=...] image [AS name])",
                         Location(path, line))
    return Stage(index, name, _classify(ref, line, "FROM", earlier), platform)


def _copy_from(rest: str, path: str, line: int, stages: list[Stage]) -> BaseRef | None:
    for token in _split(rest, path, line):
        if not token.startswith("--"):
            break
        if token.startswith("--from="):
            source = token.split("=", 1)[1]
            if source.isdigit() and int(source) < len(stages):
                return BaseRef(source, "stage", line, "COPY --from")
            return _classify(source, line, "COPY --from", stages)
    return None


def _classify(ref: str, line: int, instruction: str, earlier: list[Stage]) -> BaseRef:
    if ref.lower() == "scratch":
        return BaseRef(ref, "scratch", line, instruction)
    if any(s.name and s.name.lower() == ref.lower() for s in earlier):
        return BaseRef(ref, "stage", line, instruction)
    return BaseRef(ref, "image", line, instruction)


def normalize_reference(ref: str) -> str:
    """Docker Hub short names spelled out (ubuntu:22.04 -> docker.io/library/ubuntu:22.04)."""
    first, slash, rest = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return ref
    if not slash:
        return f"docker.io/library/{ref}"
    return f"docker.io/{ref}"
