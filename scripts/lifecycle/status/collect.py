"""One pass over git (main, production) and the registry, through the library functions the other verbs use:

- holds: gitops.compute_holds(production, promoted definitions, main HEAD) (what the next rollout would hold),
  with policy `requireProvenance`, provenance_gate's holds (a `-latest` move to a digest failing the gate),
  and floating_rollout.plan_floating's holds of the floating tags;
- LKG: lkg.LkgResolver for the definitions the next rollout would promote (gitops.merged_definitions);
- stale: stale.find_stale on `-staging` against main and on `-latest` against production;
- cleanup: cleanup.decide over cleanup_registry.read_inventory, with the usage file when given;
- consumers: the usage file's references (`lifecycle consumers scan --usage-out`).

All registry reads go through one reads.SnapshotClient, so the tag list is read once, each tag resolved
once and each manifest and config (labels) read once per distinct digest however many of these ask.
"""

from __future__ import annotations

import datetime as dt
import string
from collections import Counter
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote

from lifecycle.catalogue.repositories import by_repository
from lifecycle.cleanup.rules import DELETE, Usage, classify_tags, decide, iso
from lifecycle.cleanup.registry import TAGS_PAGE, read_inventory
from lifecycle.errors import InputError
from lifecycle.production.floating_rollout import plan_floating
from lifecycle.production.gitops import GitOps, Hold, compute_holds, merged_definitions
from lifecycle.production.lkg import LkgResolver, resolver_for
from lifecycle.production.provenance_gate import gate_for
from lifecycle.packages import PackageChecker
from lifecycle.registry.pool import RegistryPool
from lifecycle.cleanup.stale import REBUILD, STALE, StaleEntry, find_stale
from lifecycle.status.diff import image_diff, image_name
from lifecycle.status.history import hold_reverts, recent_rollouts
from lifecycle.status.model import (CURRENT, EOL, HELD, PENDING, RETIRING, STALE as STALE_STATE, UNPUBLISHED,
                                    ChannelState,
                                   FloatingTagHold, ImageDiff,
                                    Consumer, FleetStatus, ImageStatus)
from lifecycle.status.next_step import floating_step, next_step
from lifecycle.status.packages_diff import prefetch, read_packages
from lifecycle.status.reads import SnapshotClient
from lifecycle.status.shared import shared_status
from lifecycle.catalogue.workspace import Workspace

LINK_FIELDS = {"repository", "file", "line"}


def check_link_template(template: str | None) -> None:
    """A consumer link template may use {repository}, {file} and {line} only."""
    if not template:
        return
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise InputError(f"--link-template {template!r}: {exc}") from None
    unknown = names - LINK_FIELDS
    if unknown:
        raise InputError(f"--link-template {template!r}: unknown field(s) {sorted(unknown)}; "
                         f"use {{repository}}, {{file}} and {{line}}")


def _channel(entry: StaleEntry, now: dt.datetime) -> ChannelState:
    age = None
    if entry.created:
        age = (now - dt.datetime.fromisoformat(entry.created.replace("Z", "+00:00"))).days
    return ChannelState(entry.tag, entry.digest, entry.created, age, entry.status, list(entry.reasons))


def _state(hold: str | None, eol_passed: bool, latest: ChannelState, staging: ChannelState, in_sync: bool,
           in_production: bool = True) -> str:
    if hold:
        return HELD
    if eol_passed:
        return EOL
    if latest.digest is None and not in_production and staging.digest is not None:
        return PENDING  # new on main, built: the next rollout gives it its first -latest
    if latest.digest is None:
        return UNPUBLISHED
    if latest.stale in (STALE, REBUILD):
        return STALE_STATE
    if not in_sync or (staging.digest is not None and staging.digest != latest.digest):
        return PENDING
    return CURRENT


