"""lifecycle rollout"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from lifecycle.cleanup.rules import parse_iso
from lifecycle.commands.options import production_options, reporter
from lifecycle.errors import OperationError
from lifecycle.production.gitops import GitOps
from lifecycle.output import Reporter
from lifecycle.registry.pool import RegistryPool
from lifecycle.production.rollout import DEFAULT_MAX_WALK, RolloutResult, rollout as run_rollout, summary_rows


def print_journal(out: Reporter, text: str, output: str) -> None:
    if output == "markdown":
        out.write(f"\n### Journal\n\n```json\n{text}```\n")
    elif output == "table":
        out.write(f"\nJournal:\n{text}")


@click.command()
@production_options
@click.option("--commit", metavar="REV", help="Promote this main commit instead of choosing one.")
@click.option("--max-walk", type=click.IntRange(1), default=DEFAULT_MAX_WALK, show_default=True,
              help="How many commits of main's first-parent line to consider.")
@click.option("--now", "now_text", metavar="ISO",
              help="Evaluate floating-tag evaluation and stability periods at this time (default: now, UTC).")
def rollout(repo: Path, output: str, dry_run: bool, insecure: tuple[str, ...], remote: str, main_branch: str,
            production: str, journal_path: Path | None, commit: str | None, max_walk: int,
            now_text: str | None) -> None:
    """Promote the newest fully published main commit into production, then move every -latest to its LKG."""
    out = reporter(output)
    ops = GitOps(repo, remote, main_branch, production)
    ops.fetch()
    registry = ops.workspace(ops.production_head()).catalog.registry
    with RegistryPool(insecure) as pool:
        result = run_rollout(ops, pool.get(registry), out, commit=commit, max_walk=max_walk, dry_run=dry_run,
                             journal_path=journal_path, fetch=bool(remote), now=parse_iso(now_text, "--now"))
    report(out, output, result)
    if not result.ok:
        failed = [e.tag for e in result.entries if e.status == "failed"]
        raise OperationError(f"{len(failed)} retag(s) failed: {', '.join(failed)}; production is at "
                             f"{result.plan.target[:10]}; run the rollout again to finish")


def report(out: Reporter, output: str, result: RolloutResult) -> None:
    plan = result.plan
    if plan.already:
        headline = f"{plan.commit[:10]} is already in production ({plan.production[:10]}): tags only"
    else:
        verb = "would merge" if result.dry_run else "merged"
        headline = f"{verb} {plan.commit[:10]} into {plan.production[:10]} as {plan.merge[:10] if plan.merge else ''}"
    title = ("Rollout (dry run): " if result.dry_run else "Rollout: ") + headline
    data = {"dry_run": result.dry_run, "production_before": plan.production, "main": plan.main,
            "promoted_before": plan.promoted, "commit": plan.commit, "merge": plan.merge, "already": plan.already,
            "pushed": result.pushed, "message": plan.message,
            "holds": [asdict(h) for h in plan.holds.values()],
            "floating_holds": [h.as_row() for h in plan.floating_holds.values()],
            "skipped": [{"commit": s.sha, "subject": s.subject, "reason": s.reason} for s in plan.skipped],
            "journal": json.loads(result.journal.to_json())}
    out.table(summary_rows(result), title=title, data=data)
    if output == "json":
        return
    if result.dry_run and plan.message:
        fence = "```\n" if output == "markdown" else ""
        out.write(f"\nMerge commit message:\n{fence}{plan.message}{fence}")
    if plan.holds:
        out.write("\n")
        out.table([h.as_row() for h in plan.holds.values()], title="Held")
    if plan.floating_holds:
        out.write("\n")
        out.table([h.as_row() for h in plan.floating_holds.values()], title="Floating tags held")
    if plan.skipped:
        out.write("\n")
        out.table([{"commit": s.sha[:10], "subject": s.subject, "reason": s.reason} for s in plan.skipped],
                  title="Newer main commits not promoted")
    print_journal(out, result.journal.to_json(), output)
