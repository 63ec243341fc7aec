"""The journal of a rollout or reconcile: what every floating tag pointed at before and after.

It is what the emergency rollback reads (`previous` of `<tagbase>-latest`) and what the pipelines publish
as an artifact. One JSON object per file:

    {"kind": "rollout", "time": "...Z", "commit": "<production commit>", "main_commit": "<C>",
     "tags": [{"tag": "...-latest", "image": "...", "previous": "sha256:..", "new": "sha256:..",
               "status": "moved"}], "holds": [{"image": "...", "reason": "..."}]}
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lifecycle.jsonio import read_object
from lifecycle.errors import InputError, Location

VERSION = 1


@dataclass(frozen=True)
class TagEntry:
    tag: str
    image: str
    previous: str | None
    new: str | None
    status: str            # moved | unchanged | failed | would-move


@dataclass
class Journal:
    kind: str                          # rollout | reconcile | emergency
    commit: str | None                 # production commit the tags now follow
    time: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    main_commit: str | None = None
    tags: list[TagEntry] = field(default_factory=list)
    holds: list[dict[str, str]] = field(default_factory=list)
    version: int = VERSION

    def to_json(self) -> str:
        """Indented JSON with one line per tag, so that a journal of hundreds of tags stays readable."""
        data = asdict(self)
        tags = data.pop("tags")
        head = json.dumps(data, indent=2)[: -len("\n}")]
        body = ",\n".join("    " + json.dumps(t) for t in tags)
        return head + ',\n  "tags": [' + (f"\n{body}\n  " if tags else "") + "]\n}\n"

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)  # a reader never sees half a journal

    def entry(self, tag: str) -> TagEntry | None:
        return next((e for e in self.tags if e.tag == tag), None)

    def entries_for(self, tagbase: str) -> list[TagEntry]:
        return [e for e in self.tags if e.image == tagbase]

    @classmethod
    def read(cls, path: Path) -> "Journal":
        where = Location(str(path))
        data = read_object(path, "journal file")
        missing = [k for k in ("kind", "commit", "tags") if k not in data]
        if missing:
            raise InputError(f"not a journal: missing {', '.join(missing)}", where)
        if not isinstance(data["tags"], list):
            raise InputError("not a journal: 'tags' must be a list", where)
        tags = []
        for index, item in enumerate(data["tags"]):
            try:
                tags.append(TagEntry(item["tag"], item["image"], item.get("previous"), item.get("new"),
                                     item.get("status", "moved")))
            except (KeyError, TypeError) as exc:
                raise InputError(f"not a journal: tags[{index}] lacks {exc}", where) from None
        return cls(kind=data["kind"], commit=data["commit"], time=data.get("time", ""),
                   main_commit=data.get("main_commit"), tags=tags, holds=list(data.get("holds") or []),
                   version=data.get("version", VERSION))
