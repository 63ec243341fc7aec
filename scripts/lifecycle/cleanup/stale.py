"""Out-of-date images (design flow 6): which published images need a rebuild, and why.

For each catalogue image, the config of `<tagbase>-<channel>` is read once. It is stale when
- it is not published on the channel;
- a base digest recorded in its labels differs from that base's current digest. External bases are
  resolved with one HEAD per distinct reference (cached); an in-repo parent's current digest is the
  parent's digest on the same channel, so a refreshed parent makes its children stale;
- it is older than the policy's max age (OS patches arrive by rebuilding);
- its end-of-life date has passed (it should be retired, see `lifecycle retire`);
- its definition label differs from the image's current definition hash (the repository changed it);
- OS updates are pending inside it (security fixes; other updates too when the policy says so), measured by
  running the package manager's read-only check in the image (lifecycle.packages; rules in packages/rules.py).
  The check runs only when a `PackageChecker` (an engine) is given; results are cached by digest for the run.
Descendants of stale images are rebuilt with them (reason "parent X is stale"), which is the matrix.

Recorded bases: `<label_prefix>.bases` (JSON {reference: digest}, every image base of every stage; the
publish step writes it for multi-stage images), else `org.opencontainers.image.base.name`/`.base.digest`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from lifecycle.catalogue.repositories import by_repository
from lifecycle.catalogue.catalog import ImageSpec
from lifecycle.catalogue.policy import Policy
from lifecycle.errors import InputError
from lifecycle.build.labels import CREATED, ImageLabels, parse_time
from lifecycle.packages import PackageChecker
from lifecycle.packages.rules import pending_reason, window_note
from lifecycle.registry.pool import RegistryPool
from lifecycle.registry import ImageConfig, NotFoundError, RegistryClient, parse_reference
from lifecycle.registry.transport import RegistryError
from lifecycle.catalogue.workspace import Workspace

CHANNELS = ("staging", "latest")

CURRENT, STALE, REBUILD, UNPUBLISHED = "current", "stale", "rebuild", "not published"


@dataclass
class StaleEntry:
    tagbase: str
    tag: str
    status: str                   # current | stale | rebuild | not published
    digest: str | None = None
    created: str | None = None
    reasons: list[str] = field(default_factory=list)
    bases: dict[str, str] = field(default_factory=dict)   # recorded base ref -> digest
    packages: dict[str, object] | None = None              # the package check's result (None: not checked)
    repository: str = ""          # the registry repository `tag` is in ("": the catalogue's default)

    def as_row(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class StaleReport:
    channel: str
    entries: list[StaleEntry]
    rebuild: list[str]            # stale images and their descendants, in build order

    @property
    def stale(self) -> list[str]:
        return [e.tagbase for e in self.entries if e.status in (STALE, UNPUBLISHED)]

    def to_dict(self) -> dict[str, object]:
        return {"channel": self.channel, "stale": self.stale, "rebuild": self.rebuild,
                "images": [e.as_row() for e in self.entries]}


def recorded_bases(labels: dict[str, str], policy: Policy) -> dict[str, str]:
    return dict(ImageLabels.read(labels, policy).bases)


def _read_config(client: RegistryClient, repo: str, tag: str, image: ImageSpec) -> ImageConfig | None:
    try:
        return client.config(repo, tag, platform=str(image.platform))
    except NotFoundError:
        if client.try_resolve(repo, tag) is None:
            return None
        return client.config(repo, tag)  # an index without our platform: read what is there


def _created(config: ImageConfig) -> dt.datetime | None:
    when = config.created or parse_time(config.labels.get(CREATED))
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when


def find_stale(ws: Workspace, channel: str, pool: RegistryPool, now: dt.datetime | None = None,
               packages: PackageChecker | None = None) -> StaleReport:
    if channel not in CHANNELS:
        raise InputError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    now = now or dt.datetime.now(dt.timezone.utc)
    catalog, policy = ws.catalog, ws.policy
    ours = pool.get(catalog.registry)
    images = list(catalog.images)
    # each image's channel tag in its own repository
    configs = dict(zip((i.tagbase for i in images),
                       ours.map(lambda i: _read_config(ours, catalog.repository_of(i), f"{i.tag}-{channel}", i),
                                images)))

    bases = {t: recorded_bases(c.labels, policy) for t, c in configs.items() if c is not None}
    external = sorted({ref for recorded in bases.values() for ref in recorded if _parent(ws, ref, channel) is None})
    for ref in external:  # create the clients up front: the pool is not meant for concurrent first use
        try:
            pool.get(parse_reference(ref).registry)
        except InputError:
            pass  # reported per image below
    current = dict(zip(external, ours.map(lambda ref: _resolve_external(pool, ref), external)))

    if packages is not None:
        for repository, digests in by_repository(
                (catalog.repository_of(i), configs[i.tagbase].manifest_digest)  # type: ignore[union-attr]
                for i in images if configs[i.tagbase] is not None).items():
            packages.check_many(f"{catalog.registry}/{repository}", digests)
    entries: dict[str, StaleEntry] = {}
    for image in images:
        tag, repository = f"{image.tag}-{channel}", catalog.repository_of(image)
        config = configs[image.tagbase]
        if config is None:
            entries[image.tagbase] = StaleEntry(image.tagbase, tag, UNPUBLISHED, repository=repository,
                                                reasons=[f"{catalog.qualified(repository, tag)} is not published"])
            continue
        created = _created(config)
        entry = StaleEntry(image.tagbase, tag, CURRENT, config.digest,
                           created.isoformat().replace("+00:00", "Z") if created else None,
                           bases=bases[image.tagbase], repository=repository)
        reasons = entry.reasons
        if not entry.bases:
            reasons.append("no base digest recorded in its labels")
        for ref, recorded in entry.bases.items():
            parent = _parent(ws, ref, channel, image)
            if parent is not None:
                parent_config = configs.get(parent)
                now_digest = parent_config.digest if parent_config else None
                if now_digest is None:
                    reasons.append(f"parent {parent}-{channel} is not published")
                elif now_digest != recorded:
                    reasons.append(f"parent {parent}-{channel} changed ({_short(recorded)} -> {_short(now_digest)})")
                continue
            now_digest = current.get(ref)
            if isinstance(now_digest, Exception):
                reasons.append(f"base {ref} cannot be resolved: {now_digest}")
            elif now_digest is None:
                reasons.append(f"base {ref} no longer exists in its registry")
            elif now_digest != recorded:
                reasons.append(f"base {ref} changed ({_short(recorded)} -> {_short(now_digest)})")
        if created is not None and now - created > dt.timedelta(days=policy.max_age_days):
            reasons.append(f"built {(now - created).days} days ago, older than the "
                           f"{policy.max_age_days}-day max age")
        if image.past_eol(now.date()):
            reasons.append(f"end of life {image.eol} has passed")
        if packages is not None:
            found = packages.check(f"{catalog.registry}/{catalog.repository_of(image)}", config.manifest_digest)
            entry.packages = {**found.to_dict(), "note": window_note(found, config.labels, policy, now)}
            reason = pending_reason(found, config.labels, image, policy, now)
            if reason:
                reasons.append(reason)
        definition = config.labels.get(policy.definition_label)
        wanted = ws.definitions.get(image.tagbase)
        if wanted and definition != wanted:
            reasons.append("definition changed" if definition else "no definition label")
        if reasons:
            entry.status = STALE
        entries[image.tagbase] = entry

    stale = [t for t, e in entries.items() if e.status in (STALE, UNPUBLISHED)]
    rebuild = ws.with_descendants(stale) if stale else []
    assert ws.graph is not None
    for tagbase in rebuild:
        entry = entries[tagbase]
        if entry.status == CURRENT:
            causes = sorted(ws.graph.ancestors(tagbase) & set(stale))
            entry.status = REBUILD
            entry.reasons.append("parent " + ", ".join(causes) + (" is" if len(causes) == 1 else " are") + " stale")
    return StaleReport(channel, [entries[t] for t in ws.order()], rebuild)


def _parent(ws: Workspace, ref: str, channel: str, child: ImageSpec | None = None) -> str | None:
    """The in-repo parent a recorded base reference names (tag base or shared tag, or its channel tag; under
    any of the repository's names), else None."""
    where = ws.in_repo(ref.split("@", 1)[0])
    if where is None:
        return None
    repository, tag = where
    for candidate in (tag, tag.removesuffix(f"-{channel}")):
        found = ws.catalog.resolve_tag(candidate, child, repository)
        if found is not None:
            return found
    return None


def _resolve_external(pool: RegistryPool, ref: str) -> str | None | Exception:
    """The base's current digest (one HEAD), None when it no longer exists, the error when unreachable."""
    try:
        parsed = parse_reference(ref)
        if parsed.digest:  # pinned by digest: the pin is what a rebuild uses
            return parsed.digest
        return pool.get(parsed.registry).try_resolve(parsed.repository, parsed.tag or "latest")
    except (InputError, RegistryError) as exc:
        return exc


def _short(digest: str | None) -> str:
    if not digest:
        return "missing"
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}"
