"""Registry cleanup rules: which tags and digests of our repository go, and why. Pure: no I/O.

`decide(inventory, catalog, policy, usage, now)` turns what the registry holds (tag -> digest, the
manifests) into a `CleanupPlan`. Reading the registry and applying a plan are in cleanup_registry.py.

The rules (design flow 7, issue 6):
- candidates: immutable tags of catalogue images older than the retention, and every tag of a retired
  tag base (one no longer in the catalogue) once its newest build is older than the grace period;
- kept whatever else: floating tags (`-staging`, `-latest`, the bare tag base, shared tags), the newest
  `keepLast` immutable tags of each catalogue tag base, tags matching an exception pattern, tags and
  digests in the usage file, and children of a kept index;
- a digest is deleted only when every tag on it is a candidate that nothing keeps; deleting a digest
  removes all its tags, so one kept tag keeps the digest and with it its other (candidate) tags.

Age is the build time written in the immutable tag itself (`<tagbase>-<yyyyMMddHHmmss>-<sha>`), not the
image config's `created`: the tag's time is set once by publish and never changes, it costs no registry
request (so planning 5,000 tags needs no config reads), and `created` is unreliable on purpose in
reproducible builds (SOURCE_DATE_EPOCH, zeroed or fixed dates). The config's `created` is read only where
no tag carries a time: a retired tag base whose immutable tags are all gone (only `-latest` etc. left).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from lifecycle.cleanup import planfile as cleanup_planfile
from lifecycle.catalogue.catalog import Catalog, split_immutable_tag
from lifecycle.catalogue.policy import Policy
from lifecycle.jsonio import read_object, write_atomic
from lifecycle.errors import InputError
from lifecycle.registry.models import Manifest

PLAN_VERSION = 1
KEEP, DELETE = "keep", "delete"
FLOATING_SUFFIXES = ("-staging", "-latest")
# A tag base ends with its architecture (`...-amd64`, `...-arm64v8`, `...-arm32v7`): what lets us tell a
# retired image's `-latest` (or bare tag) from somebody else's tag when no immutable tag names it.
ARCH_END_RE = re.compile(r"-(amd64|arm64|arm32|arm|386|x86|x64|ppc64le|s390x|riscv64)(v\d+)?$")


def utc(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when.astimezone(dt.timezone.utc)


def iso(when: dt.datetime | None) -> str | None:
    return utc(when).isoformat().replace("+00:00", "Z") if when else None


def parse_iso(text: str | None, what: str = "time") -> dt.datetime | None:
    if not text:
        return None
    try:
        return utc(dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        raise InputError(f"{what} {text!r} is not an ISO 8601 date/time") from None


@dataclass(frozen=True)
class Inventory:
    """What the registry holds for one repository, read once."""

    tags: dict[str, str]                                   # tag -> digest
    manifests: dict[str, Manifest]                         # digest -> manifest (tagged ones and index children)
    created: dict[str, dt.datetime] = field(default_factory=dict)  # digest -> config created, where needed
    locked: frozenset[str] = frozenset()                   # tags the registry refuses to delete (ACR deleteEnabled false)


@dataclass(frozen=True)
class TagKind:
    kind: str                     # immutable | floating | retired | other
    tagbase: str | None
    built_at: dt.datetime | None  # from the tag itself (immutable tags only)


@dataclass
class TagDecision:
    tag: str
    digest: str
    tagbase: str | None
    kind: str
    built_at: str | None
    candidate: bool               # old enough (or retired long enough) to go, before any protection
    action: str                   # keep | delete
    reason: str
    locked: bool = False          # the registry refuses to delete it (ACR changeableAttributes.deleteEnabled false)


@dataclass
class Deletion:
    digest: str
    tags: list[str]
    children: list[str]           # untagged index children deleted with it (no other index uses them)
    built_at: str | None          # newest build time among its tags; deletions run oldest first


@dataclass
class CleanupPlan:
    registry: str
    repository: str
    now: str
    policy: dict[str, Any]
    decisions: list[TagDecision]
    deletions: list[Deletion]
    bytes_to_free: int
    version: int = PLAN_VERSION

    @property
    def candidates(self) -> list[TagDecision]:
        return [d for d in self.decisions if d.candidate]

    def totals(self) -> dict[str, int]:
        return {
            "tags": len(self.decisions),
            "digests": len({d.digest for d in self.decisions}),
            "candidates": len(self.candidates),
            "candidatesKept": sum(1 for d in self.candidates if d.action == KEEP),
            "locked": sum(1 for d in self.decisions if d.locked),
            "tagsToDelete": sum(1 for d in self.decisions if d.action == DELETE),
            "digestsToDelete": len(self.deletions),
            "childrenToDelete": sum(len(d.children) for d in self.deletions),
            "bytesToFree": self.bytes_to_free,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "registry": self.registry, "repository": self.repository,
                "now": self.now, "policy": self.policy, "totals": self.totals(),
                "deletions": [asdict(d) for d in self.deletions],
                "tags": [asdict(d) for d in self.decisions]}

    def write(self, path: Path) -> None:
        write_atomic(path, self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "plan", text: str | None = None) -> "CleanupPlan":
        # Every field is checked before any is used: a plan is reviewed, maybe edited, then applied.
        cleanup_planfile.check(data, source, text)
        decisions = [TagDecision(**d) for d in data["tags"]]
        deletions = [Deletion(**d) for d in data["deletions"]]
        return cls(data["registry"], data["repository"], data["now"], dict(data["policy"]),
                   decisions, deletions, data["totals"]["bytesToFree"])

    @classmethod
    def load(cls, path: Path) -> "CleanupPlan":
        data = read_object(path, "cleanup plan")
        return cls.from_dict(data, str(path), path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Usage:
    """Consumer references from `lifecycle consumers scan --usage-out` (docs/consumers.md)."""

    tags: frozenset[str] = frozenset()
    digests: frozenset[str] = frozenset()
    references: tuple[dict[str, Any], ...] = ()
    path: str | None = None


# registry/referrers.fallback_tag: `sha256-<hex>`, the index of a subject's referrers where the registry has no API
FALLBACK_TAG_RE = re.compile(r"sha256-[0-9a-f]{64}")


def classify_tags(tags: Iterable[str], catalog: Catalog, repository: str | None = None) -> dict[str, TagKind]:
    """The kind of each tag of one registry repository (default: the catalogue's): only the images
    published there are known in it, by their tag base as pushed."""
    repository = repository or catalog.repository
    mine = [i for i in catalog.images if catalog.repository_of(i) == repository]
    known = {i.tag for i in mine}
    shared = {t for image in mine for t in (*image.shared_tags, *image.index_tags)}
    parsed = {t: split_immutable_tag(t) for t in tags}
    retired = {p[0] for p in parsed.values() if p and p[0] not in known}
    retired |= {t[: -len(s)] for t in parsed for s in FLOATING_SUFFIXES
                if t.endswith(s) and ARCH_END_RE.search(t[: -len(s)]) and t[: -len(s)] not in known
                and not parsed[t]}
    out: dict[str, TagKind] = {}
    for tag, imm in parsed.items():
        floating_base = next((tag[: -len(s)] for s in FLOATING_SUFFIXES if tag.endswith(s)), None)
        if tag in known or tag in shared or floating_base in known or floating_base in shared:
            # a shared tag's channel tags (<tag>-staging, <tag>-latest) float too; an index they point
            # at keeps its children
            out[tag] = TagKind("floating", tag if tag in known else floating_base, None)
        elif imm and imm[0] in known:
            out[tag] = TagKind("immutable", imm[0], imm[1])
        elif imm:
            out[tag] = TagKind("retired", imm[0], imm[1])
        elif tag in retired or floating_base in retired:
            out[tag] = TagKind("retired", tag if tag in retired else floating_base, None)
        else:
            out[tag] = TagKind("other", None, None)
    return out


def tags_needing_created(tags: Iterable[str], catalog: Catalog, repository: str | None = None) -> list[str]:
    """Tags whose age only the config can tell: those of retired tag bases that have no immutable tag left."""
    kinds = classify_tags(tags, catalog, repository)
    timed = {k.tagbase for k in kinds.values() if k.kind == "retired" and k.built_at}
    return [t for t, k in kinds.items() if k.kind == "retired" and k.tagbase not in timed]


def blobs_of(digest: str, manifests: dict[str, Manifest], seen: set[str] | None = None) -> dict[str, int]:
    """digest -> size of every blob (config and layers) an image or index needs, as far as known."""
    seen = seen if seen is not None else set()
    if digest in seen or digest not in manifests:
        return {}
    seen.add(digest)
    manifest = manifests[digest]
    out = {d.digest: d.size for d in manifest.layers}
    if manifest.config is not None:
        out[manifest.config.digest] = manifest.config.size
    for child in manifest.children:
        out.update(blobs_of(child.digest, manifests, seen))
    return out


def _age_days(now: dt.datetime, then: dt.datetime) -> int:
    return (now - then).days


def decide(inventory: Inventory, catalog: Catalog, policy: Policy, usage: Usage, now: dt.datetime,
           repository: str | None = None) -> CleanupPlan:
    """The plan for one registry repository of the catalogue (default: its default repository), whose
    tags `inventory` holds. Usage tags are plain tags: one in use protects that tag in every repository."""
    now = utc(now)
    repository = repository or catalog.repository
    kinds = classify_tags(inventory.tags, catalog, repository)
    retention = dt.timedelta(days=policy.retention_days)
    grace = dt.timedelta(days=policy.retired_grace_days)

    newest: dict[str, list[str]] = {}
    for tag, kind in kinds.items():
        if kind.kind == "immutable":
            newest.setdefault(kind.tagbase or "", []).append(tag)
    keep_newest: set[str] = set()
    for tagbase, tags in newest.items():
        tags.sort(key=lambda t: (kinds[t].built_at, t), reverse=True)
        keep_newest.update(tags[: policy.keep_last])

    retired_newest: dict[str, dt.datetime] = {}
    for tag, kind in kinds.items():
        if kind.kind == "retired":
            when = kind.built_at or inventory.created.get(inventory.tags[tag])
            if when is not None and (kind.tagbase not in retired_newest or when > retired_newest[kind.tagbase]):
                retired_newest[kind.tagbase or ""] = utc(when)

    decisions: dict[str, TagDecision] = {}
    for tag in sorted(inventory.tags):
        digest, kind = inventory.tags[tag], kinds[tag]
        candidate, reason = False, ""
        if kind.kind == "floating":
            reason = "floating tag"
        elif kind.kind == "other":
            reason = ("the OCI referrers fallback index of a digest (deleted with that digest)"
                      if FALLBACK_TAG_RE.fullmatch(tag) else "not a tag this catalogue manages")
        elif kind.kind == "immutable":
            assert kind.built_at is not None
            age = _age_days(now, kind.built_at)
            if tag in keep_newest:
                reason = f"one of the newest {policy.keep_last} of {kind.tagbase}"
            elif now - kind.built_at > retention:
                candidate, reason = True, f"built {age} days ago, older than the {policy.retention_days}-day retention"
            else:
                reason = f"within retention (built {age} days ago)"
        else:
            last = retired_newest.get(kind.tagbase or "")
            if last is None:
                reason = f"retired tag base {kind.tagbase}, build time unknown"
            elif now - last > grace:
                candidate = True
                reason = (f"tag base {kind.tagbase} retired (not in the catalogue), newest build "
                          f"{_age_days(now, last)} days ago, past the {policy.retired_grace_days}-day grace")
            else:
                reason = f"retired tag base {kind.tagbase} within the {policy.retired_grace_days}-day grace"
        action = DELETE if candidate else KEEP
        if candidate:
            pattern = next((p for p in policy.cleanup_exceptions if fnmatch.fnmatchcase(tag, p)), None)
            if pattern:
                action, reason = KEEP, f"{reason}; kept: matches exception {pattern!r}"
            elif tag in usage.tags:
                action, reason = KEEP, f"{reason}; kept: in use by a consumer (usage file)"
            elif tag in inventory.locked:  # never planned: ACR would refuse, and somebody locked it on purpose
                action, reason = KEEP, f"{reason}; kept: locked (deleteEnabled false)"
        decisions[tag] = TagDecision(tag, digest, kind.tagbase, kind.kind, iso(kind.built_at), candidate, action, reason,
                                     tag in inventory.locked)

    # Digests that something keeps, and why; then children of kept indexes, transitively.
    protected: dict[str, str] = {}
    for tag, d in decisions.items():
        if d.action == KEEP:
            protected.setdefault(d.digest, f"digest also tagged {tag} (kept)")
    for digest in usage.digests:
        protected.setdefault(digest, "digest in use by a consumer (usage file)")
    todo = list(protected)
    while todo:
        parent = todo.pop()
        manifest = inventory.manifests.get(parent)
        for child in manifest.children if manifest else ():
            if child.digest not in protected:
                protected[child.digest] = f"child of kept index {parent}"
                todo.append(child.digest)
    for d in decisions.values():
        if d.action == DELETE and d.digest in protected:
            d.action, d.reason = KEEP, f"{d.reason}; kept: {protected[d.digest]}"

    by_digest: dict[str, list[str]] = {}
    for tag, d in decisions.items():
        by_digest.setdefault(d.digest, []).append(tag)
    users: dict[str, int] = {}  # how many indexes name each child
    for manifest in inventory.manifests.values():
        for child in manifest.children:
            users[child.digest] = users.get(child.digest, 0) + 1

    deletions: list[Deletion] = []
    for digest, tags in by_digest.items():
        if not all(decisions[t].action == DELETE for t in tags):
            continue
        manifest = inventory.manifests.get(digest)
        children = [c.digest for c in (manifest.children if manifest else ())
                    if c.digest not in protected and c.digest not in by_digest and users.get(c.digest) == 1]
        built = [decisions[t].built_at for t in tags if decisions[t].built_at]
        deletions.append(Deletion(digest, sorted(tags), children, max(built) if built else None))
    deletions.sort(key=lambda x: (x.built_at or "", x.digest))

    doomed = {x.digest for x in deletions} | {c for x in deletions for c in x.children}
    kept_blobs: dict[str, int] = {}
    for digest in inventory.manifests:
        if digest not in doomed:
            kept_blobs.update(blobs_of(digest, inventory.manifests, {d for d in doomed}))
    freed: dict[str, int] = {}
    for digest in doomed:
        freed.update(blobs_of(digest, inventory.manifests))
    bytes_to_free = sum(size for blob, size in freed.items() if blob not in kept_blobs)

    policy_summary = {"file": policy.path, "retentionDays": policy.retention_days, "keepLast": policy.keep_last,
                      "retiredGraceDays": policy.retired_grace_days, "exceptions": list(policy.cleanup_exceptions)}
    return CleanupPlan(catalog.registry, repository, iso(now) or "", policy_summary,
                       list(decisions.values()), deletions, bytes_to_free)


def load_usage(path: Path) -> Usage:
    """Read a usage file: `tags` and `digests` lists, plus `references` entries (tag/digest/resolved)."""
    data = read_object(path, "usage file (docs/consumers.md)")
    refs = tuple(r for r in data.get("references") or () if isinstance(r, dict))
    tags = set(data.get("tags") or ()) | {r["tag"] for r in refs if r.get("tag")}
    digests = set(data.get("digests") or ())
    digests |= {r[k] for r in refs for k in ("digest", "resolved") if r.get(k)}
    return Usage(frozenset(tags), frozenset(digests), refs, str(path))
