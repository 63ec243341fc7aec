"""One pass over git (main, production) and the registry, through the library functions the other verbs use:

- holds: gitops.compute_holds(production, main@P, main HEAD) (what the next rollout would hold);
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

from lifecycle.cleanup import DELETE, CleanupPlan, Usage, classify_tags, decide, iso
from lifecycle.cleanup_registry import read_inventory
from lifecycle.errors import InputError
from lifecycle.gitops import GitOps, Hold, compute_holds, merged_definitions
from lifecycle.lkg import resolver_for
from lifecycle.registries import RegistryPool
from lifecycle.stale import REBUILD, STALE, StaleEntry, find_stale
from lifecycle.status.history import recent_rollouts
from lifecycle.status.model import (CURRENT, EOL, HELD, PENDING, STALE as STALE_STATE, UNPUBLISHED, ChannelState,
                                    Consumer, FleetStatus, ImageStatus)
from lifecycle.status.reads import SnapshotClient
from lifecycle.workspace import Workspace

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


def _state(hold: str | None, eol_passed: bool, latest: ChannelState, staging: ChannelState, in_sync: bool) -> str:
    if hold:
        return HELD
    if eol_passed:
        return EOL
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
    referenced = [r for r in usage.references if r.get("tag")]
    kinds = classify_tags({r["tag"] for r in referenced}, ws.catalog)
    out: dict[str, list[Consumer]] = {}
    for ref in usage.references:
        tagbases: set[str] = set()
        kind = kinds.get(ref.get("tag") or "")
        if kind is not None and kind.tagbase and ws.catalog.get(kind.tagbase):
            tagbases.add(kind.tagbase)
        else:
            for key in ("digest", "resolved"):
                tagbases |= tags_of_digest.get(ref.get(key) or "", set())
        line = ref.get("line")
        url = template.format(repository=ref.get("repository", ""), file=ref.get("file", ""),
                              line=line if line is not None else "") if template else None
        consumer = Consumer(str(ref.get("repository", "")), str(ref.get("file", "")),
                            line if isinstance(line, int) else None, str(ref.get("reference", "")),
                            str(ref.get("class", "")), url)
        for tagbase in tagbases:
            out.setdefault(tagbase, []).append(consumer)
    return out


def _tags(plan: CleanupPlan) -> dict[str, list[dict[str, str | None]]]:
    out: dict[str, list[dict[str, str | None]]] = {}
    for d in plan.decisions:
        if d.tagbase:
            out.setdefault(d.tagbase, []).append({"tag": d.tag, "digest": d.digest, "kind": d.kind,
                                                  "built": d.built_at, "cleanup": d.action})
    for tagbase, rows in out.items():  # floating tags first, then the others newest first
        floating = sorted((r for r in rows if r["kind"] == "floating"), key=lambda r: str(r["tag"]))
        others = sorted((r for r in rows if r["kind"] != "floating"), key=lambda r: (r["built"] or "", r["tag"]),
                        reverse=True)
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
        holds = compute_holds(prod_ws, ops.workspace(promoted) if promoted else None, main_ws)
        return cls(main, production, promoted, main_ws, prod_ws, holds)


def collect_status(ops: GitOps, pool: RegistryPool, *, usage: Usage | None = None, now: dt.datetime | None = None,
                   link_template: str | None = None, rollouts: int = 12) -> FleetStatus:
    check_link_template(link_template)
    git = GitState.read(ops)
    registry = git.main_ws.catalog.registry
    # stale's reads of our registry go through the snapshot too; the caller's pool is left as it was
    client = SnapshotClient(registry, insecure=pool.insecure)
    view = RegistryPool(pool.insecure, {**pool.clients, registry: client})
    try:
        fleet = _collect(git, view, client, usage or Usage(), now or dt.datetime.now(dt.timezone.utc),
                         link_template)
        fleet.rollouts = recent_rollouts(ops, git.production, git.main, rollouts)
        return fleet
    finally:
        client.close()
        for host, other in view.clients.items():  # clients of base registries stale opened: the pool closes them
            if other is not client and host not in pool.clients:
                pool.add(other)


def _collect(git: GitState, pool: RegistryPool, client: SnapshotClient, usage: Usage, now: dt.datetime,
             link_template: str | None) -> FleetStatus:
    main_ws, prod_ws, holds = git.main_ws, git.prod_ws, git.holds
    catalog, policy = main_ws.catalog, main_ws.policy
    inventory = read_inventory(client, catalog.repository, catalog)
    staging = {e.tagbase: e for e in find_stale(main_ws, "staging", pool, now).entries}
    latest = {e.tagbase: e for e in find_stale(prod_ws, "latest", pool, now).entries}
    resolver = resolver_for(main_ws, client)
    lkgs = resolver.lkgs({t: d for t, d in merged_definitions(prod_ws, main_ws, holds).items()
                          if catalog.get(t) is not None})
    plan = decide(inventory, catalog, policy, usage, now)
    tags = _tags(plan)
    tags_of_digest: dict[str, set[str]] = {}
    for d in plan.decisions:
        if d.tagbase and catalog.get(d.tagbase):
            tags_of_digest.setdefault(d.digest, set()).add(d.tagbase)
    consumers = _consumers(usage, main_ws, tags_of_digest, link_template)

    images = []
    for tagbase in main_ws.order():
        spec = catalog.image(tagbase)
        st = _channel(staging[tagbase], now)
        lt = _channel(latest[tagbase], now) if tagbase in latest else _channel(
            StaleEntry(tagbase, spec.latest_tag(), "not published", reasons=["not in production's catalogue"]), now)
        main_def, prod_def = main_ws.definitions.get(tagbase), prod_ws.definitions.get(tagbase)
        hold = holds.get(tagbase)
        lkg = lkgs.get(tagbase)
        shown = lt.digest or st.digest
        labels = resolver.labels_of(shown) if shown else {}
        eol_passed = spec.past_eol(now.date())
        refs = consumers.get(tagbase, [])
        mine = [d for d in plan.decisions if d.tagbase == tagbase and d.candidate]
        images.append(ImageStatus(
            tagbase=tagbase, state=_state(hold.reason if hold else None, eol_passed, lt, st, main_def == prod_def),
            platform=str(spec.platform), folder=spec.folder, owners=list(spec.owners),
            eol=spec.eol.isoformat() if spec.eol else None, eol_passed=eol_passed, staging=st, latest=lt,
            main_definition=main_def, production_definition=prod_def, in_sync=main_def == prod_def,
            hold=hold.reason if hold else None,
            lkg_digest=lkg.digest if lkg else None, lkg_tag=lkg.tag if lkg else None,
            lkg_reason=lkg.reason if lkg else "not in the catalogue the next rollout promotes",
            labels=dict(sorted(labels.items())), tags=tags.get(tagbase, []),
            consumers=dict(sorted(Counter(c.klass for c in refs).items())), references=refs,
            cleanup_candidates=[d.tag for d in mine], cleanup_deletes=[d.tag for d in mine if d.action == DELETE]))
    return FleetStatus(iso(now) or "", catalog.registry, catalog.repository, git.main, git.production, git.promoted,
                       images, [], usage.path, dict(client.stats))
