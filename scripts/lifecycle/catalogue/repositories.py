"""Where a catalogue name's tags live: (registry repository, tag as pushed there).

Every flow that reads or moves tags goes through `locate`, so that a catalogue spanning several registry
repositories needs no special case anywhere: a name outside the default repository is
`<repository>:<tag base>` (catalog.qualified), and its tags are plain tags of that repository.
"""

from __future__ import annotations

from typing import Iterable, TypeVar

from lifecycle.catalogue.catalog import Catalog

T = TypeVar("T")


def locate(catalog: Catalog, name: str) -> tuple[str, str]:
    """(repository, tag base as pushed) of a catalogue name: an image's tag base or a shared tag, qualified
    as <repository>:<tag> outside the default repository."""
    image = catalog.get(name)
    if image is not None:
        return catalog.repository_of(image), image.tag
    repository, _, tag = name.rpartition(":")
    return repository or catalog.repository, tag


def tag_in(catalog: Catalog, name: str, suffix: str) -> tuple[str, str]:
    """(repository, `<tag base>-<suffix>`) of a catalogue name, e.g. its `-staging` or `-latest` tag."""
    repository, tag = locate(catalog, name)
    return repository, f"{tag}-{suffix}"


def by_repository(items: Iterable[tuple[str, T]]) -> dict[str, list[T]]:
    """(repository, item) pairs grouped by repository, in first-seen order: one batch per repository."""
    grouped: dict[str, list[T]] = {}
    for repository, item in items:
        grouped.setdefault(repository, []).append(item)
    return grouped
