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
from lifecycle.catalogue.repositories import locate
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


Locate = Callable[[str], "tuple[str, str]"]  # catalogue name -> (repository, tag base as pushed)


class _RepositoryTags:
    """One registry repository's tags, listed once, and the digests read of them."""

    def __init__(self, client: RegistryClient, repository: str):
        self.client, self.repository = client, repository
        self.lock = threading.Lock()
        self.by_tag: dict[str, list[Published]] | None = None   # tag base as pushed -> immutable tags
        self.all: list[str] = []
        self.digests: dict[str, str | None] = {}      # tag -> digest (None: vanished)
        self.listed: dict[str, str] | None = None     # every tag -> digest, when the listing carries digests

    def index(self) -> dict[str, list[Published]]:
        with self.lock:
            if self.by_tag is None:
                index: dict[str, list[Published]] = {}
                details = self.client.tag_details(self.repository, 1000)
                if details is not None:  # ACR: the listing carries every digest, so no HEAD per tag
                    self.all = [d.name for d in details]
                    self.listed = {d.name: d.digest for d in details}
                    self.digests.update(self.listed)
                else:
                    self.all = self.client.tags(self.repository, page_size=1000)
                for tag in self.all:
                    parts = split_immutable_tag(tag)
                    if parts:
                        index.setdefault(parts[0], []).append(Published(tag, parts[1], parts[2]))
                for tags in index.values():
                    tags.sort(key=lambda p: (p.built_at, p.tag), reverse=True)
                self.by_tag = index
            return self.by_tag

    def digest_of(self, tag: str) -> str | None:
        if tag not in self.digests:
            if self.listed is not None:  # the listing is complete: a tag not in it does not exist
                return self.listed.get(tag)
            self.digests[tag] = self.client.try_resolve(self.repository, tag)
        return self.digests[tag]


class LkgResolver:
    """Resolves LKGs, caching every registry read for the life of the object. Each catalogue name's tags are
    in the repository `locate` gives (default: every name is a tag base of `repository`); each repository
    is listed once, when first needed."""

    def __init__(self, client: RegistryClient, repository: str, definition_label: str,
                 hint: DefinitionsAt | None = None, locate: Locate | None = None):
        self.client = client
        self.hint = hint
        self.repository = repository
        self.definition_label = definition_label
        self.locate: Locate = locate or (lambda name: (repository, name))
        self._lock = threading.Lock()
        self._repos: dict[str, _RepositoryTags] = {}
        self._labels: dict[str, dict[str, str]] = {}    # digest -> labels (content-addressed: any repository)

    def _repo(self, repository: str | None = None) -> _RepositoryTags:
        repository = repository or self.repository
        with self._lock:
            if repository not in self._repos:
                self._repos[repository] = _RepositoryTags(self.client, repository)
            return self._repos[repository]

    def _index(self, repository: str | None = None) -> dict[str, list[Published]]:
        return self._repo(repository).index()

    def all_tags(self, repository: str | None = None) -> list[str]:
        """Every tag of a repository (default: the resolver's), listed once."""
        repo = self._repo(repository)
        repo.index()
        return list(repo.all)

    def published(self, tagbase: str) -> list[Published]:
        """The immutable tags of catalogue name `tagbase`, newest first, from its repository."""
        repository, tag = self.locate(tagbase)
        return list(self._index(repository).get(tag, []))

    def listed_digests(self, repository: str | None = None) -> dict[str, str] | None:
        """tag -> digest of every tag of a repository, when the registry's listing carries digests (ACR),
        else None."""
        repo = self._repo(repository)
        repo.index()
        return dict(repo.listed) if repo.listed is not None else None

    def digest_of(self, tag: str, repository: str | None = None) -> str | None:
        return self._repo(repository).digest_of(tag)

    def digests_of(self, tags: list[str], repository: str | None = None) -> dict[str, str | None]:
        """Digests of many tags of one repository: from the listing when it has them, the rest resolved
        concurrently."""
        repo = self._repo(repository)
        repo.index()
        missing = [t for t in dict.fromkeys(tags) if t not in repo.digests and repo.listed is None]
        if missing:
            repo.digests.update(self.client.resolve_many(repo.repository, missing))
        return {t: repo.digest_of(t) for t in tags}

    def labels_of(self, digest: str, repository: str | None = None) -> dict[str, str]:
        if digest not in self._labels:
            self._labels[digest] = self.client.config(repository or self.repository, digest).labels
        return self._labels[digest]

    def definition_of(self, digest: str, repository: str | None = None) -> str | None:
        return self.labels_of(digest, repository).get(self.definition_label)

    def lkg(self, tagbase: str, definition: str) -> Lkg:
        tags = self.published(tagbase)
        if not tags:
            return Lkg(tagbase, definition, None, reason=NO_IMAGES)
        hinted = self._hinted(tagbase, definition, tags)
        if hinted is not None:
            return hinted
        repository = self.locate(tagbase)[0]
        for item in tags:
            digest = self.digest_of(item.tag, repository)
            if digest is not None and self.definition_of(digest, repository) == definition:
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
        repository, tag = self.locate(tagbase)
        for item in tags:
            at = self.hint(item.revision)
            if at is None:
                return None
            if at.get(tagbase) != definition:
                continue
            digest = self.digest_of(item.tag, repository)
            if digest is None:
                continue
            if digest == self.digest_of(f"{tag}-latest", repository) \
                    or self.definition_of(digest, repository) == definition:
                return Lkg(tagbase, definition, digest, item.tag, item.built_at)
            return None
        return None

    def lkgs(self, definitions: dict[str, str]) -> dict[str, Lkg]:
        """LKG of every (tag base -> definition), looked up concurrently on the client's pool."""
        for repository in dict.fromkeys(self.locate(name)[0] for name in definitions):
            self._index(repository)
        items = sorted(definitions.items())
        found = self.client.map(lambda item: self.lkg(*item), items)
        return {lkg.tagbase: lkg for lkg in found}

    def previous(self, tagbase: str, current: str) -> Published | None:
        """The newest immutable tag of `tagbase` older than the newest tag of digest `current` whose
        digest differs from it: the image `latest` pointed at before, when no journal says so."""
        tags = self.published(tagbase)
        repository = self.locate(tagbase)[0]
        mine = [p for p in tags if self.digest_of(p.tag, repository) == current]
        if not mine:
            return None
        newest_current = mine[0].built_at
        for item in tags:
            if item.built_at < newest_current and self.digest_of(item.tag, repository) not in (None, current):
                return item
        return None


def lkgs_for(ws: Workspace, resolver: LkgResolver) -> dict[str, Lkg]:
    """Every catalogued image's LKG for its definition in `ws`."""
    return resolver.lkgs({t: d for t, d in ws.definitions.items()})


def resolver_for(ws: Workspace, client: RegistryClient, hint: DefinitionsAt | None = None) -> LkgResolver:
    catalog = ws.catalog
    return LkgResolver(client, catalog.repository, ws.policy.definition_label, hint,
                       locate=lambda name: locate(catalog, name))


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
