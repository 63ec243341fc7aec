"""The data an ImageBuilder import passes between reading (upstream.py) and writing (upstream_render.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifecycle.catalogue.catalog import qualified


@dataclass(frozen=True)
class Finding:
    """Something the import could not map, or mapped differently from upstream."""

    kind: str  # "unmapped" | "mismatch" | "note" | "orphan"
    where: str
    what: str


@dataclass
class UpstreamManifest:
    path: Path
    registry: str | None
    variables: dict[str, str]
    # (repo name, image dict, origin label) in file order, includes after the main file
    repos: list[tuple[str, list[tuple[dict[str, Any], str]]]]


@dataclass
class ImportResult:
    registry: str
    repository: str
    images: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    external_bases: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    shared: dict[str, list[str]] = field(default_factory=dict)        # multi-platform shared tag -> image names
    base_users: dict[str, list[str]] = field(default_factory=dict)    # external base -> tag bases using it
    named: set[str] = field(default_factory=set)                      # Dockerfiles the manifest names
    excluded: dict[str, str] = field(default_factory=dict)            # Dockerfile not built -> reason

    @property
    def unmapped(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "unmapped"]

    @property
    def mismatches(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "mismatch"]

    def qualified(self, repository: str, tag: str) -> str:
        return qualified(repository, tag, self.repository)

    def name_of(self, entry: dict[str, Any]) -> str:
        """A mapped entry's name in the catalogue (its tag base, qualified outside the default repository)."""
        return self.qualified(entry.get("repository", ""), entry["tagBase"])

    def add(self, kind: str, where: str, what: str) -> None:
        self.findings.append(Finding(kind, where, what))


@dataclass(frozen=True)
class ImportPlan:
    """What `import_manifest` writes: file path (relative to dest) -> text, and folders to copy."""

    files: dict[str, str]
    copies: list[str]
    changes: list[Any] = field(default_factory=list)   # --update: upstream_sync.Change per entry or block
