"""Cleanup against a registry: read one repository's inventory with few requests, and apply a plan safely.

Requests for a plan: on ACR, its tag listing with digests and locks (one request per page, registry/acr.py);
elsewhere the tag listing and one HEAD per tag, concurrently (the distribution API has no bulk "tag -> digest"
listing; HEAD is not counted as a pull by rate-limited registries). Then
one manifest GET per distinct digest (layers for the bytes to free, children of indexes). Config blobs
are read only for the few tags whose age no tag name tells (see cleanup.py). All on the client's pool.

Applying re-checks the world, because a plan may be hours old (the pipeline's approval wait):
- tags that may move (everything but planned immutable tags, and tags that appeared since) are
  re-resolved once; a digest such a tag now points at is not deleted (a rollback moving `-latest`
  onto an old digest protects it), nor the children of such an index;
- right before each delete, every tag of that digest is re-resolved; if one moved or vanished, the
  digest is skipped (re-plan to pick it up); and the floating tags that could protect it (those of its
  tag bases, shared tags, tags new since the plan) are resolved again: one that moved onto it, or onto
  an index naming it, stops that delete even when the move happened after the apply started;
- tags now in the usage file or matching a current exception pattern are skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from lifecycle.catalogue import catalog as catalog_mod, policy as policy_mod
from lifecycle.catalogue.catalog import Catalog, split_immutable_tag
from lifecycle.catalogue.policy import Policy
from lifecycle.cleanup.rules import DELETE, KEEP, CleanupPlan, Inventory, Usage, tags_needing_created
from lifecycle.errors import InputError, LifecycleError, Location
from lifecycle.registry import NotFoundError, RegistryClient, referrers
from lifecycle.registry.models import parse_created


def load_manifests(repo: Path) -> tuple[Catalog, Policy]:
    """The catalogue and policy only: cleanup needs no Dockerfiles, so a broken one does not block it."""
    def text(rel: str) -> str:
        try:
            return (repo / rel).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError("file not found", Location(str(repo / rel))) from None

    return (catalog_mod.parse_catalog(text(catalog_mod.CATALOG_PATH), catalog_mod.CATALOG_PATH),
            policy_mod.parse_policy(text(policy_mod.POLICY_PATH), policy_mod.POLICY_PATH))


TAGS_PAGE = 1000  # registries that paginate (ACR, distribution v3) serve up to this many tags a request


def read_tags(client: RegistryClient, repo: str, page_size: int = TAGS_PAGE) -> tuple[dict[str, str], frozenset[str]]:
    """tag -> digest, and the locked tags: from ACR's listing (one request per page, with locks) when the
    registry has it, else the tag listing and one HEAD per tag, concurrently on the client's pool."""
    details = client.tag_details(repo, page_size)
    if details is not None:
        return {d.name: d.digest for d in details}, frozenset(d.name for d in details if d.locked)
    tags = client.tags(repo, page_size=page_size)
    resolved = client.resolve_many(repo, tags)
    return {t: d for t, d in resolved.items() if d}, frozenset()  # a tag deleted meanwhile is simply not there


def read_inventory(client: RegistryClient, repo: str, catalog: Catalog, page_size: int = TAGS_PAGE) -> Inventory:
    tag_digests, locked = read_tags(client, repo, page_size)
    manifests: dict[str, object] = {}
    wanted = list(dict.fromkeys(tag_digests.values()))
    while wanted:  # tagged manifests, then children of indexes (usually none: single-platform images)
        for digest, manifest in zip(wanted, client.map(lambda d: _try_manifest(client, repo, d), wanted)):
            if manifest is not None:
                manifests[digest] = manifest
        wanted = list(dict.fromkeys(c.digest for m in manifests.values() for c in m.children
                                    if c.digest not in manifests))
        wanted = [d for d in wanted if d not in manifests]
    created: dict[str, dt.datetime] = {}
    need = list(dict.fromkeys(tag_digests[t] for t in tags_needing_created(tag_digests, catalog, repo)))
    for digest, when in zip(need, client.map(lambda d: _created(client, repo, manifests, d), need)):
        if when is not None:
            created[digest] = when
    return Inventory(tag_digests, manifests, created, locked)  # type: ignore[arg-type]


def _try_manifest(client: RegistryClient, repo: str, digest: str):
    try:
        return client.manifest(repo, digest)
    except NotFoundError:
        return None


