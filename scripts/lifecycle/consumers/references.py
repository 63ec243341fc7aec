"""Find references to our images in a consumer file, with their exact span and the kind of place.

A reference is `<registry>/<repository>:<tag>`, `...@sha256:<hex>` or both, for any of the registry
names our repository is served under. Spans are character offsets into the decoded text, so that
migrate.py can replace exactly those characters and nothing else.

YAML files are composed (not loaded) with ruamel: every scalar node keeps its start and end offsets,
so a match is attributed to the scalar that contains it and its key path tells the kind of place
(resources.containers, container, variables, ...). A match inside no scalar is in a comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# kinds of place, most specific first where several apply
HELIX_QUEUE = "helix-queue"
RESOURCES_CONTAINERS = "resources.containers"
CONTAINER = "container"
CONTAINER_IMAGE = "container.image"
MATRIX = "matrix"
TEMPLATE_PARAMETER = "template-parameter"
VARIABLE = "variable"
YAML_VALUE = "yaml"
DOCKERFILE_FROM = "dockerfile-from"
DOCKERFILE = "dockerfile"
COMMENT = "comment"
TEXT = "text"
KINDS = (HELIX_QUEUE, RESOURCES_CONTAINERS, CONTAINER, CONTAINER_IMAGE, MATRIX, TEMPLATE_PARAMETER, VARIABLE,
         YAML_VALUE, DOCKERFILE_FROM, DOCKERFILE, COMMENT, TEXT)

# a tag as the distribution spec allows, except a trailing '.', which in prose ends the sentence
TAG_CHARS = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9_-])?"
# `(Ubuntu.2204.Amd64)Ubuntu.2204.Amd64@` right before the image reference
HELIX_PREFIX_RE = re.compile(r"\((?P<name>[^()\s]+)\)(?P<queue>[^()\s@'\"+;,]+)@$")
FROM_RE = re.compile(r"^\s*FROM\s", re.IGNORECASE)
# pipeline expressions that continue a tag: $(var), ${{ parameters.x }}, $[ ... ]
EXPRESSION_START = ("$(", "${{", "$[", "{{")


@dataclass(frozen=True)
class Reference:
    """One reference to our repository in one file."""

    path: str                    # file path inside the consumer repository, with '/'
    line: int                    # 1-based
    column: int                  # 1-based, characters
    start: int                   # 0-based character offsets of the reference text in the file
    end: int
    text: str                    # exactly text[start:end]
    registry: str
    repository: str
    tag: str | None
    digest: str | None
    kind: str
    yaml_path: str | None = None
    queue: str | None = None     # Helix queue name for helix-queue references
    expression: bool = False     # the tag continues with a pipeline expression: it is not a real tag

    @property
    def end_column(self) -> int:
        return self.column + (self.end - self.start)


@dataclass(frozen=True)
class Pattern:
    """The registry names and repositories we look for."""

    registries: tuple[str, ...]
    repository: str
    others: tuple[str, ...] = ()   # the catalogue's other registry repositories

    @property
    def repositories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.repository, *self.others]))

    def regex(self) -> re.Pattern[str]:
        hosts = "|".join(re.escape(r) for r in sorted(self.registries, key=len, reverse=True))
        # longest first: a repository whose name extends another's is not cut short
        names = "|".join(re.escape(r) for r in sorted(self.repositories, key=len, reverse=True))
        return re.compile(
            rf"(?<![A-Za-z0-9_.\-/])(?P<registry>{hosts})/(?P<repository>{names})"
            rf"(?:(?::(?P<tag>{TAG_CHARS}))(?:@(?P<digest1>sha256:[0-9a-f]{{64}}))?|@(?P<digest2>sha256:[0-9a-f]{{64}}))"
            r"(?![A-Za-z0-9_\-/@:])"
        )


def file_type(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    lower = name.lower()
    if lower.endswith((".yml", ".yaml")):
        return "yaml"
    if lower in ("dockerfile", "containerfile") or lower.startswith(("dockerfile.", "containerfile.")) \
            or lower.endswith((".dockerfile", ".containerfile")):
        return "dockerfile"
    return "text"


def find_references(path: str, text: str, pattern: Pattern) -> list[Reference]:
    """Every reference in `text` (the content of `path`), in file order."""
    regex = pattern.regex()
    matches = list(regex.finditer(text))
    if not matches:
        return []
    kind_of = {"yaml": _yaml_places, "dockerfile": _dockerfile_places}.get(file_type(path), _text_places)
    places = kind_of(text, matches)
    line_starts = _line_starts(text)
    refs = []
    for match, (kind, yaml_path) in zip(matches, places):
        start, end = match.span()
        line = _line_of(line_starts, start)
        line_start = line_starts[line - 1]
        queue = None
        helix = HELIX_PREFIX_RE.search(text, line_start, start) if start > line_start else None
        if helix and helix.end() == start and kind != COMMENT:
            kind, queue = HELIX_QUEUE, f"({helix['name']}){helix['queue']}"
        tail = text[end:end + 3]
        refs.append(Reference(
            path=path, line=line, column=start - line_start + 1, start=start, end=end, text=match.group(0),
            registry=match["registry"], repository=match["repository"], tag=match["tag"],
            digest=match["digest1"] or match["digest2"], kind=kind, yaml_path=yaml_path, queue=queue,
            expression=match["tag"] is not None and tail.startswith(EXPRESSION_START),
        ))
    return refs


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer(r"\r\n|\n|\r(?!\n)", text))
    return starts


def _line_of(line_starts: list[int], offset: int) -> int:
    lo, hi = 0, len(line_starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if line_starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


Place = tuple[str, str | None]


def _text_places(text: str, matches: list[re.Match[str]]) -> list[Place]:
    return [(TEXT, None) for _ in matches]


def _dockerfile_places(text: str, matches: list[re.Match[str]]) -> list[Place]:
    places = []
    for match in matches:
        line_start = text.rfind("\n", 0, match.start()) + 1
        prefix = text[line_start:match.start()]
        if prefix.lstrip().startswith("#"):
            places.append((COMMENT, None))
        elif FROM_RE.match(prefix + " "):
            places.append((DOCKERFILE_FROM, None))
        else:
            places.append((DOCKERFILE, None))
    return places


@dataclass(frozen=True)
class _Scalar:
    start: int
    end: int
    path: tuple[str | int, ...]


def _yaml_places(text: str, matches: list[re.Match[str]]) -> list[Place]:
    try:
        scalars = sorted(_scalars(text), key=lambda s: s.start)
    except YAMLError:
        # not YAML we can parse (a template fragment, a broken file): still report, as plain text
        return _text_places(text, matches)
    places = []
    index = 0
    for match in matches:
        # scalars do not overlap, so the container is the last one starting at or before the match
        while index + 1 < len(scalars) and scalars[index + 1].start <= match.start():
            index += 1
        scalar = scalars[index] if scalars and scalars[index].start <= match.start() else None
        if scalar is None or match.end() > scalar.end:
            places.append((COMMENT, None))
        else:
            places.append((_yaml_kind(scalar.path), _format_path(scalar.path)))
    return places


def _scalars(text: str) -> Iterator[_Scalar]:
    yaml = YAML(typ="rt")
    seen: set[int] = set()
    for document in yaml.compose_all(text):
        if document is not None:
            yield from _walk(document, (), seen)


def _walk(node: Node, path: tuple[str | int, ...], seen: set[int]) -> Iterator[_Scalar]:
    # an alias is the same node object as its anchor: report it once, where it is written
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, ScalarNode):
        yield _Scalar(node.start_mark.index, node.end_mark.index, path)
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else "?"
            yield from _walk(key, path + (f"{name}<key>",), seen)
            yield from _walk(value, path + (name,), seen)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk(item, path + (i,), seen)


def _yaml_kind(path: tuple[str | int, ...]) -> str:
    keys = [p.lower() for p in path if isinstance(p, str)]
    if len(path) >= 3 and path[-1] == "image" and isinstance(path[-2], int) and path[-3] == "containers" \
            and "resources" in keys:
        return RESOURCES_CONTAINERS
    if keys and keys[-1] == "container":
        return CONTAINER
    if len(keys) >= 2 and keys[-2:] == ["container", "image"]:
        return CONTAINER_IMAGE
    if "matrix" in keys:
        return MATRIX
    if "parameters" in keys:
        return TEMPLATE_PARAMETER
    if "variables" in keys:
        return VARIABLE
    return YAML_VALUE


def _format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out
