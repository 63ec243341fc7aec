"""Classify references: which tag form they use, and whether the image is gone or past end-of-life.

Input is deliberately small (KnownImages: tag bases and EOL dates) so that classification does not
need the whole catalogue, and registry facts come through a RegistryView that lists each repository's
tags once and resolves each digest once.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Protocol

from lifecycle.consumers.references import Reference
from lifecycle.supplychain.eol import eol_date

if TYPE_CHECKING:
    from lifecycle.catalogue.catalog import Catalog

LATEST = "latest"
STAGING = "staging"
BARE = "bare"
PINNED = "pinned"
DIGEST = "digest"
UNKNOWN = "unknown"
EXPRESSION = "expression"
MISSING = "missing"
EOL = "eol"
FLOATING = "floating"    # a floating tag scoped to a .NET version (manifests/floating.yml)
CLASSES = (LATEST, STAGING, BARE, PINNED, DIGEST, FLOATING, UNKNOWN, EXPRESSION, MISSING, EOL)
# forms that migrate rewrites to <tagbase>-latest
MIGRATABLE = frozenset({PINNED, BARE})

PINNED_RE = re.compile(r"^(?P<base>.+)-(?P<time>\d{14})-(?P<sha>[0-9a-f]{7,40})$")


@dataclass(frozen=True)
class KnownImages:
    """What classification needs from the catalogue. Names are catalogue names: a tag of the default
    repository as it is, `<repository>:<tag>` in any other of `repositories` (tags are unique per repository)."""

    registry: str
    repository: str                    # the default repository
    tagbases: frozenset[str]
    eol: dict[str, dt.date] = field(default_factory=dict)
    shared_tags: dict[str, str] = field(default_factory=dict)   # extra floating tag -> its tag base
    floating: dict[str, str] = field(default_factory=dict)      # .NET-scoped floating tag -> its target
    repositories: tuple[str, ...] = ()  # every repository references may name (default: `repository` only)

    @classmethod
    def from_catalog(cls, catalog: "Catalog", floating: dict[str, str] | None = None) -> "KnownImages":
        def repo_of(name: str) -> str:
            image = catalog.get(name)
            return catalog.repository_of(image) if image is not None else catalog.repository

        return cls(catalog.registry, catalog.repository, frozenset(i.tagbase for i in catalog.images),
                   {i.tagbase: i.eol for i in catalog.images if i.eol is not None},
                   {catalog.qualified(catalog.repository_of(i), t): i.tagbase
                    for i in catalog.images for t in (*i.shared_tags, *i.index_tags)},
                   # a floating tag lives in its target's repository
                   {catalog.qualified(repo_of(target), tag): target for tag, target in (floating or {}).items()},
                   catalog.repositories)

    @property
    def names(self) -> tuple[str, ...]:
        return self.repositories or (self.repository,)

    def qualify(self, repository: str, tag: str) -> str:
        return tag if repository == self.repository else f"{repository}:{tag}"

    def locate(self, name: str) -> tuple[str, str]:
        """(repository, tag) of a catalogue name."""
        repository, _, tag = name.rpartition(":")
        return repository or self.repository, tag

    def past_eol(self, tagbase: str, today: dt.date) -> bool:
        eol = self.eol.get(tagbase)
        return eol is not None and eol < today


class TagSource(Protocol):
    """The two registry reads classification needs (lifecycle.registry.client.RegistryClient has them)."""

    def tags(self, repo: str) -> list[str]: ...

    def try_resolve(self, repo: str, ref: str) -> str | None: ...


class RegistryView:
    """Registry facts for one repository, each read once; `of(repository)` is the view of another one of
    ours (same client), and a qualified name `<repository>:<tag>` is looked up there."""

    def __init__(self, client: TagSource, repository: str):
        self._client = client
        self._repository = repository
        self._tags: set[str] | None = None
        self._digests: dict[str, str | None] = {}
        self._created: dict[str, dt.datetime | None] = {}
        self._others: dict[str, RegistryView] = {}
        self._eol: dict[str, str | None] = {}

    def of(self, repository: str) -> "RegistryView":
        if repository == self._repository:
            return self
        if repository not in self._others:
            self._others[repository] = RegistryView(self._client, repository)
        return self._others[repository]

    def end_of_life(self, digest: str) -> str | None:
        """The end-of-life date annotated on `digest` in the registry (its lifecycle referrer), None when it
        has none or the registry cannot tell (a client without the referrers calls)."""
        if digest not in self._eol:
            self._eol[digest] = None
            if hasattr(self._client, "transport"):  # a RegistryClient: referrers need raw requests
                try:
                    self._eol[digest] = eol_date(self._client, self._repository, digest)  # type: ignore[arg-type]
                except Exception:  # noqa: BLE001 - an unreadable annotation is no verdict; the class stays
                    self._eol[digest] = None
        return self._eol[digest]

    def created(self, digest: str) -> dt.datetime | None:
        """When the image behind a digest was built (its config), None when unknown or gone."""
        if digest not in self._created:
            config = getattr(self._client, "config", None)
            try:
                self._created[digest] = config(self._repository, digest).created if config else None
            except Exception:  # noqa: BLE001 - a pin's age is information; absence is reported as "missing"
                self._created[digest] = None
        return self._created[digest]

    def has_tag(self, tag: str) -> bool:
        if self._tags is None:
            self._tags = set(self._client.tags(self._repository))
        return tag in self._tags

    def prefetch(self, refs: Iterable[str | None]) -> None:
        """Resolve many refs at once (concurrently when the client can); absent tags cost nothing."""
        wanted = [r for r in dict.fromkeys(refs) if r and r not in self._digests
                  and (r.startswith("sha256:") or self.has_tag(r))]
        many = getattr(self._client, "resolve_many", None)
        if many is not None and wanted:
            self._digests.update(many(self._repository, wanted))

    def digest_of(self, ref: str) -> str | None:
        """The digest a tag, `<repository>:<tag>` or digest resolves to now; None when absent."""
        if not ref.startswith("sha256:") and ":" in ref:
            repository, _, tag = ref.rpartition(":")
            return self.of(repository).digest_of(tag)
        if ref not in self._digests:
            if not ref.startswith("sha256:") and not self.has_tag(ref):
                self._digests[ref] = None
            else:
                self._digests[ref] = self._client.try_resolve(self._repository, ref)
        return self._digests[ref]


@dataclass(frozen=True)
class Classified:
    reference: Reference
    form: str                  # latest | staging | bare | pinned | digest | unknown | expression
    klass: str                 # the form, or missing / eol when that matters more
    tagbase: str | None
    digest: str | None = None  # what the reference resolves to in the registry now (None if unchecked/absent)
    note: str = ""
    age_days: int | None = None  # a pin's (tag@sha256:) image age, when the registry was asked

    @property
    def migratable(self) -> bool:
        return self.form in MIGRATABLE and self.tagbase is not None

    @property
    def target_tag(self) -> str | None:
        return f"{self.tagbase}-latest" if self.migratable else None


def tag_form(tag: str, tagbases: frozenset[str], prefix: str = "") -> tuple[str, str | None]:
    """(form, tagbase) of a tag by its shape; the tag base must be catalogued for a known form. `prefix`:
    `<repository>:` for a tag outside the default repository (the catalogue name of its tag base)."""
    for suffix, form in (("-latest", LATEST), ("-staging", STAGING)):
        if tag.endswith(suffix):
            base = prefix + tag[: -len(suffix)]
            return (form, base) if base in tagbases else (UNKNOWN, base)
    pinned = PINNED_RE.match(tag)
    if pinned:
        base = prefix + pinned["base"]
        return (PINNED, base) if base in tagbases else (UNKNOWN, base)
    if prefix + tag in tagbases:
        return BARE, prefix + tag
    return UNKNOWN, None


def classify(ref: Reference, known: KnownImages, registry: RegistryView | None = None,
             today: dt.date | None = None) -> Classified:
    """The class of one reference. Precedence: missing > eol > the tag's form."""
    today = today or dt.date.today()
    if ref.expression:
        return Classified(ref, EXPRESSION, EXPRESSION, None, note="tag is built by a pipeline expression")
    repository = ref.repository or known.repository
    prefix = "" if repository == known.repository else f"{repository}:"
    if ref.digest:
        form, tagbase = DIGEST, (tag_form(ref.tag, known.tagbases, prefix)[1] if ref.tag else None)
    elif prefix + (ref.tag or "") in known.shared_tags:  # shared tags follow -latest
        form, tagbase = LATEST, known.shared_tags[prefix + (ref.tag or "")]
    elif prefix + (ref.tag or "") in known.floating:
        form, tagbase = FLOATING, known.floating[prefix + (ref.tag or "")]
    else:
        form, tagbase = tag_form(ref.tag or "", known.tagbases, prefix)
    klass, digest, note, age = form, None, "", None
    if registry is not None:
        view = registry.of(repository)   # the repository the reference names
        digest = view.digest_of(ref.digest or ref.tag or "")
        if digest is None:
            klass = MISSING
            note = f"{'digest' if ref.digest else 'tag'} not in {known.registry}/{repository}"
        elif form == DIGEST:
            created = view.created(digest)
            if created is not None:
                age = max(0, (today - created.date()).days)
                note = f"pinned to an image built {created.date()} ({age} days ago)"
    annotated = registry.end_of_life(digest) if registry is not None and digest and klass != MISSING else None
    if annotated and annotated <= today.isoformat():
        klass, note = EOL, f"{digest[:19]} is marked end of life on {annotated} in the registry"
    elif klass != MISSING and tagbase and known.past_eol(tagbase, today):
        klass, note = EOL, f"{tagbase} reached end-of-life on {known.eol[tagbase].isoformat()}"
    if klass == UNKNOWN and not note:
        note = "tag base not in the catalogue"
    return Classified(ref, form, klass, tagbase, digest, note, age)


def classify_all(refs: Iterable[Reference], known: KnownImages, registry: RegistryView | None = None,
                 today: dt.date | None = None) -> list[Classified]:
    return [classify(r, known, registry, today) for r in refs]
