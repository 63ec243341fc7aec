"""Last known good: for a definition hash, the newest published digest that carries it.

"Published" implies "tested": publish pushes an immutable tag only after the image's tests passed, so
the immutable tags of a tag base are exactly its tested images. One resolver serves one run: the
repository's tags are listed once (paginated), each immutable tag is resolved once and each distinct
digest's labels are read once, newest tag first, stopping at the first match; tag bases are looked up
concurrently on the client's pool. On ACR the listing carries every tag's digest (registry/acr.py), so no
tag is resolved with a HEAD at all.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Callable, Protocol

from lifecycle.catalogue.catalog import split_immutable_tag
from lifecycle.errors import LifecycleError
from lifecycle.registry import RegistryClient
from lifecycle.catalogue.workspace import Workspace

DefinitionsAt = Callable[[str], "dict[str, str] | None"]  # short revision -> definitions at it
NO_IMAGES = "never published: no immutable tag of this tag base in the registry"
NO_MATCH = "no published digest with this definition (not built yet, build or tests failed, or cleaned up)"


@dataclass(frozen=True)
class Published:
    """One immutable tag of a tag base."""

    tag: str
    built_at: dt.datetime
    revision: str          # the short sha in the tag


@dataclass(frozen=True)
class Lkg:
    tagbase: str
    definition: str
    digest: str | None
    tag: str | None = None          # the newest immutable tag carrying it
    built_at: dt.datetime | None = None
    reason: str | None = None       # why there is none

    @property
    def found(self) -> bool:
        return self.digest is not None

    def as_row(self) -> dict[str, str | None]:
        return {"image": self.tagbase, "definition": self.definition, "digest": self.digest, "tag": self.tag,
                "built": self.built_at.isoformat() if self.built_at else None, "reason": self.reason}


class LkgResolver:
    """Resolves LKGs in one repository, caching every registry read for the life of the object."""

    def __init__(self, client: RegistryClient, repository: str, definition_label: str,
                 hint: DefinitionsAt | None = None):
        self.client = client
        self.hint = hint
        self.repository = repository
        self.definition_label = definition_label
        self._lock = threading.Lock()
        self._by_tagbase: dict[str, list[Published]] | None = None
        self._all: list[str] = []
        self._digests: dict[str, str | None] = {}      # immutable tag -> digest (None: vanished)
        self._labels: dict[str, dict[str, str]] = {}    # digest -> labels
        self._listed: dict[str, str] | None = None      # every tag -> digest, when the listing carries digests

    def _index(self) -> dict[str, list[Published]]:
        with self._lock:
            if self._by_tagbase is None:
                index: dict[str, list[Published]] = {}
                details = self.client.tag_details(self.repository, 1000)
                if details is not None:  # ACR: the listing carries every digest, so no HEAD per tag
                    self._all = [d.name for d in details]
                    self._listed = {d.name: d.digest for d in details}
                    self._digests.update(self._listed)
                else:
                    self._all = self.client.tags(self.repository, page_size=1000)
                for tag in self._all:
                    parts = split_immutable_tag(tag)
                    if parts:
                        index.setdefault(parts[0], []).append(Published(tag, parts[1], parts[2]))
                for tags in index.values():
                    tags.sort(key=lambda p: (p.built_at, p.tag), reverse=True)
                self._by_tagbase = index
            return self._by_tagbase

    def all_tags(self) -> list[str]:
        """Every tag of the repository (listed once)."""
        self._index()
        return list(self._all)

    def published(self, tagbase: str) -> list[Published]:
        """The immutable tags of `tagbase`, newest first."""
        return list(self._index().get(tagbase, []))

    def listed_digests(self) -> dict[str, str] | None:
        """tag -> digest of every tag, when the registry's listing carries digests (ACR), else None."""
        self._index()
        return dict(self._listed) if self._listed is not None else None

    def digest_of(self, tag: str) -> str | None:
        if tag not in self._digests:
            if self._listed is not None:  # the listing is complete: a tag not in it does not exist
                return self._listed.get(tag)
            self._digests[tag] = self.client.try_resolve(self.repository, tag)
        return self._digests[tag]

    def digests_of(self, tags: list[str]) -> dict[str, str | None]:
        """Digests of many tags: from the listing when it has them, the rest resolved concurrently."""
        self._index()
        missing = [t for t in dict.fromkeys(tags) if t not in self._digests and self._listed is None]
        if missing:
            self._digests.update(self.client.resolve_many(self.repository, missing))
        return {t: self.digest_of(t) for t in tags}

    def labels_of(self, digest: str) -> dict[str, str]:
        if digest not in self._labels:
            self._labels[digest] = self.client.config(self.repository, digest).labels
        return self._labels[digest]

    def definition_of(self, digest: str) -> str | None:
        return self.labels_of(digest).get(self.definition_label)

    def lkg(self, tagbase: str, definition: str) -> Lkg:
        tags = self.published(tagbase)
        if not tags:
            return Lkg(tagbase, definition, None, reason=NO_IMAGES)
        hinted = self._hinted(tagbase, definition, tags)
        if hinted is not None:
            return hinted
        for item in tags:
            digest = self.digest_of(item.tag)
            if digest is not None and self.definition_of(digest) == definition:
                return Lkg(tagbase, definition, digest, item.tag, item.built_at)
        return Lkg(tagbase, definition, None, reason=NO_MATCH)

    def _hinted(self, tagbase: str, definition: str, tags: list[Published]) -> Lkg | None:
        """The shortcut through git: an immutable tag names the commit it was built from, and the definition
        at that commit is computed locally. The newest tag whose commit has `definition` is the candidate;
        it is taken without reading labels only when `<tagbase>-latest` already points at it (nothing would
        move), otherwise its labels must agree. None (read labels as usual) when a commit is unknown here,
        no commit has the definition, or git and the labels disagree."""
        if self.hint is None:
            return None
        for item in tags:
            at = self.hint(item.revision)
            if at is None:
                return None
            if at.get(tagbase) != definition:
                continue
            digest = self.digest_of(item.tag)
            if digest is None:
                continue
            if digest == self.digest_of(f"{tagbase}-latest") or self.definition_of(digest) == definition:
                return Lkg(tagbase, definition, digest, item.tag, item.built_at)
            return None
        return None

    def lkgs(self, definitions: dict[str, str]) -> dict[str, Lkg]:
        """LKG of every (tag base -> definition), looked up concurrently on the client's pool."""
        self._index()
        items = sorted(definitions.items())
        found = self.client.map(lambda item: self.lkg(*item), items)
        return {lkg.tagbase: lkg for lkg in found}

    def previous(self, tagbase: str, current: str) -> Published | None:
        """The newest immutable tag of `tagbase` older than the newest tag of digest `current` whose
        digest differs from it: the image `latest` pointed at before, when no journal says so."""
        tags = self.published(tagbase)
        mine = [p for p in tags if self.digest_of(p.tag) == current]
        if not mine:
            return None
        newest_current = mine[0].built_at
        for item in tags:
            if item.built_at < newest_current and self.digest_of(item.tag) not in (None, current):
                return item
        return None


def lkgs_for(ws: Workspace, resolver: LkgResolver) -> dict[str, Lkg]:
    """Every catalogued image's LKG for its definition in `ws`."""
    return resolver.lkgs({t: d for t, d in ws.definitions.items()})


def resolver_for(ws: Workspace, client: RegistryClient, hint: DefinitionsAt | None = None) -> LkgResolver:
    return LkgResolver(client, ws.catalog.sole_repository(), ws.policy.definition_label, hint)


class _Commits(Protocol):
    def sha(self, rev: str) -> str: ...
    def workspace(self, sha: str) -> Workspace: ...


def definitions_at(ops: _Commits, limit: int = 16) -> DefinitionsAt:
    """A hint for LkgResolver: the definitions at the commit a short revision names, from git (GitOps), at
    most `limit` distinct commits per run (each is a workspace load); None for an unknown commit."""
    cache: dict[str, dict[str, str] | None] = {}
    lock = threading.Lock()

    def hint(revision: str) -> dict[str, str] | None:
        with lock:
            if revision not in cache:
                if len(cache) >= limit:
                    return None
                try:
                    cache[revision] = dict(ops.workspace(ops.sha(revision)).definitions)
                except LifecycleError:
                    cache[revision] = None
            return cache[revision]

    return hint
