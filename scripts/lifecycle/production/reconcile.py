"""Make the `latest` tags match a tree: every image's floating production tags -> the LKG of its definition.

This is the whole rollback story (design flow 4): FR reverts a commit on production, the push runs
`lifecycle reconcile`, which finds the older definition's digest and moves `latest` back, by manifest copy,
in seconds. A definition with no published digest (reverted to something cleaned up or never built) is
built, tested and published from production: a new version. The retag planning here is shared with the
rollout, which applies it to the tree it promotes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lifecycle.catalogue import floating
from lifecycle.catalogue.catalog import ImageSpec
from lifecycle.catalogue.policy import Policy
from lifecycle.catalogue.repositories import by_repository, locate
from lifecycle.errors import OperationError
from lifecycle.production.gitops import GitOps, Hold
from lifecycle.production.journal import Journal, TagEntry
from lifecycle.production.lkg import Lkg, LkgResolver, definitions_at, resolver_for
from lifecycle.production.provenance_gate import gate_for
from lifecycle.build.manifest_index import plan_index
from lifecycle.output import Reporter
from lifecycle.registry.models import OCI_INDEX
from lifecycle.registry import RegistryClient
from lifecycle.registry.models import RetagResult
from lifecycle.catalogue.workspace import Workspace


@dataclass(frozen=True)
class TagChange:
    tag: str
    image: str
    previous: str | None
    new: str
    source_tag: str | None     # the immutable tag of the LKG
    floating: bool = False      # a floating tag scoped to a .NET version (manifests/floating.yml)
    index: bytes | None = None  # a multi-platform shared tag: the index bytes `new` is the digest of
    repository: str = ""        # the registry repository the tag is in ("": the catalogue's default)

    @property
    def moves(self) -> bool:
        return self.previous != self.new


def production_tags(image: ImageSpec, policy: Policy) -> list[str]:
    """The floating tags that follow `latest`: `-latest`, the bare tag base (policy), shared tags."""
    tags = [image.latest_tag()]
    if policy.bare_tag_follows_latest:
        tags.append(image.tag)
    tags.extend(t for t in image.shared_tags if t not in tags)
    return tags


def plan_tags(ws: Workspace, lkgs: dict[str, Lkg], client: RegistryClient,
              listed: Callable[[str], "dict[str, str] | None"] | None = None) -> list[TagChange]:
    """For every image with an LKG, each of its production tags (in the image's own repository): where it
    points now, where it should. `listed(repository)`: every tag's digest from a listing that carries them
    (ACR), read this run, or None; else one HEAD per tag, concurrently, per repository."""
    catalog = ws.catalog
    wanted: list[tuple[str, str, str, Lkg]] = []   # (repository, tag, image, its LKG)
    for image in catalog.images:
        lkg = lkgs.get(image.tagbase)
        if lkg is None or not lkg.found:
            continue
        wanted.extend((catalog.repository_of(image), tag, image.tagbase, lkg)
                      for tag in production_tags(image, ws.policy))
    floating_tags = floating.load(ws.source)
    for f in floating_tags:
        lkg = lkgs.get(f.target)
        if lkg is not None and lkg.found:
            wanted.append((locate(catalog, f.target)[0], f.tag, f.target, lkg))
    floating_names = {f.tag for f in floating_tags}
    indexes = []
    for shared in catalog.index_tags:
        # a multi-platform shared tag follows its members' LKGs as one index; until every member has
        # an LKG it stays where it is
        plan = plan_index(client, catalog, shared,
                          lambda t: lkgs[t].digest if t in lkgs and lkgs[t].found else None)
        if plan.ready:
            indexes.extend((shared.repository or catalog.repository, tag, plan)
                           for tag in (shared.tag, shared.channel_tag("latest")))
    current: dict[tuple[str, str], str | None] = {}
    for repository, tags in by_repository([(r, t) for r, t, _, _ in wanted] + [(r, t) for r, t, _ in indexes]).items():
        known = listed(repository) if listed is not None else None
        found = {t: known.get(t) for t in tags} if known is not None else client.resolve_many(repository, tags)
        current.update({(repository, t): d for t, d in found.items()})
    return [TagChange(tag, tagbase, current.get((repo, tag)), lkg.digest or "", lkg.tag,
                      floating=tag in floating_names, repository=repo)
            for repo, tag, tagbase, lkg in wanted] + \
        [TagChange(tag, catalog.qualified(repo, plan.shared.tag), current.get((repo, tag)), plan.digest or "", None,
                   index=plan.raw, repository=repo)
         for repo, tag, plan in indexes]


def apply_tags(client: RegistryClient, repository: str, changes: list[TagChange]) -> list[TagEntry]:
    """One batch retag per registry repository of the tags the plan moves (planned again by the client
    before any PUT); a change's own repository, else `repository`. A tag the plan found already right is
    reported unchanged without another request: a no-op run costs nothing."""
    def repo(change: TagChange) -> str:
        return change.repository or repository

    moving = [c for c in changes if c.moves]
    pushed: set[tuple[str, str]] = set()
    for change in moving:
        if change.index is not None and (repo(change), change.new) not in pushed:
            client.put_manifest(repo(change), change.new, change.index, OCI_INDEX)
            pushed.add((repo(change), change.new))
    results: list[tuple[str, RetagResult]] = []
    for name, plain in by_repository((repo(c), c) for c in moving if c.index is None).items():
        results += [(name, r) for r in client.retag_many(name, [(c.new, c.tag) for c in plain])]
    # an index's tags one after the other: the distribution registry can answer DIGEST_INVALID to
    # concurrent PUTs of the same index under two tags
    for change in moving:
        if change.index is not None:
            results += [(repo(change), r) for r in client.retag_many(repo(change), [(change.new, change.tag)])]
    by_tag = {(repo(c), c.tag): c for c in changes}
    done = {(name, r.tag): TagEntry(r.tag, by_tag[name, r.tag].image, r.previous,
                                    r.digest if r.status != "failed" else by_tag[name, r.tag].new, r.status, name)
            for name, r in results}
    return [done.get((repo(c), c.tag)) or TagEntry(c.tag, c.image, c.previous, c.new, "unchanged", repo(c))
            for c in changes]


def planned_entries(changes: list[TagChange]) -> list[TagEntry]:
    return [TagEntry(c.tag, c.image, c.previous, c.new, "would-move" if c.moves else "unchanged",
                     c.repository or None) for c in changes]


def failed_tags(entries: list[TagEntry]) -> list[str]:
    return [e.tag for e in entries if e.status == "failed"]


def _rebuilt_changes(ws: Workspace, lkgs: dict[str, Lkg], client: RegistryClient, images: set[str],
                     listed: Callable[[str], "dict[str, str] | None"] | None) -> list[TagChange]:
    """The tag changes of `images` and of the shared index tags they are members of, read for those
    alone (and the indexes' other members, which an index move needs)."""
    shared = [s for s in ws.catalog.index_tags if set(s.tagbases) & images]
    wanted = images | {m for s in shared for m in s.tagbases}
    names = {ws.catalog.qualified(s.repository or ws.catalog.repository, s.tag) for s in shared}
    changes = plan_tags(ws, {t: lkgs[t] for t in wanted if t in lkgs}, client, listed)
    return [c for c in changes if (c.image in names if c.index is not None else c.image in images)]


def departed_images(ws: Workspace, resolver: LkgResolver) -> list[str]:
    """Tag bases with a `-latest` tag in the registry that are no longer in the catalogue. A shared tag's
    channel tag (`<shared>-latest`, an index for a multi-platform one) is live while the catalogue names
    the shared tag, whatever its members are called."""
    catalog = ws.catalog
    known = set(catalog.tagbases) | {catalog.qualified(s.repository or catalog.repository, s.tag)
                                     for s in catalog.shared}
    return sorted(name for repository in catalog.repositories for t in resolver.all_tags(repository)
                  if t.endswith("-latest")
                  and (name := catalog.qualified(repository, t[: -len("-latest")])) not in known)


@dataclass
class ReconcileReport:
    commit: str
    lkgs: dict[str, Lkg]
    entries: list[TagEntry] = field(default_factory=list)
    built: list[str] = field(default_factory=list)          # tag bases published from production
    unresolved: list[Lkg] = field(default_factory=list)     # still without a digest after building
    departed: list[str] = field(default_factory=list)
    dry_run: bool = False
    journal: Journal | None = None
    holds: dict[str, Hold] = field(default_factory=dict)    # tags left where they are (provenance gate)

    @property
    def ok(self) -> bool:
        return not self.unresolved and not failed_tags(self.entries)


PublishFn = Callable[[Path, list[str]], object]


def publish_with(engine_factory: Callable[[], object], client: RegistryClient, out: Reporter,
                 pool: object = None) -> PublishFn:
    """The usual `publish_missing`: build, test and publish to the `latest` channel with the engine that
    `engine_factory` returns (called only when something must be built; most reconciles only retag)."""
    def publish_missing(root: Path, tagbases: list[str]) -> object:
        from lifecycle.build.publish import publish

        engine = engine_factory()
        try:
            # push only: reconcile moves the production tags, through the provenance gate when policy asks
            report = publish(root, tagbases, channel="latest", client=client, engine=engine,  # type: ignore[arg-type]
                             reporter=out, pool=pool, move=False)  # type: ignore[arg-type]
        finally:
            close = getattr(engine, "close", None)
            if close is not None:
                close()
        if not report.ok:
            out.error("publishing from production failed: "
                      + ", ".join(report.by_status("failed") + report.by_status("blocked")))
        return report

    return publish_missing


def reconcile(ops: GitOps, client: RegistryClient, out: Reporter, *, channel: str = "latest",
              dry_run: bool = False, journal_path: Path | None = None,
              publish_missing: PublishFn | None = None, fetch: bool = True) -> ReconcileReport:
    """Make every image's production tags follow its definition's LKG at production HEAD.

    `publish_missing(root, tagbases)` builds, tests and publishes definitions without a digest from a
    checkout of production at `root` (None: such images are reported and the run fails)."""
    if channel != "latest":
        raise OperationError(f"reconcile only knows the production channel 'latest', not {channel!r}")
    if fetch:
        ops.fetch()
    head = ops.production_head()
    ws = ops.workspace(head)
    hint = definitions_at(ops)   # git tells most definitions: labels are read only where tags move
    resolver = resolver_for(ws, client, hint)
    lkgs = resolver.lkgs(ws.definitions)
    report = ReconcileReport(head, lkgs, departed=departed_images(ws, resolver), dry_run=dry_run)
    missing = [t for t in ws.order() if not lkgs[t].found]
    changes = plan_tags(ws, lkgs, client, resolver.listed_digests)
    gate = gate_for(ws, client)
    if gate is not None:
        changes, report.holds = gate.filter_changes(ws, lkgs, changes)
        for hold in report.holds.values():
            out.warning(f"{hold.tagbase}: held, its tags stay where they are: {hold.reason}")
    if dry_run:
        report.entries = planned_entries(changes)
        report.unresolved = [lkgs[t] for t in missing]
        return report
    # Retag what exists first: a rebuilt child takes its in-repo parent from the parent's `latest`.
    report.entries = apply_tags(client, ws.catalog.repository, changes)
    if missing:
        if publish_missing is None:
            report.unresolved = [lkgs[t] for t in missing]
        else:
            out.info(f"building {len(missing)} definition(s) with no published digest from production "
                     f"{head[:10]}: {', '.join(missing)}")
            with ops.worktree(head) as root:
                publish_missing(root, missing)   # immutable tags only: their production tags move below
            resolver = resolver_for(ws, client, hint)   # the tag list changed: read it again
            again = resolver.lkgs({t: ws.definitions[t] for t in missing})
            report.lkgs.update(again)
            report.built = [t for t in missing if again[t].found]
            report.unresolved = [again[t] for t in missing if not again[t].found]
            # a digest built here passes the same gate as one found in the registry
            rebuilt = _rebuilt_changes(ws, report.lkgs, client, set(report.built), resolver.listed_digests)
            if gate is not None:
                rebuilt, held = gate.filter_changes(ws, report.lkgs, rebuilt)
                for hold in held.values():
                    out.warning(f"{hold.tagbase}: built from production but held, its tags stay where they are: "
                                f"{hold.reason}")
                report.holds.update(held)
            report.entries += apply_tags(client, ws.catalog.repository, rebuilt)
    report.journal = Journal("reconcile", head, tags=report.entries,
                             holds=[{"image": h.tagbase, "reason": h.reason} for h in report.holds.values()]
                             ).bound_to(ws.catalog)
    if journal_path is not None:
        report.journal.write(journal_path)
    return report

