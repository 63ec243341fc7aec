"""What the registry client returns: manifests, descriptors, image configs, retag outcomes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from lifecycle.catalogue.platform import Platform

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
ACCEPT = ", ".join(MANIFEST_TYPES)


def parse_created(value: str | None) -> datetime | None:
    """An RFC 3339 time as registries write it (Go's nanoseconds included); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Go writes nanoseconds; Python takes at most microseconds
        head, _, tail = text.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = f"{head}.{tail[:min(digits, 6)]}{tail[digits:]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None

    @classmethod
    def from_json(cls, data: dict) -> "Descriptor":
        plat = data.get("platform")
        platform = Platform(plat.get("os", ""), plat.get("architecture", ""), plat.get("variant")) if plat else None
        return cls(data.get("mediaType", ""), data["digest"], int(data.get("size", 0)), platform)


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    raw: bytes = field(repr=False)
    children: list[Descriptor] = field(default_factory=list)   # an index's per-platform manifests
    config: Descriptor | None = None                            # an image manifest's config blob
    layers: list[Descriptor] = field(default_factory=list)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @classmethod
    def from_bytes(cls, raw: bytes, media_type: str | None, digest: str | None = None) -> "Manifest":
        data = json.loads(raw)
        media_type = media_type or data.get("mediaType") or ""
        children = [Descriptor.from_json(d) for d in data.get("manifests", [])]
        config = Descriptor.from_json(data["config"]) if isinstance(data.get("config"), dict) else None
        layers = [Descriptor.from_json(d) for d in data.get("layers", [])]
        return cls(digest or sha256_digest(raw), media_type, raw, children, config, layers)


@dataclass(frozen=True)
class ImageConfig:
    digest: str                  # digest of the reference asked for (an index when it is one)
    manifest_digest: str         # the single-platform manifest the config was read from
    created: datetime | None
    labels: dict[str, str]
    platform: Platform | None


@dataclass(frozen=True)
class RetagResult:
    tag: str
    source: str                  # the source reference as given
    digest: str | None           # what the tag points at after (or, dry-run, would)
    previous: str | None         # what it pointed at before; None when it did not exist
    status: str                  # moved | unchanged | failed | would-move
    error: str | None = None

    def as_row(self) -> dict[str, str | None]:
        return {"tag": self.tag, "status": self.status, "digest": self.digest, "previous": self.previous,
                "source": self.source, "error": self.error}