def _created(client: RegistryClient, repo: str, manifests: dict, digest: str) -> dt.datetime | None:
    manifest = manifests.get(digest)
    while manifest is not None and manifest.children:
        manifest = manifests.get(manifest.children[0].digest)
    if manifest is None or manifest.config is None:
        return None
    try:
        data = json.loads(client.blob(repo, manifest.config.digest))
    except (NotFoundError, ValueError):
        return None
    when = parse_created(data.get("created"))
    return when.astimezone(dt.timezone.utc) if when and when.tzinfo else when


@dataclass
class Outcome:
    digest: str
    tags: list[str]
    status: str          # deleted | would-delete | skipped | capped | failed
    detail: str = ""
    children_deleted: int = 0
    referrers_deleted: int = 0   # supply-chain records (and fallback indexes) deleted with it and its children

    def as_row(self) -> dict[str, object]:
        return {"digest": self.digest, "tags": self.tags, "status": self.status, "detail": self.detail,
                "referrers_deleted": self.referrers_deleted}


@dataclass
class Protection:
    """What keeps digests, kept current through the apply: a long apply races publish, rollout and rollback,
    which move floating tags (a rollback moves `-latest` back onto an old, maybe doomed, digest)."""

    guards: dict[str, str]               # digest -> why it must stay
    watch: dict[str, str]                # movable tag -> the digest it pointed at when last resolved
    tagbases: dict[str, str | None]      # planned tag -> its tag base (None: a shared tag; absent: new)

    def recheck(self, client: RegistryClient, repo: str, tags: list[str]) -> None:
        """Resolve again, just before deleting the digest of `tags`, the movable tags that could protect it:
        floating tags of its tag bases, shared tags, and tags that appeared since the plan. Only those:
        a floating tag moves within its own tag base, so this costs a few HEADs per delete, not one per
        floating tag of the repository."""
        own = {self.tagbases.get(t) for t in tags} - {None}
        wanted = [t for t in self.watch if t not in self.tagbases or self.tagbases[t] is None
                  or self.tagbases[t] in own]
        for tag, digest in client.resolve_many(repo, wanted).items():
            if digest and digest != self.watch[tag]:
                self.watch[tag] = digest
                self.guards.setdefault(digest, f"tag {tag} moved onto it during the apply")
                _guard_children(client, repo, digest, self.guards, f"child of index {digest}, which tag {tag} "
                                                                   "moved onto during the apply")


def _guard_children(client: RegistryClient, repo: str, digest: str, guards: dict[str, str], why: str) -> None:
    try:
        manifest = client.manifest(repo, digest)
    except NotFoundError:
        return
    for child in manifest.children:
        guards.setdefault(child.digest, why)


def _guards(client: RegistryClient, plan: CleanupPlan, usage: Usage) -> Protection:
    """What must stay, from the registry as it is now (not as it was when planned)."""
    repo = plan.repository
    planned = {d.tag: d for d in plan.decisions}
    doomed_tags = {t for x in plan.deletions for t in x.tags}
    current = client.tags(repo, page_size=TAGS_PAGE)
    guards: dict[str, str] = {}
    recheck = []
    for tag in current:
        decision = planned.get(tag)
        if (decision is not None and decision.kind == "immutable" and decision.action == KEEP
                and split_immutable_tag(tag)):
            guards.setdefault(decision.digest, f"tagged {tag} (kept)")  # immutable tags never move
        else:
            recheck.append(tag)
    resolved = client.resolve_many(repo, recheck)
    fresh = []
    watch: dict[str, str] = {}
    for tag, digest in resolved.items():
        if not digest:
            continue
        if tag in doomed_tags:
            if digest != planned[tag].digest:  # moved onto another digest: that one is wanted now
                guards.setdefault(digest, f"tag {tag} moved onto it since the plan")
            continue
        guards.setdefault(digest, f"now tagged {tag} (kept)")
        fresh.append(digest)
        if tag not in planned or planned[tag].kind == "floating":
            watch[tag] = digest
    for digest in usage.digests:
        guards.setdefault(digest, "in use by a consumer (usage file)")
    # children of an index a movable or new tag points at now
    for digest in dict.fromkeys(fresh):
        try:
            manifest = client.manifest(repo, digest)
        except NotFoundError:
            continue
        for child in manifest.children:
            guards.setdefault(child.digest, f"child of kept index {digest}")
    return Protection(guards, watch, {t: d.tagbase for t, d in planned.items()})


def preview(plan: CleanupPlan, max_deletions: int | None = None) -> list[Outcome]:
    """What a fresh plan would delete, without asking the registry again (it was just read)."""
    return [Outcome(x.digest, list(x.tags), "would-delete") if max_deletions is None or i < max_deletions
            else Outcome(x.digest, list(x.tags), "capped", f"--max-deletions {max_deletions} reached")
            for i, x in enumerate(plan.deletions)]


