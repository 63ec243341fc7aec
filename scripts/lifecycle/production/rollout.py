"""The weekly rollout: promote main@C into production and move every `latest` to its LKG.

Plan everything first (C, holds, the merge commit object, every retag), then apply: push the merge, then
one batch retag, then the journal. Nothing is pushed or retagged while planning, so `--dry-run` is the
plan. Re-running is safe: once C is in production no new merge is written and the retag plan of
production HEAD is applied again (unchanged tags get no PUT), which finishes a run that stopped half-way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from lifecycle.catalogue.catalog import Catalog
from lifecycle.errors import InputError, LifecycleError, OperationError
from lifecycle.catalogue.floating import FloatingHold
from lifecycle.production.floating_rollout import plan_floating
from lifecycle.production.gitops import ROLLOUT_TRAILER, GitOps, Hold, PushRejected, compute_holds, merged_definitions
from lifecycle.production.journal import Journal, TagEntry
from lifecycle.production.lkg import Lkg, LkgResolver, definitions_at, resolver_for
from lifecycle.production.provenance_gate import ProvenanceGate, gate_for
from lifecycle.output import Reporter, short_digest
from lifecycle.production.reconcile import TagChange, apply_tags, failed_tags, plan_tags, planned_entries
from lifecycle.registry import RegistryClient
from lifecycle.catalogue.workspace import Workspace

DEFAULT_MAX_WALK = 50


@dataclass(frozen=True)
class Skipped:
    """A main commit newer than C that could not be promoted, and why."""

    sha: str
    subject: str
    reason: str
    missing: tuple[Lkg, ...] = ()


@dataclass
class RolloutPlan:
    production: str                  # production HEAD the plan was made on
    main: str                        # main HEAD
    promoted: str | None             # P: what the last rollout promoted
    commit: str                      # C: what this rollout promotes
    already: bool                    # C is already in production: no merge, only finish the retags
    merge: str | None                # the merge commit object (written, not pushed), None when `already`
    holds: dict[str, Hold]
    lkgs: dict[str, Lkg]
    changes: list[TagChange]
    repository: str
    skipped: list[Skipped] = field(default_factory=list)
    message: str = ""
    main_branch: str = "main"
    production_branch: str = "production"
    floating_holds: dict[str, FloatingHold] = field(default_factory=dict)
    catalog: Catalog | None = None   # the promoted tree's catalogue: what the journal is bound to

    @property
    def target(self) -> str:
        """The production commit the tags will follow."""
        return self.merge or self.production

    def moves(self) -> list[TagChange]:
        return [c for c in self.changes if c.moves]


@dataclass
class RolloutResult:
    plan: RolloutPlan
    entries: list[TagEntry]
    pushed: bool
    dry_run: bool
    journal: Journal

    @property
    def ok(self) -> bool:
        return not failed_tags(self.entries)


class _Workspaces:
    """Workspaces by commit, loaded once per run."""

    def __init__(self, ops: GitOps):
        self.ops = ops
        self._cache: dict[str, Workspace] = {}

    def get(self, sha: str) -> Workspace:
        if sha not in self._cache:
            self._cache[sha] = self.ops.workspace(sha)
        return self._cache[sha]


def _missing(lkgs: dict[str, Lkg]) -> list[Lkg]:
    return [lkg for _, lkg in sorted(lkgs.items()) if not lkg.found]


def _describe_missing(missing: list[Lkg] | tuple[Lkg, ...]) -> str:
    """'a, b (reason); c (other reason)': images grouped by why they have no LKG."""
    by_reason: dict[str, list[str]] = {}
    for m in missing:
        by_reason.setdefault(m.reason or "", []).append(m.tagbase)
    return "; ".join(f"{', '.join(names)} ({reason})" for reason, names in by_reason.items())


def _gated(gate: ProvenanceGate | None, resolver: LkgResolver, prod_ws: Workspace, ws: Workspace,
           holds: dict[str, Hold]) -> dict[str, Hold]:
    """`holds` plus the provenance gate's: images whose `-latest` would move to a digest that fails it."""
    if gate is None:
        return holds
    lkgs = resolver.lkgs(merged_definitions(prod_ws, ws, holds))
    tags = {t: ws.catalog.image(t).latest_tag() for t in lkgs if ws.catalog.get(t) is not None}
    current = resolver.digests_of(list(tags.values()))
    return {**holds, **gate.holds(ws, prod_ws, lkgs, holds, {t: current.get(tag) for t, tag in tags.items()})}


