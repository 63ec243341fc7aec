"""Scan consumer repositories: find and classify every reference, and build the usage file.

The usage file is what `lifecycle cleanup --usage` reads to keep in-use digests (format in
docs/consumers.md): every tag and digest referenced, and the digest each tag resolved to at scan time.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable

from lifecycle.consumers.classify import Classified, KnownImages, RegistryView, classify_all
from lifecycle.consumers.references import COMMENT, Pattern, Reference, find_references
from lifecycle.consumers.sources import AzdoSource, GitBranchSource, LocalSource, MAX_FILE_BYTES

AnySource = LocalSource | AzdoSource | GitBranchSource

USAGE_VERSION = 1
ENCODING = "utf-8"
# undecodable bytes survive a decode/encode round trip, so rewritten files differ only where we edit
ERRORS = "surrogateescape"


@dataclass
class ScannedFile:
    path: str
    text: str
    references: list[Classified]


@dataclass
class SourceScan:
    source: AnySource
    files: list[ScannedFile] = field(default_factory=list)   # only files with references
    files_read: int = 0

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def branch(self) -> str | None:
        return self.source.branch

    @property
    def references(self) -> list[Classified]:
        return [c for f in self.files for c in f.references]


@dataclass
class ScanResult:
    known: KnownImages
    sources: list[SourceScan]
    registry_checked: bool
    generated: dt.datetime

    @property
    def references(self) -> list[tuple[str, Classified]]:
        return [(s.name, c) for s in self.sources for c in s.references]

    def located(self) -> list[tuple[str, str | None, Classified]]:
        """(repository, branch, reference) for every reference; branch None for a working tree."""
        return [(s.name, s.branch, c) for s in self.sources for c in s.references]

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for source, branch, c in self.located():
            r = c.reference
            rows.append({
                "repository": source, "branch": branch, "file": r.path, "line": r.line, "column": r.column,
                "kind": r.kind, "class": c.klass, "form": c.form, "reference": r.text,
                "image": _short(r.text[len(r.registry) + 1 + len(r.repository):]),
                "tagbase": c.tagbase, "queue": r.queue, "yaml_path": r.yaml_path,
                "digest": c.digest, "note": c.note,
            })
        return rows

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, c in self.references:
            out[c.klass] = out.get(c.klass, 0) + 1
        return dict(sorted(out.items()))

    def usage(self) -> dict[str, Any]:
        """The usage document (see docs/consumers.md). Comments and expressions pull nothing: left out."""
        entries = []
        tags: set[str] = set()
        digests: set[str] = set()
        for source, branch, c in self.located():
            r = c.reference
            if r.kind == COMMENT or r.expression:
                continue
            if r.tag:
                tags.add(r.tag)
            if r.digest:
                digests.add(r.digest)
            if c.digest:
                digests.add(c.digest)
            entries.append({"repository": source, "branch": branch, "file": r.path, "line": r.line,
                            "reference": r.text,
                            "tag": r.tag, "digest": r.digest, "resolved": c.digest, "class": c.klass})
        return {
            "version": USAGE_VERSION,
            "generated": self.generated.isoformat().replace("+00:00", "Z"),
            "registry": self.known.registry,
            "repository": self.known.repository,
            "repositories": list(self.known.names),
            "registryChecked": self.registry_checked,
            "tags": sorted(tags),
            "digests": sorted(digests),
            "references": entries,
        }


def _short(suffix: str) -> str:
    """`:tag` or `@sha256:<12 hex>`: what a person reads in a table (JSON keeps the full reference)."""
    tag, at, digest = suffix.partition("@")
    return tag + (f"@{digest[:19]}" if at else "")


def decode(data: bytes) -> str | None:
    """Text of a file, or None for what we do not scan (binary, huge)."""
    if len(data) > MAX_FILE_BYTES or b"\0" in data[:8192]:
        return None
    return data.decode(ENCODING, ERRORS)


def encode(text: str) -> bytes:
    return text.encode(ENCODING, ERRORS)


def scan_source(source: AnySource, pattern: Pattern, known: KnownImages,
                registry: RegistryView | None, today: dt.date) -> SourceScan:
    result = SourceScan(source)
    needles = [name.encode() for name in pattern.repositories]
    paths = source.files()
    with ThreadPoolExecutor(max_workers=max(1, source.concurrency)) as pool:
        contents = list(pool.map(source.read, paths))
    found: list[tuple[str, str, list[Reference]]] = []
    for path, data in zip(paths, contents):
        result.files_read += 1
        if not any(needle in data for needle in needles):
            continue
        text = decode(data)
        if text is None:
            continue
        refs = find_references(path, text, pattern)
        if refs:
            found.append((path, text, refs))
    if registry is not None:
        # one concurrent round of HEADs for every distinct tag and digest, instead of one at a time
        wanted = [(r.repository, r.digest or r.tag) for _, _, refs in found for r in refs if not r.expression]
        for repository in dict.fromkeys(name for name, _ in wanted):
            registry.of(repository).prefetch(ref for name, ref in wanted if name == repository)
    for path, text, refs in found:
        result.files.append(ScannedFile(path, text, classify_all(refs, known, registry, today)))
    return result


def scan(sources: Iterable[AnySource], known: KnownImages, aliases: Iterable[str] = (),
         registry: RegistryView | None = None, today: dt.date | None = None,
         now: dt.datetime | None = None) -> ScanResult:
    """Scan every source; any failure (a repository unreachable, the registry down) raises, so that an
    incomplete scan never produces a usage file that would let cleanup delete an image in use."""
    pattern = Pattern(tuple(dict.fromkeys([known.registry, *aliases])), known.repository, known.names)
    today = today or dt.date.today()
    scans = [scan_source(s, pattern, known, registry, today) for s in sources]
    return ScanResult(known, scans, registry is not None, now or dt.datetime.now(dt.timezone.utc))


def by_image(result: ScanResult) -> list[dict[str, Any]]:
    """The "matrix of truth": per image, which repositories and branches use it, and how (class counts)."""
    images: dict[str, dict[str, Any]] = {}
    for source, branch, c in result.located():
        if c.reference.kind == COMMENT:
            continue
        name = c.tagbase or "(unknown)"
        row = images.setdefault(name, {"image": name, "references": 0, "classes": {}, "users": {}})
        row["references"] += 1
        row["classes"][c.klass] = row["classes"].get(c.klass, 0) + 1
        where = f"{source}@{branch}" if branch else source
        row["users"].setdefault(where, set()).add(c.klass)
    out = []
    for name in sorted(images):
        row = images[name]
        out.append({"image": name, "references": row["references"],
                    "classes": ", ".join(f"{k}: {v}" for k, v in sorted(row["classes"].items())),
                    "used_by": "; ".join(f"{w} ({', '.join(sorted(k))})" for w, k in sorted(row["users"].items())),
                    "eol": any(k == "eol" for k in row["classes"])})
    return out