def _consumers(usage: Usage, ws: Workspace, tags_of_digest: dict[str, set[str]],
               template: str | None) -> dict[str, list[Consumer]]:
    """tagbase -> the usage file's references to it (by tag, else by the digest they resolved to)."""
    catalog = ws.catalog

    def repository(ref: dict) -> str:
        """The registry repository a reference names (its text), else the default one."""
        found = ws.in_repo(str(ref.get("reference") or ""))
        return found[0] if found else catalog.repository

    referenced = [(repository(r), r["tag"]) for r in usage.references if r.get("tag")]
    kinds = {(name, tag): kind for name, tags in by_repository(referenced).items()
             for tag, kind in classify_tags(set(tags), catalog, name).items()}
    out: dict[str, list[Consumer]] = {}
    for ref in usage.references:
        tagbases: set[str] = set()
        where = repository(ref)
        kind = kinds.get((where, ref.get("tag") or ""))
        name = catalog.qualified(where, kind.tagbase) if kind is not None and kind.tagbase else None
        if name and catalog.get(name):
            tagbases.add(name)
        else:
            for key in ("digest", "resolved"):
                tagbases |= tags_of_digest.get(ref.get(key) or "", set())
        line = ref.get("line")
        url = template.format(repository=quote(str(ref.get("repository", "")), safe="/"),
                              file=quote(str(ref.get("file", "")), safe="/"),
                              line=line if line is not None else "") if template else None
        consumer = Consumer(str(ref.get("repository", "")), str(ref.get("file", "")),
                            line if isinstance(line, int) else None, str(ref.get("reference", "")),
                            str(ref.get("class", "")), url)
        for tagbase in tagbases:
            out.setdefault(tagbase, []).append(consumer)
    return out


@dataclass
class TagRow:
    tag: str
    tagbase: str | None
    kind: str                     # cleanup.classify_tags: floating | immutable | retired | other
    digest: str | None
    built: str | None
    cleanup: str | None = None    # keep | delete (None: cleanup not checked)
    candidate: bool = False
    repository: str = ""

    def as_row(self) -> dict[str, str | None]:
        return {"tag": self.tag, "digest": self.digest, "kind": self.kind, "built": self.built,
                "cleanup": self.cleanup}


def _tag_rows(client: SnapshotClient, ws: Workspace, usage: Usage, now: dt.datetime, cleanup: bool) -> list[TagRow]:
    """Every tag of each of the catalogue's repositories: with the cleanup plan (one HEAD per tag, as
    `lifecycle cleanup`), or from the tag list alone (no digests: the channels' come from stale's reads).
    A row's tag base is the catalogue name (qualified outside the default repository)."""
    catalog = ws.catalog
    rows: list[TagRow] = []
    for repository in catalog.repositories:
        def name(tagbase: str | None) -> str | None:
            return catalog.qualified(repository, tagbase) if tagbase else None

        if cleanup:
            plan = decide(read_inventory(client, repository, catalog), catalog, ws.policy, usage, now, repository)
            rows += [TagRow(d.tag, name(d.tagbase), d.kind, d.digest, d.built_at, d.action, d.candidate, repository)
                     for d in plan.decisions]
            continue
        kinds = classify_tags(client.tags(repository, page_size=TAGS_PAGE), catalog, repository)
        rows += [TagRow(t, name(k.tagbase), k.kind, None, iso(k.built_at), repository=repository)
                 for t, k in sorted(kinds.items())]
    return rows


def _by_tagbase(rows: list[TagRow]) -> dict[str, list[TagRow]]:
    out: dict[str, list[TagRow]] = {}
    for row in rows:
        if row.tagbase:
            out.setdefault(row.tagbase, []).append(row)
    for tagbase, mine in out.items():  # floating tags first, then the others newest first
        floating = sorted((r for r in mine if r.kind == "floating"), key=lambda r: r.tag)
        others = sorted((r for r in mine if r.kind != "floating"), key=lambda r: (r.built or "", r.tag), reverse=True)
        out[tagbase] = floating + others
    return out


@dataclass(frozen=True)
class GitState:
    """main, production and what the next rollout would hold, read from the remote-tracking branches."""

    main: str
    production: str
    promoted: str | None
    main_ws: Workspace
    prod_ws: Workspace
    holds: dict[str, Hold]

    @classmethod
    def read(cls, ops: GitOps) -> "GitState":
        main, production = ops.main_head(), ops.production_head()
        main_ws, prod_ws = ops.workspace(main), ops.workspace(production)
        promoted = ops.last_promoted(production, main)
        loaded = {main: main_ws, production: prod_ws}

        def load(sha: str) -> Workspace:
            if sha not in loaded:
                loaded[sha] = ops.workspace(sha)
            return loaded[sha]

        holds = compute_holds(prod_ws, ops.promoted_definitions(production, main, load) if promoted else None,
                              main_ws)
        return cls(main, production, promoted, main_ws, prod_ws, holds)


def floating_holds(ops: GitOps, git: GitState, today: dt.date,
                   refused: Callable[[str], str | None] | None = None) -> list[FloatingTagHold]:
    """The floating tags the next rollout would hold, by the rollout's own rules (floating_rollout.py);
    `refused`: the provenance gate's refusal over the LKGs the next rollout would promote (_collect's)."""
    plan = plan_floating(ops.root, git.production, ops.rollouts(git.production, git.main), git.main,
                         git.main_ws.policy, today, refused)
    holds = [FloatingTagHold(**h.as_row()) for h in plan.holds.values()]  # type: ignore[arg-type]
    for hold in holds:
        hold.next_step = floating_step(hold)
    return holds


