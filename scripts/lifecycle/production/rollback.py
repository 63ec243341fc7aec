"""Rollback: revert a commit on production (pushed, or as a pull request), or, in an emergency, move one
image's `latest` back at once.

The revert is the rollback: production's push runs the reconcile, which moves `latest` to the LKG of the
older definition, and the next rollout holds that image until main changes it (design flow 4). The
emergency retag only buys time until then: without the revert, the next reconcile or rollout moves
`latest` forward again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from lifecycle.catalogue.catalog import ImageSpec
from lifecycle.catalogue.repositories import tag_in
from lifecycle.errors import InputError, OperationError
from lifecycle.production.gitops import GitOps, PushRejected
from lifecycle.production.journal import Journal, TagEntry
from lifecycle.production.lkg import resolver_for
from lifecycle.build.manifest_index import IndexPlan, plan_index, push_index
from lifecycle.production.provenance_gate import gate_for
from lifecycle.production.reconcile import production_tags
from lifecycle.registry import RegistryClient
from lifecycle.catalogue.workspace import Workspace


@dataclass
class RevertResult:
    reverted: str                 # the production commit reverted
    subject: str
    revert: str                   # the revert commit
    mode: str                     # push | pull-request
    branch: str                   # where it was (or would be) pushed
    pushed: bool
    dry_run: bool
    files: list[str] = field(default_factory=list)
    pull_request: tuple[int, str] | None = None   # (id, url)


CreatePullRequest = Callable[[str, str, str, str], tuple[int, str]]   # (source, target, title, body)


@dataclass(frozen=True)
class _Revert:
    """A revert commit written on top of production HEAD, with what its pull request would say."""

    result: RevertResult
    title: str
    body: str


def _deliver(ops: GitOps, write: Callable[[str], _Revert], *, mode: str, dry_run: bool, fetch: bool,
             create_pull_request: CreatePullRequest | None) -> RevertResult:
    """Write the revert on production HEAD and push it to production or to a branch with a pull request.
    A push rejected because production moved is written again on the new HEAD and pushed once more."""
    if mode not in ("push", "pull-request"):
        raise InputError(f"mode must be push or pull-request, not {mode!r}")
    if mode == "pull-request" and create_pull_request is None and not dry_run:
        raise InputError("pull-request mode needs an Azure DevOps client")
    for attempt in (1, 2):
        if fetch:
            ops.fetch()
        revert = write(ops.production_head())
        result = revert.result
        if dry_run:
            return result
        try:
            ops.push(result.revert, result.branch)
        except PushRejected:
            if attempt == 2 or not fetch or mode != "push":
                raise
            continue
        result.pushed = True
        if mode == "pull-request":
            assert create_pull_request is not None
            result.pull_request = create_pull_request(result.branch, ops.production, revert.title[:200], revert.body)
        return result
    raise OperationError("unreachable")  # pragma: no cover


def _branch(ops: GitOps, mode: str, name: str, now: Callable[[], dt.datetime]) -> str:
    # a catalogue name outside the default repository is <repository>:<tag base>; a ref name has no ":"
    return ops.production if mode == "push" else f"rollback/{name.replace(':', '/')}-{now():%Y%m%d%H%M%S}"


def revert_commit(ops: GitOps, commit: str, *, mode: str, dry_run: bool = False,
                  create_pull_request: CreatePullRequest | None = None, fetch: bool = True,
                  now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> RevertResult:
    """Revert `commit` (a rollout merge is reverted against its first parent, production's own line) on top
    of production HEAD; push it to production (`push`) or to a new branch with a pull request."""

    def write(production: str) -> _Revert:
        sha = ops.sha(commit)
        if not ops.is_ancestor(sha, production):
            raise InputError(f"--commit {commit}: {sha[:10]} is not on {ops.production}; only what production "
                             f"received can be reverted there")
        revert = ops.revert(production, sha)
        files = ops.repo.git.diff("--name-only", production, revert).splitlines()
        subject = ops.subject(sha)
        result = RevertResult(sha, subject, revert, mode, _branch(ops, mode, sha[:10], now), False, dry_run, files)
        body = (f"Reverts {sha} on {ops.production}.\n\nOnce merged, the production pipeline reconciles "
                f"`latest` to the definitions in the reverted tree. Files: {', '.join(files) or 'none'}.")
        return _Revert(result, f"Roll back {sha[:10]}: {subject}", body)

    return _deliver(ops, write, mode=mode, dry_run=dry_run, fetch=fetch, create_pull_request=create_pull_request)


def last_change(ops: GitOps, production: str, tagbase: str, limit: int = 200) -> tuple[str, str]:
    """(X, X's first parent): the newest commit on production's first-parent line that changed `tagbase`'s
    definition (a rollout merge, usually)."""
    line = ops.first_parent(production, limit + 1)
    defs = {}
    for sha in line:
        try:
            defs[sha] = ops.workspace(sha).definitions.get(tagbase)
        except InputError:
            defs[sha] = None
    for newer, older in zip(line, line[1:]):
        if defs[newer] != defs[older]:
            if defs[newer] is None:
                raise InputError(f"{tagbase} is not in production's catalogue at {newer[:10]}: nothing to revert")
            return newer, older
    raise InputError(f"{tagbase}'s definition did not change in the last {limit} commits of {ops.production}")


def revert_image(ops: GitOps, tagbase: str, *, mode: str, dry_run: bool = False,
                 create_pull_request: CreatePullRequest | None = None, fetch: bool = True,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> RevertResult:
    """Revert one image (and its descendants, whose definitions include it) to its definition before the
    last production commit that changed it, leaving every other image as it is. The commit says "This reverts
    commit X" for that image, so the rollout guard accepts it and the next rollout holds the image."""

    def write(production: str) -> _Revert:
        changed, before = last_change(ops, production, tagbase)
        head_ws, before_ws = ops.workspace(production), ops.workspace(before)
        images = head_ws.with_descendants([tagbase])
        held = {t: [s.folder for s in (before_ws.catalog.get(t), head_ws.catalog.get(t)) if s] for t in images}
        tree = ops.rollout_tree(before, production, held)
        others = [t for t in images if t != tagbase]
        message = (f"Revert {tagbase} to its definition before {changed[:10]}\n\n"
                   f"This reverts commit {changed} for {tagbase} only"
                   + (f" (and its descendants {', '.join(others)})" if others else "")
                   + ": its folder and catalogue entry are restored from " + before + ".\n")
        revert = ops.commit_tree(tree, [production], message)
        files = ops.repo.git.diff("--name-only", production, revert).splitlines()
        if not files:
            raise InputError(f"{tagbase} already has its definition from before {changed[:10]}")
        result = RevertResult(changed, f"{tagbase}: {ops.subject(changed)}", revert, mode,
                              _branch(ops, mode, tagbase, now), False, dry_run, files)
        return _Revert(result, f"Roll back {tagbase} to before {changed[:10]}", message + f"\nFiles: {', '.join(files)}.")

    return _deliver(ops, write, mode=mode, dry_run=dry_run, fetch=fetch, create_pull_request=create_pull_request)


def _member_indexes(ws: Workspace, client: RegistryClient, image: ImageSpec, digest: str) -> dict[str, IndexPlan]:
    """The multi-platform shared tags `image` is a member of, each as the index over the other members'
    current `-latest` digests and `digest` for this image: the index follows its child back."""
    out: dict[str, IndexPlan] = {}
    for shared in ws.catalog.index_tags:
        if image.tagbase not in shared.tagbases:
            continue
        plan = plan_index(client, ws.catalog, shared, lambda t: digest if t == image.tagbase
                          else client.try_resolve(*tag_in(ws.catalog, t, "latest")))
        if plan.ready:
            out.update({tag: plan for tag in (shared.tag, shared.channel_tag("latest"))})
    return out


@dataclass
class EmergencyResult:
    tagbase: str
    entries: list[TagEntry]
    source: str                   # "journal <path>" or "registry history"
    production_commit: str | None  # the commit the journal's rollout/reconcile followed
    dry_run: bool
    unverified: str = ""          # why the target's provenance fails the gate (moved with --allow-unverified)

    @property
    def ok(self) -> bool:
        return all(e.status != "failed" for e in self.entries)


def emergency(ws: Workspace, client: RegistryClient, tagbase: str, *, journal: Journal | None = None,
              journal_name: str = "", dry_run: bool = False, legacy_journal: bool = False,
              allow_unverified: bool = False) -> EmergencyResult:
    """Point `tagbase`'s production tags back at the previous digest: the journal's `previous` for each
    tag, or without a journal, the newest published digest older than what `latest` points at now.
    A journal of another registry, repository or GitOps repository is refused before any registry call."""
    if journal is not None:
        journal.check_belongs(ws.catalog, journal_name, legacy=legacy_journal)
    image = ws.catalog.image(tagbase)
    repository = ws.catalog.repository_of(image)   # its tags, and its shared tags' indexes, are all there
    tags = production_tags(image, ws.policy)
    targets: dict[str, str] = {}
    if journal is not None:
        entries = {e.tag: e for e in journal.entries_for(tagbase)}
        latest = entries.get(image.latest_tag())
        if latest is None:
            raise InputError(f"the journal has no entry for {image.latest_tag()}")
        if not latest.previous:
            raise InputError(f"the journal says {image.latest_tag()} did not exist before that run: there is "
                             f"no previous digest to go back to")
        if latest.previous == latest.new:
            raise InputError(f"the journal says {image.latest_tag()} did not move in that run "
                             f"({latest.new}); use an older journal or the registry history (no --journal)")
        for tag in tags:
            entry = entries.get(tag)
            targets[tag] = entry.previous if entry and entry.previous else latest.previous
        source = f"journal {journal_name}".strip()
    else:
        current = client.try_resolve(repository, image.latest_tag())
        if current is None:
            raise OperationError(f"{image.latest_tag()} does not exist: nothing to roll back")
        previous = resolver_for(ws, client).previous(tagbase, current)
        if previous is None:
            raise OperationError(f"no published image of {tagbase} older than the current latest "
                                 f"({current}): nothing to go back to")
        digest = client.resolve(repository, previous.tag)
        targets = {tag: digest for tag in tags}
        source = f"registry history ({previous.tag})"
    unverified = _unverified(ws, client, repository, targets[image.latest_tag()])
    if unverified and not allow_unverified:
        raise OperationError(f"requireProvenance: will not move {image.latest_tag()} to "
                             f"{targets[image.latest_tag()]}: {unverified}; nothing was changed "
                             f"(--allow-unverified moves it anyway)")
    indexes = _member_indexes(ws, client, image, targets[image.latest_tag()])
    targets.update({tag: plan.digest or "" for tag, plan in indexes.items()})
    tags = list(targets)
    current_tags = client.resolve_many(repository, tags)
    if dry_run:
        entries = [TagEntry(t, tagbase, current_tags.get(t), d, "unchanged" if current_tags.get(t) == d else
                            "would-move", repository) for t, d in targets.items()]
    else:
        for plan in {p.digest: p for p in indexes.values()}.values():
            push_index(client, repository, plan)
        results = client.retag_many(repository, [(d, t) for t, d in targets.items() if t not in indexes])
        for tag in indexes:  # one at a time: concurrent PUTs of one index can fail (reconcile.apply_tags)
            results += client.retag_many(repository, [(targets[tag], tag)])
        entries = [TagEntry(r.tag, tagbase, r.previous, r.digest, r.status, repository) for r in results]
    return EmergencyResult(tagbase, entries, source, journal.commit if journal else None, dry_run, unverified)


def _unverified(ws: Workspace, client: RegistryClient, repository: str, digest: str) -> str:
    """The gate's reason against `digest` in `repository` ("" when it passes or policy does not ask). A
    rollback goes back to an older definition, so the provenance must name the definition the digest's own
    label says."""
    gate = gate_for(ws, client)
    if gate is None:
        return ""
    labels = client.config(repository, digest).labels
    return gate.problem(digest, labels.get(ws.policy.definition_label, ""), repository) or ""
