"""The Dockerfile a build is given: every image reference pinned to the exact image this run chose.

The Dockerfile in git names its bases as people write them (`FROM <registry>/<repo>:<parent>`,
`FROM mcr.microsoft.com/...:3.0`, `COPY --from=<image>`). A builder that sees such a name may look it
up in the registry even when told not to pull: podman's Docker-compatible build does so whenever a
platform is given, and would then build a child on whatever the registry's tag holds (the parent
production serves, not the one this run built). So the build never sees those names: publish writes
a copy of the Dockerfile in which each image reference of every stage (`FROM` and `COPY --from`) is
replaced by the local image id of the image it resolved and prepared (pulled by digest, or built
earlier in the run). An image id is content-addressed like a digest, exists for images that were
never pushed (pull-request builds), and no engine resolves it against a registry.

Everything else stays byte for byte, line numbers included (a rewritten multi-line `FROM` keeps its
line count), so build errors still point at the line in git.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lifecycle.catalogue.dockerfile import BaseRef, Dockerfile
from lifecycle.errors import OperationError

_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(.+?)\s*$")


def pin(text: str, dockerfile: Dockerfile, pins: Mapping[str, str]) -> str:
    """`text` (the Dockerfile `dockerfile` was parsed from) with every image reference replaced by `pins[ref]`.

    `pins` maps a reference as the parser resolved it (build args substituted) to what the build gets.
    A reference without a pin is an error: building it would let the engine choose.
    """
    lines = text.split("\n")
    escape = _escape_char(lines)
    for stage in dockerfile.stages:
        if stage.base.is_image:
            _pin_from(lines, stage.base, _pinned(stage.base, pins, dockerfile.path), escape, dockerfile.path)
        for copy in stage.copies_from:
            if copy.is_image:
                _pin_copy(lines, copy, _pinned(copy, pins, dockerfile.path), escape, dockerfile.path)
    return "\n".join(lines)


def _pinned(ref: BaseRef, pins: Mapping[str, str], path: str) -> str:
    try:
        return pins[ref.ref]
    except KeyError:
        raise OperationError(f"{path}:{ref.line}: {ref.instruction} {ref.ref} has no resolved image to build from") \
            from None


def _escape_char(lines: list[str]) -> str:
    for raw in lines:
        m = _DIRECTIVE_RE.match(raw)
        if not m:
            break
        if m.group(1).lower() == "escape":
            return m.group(2)
    return "\\"


def _span(lines: list[str], start: int, escape: str) -> range:
    """Indexes of the physical lines of the instruction starting at 1-based line `start`."""
    index = start - 1
    end = index
    while end < len(lines) - 1:
        stripped = lines[end].strip()
        if end > index and stripped.startswith("#"):
            end += 1  # a comment inside a continuation: the builder drops it and carries on
            continue
        if not stripped.endswith(escape):
            break
        end += 1
    return range(index, end + 1)


def _pin_from(lines: list[str], ref: BaseRef, pinned: str, escape: str, path: str) -> None:
    span = _span(lines, ref.line, escape)
    parts = []
    for i in span:
        stripped = lines[i].strip()
        if i != span.start and stripped.startswith("#"):
            continue
        parts.append(stripped[: -len(escape)] if stripped.endswith(escape) else stripped)
    tokens = " ".join(parts).split()
    if not tokens or tokens[0].upper() != "FROM":
        raise OperationError(f"{path}:{ref.line}: expected a FROM instruction to pin, found {lines[span.start]!r}")
    position = 1
    while position < len(tokens) and tokens[position].startswith("--"):
        position += 1  # --platform=... stays as written
    if position >= len(tokens):
        raise OperationError(f"{path}:{ref.line}: FROM without an image")
    tokens[position] = pinned
    indent = lines[span.start][: len(lines[span.start]) - len(lines[span.start].lstrip())]
    lines[span.start] = indent + " ".join(tokens)
    for i in span[1:]:
        lines[i] = ""  # keep the line count: later instructions keep their line numbers


def _pin_copy(lines: list[str], ref: BaseRef, pinned: str, escape: str, path: str) -> None:
    pattern = re.compile(r"--from=([\"']?)" + re.escape(ref.ref) + r"\1(?=\s|$|" + re.escape(escape) + ")")
    for i in _span(lines, ref.line, escape):
        replaced, count = pattern.subn(lambda m: f"--from={pinned}", lines[i], count=1)
        if count:
            lines[i] = replaced
            return
    raise OperationError(f"{path}:{ref.line}: could not find --from={ref.ref} to pin")
