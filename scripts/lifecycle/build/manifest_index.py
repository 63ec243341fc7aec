"""Multi-platform shared tags: an OCI image index over the platform images' digests.

A shared tag that spans several platforms of one logical image (catalogue-level `sharedTags`) is pushed as
an index whose children are the member images' digests on a channel (publish: `<tag>-staging`) or their
LKGs (rollout and reconcile: `<tag>` and `<tag>-latest`). The index bytes are canonical (members in
catalogue order, compact sorted JSON), so the same children always give the same index digest: re-running
is a no-op, and a rollback to older children finds the older index digest again. Once pushed, the index
is a digest like any other: retagged by manifest copy, journaled, and kept with its children by cleanup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from lifecycle.catalogue.catalog import Catalog, ImageSpec, SharedTag
from lifecycle.catalogue.repositories import tag_in
from lifecycle.errors import OperationError
from lifecycle.registry import RegistryClient
from lifecycle.registry.models import OCI_INDEX, sha256_digest


@dataclass(frozen=True)
class IndexPlan:
    shared: SharedTag
    digest: str | None           # the index digest, None when a member has no digest
    raw: bytes | None
    missing: tuple[str, ...] = ()  # members without a digest

    @property
    def ready(self) -> bool:
        return self.digest is not None


def _platform(image: ImageSpec) -> dict[str, str]:
    platform = {"architecture": image.platform.architecture, "os": image.platform.os}
    if image.platform.variant:
        platform["variant"] = image.platform.variant
    return platform


def build_index(client: RegistryClient, repository: str, members: list[tuple[ImageSpec, str]]) -> tuple[bytes, str]:
    """Canonical index bytes and digest over (member, its image digest); reads each child manifest once
    for its media type and size."""
    descriptors = []
    for image, digest in members:
        manifest = client.manifest(repository, digest)
        if manifest.is_index:
            raise OperationError(f"{image.tagbase} at {digest} is itself an index; a shared tag's index "
                                 f"lists one image per platform")
        descriptors.append({"mediaType": manifest.media_type, "digest": digest, "size": len(manifest.raw),
                            "platform": _platform(image)})
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors},
                     sort_keys=True, separators=(",", ":")).encode()
    return raw, sha256_digest(raw)


def plan_index(client: RegistryClient, catalog: Catalog, shared: SharedTag,
               digest_of: Callable[[str], str | None]) -> IndexPlan:
    """The index `shared` should point at, given each member's digest (`digest_of(tagbase)`)."""
    members = [(catalog.image(t), digest_of(t)) for t in shared.tagbases]
    missing = tuple(image.tagbase for image, digest in members if not digest)
    if missing:
        return IndexPlan(shared, None, None, missing)
    raw, digest = build_index(client, shared.repository or catalog.repository, [(i, d) for i, d in members if d])
    return IndexPlan(shared, digest, raw)


def push_index(client: RegistryClient, repository: str, plan: IndexPlan) -> None:
    """Store the index by its digest (tags are then moved by the usual retag)."""
    assert plan.raw is not None and plan.digest is not None
    stored = client.put_manifest(repository, plan.digest, plan.raw, OCI_INDEX)
    if stored and stored != plan.digest:
        raise OperationError(f"the registry stored the index of {plan.shared.tag} as {stored}, not {plan.digest}")


@dataclass(frozen=True)
class IndexOutcome:
    tag: str                 # the channel tag moved, e.g. helix-staging
    status: str              # moved | unchanged | would-move | skipped | failed
    digest: str | None = None
    reason: str = ""
    records: dict = field(default_factory=dict)   # supply-chain referrers publish attached (publish only)
    repository: str = ""     # the registry repository of the index (its members'); "": the catalogue's


def publish_indexes(catalog: Catalog, client: RegistryClient, channel: str, moved: set[str],
                    dry_run: bool = False) -> list[IndexOutcome]:
    """After a publish moved `<member>-<channel>` for the tag bases in `moved`: point `<shared>-<channel>`
    of every multi-platform shared tag with a moved member at the index over its members' channel digests.
    A member without a channel image leaves that index where it was (reported, not an error: a Windows
    member on a Linux engine, or a platform not built yet)."""
    outcomes = []
    for shared in catalog.index_tags:
        if not moved & set(shared.tagbases):
            continue
        tag = shared.channel_tag(channel)
        repository = shared.repository or catalog.repository   # the members' repository, and the index's
        try:
            plan = plan_index(client, catalog, shared,
                              lambda t: client.try_resolve(*tag_in(catalog, t, channel)))
            if not plan.ready:
                outcomes.append(IndexOutcome(tag, "skipped", None, "no " + ", ".join(
                    f"{m}-{channel}" for m in plan.missing) + " yet", repository=repository))
                continue
            if dry_run:  # the index may not exist yet: compare digests instead of planning a retag
                current = client.try_resolve(repository, tag)
                outcomes.append(IndexOutcome(tag, "unchanged" if current == plan.digest else "would-move",
                                             plan.digest, repository=repository))
                continue
            push_index(client, repository, plan)
            result = client.retag_many(repository, [(plan.digest or "", tag)])[0]
            outcomes.append(IndexOutcome(tag, result.status, plan.digest, result.error or "", repository=repository))
        except OperationError as exc:
            outcomes.append(IndexOutcome(tag, "failed", None, str(exc), repository=repository))
    return outcomes
