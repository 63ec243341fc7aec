"""Image references: `host[:port]/repo[:tag][@sha256:<hex>]`, parsed once and carried as a value."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lifecycle.errors import InputError

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$")


def is_digest(ref: str) -> bool:
    return bool(DIGEST_RE.match(ref))


def check_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise InputError(f"invalid tag {tag!r}: letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-'")
    return tag


def _looks_like_host(part: str) -> bool:
    # Docker's rule: the first component is a registry host if it has a dot, a port, or is localhost.
    return "." in part or ":" in part or part == "localhost" or part.startswith("[")


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def ref(self) -> str | None:
        """What goes after /manifests/: the digest when pinned, else the tag."""
        return self.digest or self.tag

    def with_tag(self, tag: str) -> "Reference":
        return Reference(self.registry, self.repository, check_tag(tag), None)

    def with_digest(self, digest: str) -> "Reference":
        return Reference(self.registry, self.repository, None, digest)

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str, *, default_registry: str | None = None, require_ref: bool = False) -> Reference:
    """Parse `host[:port]/repo[:tag][@sha256:...]`; InputError naming the value when it is malformed."""
    raw = text.strip()
    if not raw:
        raise InputError("empty image reference")
    rest, _, digest = raw.partition("@")
    if digest and not DIGEST_RE.match(digest):
        raise InputError(f"invalid digest in {text!r}: expected sha256:<64 lowercase hex>")
    first, slash, remainder = rest.partition("/")
    if slash and _looks_like_host(first):
        registry, path = first, remainder
    elif default_registry:
        registry, path = default_registry, rest
    else:
        raise InputError(f"invalid image reference {text!r}: expected host[:port]/repository[:tag][@sha256:...]")
    if not _HOST_RE.match(registry):
        raise InputError(f"invalid registry host {registry!r} in {text!r}")
    tag = None
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1:]
        check_tag(tag)
    if not REPOSITORY_RE.match(path):
        raise InputError(f"invalid repository {path!r} in {text!r}: lowercase components separated by '/'")
    if require_ref and not tag and not digest:
        raise InputError(f"{text!r} names no tag or digest")
    return Reference(registry, path, tag, digest or None)