def collect_status(ops: GitOps, pool: RegistryPool, *, usage: Usage | None = None, now: dt.datetime | None = None,
                   link_template: str | None = None, rollouts: int = 12, cleanup: bool = True,
                   packages: PackageChecker | None = None) -> FleetStatus:
    """The fleet's status. cleanup=False skips the cleanup plan and with it the one HEAD per tag: the
    requests are then about those of `stale` on both channels plus the LKG lookups. With `packages`, the
    OS package lists of both channels are read (one container per distinct digest) for the images whose
    -staging differs from -latest, and only for them."""
    check_link_template(link_template)
    git = GitState.read(ops)
    registry = git.main_ws.catalog.registry
    # stale's reads of our registry go through the snapshot too; the caller's pool is left as it was
    client = SnapshotClient(registry, insecure=pool.insecure)
    view = RegistryPool(pool.insecure, {**pool.clients, registry: client})
    try:
        fleet, refused = _collect(git, view, client, usage or Usage(), now or dt.datetime.now(dt.timezone.utc),
                                  link_template, cleanup)
        fleet.rollouts = recent_rollouts(ops, git.production, git.main, rollouts)
        fleet.floating_holds = floating_holds(ops, git, (now or dt.datetime.now(dt.timezone.utc)).date(), refused)
        fleet.shared = shared_status(git.main_ws.catalog, client, fleet.images)
        reverts = hold_reverts(ops, git.production, git.holds)
        for image in fleet.images:
            image.revert = reverts.get(image.tagbase) if image.hold else None
            image.next_step = next_step(image, fleet.floating_holds)
            if image.staging.digest and image.staging.digest != image.latest.digest:
                image.changes = image_diff(ops, git.main_ws, client, image.tagbase)
        if packages is not None:
            _read_packages(packages, git.main_ws, [i.changes for i in fleet.images if i.changes])
            fleet.packages_checked = True
        fleet.requests = dict(client.stats)  # every read of the run, the shared tags' and diffs' included
        return fleet
    finally:
        client.close()
        for host, other in view.clients.items():  # clients of base registries stale opened: the pool closes them
            if other is not client and host not in pool.clients:
                pool.add(other)


def _read_packages(checker: PackageChecker, ws: Workspace, diffs: list[ImageDiff]) -> None:
    by_name: dict[str, list[ImageDiff]] = {}
    for diff in diffs:  # each image's digests are in its own repository, as image_diff resolved them
        by_name.setdefault(image_name(ws, diff.tagbase), []).append(diff)
    for name, some in by_name.items():
        prefetch(checker, name, some)
    for name, some in by_name.items():
        for diff in some:
            if diff.staging is not None and not diff.same:
                read_packages(diff, checker, name)


def _retiring(git: GitState, latest: dict[str, StaleEntry], resolver: LkgResolver, tags: dict[str, list[TagRow]],
              consumers: dict[str, list[Consumer]], now: dt.datetime) -> list[ImageStatus]:
    """The images only production's catalogue has: removed on main, -latest still served until the next
    rollout takes them out of production's catalogue."""
    main, prod = git.main_ws, git.prod_ws
    out = []
    for tagbase in prod.order():
        if main.catalog.get(tagbase) is not None or tagbase not in latest:
            continue
        spec = prod.catalog.image(tagbase)
        repository = prod.catalog.repository_of(spec)
        lt = _channel(latest[tagbase], now)
        refs = consumers.get(tagbase, [])
        out.append(ImageStatus(
            tagbase=tagbase, state=RETIRING, platform=str(spec.platform), folder=spec.folder,
            owners=list(spec.owners), eol=spec.eol.isoformat() if spec.eol else None,
            eol_passed=spec.past_eol(now.date()), latest=lt,
            staging=_channel(StaleEntry(tagbase, spec.staging_tag(), "not in main's catalogue", repository=repository),
                             now),
            main_definition=None, production_definition=prod.definitions.get(tagbase), in_sync=False, hold=None,
            lkg_digest=None, lkg_tag=None, lkg_reason="removed on main: the next rollout promotes no definition",
            labels=dict(sorted(resolver.labels_of(lt.digest, repository).items())) if lt.digest else {},
            tags=[r.as_row() for r in tags.get(tagbase, [])],
            consumers=dict(sorted(Counter(c.klass for c in refs).items())), references=refs,
            cleanup_candidates=[], cleanup_deletes=[], in_production=True, repository=repository))
    return out