def apply_plan(client: RegistryClient, plan: CleanupPlan, policy: Policy, usage: Usage, *,
               max_deletions: int | None = None, dry_run: bool = False) -> list[Outcome]:
    """Delete the plan's digests, oldest first, each re-checked right before; at most `max_deletions`.
    With dry_run, the same re-checks run and report what would be deleted now (for a stored plan)."""
    repo = plan.repository
    protection = _guards(client, plan, usage)
    guards = protection.guards
    outcomes: list[Outcome] = []
    done = 0
    for deletion in plan.deletions:
        tags = list(deletion.tags)
        if max_deletions is not None and done >= max_deletions:
            outcomes.append(Outcome(deletion.digest, tags, "capped", f"--max-deletions {max_deletions} reached"))
            continue
        reason = guards.get(deletion.digest)
        blocked = [t for t in tags if t in usage.tags or policy.is_exception(t)]
        if reason:
            outcomes.append(Outcome(deletion.digest, tags, "skipped", reason))
            continue
        if blocked:
            outcomes.append(Outcome(deletion.digest, tags, "skipped", f"{blocked[0]} is now in use or an exception"))
            continue
        moved = _moved(client, repo, deletion.digest, tags, guards)
        if moved:
            outcomes.append(Outcome(deletion.digest, tags, "skipped", moved))
            continue
        protection.recheck(client, repo, tags)  # right before the delete, not only at the start
        if deletion.digest in guards:
            outcomes.append(Outcome(deletion.digest, tags, "skipped", guards[deletion.digest]))
            continue
        if dry_run:
            outcomes.append(Outcome(deletion.digest, tags, "would-delete"))
            done += 1
            continue
        gone = False
        try:
            # its records first: were the subject deleted first and this failed, they would point at nothing
            records = len(referrers.delete_referrers(client, repo, deletion.digest))
        except LifecycleError as exc:
            outcomes.append(Outcome(deletion.digest, tags, "failed", f"deleting its referrers failed: {exc}"))
            continue
        try:
            client.delete(repo, deletion.digest)
        except NotFoundError:
            # Its tags resolved to it just now (_moved), so this is our own DELETE whose answer was lost
            # (timeout) and whose retry found it done: its children must still go, or they are orphaned
            # for good (untagged, so no later plan can see them).
            gone = True
        except LifecycleError as exc:  # one failure must not stop the run; reported, exit 1
            outcomes.append(Outcome(deletion.digest, tags, "failed", str(exc)))
            continue
        done += 0 if gone else 1
        children, problems = 0, []
        for child in deletion.children:
            if child in guards:
                problems.append(f"child {child} kept: {guards[child]}")
                continue
            try:
                records += len(referrers.delete_referrers(client, repo, child))
                client.delete(repo, child)
                children += 1
            except NotFoundError:
                pass
            except LifecycleError as exc:  # the index is gone; an orphan child is left for the registry GC
                problems.append(f"child {child} not deleted: {exc}")
        detail = "; ".join((["already gone"] if gone else []) + problems)
        outcomes.append(Outcome(deletion.digest, tags, "skipped" if gone else "deleted", detail, children, records))
    return outcomes


def _moved(client: RegistryClient, repo: str, digest: str, tags: list[str], guards: dict[str, str]) -> str:
    """'' when every tag still points at `digest`, else what changed (one HEAD per tag, just before delete).
    A tag moved onto another digest makes that one wanted: it is guarded for the rest of the apply."""
    for tag in tags:
        now = client.try_resolve(repo, tag)
        if now is None:
            return f"tag {tag} is gone since the plan"
        if now != digest:
            guards.setdefault(now, f"tag {tag} moved onto it since the plan")
            return f"tag {tag} moved to {now} since the plan"
    return ""


def check_plan_target(plan: CleanupPlan, catalog: Catalog, source: str) -> None:
    if plan.registry != catalog.registry or plan.repository not in catalog.repositories:
        raise InputError(f"the plan is for {plan.registry}/{plan.repository}, the catalogue names "
                         f"{', '.join(f'{catalog.registry}/{r}' for r in catalog.repositories)}", Location(source))
    bad = [x.digest for x in plan.deletions if not x.digest.startswith("sha256:")]
    if bad:
        raise InputError(f"plan deletion {bad[0]!r} is not a digest", Location(source))
    actions = {d.action for d in plan.decisions}
    if not actions <= {KEEP, DELETE}:
        raise InputError(f"unknown action(s) {sorted(actions - {KEEP, DELETE})}", Location(source))
