"""Retiring an image in the registry: every published digest of it gets the end-of-life referrer, so
consumers still pinned to one learn it from the registry itself (`consumers scan`, `verify`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from lifecycle.registry.client import RegistryClient
from lifecycle.supplychain import eol


@dataclass(frozen=True)
class EolMark:
    digest: str
    tags: list[str]
    status: str          # attached | already | would-attach
    date: str

    def as_dict(self) -> dict:
        return asdict(self)


def mark_end_of_life(client: RegistryClient, repository: str, tags: list[str], when: dt.date, *,
                     dry_run: bool = False) -> list[EolMark]:
    """Attach the end-of-life referrer dated `when` to each distinct digest `tags` resolve to; a digest
    already annotated with that date (a re-run) gets nothing new."""
    by_digest: dict[str, list[str]] = {}
    for tag, digest in client.resolve_many(repository, tags).items():
        if digest:
            by_digest.setdefault(digest, []).append(tag)
    marks = []
    for digest, named in sorted(by_digest.items(), key=lambda item: sorted(item[1])):
        dates = {r.annotations.get(eol.EOL_DATE)
                 for r in eol.referrers.list_referrers(client, repository, digest, eol.ARTIFACT_TYPE)}
        if when.isoformat() in dates:
            status = "already"
        elif dry_run:
            status = "would-attach"
        else:
            eol.attach_eol(client, repository, digest, when)
            status = "attached"
        marks.append(EolMark(digest, sorted(named), status, when.isoformat()))
    return marks
