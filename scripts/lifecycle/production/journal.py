"""The journal of a rollout or reconcile: what every floating tag pointed at before and after.

It is what the emergency rollback reads (`previous` of `<tagbase>-latest`) and what the pipelines publish
as an artifact. One JSON object per file:

    {"kind": "rollout", "time": "...Z", "commit": "<production commit>", "main_commit": "<C>",
     "registry": "<host>", "repository": "<registry repository>", "source": "<GitOps repository URL>",
     "tags": [{"tag": "...-latest", "image": "...", "previous": "sha256:..", "new": "sha256:..",
               "status": "moved", "repository": "<the tag's registry repository>"}],
     "holds": [{"image": "...", "reason": "..."}]}

A journal is bound to the repository whose run wrote it (version 2): the catalogue's `registry`,
`repository` and `source` (the GitOps repository's URL, declared in manifests/images.yml). Those three are
what every clone, mirror and pipeline checkout of one GitOps repository shares, and what tells two such
repositories apart even when their tag bases are the same; an origin URL differs between clones and
mirrors, and a root commit is wrong in a shallow checkout. The emergency rollback refuses a journal bound
to anything else before any registry call: its digests belong to another repository's images.
Journals written before the binding (version 1) carry none of the three and are refused unless the
caller says it checked them (`--legacy-journal`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lifecycle.catalogue.catalog import Catalog
from lifecycle.jsonio import read_object
from lifecycle.errors import InputError, Location

VERSION = 2


@dataclass(frozen=True)
class TagEntry:
    tag: str
    image: str
    previous: str | None
    new: str | None
    status: str            # moved | unchanged | failed | would-move
    repository: str | None = None   # the tag's registry repository (None: the journal's `repository`)


@dataclass
class Journal:
    kind: str                          # rollout | reconcile | emergency
    commit: str | None                 # production commit the tags now follow
    time: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    main_commit: str | None = None
    tags: list[TagEntry] = field(default_factory=list)
    holds: list[dict[str, str]] = field(default_factory=list)
    registry: str | None = None        # where the tags live, and the repository they belong to ...
    repository: str | None = None
    source: str | None = None          # ... and the GitOps repository whose run moved them (catalogue `source`)
    version: int = VERSION

    def bound_to(self, catalog: Catalog) -> "Journal":
        """This journal, bound to the repository of `catalog` (see the module's docstring)."""
        self.registry, self.repository, self.source = catalog.registry, catalog.repository, catalog.source_url
        return self

    @property
    def bound(self) -> bool:
        return self.registry is not None and self.repository is not None and self.source is not None

    def check_belongs(self, catalog: Catalog, name: str, *, legacy: bool = False) -> None:
        """InputError unless this journal was written for `catalog`'s registry, repository and GitOps
        repository. An unbound (version 1) journal passes only with `legacy`, as far as its fields go."""
        where = Location(name or "journal")
        if not self.bound and not legacy:
            raise InputError(
                f"this journal does not say which registry, repository and GitOps repository it belongs to "
                f"(written before journal version 2): check that it was written by a rollout or reconcile of "
                f"{catalog.registry}/{catalog.repository} ({catalog.source_url or 'no source in the catalogue'}) "
                f"and pass --legacy-journal, or roll back from the registry history (no --journal)", where)
        ours = {"registry": catalog.registry, "repository": catalog.repository, "source": catalog.source_url}
        theirs = {"registry": self.registry, "repository": self.repository, "source": self.source}
        differ = [f"{key} {theirs[key] or '(none)'!s} (this repository: {ours[key] or '(none)'})"
                  for key in ours if theirs[key] is not None and theirs[key] != ours[key]]
        if differ:
            raise InputError(f"this journal belongs to another repository: {'; '.join(differ)}. Its digests are "
                             f"not this repository's images; use a journal of this repository's rollout or "
                             f"reconcile, or roll back from the registry history (no --journal)", where)

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
                                     item.get("status", "moved"), item.get("repository")))
            except (KeyError, TypeError) as exc:
                raise InputError(f"not a journal: tags[{index}] lacks {exc}", where) from None
        binding = {}
        for key in ("registry", "repository", "source"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise InputError(f"not a journal: '{key}' must be a string", where)
            binding[key] = value
        return cls(kind=data["kind"], commit=data["commit"], time=data.get("time", ""),
                   main_commit=data.get("main_commit"), tags=tags, holds=list(data.get("holds") or []),
                   version=data.get("version", 1), **binding)
