"""`lifecycle plan`: which images need building, by comparing definition hashes, never file lists."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from lifecycle.jsonio import read_object
from lifecycle.errors import InputError, Location
from lifecycle.catalogue.workspace import Workspace


@dataclass(frozen=True)
class PlanEntry:
    tagbase: str
    definition: str
    previous: str | None
    reason: str  # "new" | "changed" | "descendant" | "all" | "requested"
    folder: str
    platform: str
    parents: tuple[str, ...]
    dockerfile: str = ""               # the Dockerfile built (folder/Dockerfile unless the catalogue names another)
    os_version: str | None = None      # Windows: the OS version the build host must run


@dataclass(frozen=True)
class Plan:
    since: str | None
    images: tuple[PlanEntry, ...]

    @property
    def tagbases(self) -> list[str]:
        return [e.tagbase for e in self.images]

    def to_json(self) -> str:
        return json.dumps({"since": self.since, "images": [asdict(e) for e in self.images]}, indent=2) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> "Plan":
        data = read_object(path, "plan file")
        try:
            entries = tuple(PlanEntry(**{**e, "parents": tuple(e["parents"])}) for e in data["images"])
        except (KeyError, TypeError) as exc:
            raise InputError(f"not a plan file (missing or unexpected field {exc})", Location(str(path))) from None
        return cls(data.get("since"), entries)


def _entry(ws: Workspace, tagbase: str, reason: str, previous: str | None) -> PlanEntry:
    image = ws.image(tagbase)
    return PlanEntry(tagbase, ws.definitions[tagbase], previous, reason, image.folder, str(image.platform),
                     tuple(ws.parents_of(tagbase)), image.dockerfile, image.os_version)


def plan_all(ws: Workspace) -> Plan:
    return Plan(None, tuple(_entry(ws, t, "all", None) for t in ws.order()))


def plan_images(ws: Workspace, tagbases: list[str], with_descendants: bool = True) -> Plan:
    for tagbase in tagbases:
        ws.image(tagbase)
    chosen = ws.with_descendants(tagbases) if with_descendants else ws.order(tagbases)
    requested = set(tagbases)
    return Plan(None, tuple(_entry(ws, t, "requested" if t in requested else "descendant", None) for t in chosen))


def plan_since(ws: Workspace, before: Workspace | None, since: str) -> Plan:
    """Images whose definition differs from `before` (None: nothing existed), plus every descendant."""
    old = before.definitions if before else {}
    changed = {t for t, d in ws.definitions.items() if old.get(t) != d}
    entries = []
    for tagbase in ws.with_descendants(changed):
        reason = "new" if tagbase not in old else "changed" if old[tagbase] != ws.definitions[tagbase] else "descendant"
        entries.append(_entry(ws, tagbase, reason, old.get(tagbase)))
    return Plan(since, tuple(entries))
