"""What `lifecycle status` knows about the fleet: plain dataclasses, turned into JSON by `to_dict`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# One state per image, the most urgent first: what a person should look at first.
HELD, EOL, UNPUBLISHED, STALE, PENDING, CURRENT = "held", "eol", "unpublished", "stale", "pending", "current"
RETIRING = "retiring"             # only in production's catalogue: removed on main
STATES = (HELD, EOL, UNPUBLISHED, STALE, PENDING, RETIRING, CURRENT)
STATE_TEXT = {
    HELD: "held: the next rollout keeps -latest where it is (a revert, or the provenance gate)",
    EOL: "past end of life",
    UNPUBLISHED: "no -latest yet",
    STALE: "-latest is out of date",
    PENDING: "main differs from production: the next rollout promotes it",
    RETIRING: "removed on main: the next rollout drops it from production",
    CURRENT: "up to date",
}


@dataclass
class ChannelState:
    """`<tagbase>-staging` or `<tagbase>-latest` as the registry serves it now."""

    tag: str
    digest: str | None
    created: str | None           # build time from the image config (ISO, UTC)
    age_days: int | None
    stale: str                    # stale.py's status: current | stale | rebuild | not published
    reasons: list[str] = field(default_factory=list)


@dataclass
class Consumer:
    repository: str
    file: str
    line: int | None
    reference: str
    klass: str                    # consumers/classify.py class: latest, pinned, bare, digest, eol, ...
    url: str | None = None        # file:line link when a web URL template is given


@dataclass
class RevertCommit:
    """The production commit that made an image held (history.hold_reverts)."""

    sha: str
    author: str
    email: str
    time: str                     # authored (ISO, UTC)
    subject: str


@dataclass
class DiffCommit:
    sha: str
    subject: str
    author: str
    time: str


@dataclass
class BaseChange:
    reference: str
    latest: str | None            # digest -latest's build recorded (None: not recorded)
    staging: str | None


@dataclass
class PackageChange:
    """One OS package whose installed version differs between -latest and -staging (status/packages_diff.py)."""

    name: str
    latest: str | None            # installed version (None: not installed there)
    staging: str | None
    security: bool | None         # -latest has a security update pending for it; None: -latest's check failed


@dataclass
class ImageDiff:
    tagbase: str
    latest: str | None            # digests
    staging: str | None
    latest_revision: str | None   # the main commit each was built from (revision label)
    staging_revision: str | None
    same: bool                    # -staging serves what -latest serves: the next rollout changes nothing
    commits: list[DiffCommit] = field(default_factory=list)
    bases: list[BaseChange] = field(default_factory=list)
    packages: list[PackageChange] | None = None   # None: not read (packages_note says why)
    note: str = ""
    packages_note: str = ""       # why the package lists were not read, or what is unknown about them

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImageStatus:
    tagbase: str
    state: str
    platform: str
    folder: str
    owners: list[str]
    eol: str | None
    eol_passed: bool
    staging: ChannelState
    latest: ChannelState
    main_definition: str | None
    production_definition: str | None
    in_sync: bool                 # production's definition equals main's
    hold: str | None              # why the next rollout holds it
    lkg_digest: str | None        # LKG of the definition the next rollout would promote
    lkg_tag: str | None
    lkg_reason: str | None
    labels: dict[str, str]        # of the -latest digest (else -staging's)
    tags: list[dict[str, str | None]]   # every tag of the image: tag, digest, kind, built
    consumers: dict[str, int]     # class -> count (from the usage file)
    references: list[Consumer]
    cleanup_candidates: list[str]       # tags old enough to go by the rules
    cleanup_deletes: list[str]          # of them, those the next cleanup would delete
    in_production: bool = True          # in production's catalogue
    revert: RevertCommit | None = None  # for a held image: the commit on production that holds it
    next_step: str = ""                 # what happens next, in words (status/next_step.py)
    changes: ImageDiff | None = None    # -latest against -staging when they differ (status/diff.py)
    repository: str = ""                # the registry repository its tags are in

    @property
    def stale_reasons(self) -> list[str]:
        """"latest: reason", "latest, staging: reason" when both channels have it."""
        channels: dict[str, list[str]] = {}
        for c in (self.latest, self.staging):
            for reason in c.reasons:
                channels.setdefault(reason, []).append(c.tag.rsplit("-", 1)[-1])
        return [f"{', '.join(names)}: {reason}" for reason, names in channels.items()]


@dataclass
class Rollout:
    """One event on production's first-parent line."""

    sha: str
    time: str
    subject: str
    kind: str                     # promoted | held | reverted
    main_commit: str | None = None
    promoted: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    reverts: str | None = None    # the commit a revert reverts


@dataclass
class FloatingTagHold:
    """A floating tag the next rollout keeps on production's target (catalogue/floating.py FloatingHold)."""

    tag: str
    wanted: str | None            # main's target
    serving: str | None           # production's target, which it keeps following
    reason: str
    until: str | None             # ISO date from which the move is possible; None: when main changes it
    next_step: str = ""           # what happens next, in words (status/next_step.py floating_step)


@dataclass
class SharedChild:
    """One manifest an index serves: its platform, and the member whose channel digest it is."""

    platform: str
    digest: str
    tagbase: str | None           # None: no member's channel tag has this digest (the index lags behind)


@dataclass
class SharedTagStatus:
    """A shared tag (status/shared.py): `<tag>-staging` and `<tag>-latest`, and an index's children."""

    tag: str
    kind: str                     # index (multi-platform) | retag (one further name for one image)
    members: list[str]
    state: str                    # the most urgent of its members' states
    staging: str | None           # digests
    latest: str | None
    staging_children: list[SharedChild] = field(default_factory=list)
    latest_children: list[SharedChild] = field(default_factory=list)
    in_step: bool = True          # each -latest child is its member's -latest digest (retag: the same digest)


@dataclass
class FleetStatus:
    generated: str
    registry: str
    repository: str
    main: str
    production: str
    promoted: str | None          # P: the main commit the last rollout promoted
    images: list[ImageStatus]
    rollouts: list[Rollout]
    usage_file: str | None
    requests: dict[str, int]      # registry requests sent, by method
    cleanup_checked: bool = True  # False: --no-cleanup (no cleanup plan, no digest per tag)
    floating_holds: list[FloatingTagHold] = field(default_factory=list)
    shared: list[SharedTagStatus] = field(default_factory=list)
    packages_checked: bool = False  # --packages: OS package lists read for the images whose channels differ

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for i in self.images if i.state == s) for s in STATES}

    def totals(self) -> dict[str, int]:
        return {
            "images": len(self.images),
            **self.counts(),
            "tags": sum(len(i.tags) for i in self.images),
            "consumers": sum(len(i.references) for i in self.images),
            "cleanupCandidates": sum(len(i.cleanup_candidates) for i in self.images),
            "cleanupDeletes": sum(len(i.cleanup_deletes) for i in self.images),
            "requests": sum(self.requests.values()),
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["totals"] = self.totals()
        return data