def _collect(git: GitState, pool: RegistryPool, client: SnapshotClient, usage: Usage, now: dt.datetime,
             link_template: str | None, cleanup: bool) -> tuple[FleetStatus, Callable[[str], str | None] | None]:
    """The images' status, and the provenance gate's refusal for floating tags over the same LKGs (None
    without the gate)."""
    main_ws, prod_ws, holds = git.main_ws, git.prod_ws, git.holds
    catalog = main_ws.catalog
    # with cleanup, every tag is resolved first, so stale and LKG then read each manifest by digest, once
    rows = _tag_rows(client, main_ws, usage, now, True) if cleanup else None
    staging = {e.tagbase: e for e in find_stale(main_ws, "staging", pool, now).entries}
    latest = {e.tagbase: e for e in find_stale(prod_ws, "latest", pool, now).entries}
    resolver = resolver_for(main_ws, client)
    lkgs = resolver.lkgs({t: d for t, d in merged_definitions(prod_ws, main_ws, holds).items()
                          if catalog.get(t) is not None})
    gate = gate_for(main_ws, client)
    if gate is not None:  # the next rollout's provenance holds too, by the rollout's own rule
        holds = {**holds, **gate.holds(main_ws, prod_ws, lkgs, holds, {t: e.digest for t, e in latest.items()})}
        lkgs = resolver.lkgs({t: d for t, d in merged_definitions(prod_ws, main_ws, holds).items()
                              if catalog.get(t) is not None})
    refused = gate.refusal(main_ws, lkgs) if gate is not None else None
    if rows is None:
        rows = _tag_rows(client, main_ws, usage, now, False)
    channel_digests = {(e.repository, e.tag): e.digest for e in (*staging.values(), *latest.values()) if e.digest}
    for row in rows:
        row.digest = row.digest or channel_digests.get((row.repository, row.tag))
    tags = _by_tagbase(rows)
    tags_of_digest: dict[str, set[str]] = {}
    for row in rows:
        if row.tagbase and row.digest and catalog.get(row.tagbase):
            tags_of_digest.setdefault(row.digest, set()).add(row.tagbase)
    consumers = _consumers(usage, main_ws, tags_of_digest, link_template)

    images = []
    for tagbase in main_ws.order():
        spec = catalog.image(tagbase)
        st = _channel(staging[tagbase], now)
        in_production = tagbase in latest
        lt = _channel(latest[tagbase], now) if in_production else _channel(
            StaleEntry(tagbase, spec.latest_tag(), "not published", repository=catalog.repository_of(spec)), now)
        main_def, prod_def = main_ws.definitions.get(tagbase), prod_ws.definitions.get(tagbase)
        hold = holds.get(tagbase)
        lkg = lkgs.get(tagbase)
        shown = lt.digest or st.digest
        labels = resolver.labels_of(shown, catalog.repository_of(spec)) if shown else {}
        eol_passed = spec.past_eol(now.date())
        refs = consumers.get(tagbase, [])
        mine = [r for r in tags.get(tagbase, []) if r.candidate]
        images.append(ImageStatus(
            tagbase=tagbase,
            state=_state(hold.reason if hold else None, eol_passed, lt, st, main_def == prod_def, in_production),
            platform=str(spec.platform), folder=spec.folder, owners=list(spec.owners),
            eol=spec.eol.isoformat() if spec.eol else None, eol_passed=eol_passed, staging=st, latest=lt,
            main_definition=main_def, production_definition=prod_def, in_sync=main_def == prod_def,
            hold=hold.reason if hold else None,
            lkg_digest=lkg.digest if lkg else None, lkg_tag=lkg.tag if lkg else None,
            lkg_reason=lkg.reason if lkg else "not in the catalogue the next rollout promotes",
            labels=dict(sorted(labels.items())), tags=[r.as_row() for r in tags.get(tagbase, [])],
            consumers=dict(sorted(Counter(c.klass for c in refs).items())), references=refs,
            cleanup_candidates=[r.tag for r in mine], cleanup_deletes=[r.tag for r in mine if r.cleanup == DELETE],
            in_production=in_production, repository=catalog.repository_of(spec)))
    images += _retiring(git, latest, resolver, tags, consumers, now)
    return FleetStatus(iso(now) or "", catalog.registry, catalog.repository, git.main, git.production, git.promoted,
                       images, [], usage.path, dict(client.stats), cleanup_checked=cleanup), refused