def choose_commit(ops: GitOps, wss: _Workspaces, resolver: LkgResolver, production: str, main: str,
                  promoted: str | None, *, commit: str | None, max_walk: int, gate: ProvenanceGate | None = None
                  ) -> tuple[str, bool, dict[str, Hold], dict[str, Lkg], list[Skipped]]:
    """C: the newest commit on main's first-parent line (bounded) where every image has an LKG, holds
    taken into account. Returns (C, already in production, holds, LKGs of the tree to promote, skipped)."""
    prod_ws = wss.get(production)
    promoted_defs = ops.promoted_definitions(production, main, wss.get) if promoted else None
    if commit is not None:
        sha = ops.sha(commit)
        if not ops.is_ancestor(sha, main):
            raise InputError(f"--commit {commit}: {sha[:10]} is not on {ops.main}; only main commits are promoted")
        candidates = [sha]
    else:
        candidates = ops.first_parent(main, max_walk)
    skipped: list[Skipped] = []
    for sha in candidates:
        if ops.is_ancestor(sha, production):
            # nothing to merge, but the holds in force are still reported
            lkgs = resolver.lkgs(prod_ws.definitions)
            return sha, True, compute_holds(prod_ws, promoted_defs, wss.get(sha)), lkgs, skipped
        try:
            ws = wss.get(sha)
        except LifecycleError as exc:
            if commit is not None and isinstance(exc, InputError):  # the commit asked for is bad input: exit 2
                raise InputError(f"cannot promote {commit}: the repository does not load there: {exc}") from None
            skipped.append(Skipped(sha, ops.subject(sha), f"the repository does not load there: {exc}"))
            continue
        holds = _gated(gate, resolver, prod_ws, ws, compute_holds(prod_ws, promoted_defs, ws))
        lkgs = resolver.lkgs(merged_definitions(prod_ws, ws, holds))
        missing = _missing(lkgs)
        if not missing:
            return sha, False, holds, lkgs, skipped
        skipped.append(Skipped(sha, ops.subject(sha), "images without an LKG: " + _describe_missing(missing),
                               tuple(missing)))
    if commit is not None:
        raise OperationError(f"cannot promote {commit}: {skipped[0].reason}")
    newest = "\n".join(f"  - {s.sha[:10]} {s.subject}: {s.reason}" for s in skipped[:5])
    raise OperationError(f"no commit among the last {len(candidates)} of {ops.main}'s first-parent line has an LKG "
                         f"for every image (raise --max-walk, or publish main):\n{newest}")


def merge_message(plan: RolloutPlan) -> str:
    lines = [f"Roll out {plan.main_branch}@{plan.commit[:7]} to {plan.production_branch}", ""]
    moves = [c for c in plan.changes if c.moves and c.tag.endswith("-latest")]
    lines.append("Promoted (latest moves):" if moves else "Promoted: no latest tag moves.")
    for c in moves:
        lines.append(f"- {c.image}: {c.previous or '(none)'} -> {c.new}")
    floating = [c for c in plan.changes if c.moves and c.floating]
    if floating:
        lines += ["", "Floating tags (moves):"]
        lines += [f"- {c.tag} ({c.image}): {c.previous or '(none)'} -> {c.new}" for c in floating]
    if plan.holds:
        lines += ["", "Held (production keeps its files):"]
        for hold in plan.holds.values():
            lines.append(f"- {hold.tagbase}: {hold.reason}")
    if plan.floating_holds:
        lines += ["", "Floating tags held (production keeps their target):"]
        for fh in plan.floating_holds.values():
            until = f" (possible from {fh.until})" if fh.until else ""
            lines.append(f"- {fh.tag}: stays on {fh.serving or '(none)'}, not {fh.wanted}: {fh.reason}{until}")
    if plan.skipped:
        lines += ["", "Newer main commits not promoted:"]
        lines += [f"- {s.sha[:10]} {s.subject}: {s.reason}" for s in plan.skipped]
    lines += ["", f"{ROLLOUT_TRAILER}: {plan.commit}"]
    return "\n".join(lines) + "\n"


