"""The final job of a matrix publish: the legs pushed and tested, the final job moves the channel tags.

A leg leaves `<tagbase>-<channel>` alone (publish --no-move); its image-info records are what this moves by.
"""

from __future__ import annotations

from lifecycle.build.imageinfo import ImageInfo
from lifecycle.catalogue.catalog import Catalog
from lifecycle.catalogue.repositories import by_repository, tag_in
from lifecycle.registry import RegistryClient


def move_from_info(records: list[ImageInfo], *, channel: str, client: RegistryClient, catalog: Catalog,
                   dry_run: bool = False) -> list[ImageInfo]:
    """The final job of a matrix publish: move `<tagbase>-<channel>` to what the legs pushed and tested.

    Only images a leg reports as pushed (tests passed) move; the retags are one batch per registry
    repository (each image's own), planned first.
    """
    pushed = [r for r in records if r.status in ("pushed", "published") and r.digest]
    where = {r.tagbase: tag_in(catalog, r.tagbase, channel) for r in pushed}
    results = {}
    for repository, pairs in by_repository((where[r.tagbase][0], (r.digest or "", where[r.tagbase][1]))
                                           for r in pushed).items():
        results.update({(repository, res.tag): res for res in client.retag_many(repository, pairs, dry_run=dry_run)})
    for record in pushed:
        tag = where[record.tagbase][1]
        outcome = results.get(where[record.tagbase])
        if outcome is not None and outcome.status != "failed":
            record.status, record.channel_tag, record.reason = "published", tag, f"{tag} {outcome.status}"
        else:
            record.status = "failed"
            record.reason = f"moving {tag} failed: {getattr(outcome, 'error', '') or 'unknown'}"
    return records
