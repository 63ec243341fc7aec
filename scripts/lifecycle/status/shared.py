"""Shared tags as consumers pull them: `<tag>-staging` and `<tag>-latest` of every shared tag in main's
catalogue, an index's children matched to the members they came from, and whether `-latest` is in step
with the members' `-latest` digests (what publish_indexes and rollout are meant to keep true).

Reads go through the run's snapshot client, so a child the status already read costs nothing."""

from __future__ import annotations

from lifecycle.catalogue.catalog import Catalog, SharedTag
from lifecycle.registry import Descriptor, RegistryClient
from lifecycle.status.model import STATES, ImageStatus, SharedChild, SharedTagStatus


def _platform(descriptor: Descriptor) -> str:
    p = descriptor.platform
    return "/".join(v for v in (p.os, p.architecture, p.variant) if v) if p else "unknown"


def _children(client: RegistryClient, repo: str, digest: str | None, by_digest: dict[str, str]) -> list[SharedChild]:
    if digest is None:
        return []
    manifest = client.manifest(repo, digest)
    if not manifest.is_index:
        return []
    return [SharedChild(_platform(d), d.digest, by_digest.get(d.digest)) for d in manifest.children]


def shared_status(catalog: Catalog, client: RegistryClient, images: list[ImageStatus]) -> list[SharedTagStatus]:
    by_tagbase = {i.tagbase: i for i in images}
    staging_of = {i.staging.digest: i.tagbase for i in images if i.staging.digest}
    latest_of = {i.latest.digest: i.tagbase for i in images if i.latest.digest}
    out = []
    for shared in sorted(catalog.shared, key=lambda s: s.tag):
        out.append(_one(shared.repository or catalog.repository, client, shared, by_tagbase, staging_of, latest_of))
    return out


def _one(repo: str, client: RegistryClient, shared: SharedTag, by_tagbase: dict[str, ImageStatus],
         staging_of: dict[str, str], latest_of: dict[str, str]) -> SharedTagStatus:
    members = [by_tagbase[t] for t in shared.tagbases if t in by_tagbase]
    states = [m.state for m in members]
    state = min(states, key=lambda s: STATES.index(s) if s in STATES else len(STATES)) if states else "unpublished"
    staging = client.try_resolve(repo, shared.channel_tag("staging"))
    # a one-platform shared tag may have only its bare name moved by the rollout
    latest = client.try_resolve(repo, shared.channel_tag("latest")) or (
        None if shared.is_index else client.try_resolve(repo, shared.tag))
    row = SharedTagStatus(shared.tag, "index" if shared.is_index else "retag", list(shared.tagbases), state,
                          staging, latest)
    if shared.is_index:
        row.staging_children = _children(client, repo, staging, staging_of)
        row.latest_children = _children(client, repo, latest, latest_of)
        served = {c.tagbase for c in row.latest_children if c.tagbase}
        row.in_step = latest is not None and served == {m.tagbase for m in members if m.latest.digest}
    else:
        row.in_step = bool(members) and latest == members[0].latest.digest
    return row