def plan_rollout(ops: GitOps, client: RegistryClient, *, commit: str | None = None,
                 max_walk: int = DEFAULT_MAX_WALK, now: dt.datetime | None = None) -> RolloutPlan:
    """Everything the rollout will do, decided before anything changes. Writes only git objects (the
    merge commit, unreferenced until pushed)."""
    production, main = ops.production_head(), ops.main_head()
    ops.check_production(production, main)
    promoted = ops.last_promoted(production, main)
    wss = _Workspaces(ops)
    try:  # the registry and label names: main's, unless main's newest commit does not load
        names_ws = wss.get(main) if commit is None else wss.get(ops.sha(commit))
    except InputError:
        names_ws = wss.get(production)
    resolver = resolver_for(names_ws, client, definitions_at(ops))
    gate = gate_for(names_ws, client)
    sha, already, holds, lkgs, skipped = choose_commit(ops, wss, resolver, production, main, promoted,
                                                       commit=commit, max_walk=max_walk, gate=gate)
    today = (now or dt.datetime.now(dt.timezone.utc)).date()
    prod_ws, cand_ws = wss.get(production), wss.get(sha)
    floating = plan_floating(ops.root, production, ops.rollouts(production, main), sha, cand_ws.policy, today,
                             gate.refusal(cand_ws, lkgs) if gate is not None else None)
    if already:
        missing = _missing(lkgs)
        if missing:
            raise OperationError(f"{sha[:10]} is already in production, but production HEAD has images without an "
                                 f"LKG: {_describe_missing(missing)}; run `lifecycle reconcile --channel latest`")
        if not floating.changes_production:
            changes = plan_tags(prod_ws, lkgs, client, resolver.listed_digests)
            if gate is not None:
                changes, gated = gate.filter_changes(prod_ws, lkgs, changes)
                holds = {**holds, **{t: h for t, h in gated.items() if t not in holds}}
            return RolloutPlan(production, main, promoted, sha, True, None, holds, lkgs, changes,
                               prod_ws.catalog.repository, skipped, main_branch=ops.main,
                               production_branch=ops.production, floating_holds=floating.holds,
                               catalog=prod_ws.catalog)
        # main@C is in production, but a floating tag's hold has ended: merge C again, on production's tree
        # with only floating.yml changed, so the move is a commit that a revert can undo.
        tree = ops.rollout_tree(production, production, {}, floating.files)
    else:
        held = {t: [s.folder for s in (prod_ws.catalog.get(t), cand_ws.catalog.get(t)) if s is not None]
                for t in holds}
        tree = ops.rollout_tree(production, sha, held, floating.files)
    # A draft commit gives the tree's catalogue (held entries included) for the tag plan; the real
    # commit has the same tree and a message that lists that plan.
    draft = ops.commit_tree(tree, [production, sha], "rollout draft\n")
    ws = ops.workspace(draft)
    expected = {t: lkg.definition for t, lkg in lkgs.items()}
    if ws.definitions != expected:
        differ = sorted(t for t in set(ws.definitions) | set(expected) if ws.definitions.get(t) != expected.get(t))
        raise OperationError(f"internal check failed: the rollout tree's definitions differ from the plan for "
                             f"{', '.join(differ)}; nothing was pushed")
    changes = plan_tags(ws, lkgs, client, resolver.listed_digests)
    if gate is not None:  # floating tags and anything the holds above did not stop: moved only if they pass
        changes, gated = gate.filter_changes(ws, lkgs, changes)
        holds = {**holds, **{t: h for t, h in gated.items() if t not in holds}}
    plan = RolloutPlan(production, main, promoted, sha, False, None, holds, lkgs, changes, ws.catalog.repository,
                       skipped, main_branch=ops.main, production_branch=ops.production,
                       floating_holds=floating.holds, catalog=ws.catalog)
    plan.message = merge_message(plan)
    plan.merge = ops.commit_tree(tree, [production, sha], plan.message)
    return plan


def rollout(ops: GitOps, client: RegistryClient, out: Reporter, *, commit: str | None = None,
            max_walk: int = DEFAULT_MAX_WALK, dry_run: bool = False, journal_path: Path | None = None,
            fetch: bool = True, now: dt.datetime | None = None) -> RolloutResult:
    """Plan, push the merge (one retry after a fetch when production moved), retag, journal."""
    for attempt in (1, 2):
        if fetch:
            ops.fetch()
        plan = plan_rollout(ops, client, commit=commit, max_walk=max_walk, now=now)
        if dry_run:
            journal = _journal(plan, planned_entries(plan.changes))
            return RolloutResult(plan, journal.tags, False, True, journal)
        if plan.merge is None:
            break
        try:
            ops.push(plan.merge, ops.production)
            break
        except PushRejected as exc:
            if attempt == 2 or not fetch:
                raise OperationError(f"{exc}; tried again after a fetch and it moved again. No tag was changed; "
                                     f"run the rollout again") from None
            out.warning(f"{exc}; fetching and planning again")
    entries = apply_tags(client, plan.repository, plan.changes)
    journal = _journal(plan, entries)
    if journal_path is not None:
        journal.write(journal_path)
    return RolloutResult(plan, entries, plan.merge is not None, False, journal)


def _journal(plan: RolloutPlan, entries: list[TagEntry]) -> Journal:
    journal = Journal("rollout", plan.target, main_commit=plan.commit, tags=entries,
                      holds=[{"image": h.tagbase, "reason": h.reason} for h in plan.holds.values()]
                      + [{"floatingTag": h.tag, "reason": h.reason} for h in plan.floating_holds.values()],
                      time=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return journal.bound_to(plan.catalog) if plan.catalog is not None else journal


def summary_rows(result: RolloutResult) -> list[dict[str, str | None]]:
    """One row per image: its latest before and after, or why it did not move."""
    plan = result.plan
    by_image: dict[str, TagEntry] = {e.image: e for e in result.entries if e.tag.endswith("-latest")}
    rows = []
    for tagbase, lkg in sorted(plan.lkgs.items()):
        entry = by_image.get(tagbase)
        hold = plan.holds.get(tagbase)
        rows.append({"image": tagbase, "status": "held" if hold else (entry.status if entry else "no-lkg"),
                     "previous": short_digest(entry.previous) if entry else "",
                     "latest": short_digest(entry.new) if entry else "",
                     "from": lkg.tag or "", "note": hold.reason if hold else (lkg.reason or "")})
    return rows
